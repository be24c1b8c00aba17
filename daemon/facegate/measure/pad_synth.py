"""Synthesized print attacks: a real photo as a flat card moved before a pinhole camera.

:func:`synth_print_clip` / :func:`synth_print_set` turn a real photo into a short clip of a
*print attack*: the photo as a flat card in 3-D, moved along a random smooth path (yaw, pitch,
roll, distance and position), seen by a pinhole camera, with uneven lighting, gain drift,
blur, sensor noise and JPEG compression, written as a folder of JPEG frames at a camera frame
rate. Anyone with a face photo can rebuild the same test set (seeded). ``eval-pad``
(:mod:`facegate.measure.pad`) measures the liveness judge on such clips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ..vision.types import Detection

__all__ = ["IMAGE_SUFFIXES", "PrintPath", "synth_print_clip", "synth_print_set", "write_frames"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

ImageRGB = npt.NDArray[np.uint8]


# --------------------------------------------------------------------------------------------
# Print-attack synthesis
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class PrintPath:
    """Ranges of the random motion of the printed photo (degrees, relative units).

    Attributes:
        yaw_deg, pitch_deg, roll_deg: Peak rotation of the card about each axis.
        depth_jitter: Peak relative change of the card's distance to the camera.
        shift: Peak sideways/vertical shift of the card, as a fraction of its height.
        fill: Range of the card's height over the frame height at its mean distance (chosen
            at random per clip): below 1 the whole card is in view; above 1 the attacker holds
            it close and the card overflows the frame.
    """

    yaw_deg: float = 28.0
    pitch_deg: float = 18.0
    roll_deg: float = 10.0
    depth_jitter: float = 0.15
    shift: float = 0.12
    fill: tuple[float, float] = (0.55, 1.3)


def _smooth_path(
    rng: np.random.Generator, n: int, peak: float, fps: float
) -> npt.NDArray[np.float64]:
    """A smooth random signal of ``n`` samples within ``±peak``: two random sinusoids."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(2):
        freq = rng.uniform(0.15, 0.8)  # Hz: hand motions, not vibration
        out += rng.uniform(0.3, 1.0) * np.sin(2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi))
    out += rng.normal(0.0, 0.03, n).cumsum() / math.sqrt(n)  # a little hand tremor drift
    scale = float(np.max(np.abs(out))) or 1.0
    return out / scale * peak * rng.uniform(0.5, 1.0)


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def _background(rng: np.random.Generator, width: int, height: int) -> ImageRGB:
    """A plausible indoor background: a colour gradient with large soft blobs and noise."""
    base = rng.uniform(40, 200, 3)
    tilt = rng.uniform(-60, 60, 3)
    ys = np.linspace(0, 1, height)[:, None, None]
    xs = np.linspace(0, 1, width)[None, :, None]
    img = base + tilt * (0.6 * ys + 0.4 * xs)
    small = rng.uniform(-40, 40, (6, 8, 3)).astype(np.float32)
    img = img + cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 0, 255).astype(np.uint8)


def _card_image(photo: ImageRGB, face: Detection | None, rng: np.random.Generator) -> ImageRGB:
    """Crop the photo the way a printed portrait looks: the head and shoulders, white margin."""
    h, w = photo.shape[:2]
    if face is not None:
        cx, cy = face.center
        side = max(face.width, face.height) * rng.uniform(2.2, 3.0)
        x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side * 0.45))
        x2, y2 = int(min(w, cx + side / 2)), int(min(h, cy + side * 0.6))
        if x2 - x1 > 16 and y2 - y1 > 16:
            photo = photo[y1:y2, x1:x2]
    ch, cw = photo.shape[:2]
    scale = 480.0 / max(ch, cw)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    photo = np.asarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    # Printing: slightly lower contrast and saturation, warm paper white.
    f = photo.astype(np.float32)
    gray = f.mean(axis=2, keepdims=True)
    f = gray + (f - gray) * rng.uniform(0.75, 0.95)
    f = 20.0 + f * rng.uniform(0.8, 0.92)
    margin = int(rng.integers(0, 24))
    paper = np.array([rng.uniform(225, 250), rng.uniform(222, 245), rng.uniform(210, 238)])
    card = np.empty((f.shape[0] + 2 * margin, f.shape[1] + 2 * margin, 3), np.float32)
    card[:] = paper
    card[margin : margin + f.shape[0], margin : margin + f.shape[1]] = f
    return np.clip(card, 0, 255).astype(np.uint8)


def synth_print_clip(
    photo_rgb: ImageRGB,
    *,
    rng: np.random.Generator,
    face: Detection | None = None,
    seconds: float = 7.0,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    path: PrintPath | None = None,
) -> list[ImageRGB]:
    """Frames of a print attack made from one photo.

    The photo (cropped around ``face`` when given) is a flat card in front of a pinhole camera
    (focal length 1.1 × the frame width, so about 55° across). The card turns and moves along a
    random smooth path; the frames get a lighting gradient that moves with the card, a global
    gain drift, occasional motion or focus blur, sensor noise and JPEG-like quantisation.

    Args:
        photo_rgb: ``H×W×3`` uint8 RGB photo of a real face.
        rng: The random source (seed it for a reproducible set).
        face: The face in the photo (to crop head-and-shoulders), or ``None`` for the whole
            photo.
        seconds: Clip length.
        fps: Frame rate.
        size: ``(width, height)`` of the frames.
        path: Motion ranges.

    Returns:
        ``round(seconds * fps)`` RGB frames.
    """
    path = path or PrintPath()
    width, height = size
    n = max(2, round(seconds * fps))
    card = _card_image(photo_rgb, face, rng)
    ch, cw = card.shape[:2]
    focal = 1.1 * width
    # Card height in the frame ~ 55-80 % of the frame height at the mean distance.
    card_h_world = 1.0
    card_w_world = cw / ch
    dist = focal * card_h_world / (height * rng.uniform(*path.fill))
    yaw = np.radians(_smooth_path(rng, n, path.yaw_deg, fps))
    pitch = np.radians(_smooth_path(rng, n, path.pitch_deg, fps))
    roll = np.radians(_smooth_path(rng, n, path.roll_deg, fps))
    depth = dist * (1.0 + _smooth_path(rng, n, path.depth_jitter, fps))
    shift_x = _smooth_path(rng, n, path.shift, fps) * card_h_world
    shift_y = _smooth_path(rng, n, path.shift * 0.6, fps) * card_h_world
    corners = np.array(
        [
            [-card_w_world / 2, -card_h_world / 2, 0.0],
            [card_w_world / 2, -card_h_world / 2, 0.0],
            [card_w_world / 2, card_h_world / 2, 0.0],
            [-card_w_world / 2, card_h_world / 2, 0.0],
        ]
    )
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], dtype=np.float32)
    background = _background(rng, width, height)
    light_dir = rng.uniform(-1, 1, 2)
    light_strength = rng.uniform(0.1, 0.35)
    gain = 1.0 + _smooth_path(rng, n, 0.15, fps)
    gamma = rng.uniform(0.85, 1.15)
    noise_sigma = rng.uniform(1.0, 4.0)
    base_blur = rng.uniform(0.0, 1.2)
    gy, gx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    shading = 1.0 + light_strength * (
        light_dir[0] * (gx / cw - 0.5) + light_dir[1] * (gy / ch - 0.5)
    )
    lit = np.clip(card.astype(np.float32) * shading[..., None], 0, 255).astype(np.uint8)
    frames: list[ImageRGB] = []
    for i in range(n):
        rot = _rotation(float(yaw[i]), float(pitch[i]), float(roll[i]))
        world = corners @ rot.T + np.array([shift_x[i], shift_y[i], depth[i]])
        dst = np.stack(
            [
                focal * world[:, 0] / world[:, 2] + width / 2,
                focal * world[:, 1] / world[:, 2] + height / 2,
            ],
            axis=1,
        ).astype(np.float32)
        hom = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(lit, hom, (width, height), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(
            np.full((ch, cw), 255, np.uint8), hom, (width, height), flags=cv2.INTER_LINEAR
        )
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        frame = warped.astype(np.float32) * alpha + background.astype(np.float32) * (1 - alpha)
        frame = 255.0 * np.power(np.clip(frame * gain[i] / 255.0, 0, 1), gamma)
        sigma = base_blur + (rng.uniform(0.5, 2.0) if rng.random() < 0.15 else 0.0)
        if sigma > 0.3:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        if rng.random() < 0.1:  # a motion-blurred frame (the hand jerked)
            k = int(rng.integers(3, 8))
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            rot_k = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1)
            kernel = np.asarray(cv2.warpAffine(kernel, rot_k, (k, k)), dtype=np.float32)
            kernel /= max(float(kernel.sum()), 1e-6)
            frame = cv2.filter2D(frame, -1, kernel)
        frame = frame + rng.normal(0.0, noise_sigma, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def write_frames(frames: Sequence[ImageRGB], out_dir: Path, *, quality: int = 88) -> Path:
    """Write RGB frames as ``000000.jpg``, ``000001.jpg``, … into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(out_dir / f"{i:06d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"cannot write {out_dir / f'{i:06d}.jpg'}")
    return out_dir


def synth_print_set(
    photos: Sequence[Path],
    out_dir: Path,
    *,
    clips_per_photo: int = 3,
    seconds: float = 7.0,
    fps: float = 15.0,
    seed: int = 0,
    find_face: Callable[[ImageRGB], Detection | None] | None = None,
    path: PrintPath | None = None,
) -> list[Path]:
    """Synthesize print-attack clips for several photos into ``out_dir/<photo>_<k>/``.

    Returns:
        The clip folders written (photos that cannot be read are skipped).
    """
    rng = np.random.default_rng(seed)
    written: list[Path] = []
    for photo_path in photos:
        raw = cv2.imread(str(photo_path), cv2.IMREAD_COLOR)
        if raw is None:
            continue
        photo: ImageRGB = np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        face = find_face(photo) if find_face is not None else None
        stem = f"{photo_path.parent.name}_{photo_path.stem}" if photo_path.parent.name else ""
        for k in range(clips_per_photo):
            frames = synth_print_clip(
                photo, rng=rng, face=face, seconds=seconds, fps=fps, path=path
            )
            written.append(write_frames(frames, out_dir / f"{stem or photo_path.stem}_{k}"))
    return written
