"""The lock relay: a gpiozero ``OutputDevice`` pulsed for a configured time.

Timing goes through the injected ``Clock`` and ``poll()``, not gpiozero's ``blink`` thread,
so tests check pulse lengths without sleeping and the main loop owns when the lock closes.
The safe state is de-energised; ``close()`` always returns to it.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from gpiozero import OutputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..errors import GateError

__all__ = ["Relay", "make_pin_factory"]

logger = logging.getLogger(__name__)


def make_pin_factory(name: str | None) -> Any:
    """A gpiozero pin factory by name (``mock``, ``lgpio``, …); ``None`` lets gpiozero choose.

    ``mock`` builds a ``MockFactory`` so everything runs on a laptop, as with
    ``GPIOZERO_PIN_FACTORY=mock``.
    """
    if name is None:
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "lgpio":
        try:
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        except (ImportError, GPIOZeroError, OSError) as exc:
            raise GateError(f"the lgpio pin factory is unavailable: {exc}") from exc
    raise GateError(f"unknown pin factory {name!r} (use mock or lgpio)")


class Relay:
    """A lock relay on one GPIO pin.

    Args:
        pin: BCM GPIO number.
        active_high: True when a high pin energises the relay.
        pulse_s: default release time per grant.
        pin_factory: gpiozero pin factory (``MockFactory`` in tests).
        clock: time source for the pulse.
        name: door id, for log lines.
    """

    def __init__(
        self,
        pin: int,
        *,
        active_high: bool = True,
        pulse_s: float = 3.0,
        pin_factory: Any = None,
        clock: Clock | None = None,
        name: str = "relay",
    ) -> None:
        if pulse_s <= 0:
            raise GateError(f"{name}: pulse_s must be positive")
        self.name = name
        self.pulse_s = float(pulse_s)
        self.clock = clock or SystemClock()
        self._off_at: float | None = None
        try:
            self._device = OutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )
        except GPIOZeroError as exc:
            raise GateError(
                f"{name}: cannot drive GPIO {pin}: {exc} (on a machine without GPIO, set "
                "GPIOZERO_PIN_FACTORY=mock)"
            ) from exc

    @property
    def is_active(self) -> bool:
        """True while the relay is energised (the lock released)."""
        return bool(self._device.value)

    @property
    def off_at(self) -> float | None:
        """Monotonic time the current pulse ends, or ``None`` when idle."""
        return self._off_at

    def pulse(self, seconds: float | None = None) -> None:
        """Energise now and until ``seconds`` from now (extends a pulse already running)."""
        length = self.pulse_s if seconds is None else float(seconds)
        if length <= 0:
            raise GateError(f"{self.name}: pulse length must be positive")
        until = self.clock.monotonic() + length
        self._off_at = until if self._off_at is None else max(self._off_at, until)
        if not self.is_active:
            self._device.on()
            logger.info("%s: relay on for %.1f s", self.name, length)

    def poll(self) -> bool:
        """End the pulse if it is due; returns whether the relay is still energised."""
        if self._off_at is not None and self.clock.monotonic() >= self._off_at:
            self.release()
        return self.is_active

    def release(self) -> None:
        """De-energise now (the safe state)."""
        self._off_at = None
        if self.is_active:
            self._device.off()
            logger.info("%s: relay off", self.name)

    def close(self) -> None:
        """Return to the safe state and free the pin. Safe to call more than once."""
        try:
            if not self._device.closed:
                self._device.off()
        finally:
            self._off_at = None
            self._device.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
