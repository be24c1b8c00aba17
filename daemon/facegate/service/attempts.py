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

__all__ = ["Decision", "Judge"]


@dataclass(slots=True, frozen=True)
class Decision:
    """An access decision for one door (anonymized: a pseudonym at most)."""

    door: str
    granted: bool
    method: str
    reason: str
    subject: str | None
    score: float | None
    at: float
    track: int | None = None


class Judge:
    """Decides attempts for one door.

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
    ) -> tuple[MatchResult, Decision | None]:
        """Add one template to the track, search the fused template, maybe decide."""
        track.templates.append(np.asarray(template, dtype=np.float32))
        recent = track.templates[-self.fuse_frames :]
        fused = l2_normalize(np.mean(np.stack(recent), axis=0))
        result = search(fused)
        decision: Decision | None = None
        if result.matched and result.subject is not None:
            decision = Decision(
                self.door,
                True,
                "face",
                "face matched",
                result.subject,
                result.score,
                now,
                track.id,
            )
        elif len(track.templates) >= self.fuse_frames:
            decision = Decision(
                self.door, False, "face", "unknown face", None, result.score, now, track.id
            )
        if decision is not None:
            track.decided_at = now
        return result, decision
