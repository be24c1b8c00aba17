"""Feedback for the person at the door (buzzer + LED) and the alarm siren relay.

Patterns are lists of timed steps played on the injected clock through ``poll()``, never with
gpiozero's ``blink``/``beep`` threads: tests check them by advancing a ``FakeClock``, and the
main loop owns the timing of every output.

The "granted" pattern is the same whichever credential was used: nothing at the door nudges
anyone towards the face (Art. 12 of the 2025 Measures).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from gpiozero import LED, Buzzer, OutputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..errors import GateError
from .door import FeedbackKind

__all__ = ["DEFAULT_PATTERNS", "AlarmOutput", "FeedbackDevice", "Step", "challenge_feedback"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Step:
    """One step of a pattern: both outputs held for ``seconds``."""

    seconds: float
    buzzer: bool
    led: bool


def _blink(times: int, on_s: float, off_s: float, *, buzzer: bool = True) -> tuple[Step, ...]:
    return tuple(
        step for _ in range(times) for step in (Step(on_s, buzzer, True), Step(off_s, False, False))
    )


DEFAULT_PATTERNS: Mapping[FeedbackKind, tuple[Step, ...]] = {
    # One short beep, LED on for two seconds: "go".
    "granted": (Step(0.15, True, True), Step(1.85, False, True)),
    # Three short beeps: "no".
    "denied": _blink(3, 0.1, 0.1),
    # One long beep, then a slow blink: "keypad/reader locked, wait".
    "locked_out": (Step(1.0, True, True), *_blink(4, 0.25, 0.25, buzzer=False)),
    # Two quick beeps, LED stays on: "now the second factor".
    "second_factor": (
        Step(0.05, True, True),
        Step(0.1, False, True),
        Step(0.05, True, True),
        Step(2.0, False, True),
    ),
    # Door forced/held/tamper at the door itself.
    "alarm": _blink(5, 0.5, 0.5),
    # Liveness challenges: one beep, then the LED shows what to do. Blink: two quick winks.
    "challenge_blink": (
        Step(0.1, True, True),
        Step(0.4, False, False),
        *_blink(2, 0.15, 0.15, buzzer=False),
        Step(2.0, False, True),
    ),
    # Turn or nod: a slow sweep, on and off twice.
    "challenge_turn": (
        Step(0.1, True, True),
        Step(0.4, False, False),
        *_blink(2, 0.6, 0.3, buzzer=False),
        Step(1.0, False, True),
    ),
    # Open the mouth: one long LED pulse (open... close).
    "challenge_mouth": (
        Step(0.1, True, True),
        Step(0.4, False, False),
        Step(1.2, False, True),
        Step(0.3, False, False),
        Step(1.0, False, True),
    ),
}


def challenge_feedback(kind: str) -> FeedbackKind:
    """The feedback pattern that asks for a liveness challenge (``blink``, ``turn``, ``mouth``)."""
    if kind == "blink":
        return "challenge_blink"
    return "challenge_mouth" if kind == "mouth" else "challenge_turn"


def _output(cls: type[OutputDevice], pin: int, active_high: bool, factory: Any, what: str) -> Any:
    try:
        return cls(pin, active_high=active_high, initial_value=False, pin_factory=factory)
    except GPIOZeroError as exc:
        raise GateError(f"cannot drive the {what} on GPIO {pin}: {exc}") from exc


class FeedbackDevice:
    """A buzzer and/or an LED playing timed patterns.

    Args:
        buzzer_pin: BCM GPIO of the buzzer, or ``None``.
        led_pin: BCM GPIO of the LED, or ``None``.
        buzzer_active_high: True when a high pin sounds the buzzer.
        led_active_high: True when a high pin lights the LED.
        patterns: replaces :data:`DEFAULT_PATTERNS` (kinds missing here play nothing).
        pin_factory: gpiozero pin factory.
        clock: time source for the patterns.
        name: door id, for log lines.
    """

    def __init__(
        self,
        buzzer_pin: int | None = None,
        led_pin: int | None = None,
        *,
        buzzer_active_high: bool = True,
        led_active_high: bool = True,
        patterns: Mapping[FeedbackKind, Sequence[Step]] | None = None,
        pin_factory: Any = None,
        clock: Clock | None = None,
        name: str = "door",
    ) -> None:
        self.name = name
        self.clock: Clock = clock or SystemClock()
        self.patterns: dict[FeedbackKind, tuple[Step, ...]] = {
            kind: tuple(steps) for kind, steps in (patterns or DEFAULT_PATTERNS).items()
        }
        self._buzzer: Any = None
        self._led: Any = None
        try:
            if buzzer_pin is not None:
                self._buzzer = _output(
                    Buzzer, buzzer_pin, buzzer_active_high, pin_factory, "buzzer"
                )
            if led_pin is not None:
                self._led = _output(LED, led_pin, led_active_high, pin_factory, "LED")
        except GateError:
            self.close()
            raise
        self._steps: tuple[Step, ...] = ()
        self._started = 0.0
        self.playing: FeedbackKind | None = None

    def play(self, kind: FeedbackKind, now: float | None = None) -> None:
        """Start a pattern now, replacing any pattern still playing."""
        steps = self.patterns.get(kind, ())
        self._steps = steps
        self._started = self.clock.monotonic() if now is None else now
        self.playing = kind if steps else None
        self.poll(self._started)

    def poll(self, now: float | None = None) -> None:
        """Set the outputs for the current point of the pattern."""
        current = self.clock.monotonic() if now is None else now
        elapsed = current - self._started
        buzzer = led = False
        if self._steps:
            for step in self._steps:
                if elapsed < step.seconds:
                    buzzer, led = step.buzzer, step.led
                    break
                elapsed -= step.seconds
            else:
                self._steps = ()
                self.playing = None
        self._set(self._buzzer, buzzer)
        self._set(self._led, led)

    @property
    def buzzer_on(self) -> bool:
        """Whether the buzzer sounds now."""
        return self._is_on(self._buzzer)

    @property
    def led_on(self) -> bool:
        """Whether the LED is lit now."""
        return self._is_on(self._led)

    def close(self) -> None:
        """Silence both outputs and free the pins. Safe to call more than once."""
        self._steps = ()
        self.playing = None
        for device in (self._buzzer, self._led):
            if device is not None and not device.closed:
                device.off()
                device.close()

    @staticmethod
    def _is_on(device: Any) -> bool:
        return device is not None and not device.closed and bool(device.value)

    @staticmethod
    def _set(device: Any, on: bool) -> None:
        if device is None or device.closed or bool(device.value) == on:
            return
        if on:
            device.on()
        else:
            device.off()

    def __enter__(self) -> FeedbackDevice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AlarmOutput:
    """A second relay driving a siren or an alarm panel input.

    Args:
        pin: BCM GPIO of the alarm relay.
        active_high: True when a high pin energises the relay.
        max_on_s: silence the siren after this long even if the alarm persists (local noise
            rules usually limit sirens); ``None`` keeps it on while the alarm lasts. The alarm
            itself stays raised and audited.
        pin_factory: gpiozero pin factory.
        clock: time source for ``max_on_s``.
        name: door id, for log lines.
    """

    def __init__(
        self,
        pin: int,
        *,
        active_high: bool = True,
        max_on_s: float | None = 180.0,
        pin_factory: Any = None,
        clock: Clock | None = None,
        name: str = "door",
    ) -> None:
        if max_on_s is not None and max_on_s <= 0:
            raise GateError(f"{name}: alarm max_on_s must be positive")
        self.name = name
        self.max_on_s = max_on_s
        self.clock: Clock = clock or SystemClock()
        self._device = _output(OutputDevice, pin, active_high, pin_factory, "alarm relay")
        self._wanted = False
        self._since: float | None = None

    @property
    def active(self) -> bool:
        """Whether the siren relay is energised now."""
        return not self._device.closed and bool(self._device.value)

    def set(self, wanted: bool, now: float | None = None) -> None:
        """Sound (``True``) or silence (``False``) the siren."""
        current = self.clock.monotonic() if now is None else now
        if wanted and not self._wanted:
            self._since = current
            logger.warning("%s: siren on", self.name)
        elif not wanted and self._wanted:
            self._since = None
            logger.info("%s: siren off", self.name)
        self._wanted = wanted
        self.poll(current)

    def poll(self, now: float | None = None) -> None:
        """Apply ``max_on_s``."""
        if self._device.closed:
            return
        current = self.clock.monotonic() if now is None else now
        on = self._wanted and (
            self.max_on_s is None or self._since is None or current - self._since < self.max_on_s
        )
        if on != bool(self._device.value):
            if on:
                self._device.on()
            else:
                self._device.off()

    def close(self) -> None:
        """Silence and free the pin. Safe to call more than once."""
        self._wanted = False
        if not self._device.closed:
            self._device.off()
        self._device.close()

    def __enter__(self) -> AlarmOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
