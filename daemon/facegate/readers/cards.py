"""A card number typed by an admin (at enrolment), read the way a reader would report it.

The CLI and the daemon's admin socket both take a card as text; this is the one place that
turns that text into the bytes the credential store hashes, so a card enrolled by hand
matches the same card read at the gate.
"""

from __future__ import annotations

from ..errors import ConfigError
from .events import CardNumber

__all__ = ["card_raw", "parse_card"]


def parse_card(text: str) -> CardNumber:
    """``FACILITY:NUMBER`` is a 26-bit Wiegand (H10301) card, ``w34:FACILITY:NUMBER`` a 34-bit
    one, and plain digits what a USB or OSDP reader types (leading zeros kept).

    Raises:
        ConfigError: the text is none of these.
    """
    parts = text.strip().split(":")
    try:
        if len(parts) == 2:
            return CardNumber(int(parts[0]), int(parts[1]), 26)
        if len(parts) == 3 and parts[0].lower() == "w34":
            return CardNumber(int(parts[1]), int(parts[2]), 34)
        if len(parts) == 1 and parts[0].isdigit():
            return CardNumber(None, int(parts[0]), 0, digits=len(parts[0]))
    except ValueError:
        pass
    raise ConfigError(
        "a card is FACILITY:NUMBER, w34:FACILITY:NUMBER, or the digits a reader types"
    )


def card_raw(text: str) -> bytes:
    """What a reader reports for the card written as ``text``, as the store hashes it."""
    return parse_card(text).raw()
