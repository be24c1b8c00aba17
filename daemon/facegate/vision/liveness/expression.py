"""Expression: the mouth opens and closes (speech, a smile), which no picture can do.

The mouth opening is the gap between the inner lips (vertices 13 and 14) over the distance
from the eye midpoint to the upper lip. Both are vertical lengths of the same face, so
turning, tilting or bending a picture changes them together and leaves the ratio; a mouth that
talks changes it by a third or more. Each frame's opening is the median of the last
``smooth_frames`` (landmark jitter moves single frames; speech moves several), and a track's
first ``smooth_frames - 1`` frames, which have no such median, are not compared. The track's
score is the spread (95th minus 5th percentile) of the smoothed opening over the last
``window_s``; at or above ``min_range`` it is evidence of life.

A replayed video talks too: this signal never overrules the screen detector, and it counts
as only one of the two pieces of evidence an acceptance needs.

On ``pad-dev``, judged attempt by attempt with the defaults (median of 3, 0.13): 35 of the 49
live attempts showed a moving mouth (31 without the smoothing at the former 0.16), none of the
20 synthesized prints or the 10 screen stills, and 3 of the 10 screen video replays (which
the screen detector refused).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from ...config.liveness import ExpressionConfig
from .signal import SignalResult
from .structure import LEFT_EYE, RIGHT_EYE

__all__ = ["ExpressionSignal", "mouth_opening"]

_INNER_LIPS = (13, 14)
_UPPER_LIP = 0


def mouth_opening(points: npt.ArrayLike) -> float:
    """The inner-lip gap over the eyes-to-upper-lip distance (``0`` for a degenerate face)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    eyes = (p[list(RIGHT_EYE)].mean(axis=0) + p[list(LEFT_EYE)].mean(axis=0)) / 2.0
    scale = float(np.linalg.norm(p[_UPPER_LIP] - eyes))
    if not scale > 1.0:
        return 0.0
    return float(np.linalg.norm(p[_INNER_LIPS[0]] - p[_INNER_LIPS[1]])) / scale


class ExpressionSignal:
    """Per-track mouth-opening spread over a sliding window."""

    def __init__(self, cfg: ExpressionConfig) -> None:
        self.cfg = cfg
        self._open: deque[tuple[float, float]] = deque()
        self._raw: deque[float] = deque(maxlen=cfg.smooth_frames)
        self._seen = False
        self.opening = 0.0  # the last frame's smoothed opening

    def add(self, points: npt.ArrayLike, now: float) -> None:
        """Add one frame's landmarks (``(468, 2|3)``) seen at ``now``."""
        while self._open and self._open[0][0] < now - self.cfg.window_s:
            self._open.popleft()
        self._raw.append(mouth_opening(points))
        self.opening = float(np.median(self._raw))
        if len(self._raw) < self.cfg.smooth_frames:
            return  # a track's first frames have no median yet: one jump there would count
        self._open.append((now, self.opening))
        if not self._seen and len(self._open) >= self.cfg.min_frames:
            self._seen = self.spread() >= self.cfg.min_range

    def spread(self) -> float:
        """95th minus 5th percentile of the opening over the window (``0`` when empty)."""
        if not self._open:
            return 0.0
        low, high = np.percentile([v for _, v in self._open], [5, 95])
        return float(high - low)

    def result(self) -> SignalResult:
        """``live`` once the spread reached ``min_range`` in some window (then it stays)."""
        score = self.spread()
        if self._seen:
            return SignalResult("live", score, "mouth moved")
        return SignalResult("inconclusive", score, "mouth still")
