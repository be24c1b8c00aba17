"""One decision per approach: fuse a track's templates and decide (pure, no I/O).

A resident is let in as soon as the running average of their track's templates matches;
a stranger is turned away once ``fuse_frames`` good frames have been fused without a match.
A person still in view ``redecide_after_s`` after their decision gets a fresh attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..vision.embed import l2_normalize
from ..vision.match import MatchResult
from .tracking import Track

__all__ = ["Attempt", "AttemptJudge"]


@dataclass(slots=True, frozen=True)
class Attempt:
    """A face attempt's outcome at one door (pseudonymised: a pseudonym at most).

    Not yet an access decision: the App hands it to ``policy.decide()``, which may still
    refuse a matched face (schedule, validity, a second factor, …).
    """

    door: str
    granted: bool
    reason: str  # "face matched" or "unknown face"
    subject: str | None
    score: float
    at: float
    track: int


class AttemptJudge:
    """Decides face attempts for one door (fuses a track's templates; pure).

    Args:
        door: door id.
        fuse_frames: templates fused before a stranger is denied.
        redecide_after_s: a decided track still in view gets a new attempt after this long.
    """

    def __init__(self, door: str, *, fuse_frames: int = 3, redecide_after_s: float = 10.0) -> None:
        self.door = door
        self.fuse_frames = fuse_frames
        self.redecide_after_s = redecide_after_s

    def wants_template(self, track: Track, now: float) -> bool:
        """Whether this track's current frame should be embedded."""
        if track.decided_at is None:
            return True
        if now - track.decided_at >= self.redecide_after_s:
            track.decided_at = None
            track.templates.clear()
            return True
        return False

    def add(
        self,
        track: Track,
        template: np.ndarray,
        now: float,
        search: Callable[[np.ndarray], MatchResult],
    ) -> tuple[MatchResult, Attempt | None]:
        """Add one template to the track, search the fused template, maybe decide."""
        track.templates.append(np.asarray(template, dtype=np.float32))
        recent = track.templates[-self.fuse_frames :]
        fused = l2_normalize(np.mean(np.stack(recent), axis=0))
        result = search(fused)
        attempt: Attempt | None = None
        if result.matched and result.subject is not None:
            attempt = Attempt(
                self.door, True, "face matched", result.subject, result.score, now, track.id
            )
        elif len(track.templates) >= self.fuse_frames:
            attempt = Attempt(self.door, False, "unknown face", None, result.score, now, track.id)
        if attempt is not None:
            track.decided_at = now
        return result, attempt
