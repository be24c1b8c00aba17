"""Reader events: frozen, slotted, and silent about card numbers and PINs."""

from __future__ import annotations

import dataclasses

import pytest

from facegate.errors import FacegateError
from facegate.readers import (
    CardNumber,
    CardRead,
    KeyPress,
    PinEntered,
    ReaderError,
    ReaderFault,
)


def test_card_number_text_hides_the_number() -> None:
    card = CardNumber(facility=123, number=45678, bits=26)
    for text in (repr(card), str(card), f"{card}", repr(CardRead("r1", card, 1.0, "H10301"))):
        assert "45678" not in text and "123" not in text
    assert repr(card) == "CardNumber(<26-bit, hidden>)"
    typed = CardNumber(facility=None, number=42, bits=0, digits=10)
    assert repr(typed) == "CardNumber(<10-digit, hidden>)"


def test_raw_is_stable_and_distinguishes_formats() -> None:
    a = CardNumber(facility=123, number=45678, bits=26)
    assert a.raw() == b"wiegand:26:123:45678"
    assert a.raw() == CardNumber(123, 45678, 26).raw()
    assert a.raw() != CardNumber(123, 45678, 34).raw()
    assert CardNumber(None, 45678, 26).raw() == b"wiegand:26:-:45678"
    # Leading zeros of a typed number are part of it.
    assert CardNumber(None, 12345, 0, digits=7).raw() == b"decimal:0012345"
    assert CardNumber(None, 12345, 0, digits=7).raw() != CardNumber(None, 12345, 0, 5).raw()


def test_card_number_checks_its_fields() -> None:
    with pytest.raises(ValueError):
        CardNumber(None, -1, 26)
    with pytest.raises(ValueError):
        CardNumber(None, 1, 0)  # neither bits nor digits
    with pytest.raises(ValueError):
        CardNumber(None, 1, 26, digits=3)  # both


def test_pin_and_key_are_hidden() -> None:
    pin = PinEntered("kp", "2580", 3.5)
    assert "2580" not in repr(pin) and "2580" not in str(pin)
    assert repr(pin) == "PinEntered(reader='kp', pin=<4 digits, hidden>, at=3.5)"
    assert "7" not in repr(KeyPress("kp", "7", 0.0)).replace("at=0.0", "")


def test_events_are_frozen_and_slotted() -> None:
    for event in (
        KeyPress("r", "1", 0.0),
        PinEntered("r", "1234", 0.0),
        CardRead("r", CardNumber(1, 2, 26), 0.0, "H10301"),
        ReaderFault("r", "timeout", 0.0),
        CardNumber(1, 2, 26),
    ):
        assert not hasattr(event, "__dict__")
        field = dataclasses.fields(event)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, field, "x")


def test_reader_error_is_in_the_flat_hierarchy() -> None:
    assert issubclass(ReaderError, FacegateError) and issubclass(ReaderError, RuntimeError)
