"""``mock.card``: present a card to a Wiegand reader of a daemon that runs on mock pins.

With ``facegate run --pin-factory mock`` nothing is wired, so an installer checking a fresh
gate by hand (``scripts/check-arm64 --install-sh``, the README's "try it by hand") has no way
to hold a card to a reader. This admin command pulses the reader's D0/D1 mock pins with the
frame a real reader would send, so the card takes the whole real path: the reader's framer
and decoder, the keyed card hash, the policy, the relay and the event log.

It exists only while the pin factory is gpiozero's ``MockFactory``: on real pins the command
is not registered at all (``ctl commands`` does not list it), so it can never stand in for a
card at a real gate. Admin role only, and audited like every request; the card number is an
argument and therefore never written to the audit log.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..admin import AdminCommandError, Handler, PeerCred, Role
from ..config.readers import WiegandReaderConfig
from ..readers.wiegand import encode_h10301, encode_w34
from .control import Control

__all__ = ["MockCardArgs", "is_mock_factory", "mock_input_handlers", "pulse_frame"]

_ID = r"^[A-Za-z0-9_-]{1,32}$"


class MockCardArgs(BaseModel):
    """``mock-card reader=ID facility=F number=N [format=h10301|w34]``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reader: str = Field(pattern=_ID, description="a Wiegand reader's id (readers[].id)")
    facility: int = Field(ge=0, le=255, description="facility code (0-255 for H10301)")
    number: int = Field(ge=0, le=65535, description="card number (0-65535 for H10301)")
    format: Literal["h10301", "w34"] = "h10301"


def is_mock_factory(pin_factory: Any) -> bool:
    """Whether ``pin_factory`` is gpiozero's ``MockFactory`` (or built on it)."""
    if pin_factory is None:
        return False
    try:
        from gpiozero.pins.mock import MockFactory
    except ImportError:  # pragma: no cover - gpiozero is a dependency
        return False
    return isinstance(pin_factory, MockFactory)


def pulse_frame(pin_factory: Any, d0: int, d1: int, bits: tuple[int, ...]) -> None:
    """A low pulse on D0 for each 0 and on D1 for each 1, as a Wiegand reader sends them."""
    for bit in bits:
        pin = pin_factory.pin(d1 if bit else d0)
        pin.drive_low()
        pin.drive_high()


def mock_input_handlers(app: Control) -> dict[str, Handler]:
    """``mock.card`` when the daemon runs on mock pins; nothing otherwise."""
    if not is_mock_factory(app.pin_factory):
        return {}
    on_loop = app.on_loop

    def mock_card(args: MockCardArgs, _peer: PeerCred) -> dict[str, Any]:
        reader = next((r for r in app.cfg.readers if r.id == args.reader), None)
        if not isinstance(reader, WiegandReaderConfig):
            wiegand = sorted(r.id for r in app.cfg.readers if isinstance(r, WiegandReaderConfig))
            raise AdminCommandError(
                "bad_request",
                f"no Wiegand reader {args.reader!r} (configured: {', '.join(wiegand) or 'none'})",
            )
        encode = encode_w34 if args.format == "w34" else encode_h10301
        pulse_frame(app.pin_factory, reader.d0, reader.d1, encode(args.facility, args.number))
        # The reader's next poll (this loop, within gap_s) closes the frame and decides.
        return {"reader": reader.id, "door": reader.door, "sent": args.format}

    return {
        "mock.card": Handler(
            Role.ADMIN,
            on_loop(mock_card),
            MockCardArgs,
            "present a card to a Wiegand reader (only on mock pins: a bench check)",
        )
    }
