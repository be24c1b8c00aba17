"""Frame detector: straight edges on all sides of the face (a paper margin or a screen bezel).

A print held up to the camera ends in a paper edge, and a phone or tablet in a bezel: long
straight lines that run beside the face on its left and right and above and below it, at a
distance of a face or so. A head has no such frame; the scene behind it (a door frame, a shelf,
the collar) rarely closes one on all four sides that near.

The score of a frame is the number of sides of the face (0-4) with a straight edge parallel to
that side, outside the face and spanning its middle, found by a probabilistic Hough transform
on the Canny edges of a square around the face (``ring`` times the detection's longer side,
scaled to ``size`` pixels so that the cost does not grow with the face). Edges of the camera's
own picture border are not counted. The track's score is its k-th highest frame score
(``frame.kth_highest``); at ``frame.min_sides`` (4: a closed frame) it is attack evidence.

On ``pad-dev`` (every 2nd frame, whole clips): no live clip's 2nd-highest frame reached 4
(two studio clips reached 3); 4 of the 10 bent prints, 4 of the 10 screen stills and 4 of the
10 video replays did, no head cut-out (cut-outs have no margin). It adds evidence; it
vouches for nothing. Cost: one warp, Canny and Hough on a 128-pixel square (about 1 ms) on
each measured frame.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from ...config.liveness import FrameConfig
from ..types import Detection
from .signal import SignalResult

__all__ = ["FrameSignal", "frame_sides"]

_MIN_LENGTH = 0.6  # least line length over the face's side
_OFFSET = 0.6  # least distance of a line from the face centre over the face's side
_SPAN = 0.2  # a line must reach within this (over the face's side) of the centre's row/column


def frame_sides(
    image_rgb: npt.NDArray[np.uint8], detection: Detection, *, ring: float = 2.4, size: int = 128
) -> int | None:
    """Sides of the face (0-4) with a straight edge beside them (``None``: no usable face)."""
    x1, y1, x2, y2 = detection.box
    face = max(x2 - x1, y2 - y1)
    if not face > 4.0:
        return None
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    side = face * ring
    k = size / side
    warp = np.array([[k, 0.0, -(cx - side / 2.0) * k], [0.0, k, -(cy - side / 2.0) * k]])
    crop = cv2.warpAffine(image_rgb, warp, (size, size), flags=cv2.INTER_AREA)
    inside = cv2.warpAffine(
        np.full(image_rgb.shape[:2], 255, np.uint8), warp, (size, size), flags=cv2.INTER_NEAREST
    )
    edges = cv2.Canny(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), 40, 120)
    edges[cv2.erode(inside, np.ones((5, 5), np.uint8)) == 0] = 0  # the picture's own border
    f, c = face * k, size / 2.0
    length = max(8, int(_MIN_LENGTH * f))
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 180, max(8, length // 2), minLineLength=length, maxLineGap=3
    )
    if lines is None:
        return 0
    found: set[str] = set()
    for xa, ya, xb, yb in lines.reshape(-1, 4).astype(np.float64):
        angle = abs(np.degrees(np.arctan2(yb - ya, xb - xa))) % 180.0
        mx, my = (xa + xb) / 2.0, (ya + yb) / 2.0
        upright = 60.0 < angle < 120.0
        level = angle < 30.0 or angle > 150.0
        spans_rows = min(ya, yb) < c + _SPAN * f and max(ya, yb) > c - _SPAN * f
        spans_cols = min(xa, xb) < c + _SPAN * f and max(xa, xb) > c - _SPAN * f
        if upright and spans_rows and abs(mx - c) > _OFFSET * f:
            found.add("left" if mx < c else "right")
        elif level and spans_cols and abs(my - c) > _OFFSET * f:
            found.add("top" if my < c else "bottom")
    return len(found)


class FrameSignal:
    """Per-track frame evidence: the k-th highest of the sampled frames' side counts.

    Like the screen detector it only finds attacks; a face without a frame may still be one.
    """

    def __init__(self, cfg: FrameConfig) -> None:
        self.cfg = cfg
        self.frames = 0
        self.scores: list[int] = []

    def add(self, image_rgb: npt.NDArray[np.uint8], detection: Detection) -> None:
        """Sample one frame (every ``every_n_frames``-th frame is measured)."""
        self.frames += 1
        if not self.cfg.enabled or (self.frames - 1) % self.cfg.every_n_frames:
            return
        sides = frame_sides(image_rgb, detection, ring=self.cfg.ring, size=self.cfg.size)
        if sides is not None:
            self.scores.append(sides)

    def result(self) -> SignalResult:
        k = self.cfg.kth_highest
        if len(self.scores) < k:
            return SignalResult("inconclusive", 0.0, "too few samples")
        score = float(sorted(self.scores)[-k])
        if score >= self.cfg.min_sides:
            return SignalResult("spoof", score, f"frame on {score:.0f} sides")
        return SignalResult("inconclusive", score, f"frame on {score:.0f} sides")
