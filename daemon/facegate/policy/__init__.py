"""Access policy: who may open which door, when, and with which credentials.

``decide()`` is pure (values in, a decision and the next state out). Around it: access modes
(:mod:`.modes`), schedules and validity (:mod:`.schedule`), brute-force defences
(:mod:`.lockout`), credential hashing (:mod:`.credentials`), the equal-fallback start-up check
(:mod:`.checks`) and the pure values derived from the configuration (:mod:`.build`).
"""

from .checks import check_doors
from .credentials import CardNumber, CredentialIndex, CredentialKeys, Pin
from .decide import REASONS, Decision, decide
from .modes import AccessMode
from .schedule import Holiday, ScheduleBook, TimeWindow, Validity, WeeklySchedule
from .snapshot import (
    CardPresented,
    DoorPolicy,
    ExitRequest,
    FaceMatch,
    ModeRule,
    Person,
    PinResolved,
    PolicySnapshot,
    PolicyState,
)

__all__ = [
    "REASONS",
    "AccessMode",
    "CardNumber",
    "CardPresented",
    "CredentialIndex",
    "CredentialKeys",
    "Decision",
    "DoorPolicy",
    "ExitRequest",
    "FaceMatch",
    "Holiday",
    "ModeRule",
    "Person",
    "Pin",
    "PinResolved",
    "PolicySnapshot",
    "PolicyState",
    "ScheduleBook",
    "TimeWindow",
    "Validity",
    "WeeklySchedule",
    "check_doors",
    "decide",
]
