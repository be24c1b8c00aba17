"""The door lock on a relay, aware of whether it is fail-secure or fail-safe.

The two lock types behave in opposite ways, and getting it backwards either traps people or
leaves a door open:

========================  =================================  =================================
                          ``fail_secure`` (electric strike)   ``fail_safe`` (maglock)
========================  =================================  =================================
relay de-energised        locked                             **released**
relay energised           released                           locked
daemon running, idle      de-energised (locked)              energised (locked)
grant                     energise for ``seconds``           de-energise for ``seconds``
``close()`` / crash       de-energised → stays locked        de-energised → **door released**
power cut                 stays locked                       released
========================  =================================  =================================

``close()`` always de-energises. For a strike that keeps the door locked, and people still get
out through the handle's mechanical free egress. A maglock has no mechanical egress, so when
the daemon stops, crashes or loses power it *must* let go: fire regulations for escape routes
require it, and facegate never tries to hold a maglock without a running daemon watching it
(the exit button, tamper and door contact all stop working then). Install a fail-secure lock
where the door has to stay locked while the daemon restarts.

Timing goes through the injected clock and :meth:`LockRelay.poll`, never a background thread:
the main loop owns when the lock returns to locked, and tests advance a ``FakeClock``.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from gpiozero import OutputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..config.gate import LOCK_TYPES, LockType
from ..errors import GateError

__all__ = ["LOCK_TYPES", "LockRelay", "LockType"]

logger = logging.getLogger(__name__)


class LockRelay:
    """A door lock on one relay output.

    On construction the lock is *locked*: a fail-secure relay starts de-energised, a fail-safe
    (maglock) relay starts energised, without passing through the other state.

    Args:
        pin: BCM GPIO number driving the relay board.
        lock_type: ``fail_secure`` (strike: energise to release) or ``fail_safe`` (maglock:
            energised = locked, de-energise to release).
        active_high: True when a high pin energises the relay; False for active-low boards.
        release_s: default release time per grant.
        pin_factory: gpiozero pin factory (``MockFactory`` in tests).
        clock: time source for the release window.
        name: door id, for log lines.

    Raises:
        GateError: bad arguments, or the pin cannot be driven.
    """

    def __init__(
        self,
        pin: int,
        *,
        lock_type: LockType = "fail_secure",
        active_high: bool = True,
        release_s: float = 3.0,
        pin_factory: Any = None,
        clock: Clock | None = None,
        name: str = "door",
    ) -> None:
        if lock_type not in LOCK_TYPES:
            raise GateError(
                f"{name}: lock_type must be fail_secure or fail_safe, not {lock_type!r}"
            )
        if release_s <= 0:
            raise GateError(f"{name}: release_s must be positive")
        self.name = name
        self.release_s = float(release_s)
        self.clock: Clock = clock or SystemClock()
        self._lock_type: LockType = lock_type
        self._release_until: float | None = None
        try:
            self._device = OutputDevice(
                pin,
                active_high=active_high,
                # Start in the locked state directly: a maglock that flickered off at start-up
                # would release the door for a moment.
                initial_value=self._energised_when_locked,
                pin_factory=pin_factory,
            )
        except GPIOZeroError as exc:
            raise GateError(
                f"{name}: cannot drive GPIO {pin}: {exc} (on a machine without GPIO, set "
                "GPIOZERO_PIN_FACTORY=mock)"
            ) from exc
        logger.info("%s: %s lock ready, locked", name, lock_type)

    @property
    def _energised_when_locked(self) -> bool:
        return self._lock_type == "fail_safe"

    @property
    def lock_type(self) -> LockType:
        """``fail_secure`` or ``fail_safe``."""
        return self._lock_type

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has freed the pin."""
        return bool(self._device.closed)

    @property
    def energised(self) -> bool:
        """True while the relay coil is energised (False once closed)."""
        return not self.closed and bool(self._device.value)

    @property
    def locked(self) -> bool:
        """True while the lock holds the door, judged from the relay state and lock type.

        After :meth:`close` this is what the unpowered lock does: locked for fail-secure,
        released for fail-safe.
        """
        return self.energised == self._energised_when_locked

    @property
    def release_until(self) -> float | None:
        """Monotonic time the current release ends, or ``None`` while locked."""
        return self._release_until

    def release_for(self, seconds: float | None = None, *, now: float | None = None) -> None:
        """Release the lock now and until ``seconds`` from ``now``.

        A second grant while released extends the release; it never shortens it.

        Raises:
            GateError: the length is not positive, or the lock was closed.
        """
        length = self.release_s if seconds is None else float(seconds)
        if length <= 0:
            raise GateError(f"{self.name}: release length must be positive")
        if self.closed:
            raise GateError(f"{self.name}: the lock relay is closed")
        start = self.clock.monotonic() if now is None else now
        until = start + length
        self._release_until = (
            until if self._release_until is None else max(self._release_until, until)
        )
        if self.locked:
            self._set_energised(not self._energised_when_locked)
            logger.info("%s: released for %.1f s", self.name, length)

    def poll(self, now: float | None = None) -> bool:
        """Lock again if the release is over; returns whether the door is locked."""
        if self.closed:
            return self.locked
        current = self.clock.monotonic() if now is None else now
        if self._release_until is not None and current >= self._release_until:
            self.secure()
        return self.locked

    def secure(self) -> None:
        """Return to locked now (energised for fail-safe, de-energised for fail-secure)."""
        self._release_until = None
        if not self.closed and not self.locked:
            self._set_energised(self._energised_when_locked)
            logger.info("%s: locked", self.name)

    def early_end(self) -> None:
        """End the release early: the door opened and closed again on this grant.

        Same effect as :meth:`secure`; a separate name so the log says why, and so one grant
        never lets a second person in after the first has gone through.
        """
        if self._release_until is not None:
            logger.info("%s: release ended early (door passed and closed)", self.name)
        self.secure()

    def close(self) -> None:
        """De-energise and free the pin. Safe to call more than once.

        Fail-secure: the door stays locked. Fail-safe: the door is released, as a maglock must
        be whenever nothing is running to watch it (see the module docstring).
        """
        try:
            if not self._device.closed:
                self._device.off()
                logger.info(
                    "%s: relay de-energised on close (%s)",
                    self.name,
                    "locked" if self._lock_type == "fail_secure" else "released",
                )
        finally:
            self._release_until = None
            self._device.close()

    def _set_energised(self, on: bool) -> None:
        if on:
            self._device.on()
        else:
            self._device.off()

    def __enter__(self) -> LockRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("locked" if self.locked else "released")
        return f"LockRelay(name={self.name!r}, lock_type={self._lock_type!r}, {state})"
