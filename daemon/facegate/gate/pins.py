"""gpiozero pin factories by name: ``mock`` runs everything without GPIO hardware.

The lock relay itself is :class:`~facegate.gate.lock.LockRelay`.
"""

from __future__ import annotations

from typing import Any

from gpiozero.exc import GPIOZeroError

from ..errors import GateError

__all__ = ["make_pin_factory"]


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
