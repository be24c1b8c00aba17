"""Events from the door hardware, and the alarms raised about a door (values only, no I/O).

GPIO callbacks turn pin edges into these events; the main loop feeds them to the
:class:`~facegate.gate.door.DoorController` and writes them to the audit log. Every ``at`` is a
reading of the injected clock's ``monotonic()`` so that intervals (held-open time, bounce
windows, back-off) never jump when the wall clock is corrected by NTP.

No event carries a name, PIN, card number or image: a door id, a time, and a short detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..config.gate import ALARM_KINDS, DEFAULT_SIREN_KINDS, AlarmKind

__all__ = [
    "ALARM_KINDS",
    "DEFAULT_SIREN_KINDS",
    "Alarm",
    "AlarmCleared",
    "AlarmKind",
    "DoorClosed",
    "DoorOpened",
    "ExitRequested",
    "GateEvent",
    "TamperChanged",
]


@dataclass(slots=True, frozen=True)
class DoorOpened:
    """The door contact reports the door open (after debouncing)."""

    door: str
    at: float


@dataclass(slots=True, frozen=True)
class DoorClosed:
    """The door contact reports the door closed (after debouncing)."""

    door: str
    at: float


@dataclass(slots=True, frozen=True)
class ExitRequested:
    """The request-to-exit button on the secure side was pressed."""

    door: str
    at: float


@dataclass(slots=True, frozen=True)
class TamperChanged:
    """A tamper switch changed: ``tampered`` is True while the enclosure is open."""

    door: str
    at: float
    tampered: bool


@dataclass(slots=True, frozen=True)
class Alarm:
    """An alarm about one door.

    Attributes:
        kind: what happened (see :data:`AlarmKind`).
        door: the door id.
        at: monotonic time it was raised.
        detail: a short, non-personal explanation for the audit log (never a PIN, card
            number, name or pseudonym).
    """

    kind: AlarmKind
    door: str
    at: float
    detail: str = ""


@dataclass(slots=True, frozen=True)
class AlarmCleared:
    """A latched alarm (forced, held, tamper) ended: the door closed or the tamper closed."""

    kind: AlarmKind
    door: str
    at: float


GateEvent: TypeAlias = DoorOpened | DoorClosed | ExitRequested | TamperChanged
"""Everything a door's inputs can report."""
