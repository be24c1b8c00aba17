"""What the face path tells the rest of the daemon: one :class:`FaceEvent` per frame with a face.

Values only. The service turns an event into the timeline (the observation), the door's
prompt (a challenge) and, for a decided attempt, a ``policy.decide()`` call; the face path
never decides access itself. A decided attempt is already a policy access event, as a card
read or a PIN entry is: :class:`~facegate.policy.snapshot.FaceMatch` (a matched pseudonym, or
``None`` for an unknown face) or :class:`~facegate.policy.snapshot.LivenessRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from ..policy.snapshot import FaceMatch, LivenessRefused
from ..vision.match import MatchResult
from ..vision.quality import QualityReport
from ..vision.types import Detection

__all__ = [
    "ChallengeRequested",
    "FaceEvent",
    "FaceObservation",
    "FaceOutcome",
]


@dataclass(slots=True, frozen=True)
class FaceObservation:
    """What the loop saw of the face nearest the camera in one frame.

    ``quality`` is measured only while the track's attempt is open; ``match`` is set only
    when the frame was good enough to embed. ``liveness`` is the liveness verdict's status
    (``live``, ``inconclusive``, ``challenge``, ``spoof``) when the door checks liveness.
    ``skipped`` says why a face was not processed at all (``outside_zone``: not at the
    terminal; never tracked, embedded or searched); its ``track`` is then -1.
    """

    detection: Detection
    track: int
    quality: QualityReport | None
    match: MatchResult | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    liveness: str | None = None
    skipped: str | None = None


@dataclass(slots=True, frozen=True)
class ChallengeRequested:
    """The liveness judge asks the person for a blink or a head turn (once per attempt)."""

    kind: str
    text: str
    deadline: float


FaceOutcome: TypeAlias = FaceMatch | LivenessRefused


@dataclass(slots=True, frozen=True)
class FaceEvent:
    """What happened at the camera's door in one frame.

    Attributes:
        door: the door the camera watches.
        at: monotonic time of the frame's processing.
        observation: the face nearest the camera, for the timeline.
        outcome: the attempt's outcome when this frame decided it (else ``None``).
        challenge: a liveness challenge that started with this frame.
    """

    door: str
    at: float
    observation: FaceObservation
    outcome: FaceOutcome | None = None
    challenge: ChallengeRequested | None = None
