"""The door as a pure state machine: events and grants in, actions out.

:class:`DoorController` never touches a pin. It is told about grants (``grant``), exit
requests, the door contact and the tamper switch, and returns a list of actions for the
runtime (:class:`~facegate.gate.runtime.DoorRuntime`) to carry out: release or secure the lock,
raise or clear an alarm, play a feedback pattern. Tests drive it with plain numbers.

Rules:

* The door opening while a grant or an exit request is active is a normal passage. Opening at
  any other time is ``door_forced`` (latched until the door closes).
* A door open for ``held_open_s`` or more raises ``door_held`` once per opening; it clears
  when the door closes. :meth:`DoorController.tick` checks it.
* One grant lets one passage through: when the door opens and closes again during a grant,
  the lock is secured at once instead of waiting for the release time to run out.
* The exit button releases the lock for ``exit_release_s`` and the opening that follows raises
  no alarm. It never plays the "granted" pattern (no one was identified).
* The tamper switch raises ``tamper`` while it is open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .events import (
    Alarm,
    AlarmCleared,
    AlarmKind,
    DoorClosed,
    DoorOpened,
    ExitRequested,
    GateEvent,
    TamperChanged,
)

__all__ = [
    "Action",
    "ClearAlarm",
    "DoorController",
    "Feedback",
    "FeedbackKind",
    "RaiseAlarm",
    "ReleaseLock",
    "SecureLock",
]

logger = logging.getLogger(__name__)

FeedbackKind: TypeAlias = Literal[
    "granted",
    "denied",
    "locked_out",
    "second_factor",
    "alarm",
    "challenge_blink",
    "challenge_turn",
    "challenge_mouth",
]


@dataclass(slots=True, frozen=True)
class ReleaseLock:
    """Release the lock for ``seconds``."""

    seconds: float


@dataclass(slots=True, frozen=True)
class SecureLock:
    """Lock now; ``reason`` is ``passed`` (opened and closed on a grant) or ``manual``."""

    reason: str = "passed"


@dataclass(slots=True, frozen=True)
class RaiseAlarm:
    """Raise an alarm (audit it; drive the siren for latched kinds)."""

    alarm: Alarm


@dataclass(slots=True, frozen=True)
class ClearAlarm:
    """A latched alarm ended."""

    cleared: AlarmCleared


@dataclass(slots=True, frozen=True)
class Feedback:
    """Play a buzzer/LED pattern for the person at the door."""

    kind: FeedbackKind


Action: TypeAlias = ReleaseLock | SecureLock | RaiseAlarm | ClearAlarm | Feedback

LATCHED: frozenset[AlarmKind] = frozenset({"door_forced", "door_held", "tamper"})
"""Alarms that stay active until a condition ends; they drive the siren."""


class DoorController:
    """The state of one door, as a pure state machine.

    Args:
        door: door id.
        held_open_s: the door may stay open this long before ``door_held``.
        exit_release_s: release time for the exit button.
        door_open: the door contact's state at start.
        tampered: the tamper switch's state at start.
    """

    def __init__(
        self,
        door: str,
        *,
        held_open_s: float = 30.0,
        exit_release_s: float = 5.0,
        door_open: bool = False,
        tampered: bool = False,
    ) -> None:
        if held_open_s <= 0 or exit_release_s <= 0:
            raise ValueError("held_open_s and exit_release_s must be positive")
        self.door = door
        self.held_open_s = float(held_open_s)
        self.exit_release_s = float(exit_release_s)
        self._door_open = bool(door_open)
        self._opened_at: float | None = None
        self._allowed_until: float | None = None  # a grant or an exit request
        self._passed = False  # the door opened during the current grant
        self._alarms: set[AlarmKind] = set()
        self._tampered = bool(tampered)

    @property
    def door_open(self) -> bool:
        """Whether the door is open, as last reported."""
        return self._door_open

    @property
    def active_alarms(self) -> frozenset[AlarmKind]:
        """The latched alarms now active (``door_forced``, ``door_held``, ``tamper``)."""
        return frozenset(self._alarms)

    def grant_active(self, now: float) -> bool:
        """Whether a grant or exit request currently allows the door to open."""
        return self._allowed_until is not None and now < self._allowed_until

    def start(self, now: float) -> list[Action]:
        """Actions for the state found at start-up; call once before anything else.

        A door found open at start is timed as held from ``now``; it is not called forced,
        since nobody knows how it came to be open. An open tamper switch raises ``tamper``.
        """
        if self._door_open and self._opened_at is None:
            self._opened_at = now
        if self._tampered and "tamper" not in self._alarms:
            return self._raise(Alarm("tamper", self.door, now, "tamper switch open at start"))
        return []

    def grant(self, now: float, seconds: float) -> list[Action]:
        """An access decision granted entry: release for ``seconds``, play "granted"."""
        if seconds <= 0:
            raise ValueError("a grant needs a positive duration")
        self._allow(now, seconds)
        return [ReleaseLock(float(seconds)), Feedback("granted")]

    def deny(self, now: float, *, locked_out: bool = False) -> list[Action]:
        """An access decision denied entry: only feedback, the lock stays as it is."""
        return [Feedback("locked_out" if locked_out else "denied")]

    def exit_request(self, now: float) -> list[Action]:
        """The exit button: release without an alarm and without the "granted" pattern."""
        self._allow(now, self.exit_release_s)
        return [ReleaseLock(self.exit_release_s)]

    def door_opened(self, now: float) -> list[Action]:
        """The door contact reports open."""
        if self._door_open:
            return []
        self._door_open = True
        self._opened_at = now
        if self.grant_active(now):
            self._passed = True
            return []
        return self._raise(
            Alarm("door_forced", self.door, now, "opened without a grant or exit request")
        )

    def door_closed(self, now: float) -> list[Action]:
        """The door contact reports closed: clear open-door alarms, end a used grant."""
        if not self._door_open:
            return []
        self._door_open = False
        self._opened_at = None
        actions: list[Action] = []
        for kind in ("door_forced", "door_held"):
            actions.extend(self._clear(kind, now))
        if self._passed and self.grant_active(now):
            actions.append(SecureLock("passed"))
        if self._passed:
            self._allowed_until = None
            self._passed = False
        return actions

    def tamper(self, now: float, tampered: bool) -> list[Action]:
        """The tamper switch changed."""
        if tampered == self._tampered:
            return []
        self._tampered = tampered
        if tampered:
            return self._raise(Alarm("tamper", self.door, now, "tamper switch open"))
        return self._clear("tamper", now)

    def tick(self, now: float) -> list[Action]:
        """Time-driven checks: forget an expired grant, raise ``door_held`` once."""
        if self._allowed_until is not None and now >= self._allowed_until and not self._door_open:
            self._allowed_until = None
            self._passed = False
        if (
            self._door_open
            and self._opened_at is not None
            and now - self._opened_at >= self.held_open_s
            and "door_held" not in self._alarms
        ):
            return self._raise(
                Alarm("door_held", self.door, now, f"open longer than {self.held_open_s:g} s")
            )
        return []

    def handle(self, event: GateEvent) -> list[Action]:
        """Dispatch one input event (events for another door are ignored)."""
        if getattr(event, "door", None) != self.door:
            if not isinstance(event, DoorOpened | DoorClosed | ExitRequested | TamperChanged):
                raise TypeError(f"not a gate event: {type(event).__name__}")
            return []
        if isinstance(event, DoorOpened):
            return self.door_opened(event.at)
        if isinstance(event, DoorClosed):
            return self.door_closed(event.at)
        if isinstance(event, ExitRequested):
            return self.exit_request(event.at)
        if isinstance(event, TamperChanged):
            return self.tamper(event.at, event.tampered)
        raise TypeError(f"not a gate event: {type(event).__name__}")

    def _allow(self, now: float, seconds: float) -> None:
        until = now + seconds
        if self._allowed_until is None or now >= self._allowed_until:
            self._passed = False
            self._allowed_until = until
        else:
            self._allowed_until = max(self._allowed_until, until)
        if self._door_open:
            # Already open (held by the person who got the grant): the closing ends it.
            self._passed = True

    def _raise(self, alarm: Alarm) -> list[Action]:
        self._alarms.add(alarm.kind)
        logger.warning("%s: alarm %s", self.door, alarm.kind)
        return [RaiseAlarm(alarm), Feedback("alarm")]

    def _clear(self, kind: AlarmKind, now: float) -> list[Action]:
        if kind not in self._alarms:
            return []
        self._alarms.discard(kind)
        logger.info("%s: alarm %s cleared", self.door, kind)
        return [ClearAlarm(AlarmCleared(kind, self.door, now))]
