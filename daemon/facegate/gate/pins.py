"""gpiozero pin factories by name: ``mock`` runs everything without GPIO hardware.

The lock relay itself is :class:`~facegate.gate.lock.LockRelay`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gpiozero.exc import GPIOZeroError

from ..errors import GateError

if TYPE_CHECKING:
    from ..config.doors import DoorConfig

__all__ = ["idle_levels", "make_pin_factory"]


def idle_levels(doors: Iterable[DoorConfig]) -> dict[int, bool]:
    """The level (True = high) each door input reads at rest, by BCM pin.

    A normally-closed switch (door contact, tamper) conducts at rest, so its pin sits at the
    opposite of its pull resistor; a normally-open one (exit button) sits at the pull.
    """
    levels: dict[int, bool] = {}
    for door in doors:
        gate = door.gate
        for cfg, default in (
            (gate.door_contact, "nc"),
            (gate.exit_button, "no"),
            (gate.tamper, "nc"),
        ):
            if cfg is not None:
                closed = (cfg.contact or default) == "nc"
                levels[cfg.pin] = cfg.pull_up != closed
    return levels


def _mock_factory(idle: Mapping[int, bool]) -> Any:
    """A ``MockFactory`` whose input pins rest where the wired switches would hold them.

    gpiozero's mock pins follow their pull resistor, which is what a normally-closed tamper
    switch or door contact reads when it is *open*: a mock run raised a tamper alarm and the
    siren at every start.
    """
    from gpiozero.pins.mock import MockFactory, MockPin

    class RestingPin(MockPin):
        def _set_pull(self, value: str) -> None:
            super()._set_pull(value)
            number = next((n for n in self.info.names if isinstance(n, int)), None)
            if number is not None and number in idle:
                (self.drive_high if idle[number] else self.drive_low)()

    return MockFactory(pin_class=RestingPin)


def make_pin_factory(name: str | None, idle: Mapping[int, bool] | None = None) -> Any:
    """A gpiozero pin factory by name (``mock``, ``lgpio``, …); ``None`` lets gpiozero choose.

    ``mock`` builds a ``MockFactory`` so everything runs on a laptop, as with
    ``GPIOZERO_PIN_FACTORY=mock``; ``idle`` (see :func:`idle_levels`) holds its input pins
    at the level the wired switches give at rest.
    """
    if name is None:
        return None
    if name == "mock":
        return _mock_factory(idle or {})
    if name == "lgpio":
        try:
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        except (ImportError, GPIOZeroError, OSError) as exc:
            raise GateError(f"the lgpio pin factory is unavailable: {exc}") from exc
    raise GateError(f"unknown pin factory {name!r} (use mock or lgpio)")
