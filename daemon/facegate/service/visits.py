"""Turn per-frame observations into one decision per visit (pure: values in, values out).

A person standing at the gate is seen in many frames; the gate must decide once. A *visit*
lasts while faces keep being seen; ``absence_reset_s`` without a face ends it. Within a visit:
a recognised person is granted once (again only after ``grant_cooldown_s``), and an
unrecognised face is denied once, after ``deny_after_frames`` consecutive unrecognised frames
so that one blurred frame does not produce a DENIED record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ServiceConfig
from .pipeline import FaceObservation

__all__ = ["Decision", "VisitTracker"]


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


@dataclass(slots=True)
class _VisitState:
    last_face_at: float | None = None
    unknown_streak: int = 0
    denied: bool = False
    granted_at: dict[str, float] = field(default_factory=dict)


class VisitTracker:
    """Decides at most once per visit per person for one door."""

    def __init__(self, door: str, cfg: ServiceConfig) -> None:
        self.door = door
        self.cfg = cfg
        self._state = _VisitState()

    def observe(self, now: float, observation: FaceObservation | None) -> Decision | None:
        """Feed one frame's observation (``None``: no face); returns a decision or ``None``."""
        st = self._state
        if observation is None:
            if st.last_face_at is not None and now - st.last_face_at >= self.cfg.absence_reset_s:
                self._state = _VisitState()
            return None
        st.last_face_at = now
        match = observation.match
        if match is None:  # face seen but not usable (too small, …): keeps the visit alive
            return None
        if match.matched and match.subject is not None:
            st.unknown_streak = 0
            last = st.granted_at.get(match.subject)
            if last is not None and now - last < self.cfg.grant_cooldown_s:
                return None
            st.granted_at[match.subject] = now
            return Decision(
                self.door, True, "face", "face matched", match.subject, match.score, now
            )
        st.unknown_streak += 1
        if st.denied or st.unknown_streak < self.cfg.deny_after_frames:
            return None
        st.denied = True
        return Decision(self.door, False, "face", "unknown face", None, match.score, now)
