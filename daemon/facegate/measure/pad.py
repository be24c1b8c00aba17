"""Presentation-attack detection (PAD) measurement: synthesized print attacks and ``eval-pad``.

Two halves:

* :func:`synth_print_clip` / :func:`synth_print_set` turn a real photo into a short clip of a
  *print attack*: the photo as a flat card in 3-D, moved along a random smooth path (yaw,
  pitch, roll, distance and position), seen by a pinhole camera, with uneven lighting, gain
  drift, blur, sensor noise and JPEG compression, written as a folder of JPEG frames at a
  camera frame rate. Anyone with a face photo can rebuild the same test set (seeded).
* :func:`evaluate_pad` runs the liveness judge over bona-fide and attack clips and reports
  ISO/IEC 30107-3 style rates: APCER per attack type, BPCER, and the share of attempts that
  needed a challenge.

Offline challenge rule (a stated assumption, not a measurement): a clip cannot hear the
prompt, so an attempt that reaches ``"challenge"`` keeps running on the clip's following frames,
past its window if need be, and passes only if those frames happen to contain the requested
response (a blink, or a head turn or nod with 3-D structure). The rule is the same for
bona-fide and attack clips: for live people it stands in for a cooperative user, for attacks it
is what a replay that happens to blink, or a print that happens to move, would get. An
attempt whose clip ends before the challenge is answered or times out is refused (its
``clip_ended`` is set in ``--details``).

Small samples: every rate comes with its counts and a 95 % Wilson score interval
(:func:`wilson`), in ``--details`` and in the table, because 10 attacks of a type cannot tell
0 % from 25 %.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..vision.liveness.judge import LivenessJudge
from ..vision.types import Detection

__all__ = [
    "PAD_KEYS",
    "VIDEO_SUFFIXES",
    "Attempt",
    "AttemptResult",
    "PadReport",
    "PrintPath",
    "evaluate_pad",
    "iter_attempts",
    "readme_table",
    "run_attempt",
    "scan_attacks",
    "scan_clips",
    "synth_print_clip",
    "synth_print_set",
    "wilson",
]

PAD_KEYS: tuple[str, ...] = (
    "apcer",
    "apcer_max",
    "bpcer",
    "challenge_rate",
    "attempts",
    "ms_per_frame",
)
"""The keys of ``eval-pad --json``, exactly."""

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
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


# --------------------------------------------------------------------------------------------
# eval-pad
# --------------------------------------------------------------------------------------------


def _is_clip(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())


def scan_clips(folder: Path) -> list[Path]:
    """Clips directly in ``folder``: video files and folders of frames, in name order."""
    return sorted(p for p in folder.iterdir() if _is_clip(p))


def scan_attacks(folder: Path) -> dict[str, list[Path]]:
    """Attack clips by type: each subfolder ``folder/<type>/`` holds that type's clips."""
    out: dict[str, list[Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        clips = scan_clips(sub)
        if clips:
            out[sub.name] = clips
    return out


def read_clip(path: Path, default_fps: float = 15.0) -> tuple[list[ImageRGB], float]:
    """All frames of a clip (RGB) and its frame rate (``default_fps`` for frame folders)."""
    frames: list[ImageRGB] = []
    if path.is_dir():
        names = (q for q in path.iterdir() if not q.name.startswith("."))
        for p in sorted(q for q in names if q.suffix.lower() in IMAGE_SUFFIXES):
            raw = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if raw is not None:
                frames.append(np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), dtype=np.uint8))
        return frames, default_fps
    video = cv2.VideoCapture(str(path))
    fps = float(video.get(cv2.CAP_PROP_FPS))
    if not 1.0 <= fps <= 240.0:  # missing or nonsense in the container: assume the default
        fps = default_fps
    while True:
        ok, raw = video.read()
        if not ok:
            break
        frames.append(np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    video.release()
    return frames, fps


@dataclass(slots=True, frozen=True)
class Attempt:
    """One attempt: frames ``start:stop`` of a clip (the challenge may run on past ``stop``)."""

    clip: Path
    start: int
    stop: int


def iter_attempts(n_frames: int, fps: float, clip: Path, window_s: float) -> Iterator[Attempt]:
    """Split a clip into attempts: the whole clip when shorter than twice ``window_s``,
    otherwise consecutive non-overlapping windows of ``window_s`` (a short tail is dropped)."""
    w = max(1, round(window_s * fps))
    if n_frames < 2 * w:
        yield Attempt(clip, 0, n_frames)
        return
    for start in range(0, n_frames - w + 1, w):
        yield Attempt(clip, start, start + w)


def wilson(errors: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a rate of ``errors`` in ``n``.

    Unlike ``rate ± z·sd`` it stays inside [0, 1] and is not empty at 0 or n errors: 0 of 10
    is 0-28 %, not "0 %".
    """
    if n <= 0:
        return 0.0, 1.0
    p = errors / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(slots=True, frozen=True)
class AttemptResult:
    """How one attempt ended: ``accepted`` (judged live), whether it reached a challenge.

    ``evidence`` is the live evidence the judge had seen, ``scores`` its signals' scores at the
    end, and ``clip_ended`` is set when the clip ran out while a challenge was still running
    (refused: the offline stand-in for a person who did not answer).
    """

    clip: str
    start: int
    accepted: bool
    challenged: bool
    status: str
    reason: str
    evidence: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    clip_ended: bool = False


@dataclass(slots=True)
class PadReport:
    """Everything ``eval-pad`` measured."""

    mode: str
    bona_fide: list[AttemptResult] = field(default_factory=list)
    attacks: dict[str, list[AttemptResult]] = field(default_factory=dict)
    frame_ms: list[float] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)

    def frame_ms_percentiles(self) -> tuple[float, float, float]:
        """``(median, p95, max)`` of the per-frame liveness time (zeros without frames)."""
        if not self.frame_ms:
            return 0.0, 0.0, 0.0
        p50, p95, top = np.percentile(self.frame_ms, [50, 95, 100])
        return float(p50), float(p95), float(top)

    def rates(self) -> dict[str, dict[str, Any]]:
        """Per type: errors, attempts, rate and 95 % Wilson interval.

        Attack types count accepted attacks (APCER); ``bona_fide`` counts refused live
        attempts (BPCER), and ``bona_fide_unchallenged`` the same over the live attempts that
        were decided without a challenge (the BPCER a person meets when the passive signals
        suffice).
        """
        groups: dict[str, tuple[int, int]] = {
            kind: (sum(r.accepted for r in rs), len(rs)) for kind, rs in self.attacks.items()
        }
        plain = [r for r in self.bona_fide if not r.challenged]
        groups["bona_fide"] = (sum(not r.accepted for r in self.bona_fide), len(self.bona_fide))
        groups["bona_fide_unchallenged"] = (sum(not r.accepted for r in plain), len(plain))
        out: dict[str, dict[str, Any]] = {}
        for kind, (errors, n) in groups.items():
            lo, hi = wilson(errors, n)
            out[kind] = {
                "errors": errors,
                "attempts": n,
                "rate": errors / n if n else 0.0,
                "ci95": [lo, hi],
            }
        return out

    def details(self) -> dict[str, Any]:
        """Everything measured: the summary, the time spread, and every attempt's outcome."""
        _, p95, top = self.frame_ms_percentiles()
        attempts = [("bona_fide", r) for r in self.bona_fide] + [
            (kind, r) for kind, rs in self.attacks.items() for r in rs
        ]
        return {
            **self.summary(),
            "mode": self.mode,
            "ms_per_frame_p95": p95,
            "ms_per_frame_max": top,
            "frames": len(self.frame_ms),
            "rates": self.rates(),
            "clips": {
                "bona_fide": len({r.clip for r in self.bona_fide}),
                **{kind: len({r.clip for r in rs}) for kind, rs in self.attacks.items()},
            },
            "challenge_rule": "a challenge runs on over the clip's following frames, for live "
            "and attack clips alike; a clip that ends first is refused",
            "results": [
                {
                    "type": kind,
                    "clip": r.clip,
                    "start": r.start,
                    "accepted": r.accepted,
                    "challenged": r.challenged,
                    "status": r.status,
                    "reason": r.reason,
                    "evidence": list(r.evidence),
                    "scores": {k: round(float(v), 4) for k, v in r.scores.items()},
                    "clip_ended": r.clip_ended,
                }
                for kind, r in attempts
            ],
        }

    def summary(self) -> dict[str, Any]:
        """The ``--json`` document, with exactly :data:`PAD_KEYS`."""
        apcer = {
            kind: (sum(r.accepted for r in rs) / len(rs) if rs else 0.0)
            for kind, rs in self.attacks.items()
        }
        every = self.bona_fide + [r for rs in self.attacks.values() for r in rs]
        bpcer = (
            sum(not r.accepted for r in self.bona_fide) / len(self.bona_fide)
            if self.bona_fide
            else 0.0
        )
        return {
            "apcer": apcer,
            "apcer_max": max(apcer.values(), default=0.0),
            "bpcer": bpcer,
            "challenge_rate": (sum(r.challenged for r in every) / len(every)) if every else 0.0,
            "attempts": {
                "bona_fide": len(self.bona_fide),
                **{k: len(v) for k, v in self.attacks.items()},
            },
            "ms_per_frame": statistics.median(self.frame_ms) if self.frame_ms else 0.0,
        }


Detect = Callable[[ImageRGB], Detection | None]
"""Finds the face at the gate (the largest) in one RGB frame, or ``None``."""


def run_attempt(
    judge: LivenessJudge,
    track_id: int,
    frames: Sequence[ImageRGB],
    detections: Sequence[Detection | None],
    fps: float,
    attempt: Attempt,
    *,
    frame_ms: list[float],
) -> AttemptResult:
    """Run the judge over one attempt (see the module doc for the offline challenge rule)."""
    status, reason, challenged = "inconclusive", "no_face", False
    evidence: tuple[str, ...] = ()
    scores: dict[str, float] = {}
    for i in range(attempt.start, len(frames)):
        if i >= attempt.stop and not challenged:
            break  # only a running challenge goes on past the window
        det = detections[i]
        if det is None:
            continue
        t0 = time.perf_counter()
        verdict = judge.observe(track_id, frames[i], det, i / fps)
        frame_ms.append((time.perf_counter() - t0) * 1000.0)
        status, reason = verdict.status, verdict.reason
        evidence, scores = verdict.evidence, dict(verdict.scores)
        challenged = challenged or verdict.challenged
        if verdict.final:
            break
    judge.forget(track_id)
    return AttemptResult(
        str(attempt.clip), attempt.start, status == "live", challenged, status, reason,
        evidence, scores, clip_ended=status == "challenge",
    )  # fmt: skip


def evaluate_pad(
    bona_fide: Path,
    attacks: Path,
    *,
    judge: LivenessJudge,
    detect: Detect,
    window_s: float = 4.0,
    fps: float = 15.0,
    progress: Callable[[str], None] | None = None,
) -> PadReport:
    """Measure a judge on bona-fide clips and typed attack clips.

    Every frame is run through ``detect`` (not timed); ``judge.observe`` is timed per frame,
    which is the time liveness adds to the pipeline (FaceMesh, the signals, model runs).
    """
    report = PadReport(mode=judge.cfg.mode)
    groups: list[tuple[str | None, list[Path]]] = [(None, scan_clips(bona_fide))]
    groups += list(scan_attacks(attacks).items())
    track_id = 0
    for kind, clips in groups:
        results: list[AttemptResult] = []
        for clip in clips:
            frames, clip_fps = read_clip(clip, fps)
            if not frames:
                report.unreadable.append(clip)
                if progress is not None:
                    progress(f"{kind or 'bona_fide'}: {clip.name}")
                continue
            detections = [detect(f) for f in frames]
            for attempt in iter_attempts(len(frames), clip_fps, clip, window_s):
                track_id += 1
                results.append(
                    run_attempt(
                        judge, track_id, frames, detections, clip_fps, attempt,
                        frame_ms=report.frame_ms,
                    )
                )  # fmt: skip
            if progress is not None:
                progress(f"{kind or 'bona_fide'}: {clip.name}")
        if kind is None:
            report.bona_fide = results
        else:
            report.attacks[kind] = results
    return report


def readme_table(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table of ``eval-pad --details`` documents, one row per ``(label, details)``.

    Each cell is the rate, the counts and the 95 % Wilson interval; the columns are the attack
    types of the first run, then BPCER, BPCER without a challenge, the challenge rate and the
    median (p95) ms per frame.
    """
    if not runs:
        return ""
    kinds = [k for k in runs[0][1]["rates"] if not k.startswith("bona_fide")]

    def cell(rate: dict[str, Any]) -> str:
        lo, hi = rate["ci95"]
        return f"{rate['rate']:.0%} ({rate['errors']}/{rate['attempts']}; {lo:.0%}-{hi:.0%})"

    head = ["mode", *(f"APCER {k}" for k in kinds)]
    head += ["BPCER", "BPCER unchallenged", "challenge rate", "ms/frame median (p95)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, d in runs:
        rates = d["rates"]
        row = [label, *(cell(rates[k]) if k in rates else "-" for k in kinds)]
        row += [cell(rates["bona_fide"]), cell(rates["bona_fide_unchallenged"])]
        row += [
            f"{d['challenge_rate']:.0%}",
            f"{d['ms_per_frame']:.1f} ({d['ms_per_frame_p95']:.1f})",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
