"""3-D structure from motion: a flat picture maps frame to frame by a homography.

For each frame the landmarks of the face outline (eye corners, brows, forehead, cheeks,
temples: points that stay put while a person talks) are compared with a few earlier frames of
the same track. A homography fitted to the outline explains a flat picture (a print or a
screen) moved in front of the camera almost exactly, nose included; on a real head the nose
sticks out of that plane, so turning or nodding moves it against the cheeks.

* ``motion``: the median residual of the outline after a *similarity* fit, over the
  inter-ocular distance: how much the face changed shape in 2-D (turned, nodded, tilted)
  rather than just moved, rotated in-plane or scaled.
* ``parallax``: the median residual of the nose points after the outline's *homography*,
  over the inter-ocular distance.

A flat picture turned in front of the camera has motion (perspective) but its parallax stays of
the order of that motion, landmark noise included; a real head shows several times more. The
signal concludes only over pairs that moved (``pair_motion``): with too few of them the head
hardly moved and the signal is ``inconclusive``.

A replayed video of a live person is flat as a whole, but the face *in* it moves in 3-D, so
this signal does not catch replays: the model and the challenge must.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

from ...config.liveness import StructureConfig
from .signal import SignalResult

__all__ = [
    "LEFT_EYE",
    "NOSE_POINTS",
    "OUTLINE_POINTS",
    "RIGHT_EYE",
    "StructureSignal",
    "inter_ocular",
    "planar_residuals",
]

OUTLINE_POINTS: tuple[int, ...] = (
    33, 133, 362, 263,  # eye corners
    10, 151, 109, 338, 67, 297,  # forehead
    234, 454, 127, 356, 162, 389, 93, 323,  # temples and the sides of the face
    123, 352,  # cheekbones
)  # fmt: skip
"""Mesh vertices that lie roughly on one plane and stay put when a person talks, smiles or
raises the brows (brows and lower cheeks move with expressions and read as head motion)."""
NOSE_POINTS: tuple[int, ...] = (1, 4, 5, 195, 45, 275)
"""Mesh vertices on the nose (tip, dorsum, alae): well out of the outline's plane."""
RIGHT_EYE: tuple[int, int] = (33, 133)
"""The subject's right eye corners (image left)."""
LEFT_EYE: tuple[int, int] = (362, 263)
"""The subject's left eye corners."""
_REFERENCES = 3  # earlier frames each new frame is compared with


def inter_ocular(points: npt.NDArray[np.float64]) -> float:
    """Distance between the two eye centres (mean of each eye's corners), in pixels."""
    return float(
        np.linalg.norm(points[list(RIGHT_EYE)].mean(axis=0) - points[list(LEFT_EYE)].mean(axis=0))
    )


def planar_residuals(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[float, float] | None:
    """``(parallax, motion)`` between two frames' ``(468, 2+)`` landmarks, or ``None``.

    Both are over frame ``a``'s inter-ocular distance. ``None`` when a fit fails.
    """
    scale = inter_ocular(a)
    if not scale > 1.0:
        return None
    src = np.ascontiguousarray(a[list(OUTLINE_POINTS), :2], dtype=np.float64)
    dst = np.ascontiguousarray(b[list(OUTLINE_POINTS), :2], dtype=np.float64)
    hom, _ = cv2.findHomography(src, dst, 0)
    sim, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if hom is None or sim is None:
        return None
    nose_a = np.ascontiguousarray(a[list(NOSE_POINTS), :2], dtype=np.float64)
    nose_b = b[list(NOSE_POINTS), :2]
    mapped = cv2.perspectiveTransform(nose_a[None], hom)[0]
    parallax = float(np.median(np.linalg.norm(mapped - nose_b, axis=1))) / scale
    fitted = src @ sim[:, :2].T + sim[:, 2]
    motion = float(np.median(np.linalg.norm(fitted - dst, axis=1))) / scale
    return parallax, motion


class StructureSignal:
    """Per-track accumulator of the 3-D-structure cue.

    Args:
        cfg: Thresholds and window.
    """

    def __init__(self, cfg: StructureConfig) -> None:
        self.cfg = cfg
        self._frames: deque[tuple[float, npt.NDArray[np.float64]]] = deque()
        self._pairs: deque[tuple[float, float, float]] = deque()  # (time, parallax, motion)

    def add(self, points: npt.ArrayLike, now: float) -> None:
        """Add one frame's landmarks (``(468, 2|3)`` frame pixels) seen at ``now``."""
        current = np.asarray(points, dtype=np.float64)[:, :2]
        horizon = now - self.cfg.window_s
        while self._frames and self._frames[0][0] < horizon:
            self._frames.popleft()
        # A pair is remembered for window_s after its newer frame.
        while self._pairs and self._pairs[0][0] < horizon:
            self._pairs.popleft()
        n = len(self._frames)
        if n:
            # Up to _REFERENCES earlier frames spread over the window, oldest first.
            picks = sorted({round(i * (n - 1) / (_REFERENCES - 1)) for i in range(_REFERENCES)})
            for i in picks:
                result = planar_residuals(self._frames[i][1], current)
                if result is not None:
                    self._pairs.append((now, result[0], result[1]))
        self._frames.append((now, current))

    def measures(self) -> tuple[float, float, int]:
        """``(parallax_p90, ratio, moving_pairs)`` over the window.

        ``parallax_p90`` is the 90th percentile of the nose parallax over all pairs; ``ratio``
        the median of parallax over motion over the moving pairs (``0`` without any).
        """
        if not self._pairs:
            return 0.0, 0.0, 0
        pairs = np.array([(p, m) for _, p, m in self._pairs])
        moving = pairs[pairs[:, 1] >= self.cfg.pair_motion]
        ratio = float(np.median(moving[:, 0] / moving[:, 1])) if len(moving) else 0.0
        return float(np.percentile(pairs[:, 0], 90)), ratio, len(moving)

    def result(self) -> SignalResult:
        """The cue so far; its score is the parallax-over-motion ratio."""
        cfg = self.cfg
        if len(self._frames) < cfg.min_frames:
            return SignalResult("inconclusive", 0.0, "too few frames")
        parallax, ratio, moving = self.measures()
        if moving < cfg.min_pairs:
            return SignalResult("inconclusive", ratio, "head hardly moved")
        if ratio >= cfg.solid_ratio and parallax >= cfg.solid_parallax:
            return SignalResult("live", ratio, "3-D")
        if ratio < cfg.flat_ratio:
            return SignalResult("spoof", ratio, "flat")
        return SignalResult("inconclusive", ratio, "between thresholds")
