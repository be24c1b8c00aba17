"""Synthesize a gate camera clip from public-domain portraits that ship with pip packages.

Test material, like the print attacks in ``pad``: ``facegate demo`` replays it and
``facegate bench`` measures on it by default.

The enrolled "resident" is the astronaut portrait in scikit-image (Eileen Collins, NASA, public
domain); the stranger is Grace Hopper from matplotlib's sample data (US Navy photo, public
domain). Faces are cut out with a soft elliptical mask and composited onto a synthetic gate
scene, moving, scaling and changing brightness like a person walking up to a camera.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FacegateError

__all__ = ["Portrait", "Scene", "load_portraits", "render_clip", "write_clip"]

WIDTH, HEIGHT = 640, 480


@dataclass(slots=True, frozen=True)
class Portrait:
    """A face sprite: RGB pixels plus an alpha mask, and the face box inside the sprite."""

    label: str
    image: np.ndarray  # full source portrait (for enrolment)
    sprite: np.ndarray  # RGB crop around the face
    alpha: np.ndarray  # float32 0..1, same size as sprite


@dataclass(slots=True, frozen=True)
class Scene:
    """A stretch of the clip and what should happen in it."""

    label: str
    who: str | None  # portrait label, or None for an empty gate
    frames: int
    expect: str | None  # "granted", "denied" or None (nothing)


def _astronaut() -> np.ndarray:
    try:
        from skimage import data
    except ImportError as exc:
        raise FacegateError(
            "the synthesized clip (demo, bench) needs scikit-image for its public-domain portrait: "
            "pip install 'facegate[demo]'"
        ) from exc
    return np.ascontiguousarray(data.astronaut())


def _hopper() -> np.ndarray:
    try:
        from matplotlib import cbook
    except ImportError as exc:
        raise FacegateError(
            "the synthesized clip (demo, bench) needs matplotlib for its second portrait: "
            "pip install 'facegate[demo]'"
        ) from exc
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise FacegateError(f"cannot read matplotlib's sample portrait {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _sprite(label: str, image: np.ndarray, box: tuple[float, float, float, float]) -> Portrait:
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * 1.2
    h, w = image.shape[:2]
    left, top = int(max(0, cx - half)), int(max(0, cy - half * 1.1))
    right, bottom = int(min(w, cx + half)), int(min(h, cy + half * 1.2))
    sprite = np.ascontiguousarray(image[top:bottom, left:right])
    sh, sw = sprite.shape[:2]
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    ecx, ecy = cx - left, cy - top + (y2 - y1) * 0.05
    rx, ry = (x2 - x1) * 0.95, (y2 - y1) * 1.2
    d = ((xx - ecx) / rx) ** 2 + ((yy - ecy) / ry) ** 2
    alpha = np.clip((1.35 - d) / 0.35, 0.0, 1.0).astype(np.float32)
    return Portrait(label=label, image=image, sprite=sprite, alpha=alpha)


def load_portraits(
    find_face: Callable[[np.ndarray], tuple[float, float, float, float] | None],
) -> dict[str, Portrait]:
    """Load both portraits; ``find_face(image)`` returns the face box (x1, y1, x2, y2)."""
    portraits = {}
    for label, image in (("resident", _astronaut()), ("stranger", _hopper())):
        box = find_face(image)
        if box is None:
            raise FacegateError(f"the demo portrait {label!r} has no detectable face")
        portraits[label] = _sprite(label, image, box)
    return portraits


def _background(rng: np.random.Generator) -> np.ndarray:
    """A gate scene: a wall, a door frame, a floor, sensor noise."""
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    wall = (np.array([150, 160, 170], np.float32) * (1.0 - 0.25 * y)).repeat(WIDTH, axis=1)
    img = wall.copy()
    cv2.rectangle(img, (200, 60), (440, 480), (95, 80, 70), thickness=-1)  # door
    cv2.rectangle(img, (190, 50), (450, 480), (60, 55, 50), thickness=10)  # frame
    cv2.rectangle(img, (0, 400), (WIDTH, HEIGHT), (110, 110, 105), thickness=-1)  # floor
    cv2.circle(img, (425, 270), 7, (200, 190, 60), thickness=-1)  # handle
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _composite(
    base: np.ndarray, p: Portrait, cx: float, cy: float, scale: float, gain: float
) -> np.ndarray:
    sprite = cv2.resize(p.sprite, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(p.alpha, (sprite.shape[1], sprite.shape[0]))[:, :, None]
    sprite = np.clip(sprite.astype(np.float32) * gain, 0, 255)
    out = base.astype(np.float32)
    sh, sw = sprite.shape[:2]
    x0, y0 = round(cx - sw / 2), round(cy - sh / 2)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(WIDTH, x0 + sw), min(HEIGHT, y0 + sh)
    if fx1 <= fx0 or fy1 <= fy0:
        return base
    sx0, sy0 = fx0 - x0, fy0 - y0
    region = out[fy0:fy1, fx0:fx1]
    a = alpha[sy0 : sy0 + (fy1 - fy0), sx0 : sx0 + (fx1 - fx0)]
    s = sprite[sy0 : sy0 + (fy1 - fy0), sx0 : sx0 + (fx1 - fx0)]
    out[fy0:fy1, fx0:fx1] = region * (1 - a) + s * a
    return np.clip(out, 0, 255).astype(np.uint8)


def place(base: np.ndarray, portrait: Portrait, cx: float, cy: float, scale: float) -> np.ndarray:
    """``base`` with ``portrait``'s face pasted, centred at ``(cx, cy)``, at ``scale``."""
    return _composite(base, portrait, cx, cy, scale, 1.0)


SCRIPT: tuple[Scene, ...] = (
    Scene("empty gate", None, 8, None),
    Scene("the enrolled resident walks up to the gate", "resident", 26, "granted"),
    Scene("the resident walks through; the gate zone empties", None, 34, None),
    Scene("a stranger (not enrolled) stands at the gate", "stranger", 16, "denied"),
    Scene("the stranger leaves", None, 20, None),
    Scene("the resident comes back later", "resident", 14, "granted"),
    Scene("empty gate", None, 34, None),
)


def render_clip(
    portraits: dict[str, Portrait], *, seed: int = 7
) -> Iterator[tuple[Scene, np.ndarray]]:
    """Yield ``(scene, RGB frame)`` for every frame of the script."""
    rng = np.random.default_rng(seed)
    background = _background(rng)
    for scene in SCRIPT:
        for i in range(scene.frames):
            frame = background.copy()
            if scene.who is not None:
                t = i / max(1, scene.frames - 1)
                # Walk in from the left, growing as the person approaches, then hold still.
                progress = min(1.0, t * 1.6)
                scale = 0.55 + 0.5 * progress
                cx = 150 + 170 * progress + rng.normal(0, 2)
                cy = 230 - 10 * progress + rng.normal(0, 2)
                gain = 0.85 + 0.2 * np.sin(3 * t) + rng.normal(0, 0.02)
                frame = _composite(frame, portraits[scene.who], cx, cy, scale, gain)
            noise = rng.normal(0, 2.0, frame.shape)
            yield scene, np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def write_clip(portraits: dict[str, Portrait], folder: Path) -> list[tuple[Scene, int]]:
    """Write the clip as numbered JPEG frames; returns each scene with its first frame index."""
    folder.mkdir(parents=True, exist_ok=True)
    starts: list[tuple[Scene, int]] = []
    last: Scene | None = None
    for index, (scene, rgb) in enumerate(render_clip(portraits)):
        if scene is not last:
            starts.append((scene, index))
            last = scene
        path = folder / f"frame_{index:04d}.jpg"
        cv2.imwrite(str(path), rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return starts
