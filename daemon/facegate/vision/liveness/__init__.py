"""Liveness: tell a live face from a photo or a screen held up to the camera.

Each signal is its own per-track accumulator (:mod:`.structure`, :mod:`.blink`, :mod:`.model`,
:mod:`.challenge`); :class:`~.judge.LivenessJudge` combines them into one verdict per frame.
"""

from __future__ import annotations

from .judge import LivenessJudge, LivenessVerdict, Status

__all__ = ["LivenessJudge", "LivenessVerdict", "Status"]
