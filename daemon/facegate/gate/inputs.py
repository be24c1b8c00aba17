"""Door inputs: door contact, exit button and tamper switch, debounced on the injected clock.

gpiozero's own ``bounce_time`` works on real time inside the pin driver, so tests could only
check it by sleeping, and it drops the *last* edge of a bounce (a contact that settles in the
other state is then reported wrong until it moves again). Here the pin is opened with
``bounce_time=None`` and every raw edge goes through :class:`EdgeFilter`, a pure filter timed by
``clock.monotonic()``:

* the first edge after a quiet period is reported at once (no added latency for a door that
  opens), then further edges are ignored for ``bounce_s``;
* :meth:`InputAdapter.poll` reports a change that happened during that window once the pin has
  been stable for ``bounce_s``, so the reported state always ends equal to the pin.

Each adapter turns a reported change into one event (:mod:`facegate.gate.events`) and hands it
to ``on_event``. On a Pi, gpiozero calls back from its own thread: ``on_event`` should only put
the event on the main loop's queue (``queue.Queue.put`` is a good choice).

Wiring: inputs use the internal pull-up and switch to ground. ``contact="nc"`` (normally
closed, the usual choice for a door reed switch and a tamper switch) means the switch conducts
while all is well (door shut, enclosure closed), so a cut wire reads as "door open" or
"tampered" instead of going unnoticed.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeAlias

from gpiozero import DigitalInputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..errors import GateError
from .events import DoorClosed, DoorOpened, ExitRequested, GateEvent, TamperChanged

__all__ = [
    "ContactType",
    "DoorContact",
    "EdgeFilter",
    "EventSink",
    "ExitButton",
    "InputAdapter",
    "TamperSwitch",
]

logger = logging.getLogger(__name__)

ContactType: TypeAlias = Literal["nc", "no"]
EventSink: TypeAlias = Callable[[GateEvent], None]


class EdgeFilter:
    """Debounce one binary input on supplied timestamps (pure: no clock, no pins).

    Args:
        bounce_s: how long edges are ignored after a reported change, and how long the input
            must be stable before a change inside that window is reported.
        initial: the input's state at start (reported state and raw state).
    """

    __slots__ = ("_bounce_s", "_last_edge_at", "_quiet_until", "_raw", "_stable")

    def __init__(self, bounce_s: float, initial: bool) -> None:
        if bounce_s < 0:
            raise ValueError("bounce_s must not be negative")
        self._bounce_s = float(bounce_s)
        self._stable = bool(initial)
        self._raw = bool(initial)
        self._last_edge_at = float("-inf")
        self._quiet_until = float("-inf")

    @property
    def state(self) -> bool:
        """The debounced (reported) state."""
        return self._stable

    def edge(self, value: bool, now: float) -> bool | None:
        """A raw edge: returns the new debounced state if it changes now, else ``None``."""
        self._raw = bool(value)
        self._last_edge_at = now
        if self._raw == self._stable:
            return None
        if now >= self._quiet_until:
            return self._accept(now)
        return None

    def poll(self, now: float) -> bool | None:
        """Report a change that happened inside the bounce window, once it has settled."""
        if self._raw != self._stable and now - self._last_edge_at >= self._bounce_s:
            return self._accept(now)
        return None

    def _accept(self, now: float) -> bool:
        self._stable = self._raw
        self._quiet_until = now + self._bounce_s
        return self._stable


class InputAdapter(ABC):
    """A debounced GPIO input that reports changes of its *active* state to a subclass.

    Args:
        pin: BCM GPIO number.
        door: door id put into the events.
        pull_up: use the internal pull-up (switch to ground); False for pull-down wiring.
        contact: ``nc`` or ``no``; see the module docstring. Subclasses define what "active"
            means (door closed, enclosure closed, button pressed).
        bounce_s: debounce time on the injected clock.
        pin_factory: gpiozero pin factory (``MockFactory`` in tests).
        clock: time source for debouncing and event times.
        on_event: receives each event; called from gpiozero's thread on real hardware.

    Raises:
        GateError: the pin cannot be opened.
    """

    kind = "input"

    def __init__(
        self,
        pin: int,
        *,
        door: str,
        pull_up: bool = True,
        contact: ContactType = "nc",
        bounce_s: float = 0.05,
        pin_factory: Any = None,
        clock: Clock | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        if contact not in ("nc", "no"):
            raise GateError(f"{door}: {self.kind} contact must be nc or no, not {contact!r}")
        if bounce_s < 0:
            raise GateError(f"{door}: {self.kind} bounce_s must not be negative")
        self.door = door
        self.contact: ContactType = contact
        self.clock: Clock = clock or SystemClock()
        self.on_event = on_event
        self._lock = threading.Lock()
        try:
            # bounce_time=None: debouncing happens in EdgeFilter on the injected clock.
            self._device = DigitalInputDevice(
                pin, pull_up=pull_up, bounce_time=None, pin_factory=pin_factory
            )
        except GPIOZeroError as exc:
            raise GateError(
                f"{door}: cannot read {self.kind} on GPIO {pin}: {exc} (on a machine without "
                "GPIO, set GPIOZERO_PIN_FACTORY=mock)"
            ) from exc
        self._filter = EdgeFilter(bounce_s, bool(self._device.is_active))
        self._device.when_activated = self._activated
        self._device.when_deactivated = self._deactivated

    @property
    def switch_closed(self) -> bool:
        """Debounced: True while the switch conducts."""
        return self._filter.state

    @property
    def normal(self) -> bool:
        """Debounced: True in the resting state (NC switch closed, NO switch open)."""
        return self._filter.state == (self.contact == "nc")

    def poll(self, now: float | None = None) -> None:
        """Report a change that settled inside a bounce window (call from the main loop)."""
        current = self.clock.monotonic() if now is None else now
        with self._lock:
            changed = self._filter.poll(current)
        if changed is not None:
            self._emit(current, changed)

    def close(self) -> None:
        """Stop reporting and free the pin. Safe to call more than once."""
        if not self._device.closed:
            self._device.when_activated = None
            self._device.when_deactivated = None
        self._device.close()

    def _activated(self) -> None:
        self._edge(True)

    def _deactivated(self) -> None:
        self._edge(False)

    def _edge(self, active: bool) -> None:
        now = self.clock.monotonic()
        with self._lock:
            changed = self._filter.edge(active, now)
        if changed is not None:
            self._emit(now, changed)

    def _emit(self, now: float, switch_closed: bool) -> None:
        event = self._event(now, switch_closed == (self.contact == "nc"))
        if event is None:
            return
        logger.debug("%s: %s", self.door, type(event).__name__)
        if self.on_event is not None:
            self.on_event(event)

    @abstractmethod
    def _event(self, now: float, normal: bool) -> GateEvent | None:
        """The event for a reported change to ``normal`` (resting) or not."""

    def __enter__(self) -> InputAdapter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DoorContact(InputAdapter):
    """The door position switch: :class:`DoorOpened` / :class:`DoorClosed` events.

    With the default ``contact="nc"`` the switch conducts while the door is shut.
    """

    kind = "door contact"

    @property
    def is_open(self) -> bool:
        """Debounced door state."""
        return not self.normal

    def _event(self, now: float, normal: bool) -> GateEvent:
        return DoorClosed(self.door, now) if normal else DoorOpened(self.door, now)


class ExitButton(InputAdapter):
    """The request-to-exit button: :class:`ExitRequested` on each press.

    Push buttons are normally open, so ``contact`` defaults to ``no`` here.
    """

    kind = "exit button"

    def __init__(
        self,
        pin: int,
        *,
        door: str,
        pull_up: bool = True,
        contact: ContactType = "no",
        bounce_s: float = 0.05,
        pin_factory: Any = None,
        clock: Clock | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(
            pin,
            door=door,
            pull_up=pull_up,
            contact=contact,
            bounce_s=bounce_s,
            pin_factory=pin_factory,
            clock=clock,
            on_event=on_event,
        )

    @property
    def is_pressed(self) -> bool:
        """Debounced button state."""
        return not self.normal

    def _event(self, now: float, normal: bool) -> GateEvent | None:
        return None if normal else ExitRequested(self.door, now)


class TamperSwitch(InputAdapter):
    """An enclosure or reader tamper switch: :class:`TamperChanged` on each change.

    With the default ``contact="nc"`` the switch conducts while the enclosure is closed.
    """

    kind = "tamper switch"

    @property
    def tampered(self) -> bool:
        """Debounced tamper state."""
        return not self.normal

    def _event(self, now: float, normal: bool) -> GateEvent:
        return TamperChanged(self.door, now, not normal)
