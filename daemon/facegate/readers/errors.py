"""Errors of the readers, in facegate's flat hierarchy.

``ReaderError`` belongs beside ``GateError`` in :mod:`facegate.errors`; it lives here until
that module grows it, so that this package can be added without touching shared files.
Messages name the reader, the device or the rule that failed, never a card number or PIN.
"""

from __future__ import annotations

from ..errors import FacegateError

__all__ = ["ReaderError", "WiegandError"]


class ReaderError(FacegateError, RuntimeError):
    """A reader could not be set up or its configuration is unsafe (e.g. no OSDP key)."""


class WiegandError(ReaderError, ValueError):
    """A Wiegand frame was rejected; ``reason`` says why without repeating its bits.

    Args:
        reason: short, log-safe explanation ("bad leading parity", "unsupported length …").
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
