"""One door's hardware bound to its :class:`~facegate.gate.door.DoorController`.

The runtime is thin on purpose: inputs put events in its inbox (from gpiozero's thread), the
main loop calls :meth:`DoorRuntime.poll`, and every decision about the door is made by the pure
controller. The runtime only carries out the returned actions on the lock, the siren and the
feedback outputs, and hands the actions back for the audit log.

``close()`` closes the lock first, so whatever else fails while shutting down the lock is
already in the state its type demands (see :mod:`facegate.gate.lock`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType

from ..clock import Clock, SystemClock
from .display import TextDisplay
from .door import (
    Action,
    ClearAlarm,
    DoorController,
    Feedback,
    FeedbackKind,
    RaiseAlarm,
    ReleaseLock,
    SecureLock,
)
from .events import DEFAULT_SIREN_KINDS, Alarm, AlarmKind, GateEvent
from .feedback import AlarmOutput, FeedbackDevice
from .inputs import InputAdapter
from .lock import LockRelay
from .speaker import Speaker

__all__ = ["DEFAULT_SIREN_KINDS", "DoorRuntime"]

logger = logging.getLogger(__name__)


class DoorRuntime:
    """Carries out a door controller's actions on real (or mock) devices.

    Every input's ``on_event`` is pointed at :meth:`submit`, so events reach the controller
    only from the thread that calls :meth:`poll`.

    Args:
        controller: the door's state machine.
        lock: the door's lock relay.
        inputs: door contact, exit button, tamper switch (any subset).
        alarm_output: the siren relay, if any.
        feedback: buzzer/LED, if any.
        display: a character LCD saying the same in words, if any.
        speaker: a loudspeaker speaking the liveness challenges, if any.
        siren_kinds: latched alarms that sound the siren.
        on_event: called with each input event as it is handled (for the audit log).
        clock: time source (the same one the devices use).
    """

    def __init__(
        self,
        controller: DoorController,
        lock: LockRelay,
        *,
        inputs: Sequence[InputAdapter] = (),
        alarm_output: AlarmOutput | None = None,
        feedback: FeedbackDevice | None = None,
        display: TextDisplay | None = None,
        speaker: Speaker | None = None,
        siren_kinds: Iterable[AlarmKind] = DEFAULT_SIREN_KINDS,
        on_event: Callable[[GateEvent], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.controller = controller
        self.lock = lock
        self.inputs = tuple(inputs)
        self.alarm_output = alarm_output
        self.feedback = feedback
        self.display = display
        self.speaker = speaker
        self.siren_kinds = frozenset(siren_kinds)
        self._held: set[AlarmKind] = set()
        self.on_event = on_event
        self.clock: Clock = clock or SystemClock()
        self._inbox: deque[GateEvent] = deque()
        for device in self.inputs:
            device.on_event = self.submit

    @property
    def door(self) -> str:
        """The door id."""
        return self.controller.door

    def submit(self, event: GateEvent) -> None:
        """Queue an input event; safe to call from any thread."""
        self._inbox.append(event)

    def start(self, now: float | None = None) -> list[Action]:
        """Apply the state found at start-up (e.g. an open tamper switch)."""
        current = self._now(now)
        return self.apply(self.controller.start(current), current)

    def poll(self, now: float | None = None) -> list[Action]:
        """Settle inputs, handle queued events, run time checks, update every output."""
        current = self._now(now)
        for device in self.inputs:
            device.poll(current)
        actions: list[Action] = []
        while self._inbox:
            event = self._inbox.popleft()
            if self.on_event is not None:
                self.on_event(event)
            actions.extend(self.apply(self.controller.handle(event), current))
        actions.extend(self.apply(self.controller.tick(current), current))
        self.lock.poll(current)
        if self.alarm_output is not None:
            self.alarm_output.poll(current)
        if self.feedback is not None:
            self.feedback.poll(current)
        if self.display is not None:
            self.display.poll(current)
        if self.speaker is not None:
            self.speaker.poll(current)
        return actions

    def grant(self, seconds: float | None = None, now: float | None = None) -> list[Action]:
        """An access decision granted entry at this door."""
        current = self._now(now)
        length = self.lock.release_s if seconds is None else seconds
        return self.apply(self.controller.grant(current, length), current)

    def deny(self, *, locked_out: bool = False, now: float | None = None) -> list[Action]:
        """An access decision denied entry at this door."""
        current = self._now(now)
        return self.apply(self.controller.deny(current, locked_out=locked_out), current)

    def prompt(self, kind: FeedbackKind, now: float | None = None) -> list[Action]:
        """Play a feedback pattern (e.g. ``second_factor``) without changing any state."""
        current = self._now(now)
        return self.apply([Feedback(kind)], current)

    def show_text(self, text: str, seconds: float | None, now: float | None = None) -> None:
        """Put ``text`` on the door's display for ``seconds`` (``None``: the display's
        ``hold_s``; nothing without a display)."""
        if self.display is not None:
            self.display.show(text, seconds, self._now(now))

    def say(self, challenge: str, now: float | None = None) -> None:
        """Speak a liveness challenge (``blink``, ``turn``, ``mouth``) without waiting for it
        (nothing without a speaker)."""
        if self.speaker is not None:
            self.speaker.say(challenge, self._now(now))

    def report(self, alarm: Alarm, now: float | None = None) -> list[Action]:
        """Pass on an alarm raised by the access policy (lockout, rate limit, passback)."""
        current = self._now(now)
        feedback: FeedbackKind = "locked_out" if alarm.kind == "lockout" else "denied"
        return self.apply([RaiseAlarm(alarm), Feedback(feedback)], current)

    def apply(self, actions: Sequence[Action], now: float) -> list[Action]:
        """Carry out actions on the devices; returns them for the audit log."""
        for action in actions:
            if isinstance(action, ReleaseLock):
                self.lock.release_for(action.seconds, now=now)
            elif isinstance(action, SecureLock):
                self.lock.early_end()
            elif isinstance(action, Feedback):
                if self.feedback is not None:
                    self.feedback.play(action.kind, now)
                if self.display is not None:
                    self.display.play(action.kind, now)
            elif isinstance(action, RaiseAlarm | ClearAlarm):
                self._update_siren(now)
        return list(actions)

    def close(self) -> None:
        """Lock-safe shutdown: the lock first, then every other device."""
        try:
            self.lock.close()
        finally:
            devices = (*self.inputs, self.alarm_output, self.feedback, self.display, self.speaker)
            for device in devices:
                if device is None:
                    continue
                try:
                    device.close()
                except Exception:  # keep closing the rest; the lock is already safe
                    logger.exception("%s: closing %s failed", self.door, type(device).__name__)

    def hold_alarm(self, kind: AlarmKind, on: bool, now: float | None = None) -> None:
        """A condition the daemon latches for this door (``face_down``): sounds the siren while
        it lasts when ``siren_on`` lists it. The door's own alarms are latched by its controller."""
        if on:
            self._held.add(kind)
        else:
            self._held.discard(kind)
        self._update_siren(self._now(now))

    def _update_siren(self, now: float) -> None:
        if self.alarm_output is not None:
            active = self.controller.active_alarms | self._held
            self.alarm_output.set(bool(active & self.siren_kinds), now)

    def _now(self, now: float | None) -> float:
        return self.clock.monotonic() if now is None else now

    def __enter__(self) -> DoorRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
