"""Gate hardware: the lock relay (door inputs and feedback devices grow here)."""

from .relay import Relay, make_pin_factory

__all__ = ["Relay", "make_pin_factory"]
