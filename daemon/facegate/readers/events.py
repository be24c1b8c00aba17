"""What readers report: frozen, slotted values delivered to an ``on_event`` callback.

Every reader (Wiegand, matrix keypad, USB HID, OSDP) turns hardware signals into one of
four events. ``at`` is seconds on the reader's injected monotonic :class:`~facegate.clock.Clock`.

Secrets stay out of text: ``repr()``/``str()`` of a :class:`CardNumber`, a
:class:`PinEntered` or a :class:`KeyPress` hide the number, digits and key, so an event
that ends up in a log line or a traceback reveals nothing. The credential store hashes
:meth:`CardNumber.raw` and :attr:`PinEntered.pin`; nothing else should read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

__all__ = [
    "CardNumber",
    "CardRead",
    "EventCallback",
    "FaceRequested",
    "KeyPress",
    "PinEntered",
    "Reader",
    "ReaderEvent",
    "ReaderFault",
]


@dataclass(frozen=True, slots=True, repr=False)
class CardNumber:
    """A card credential as the reader sent it.

    Attributes:
        facility: facility (site) code, or ``None`` when the format has none.
        number: the card number within the facility.
        bits: length of the binary frame it came in (26, 34, …); 0 when the reader
            sent the number as decimal text (USB HID "keyboard" readers, OSDP ASCII).
        digits: number of decimal digits for text numbers (leading zeros count), else 0.
    """

    facility: int | None
    number: int
    bits: int
    digits: int = 0

    def __post_init__(self) -> None:
        if self.number < 0 or (self.facility is not None and self.facility < 0):
            raise ValueError("card fields must be non-negative")
        if self.bits < 0 or self.digits < 0 or (self.bits == 0) == (self.digits == 0):
            raise ValueError("a card number has either a bit length or a digit count")

    def raw(self) -> bytes:
        """A stable byte string for the credential store to hash (never to log).

        Binary frames give ``b"wiegand:<bits>:<facility or ->:<number>"``; decimal text
        gives ``b"decimal:<digits with leading zeros>"``. The same card read by the same
        kind of reader always gives the same bytes.
        """
        if self.digits:
            return f"decimal:{self.number:0{self.digits}d}".encode("ascii")
        facility = "-" if self.facility is None else str(self.facility)
        return f"wiegand:{self.bits}:{facility}:{self.number}".encode("ascii")

    def __repr__(self) -> str:
        size = f"{self.digits}-digit" if self.digits else f"{self.bits}-bit"
        return f"CardNumber(<{size}, hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, repr=False)
class KeyPress:
    """One key pressed on a keypad (``"0"``–``"9"``, ``"*"``, ``"#"``, or a function key).

    The key is hidden in ``repr()`` because it is usually a PIN digit.
    """

    reader: str
    key: str
    at: float

    def __repr__(self) -> str:
        return f"KeyPress(reader={self.reader!r}, key=<hidden>, at={self.at!r})"


@dataclass(frozen=True, slots=True, repr=False)
class PinEntered:
    """A complete PIN entry; ``repr()`` shows only its length."""

    reader: str
    pin: str
    at: float

    def __repr__(self) -> str:
        return (
            f"PinEntered(reader={self.reader!r}, pin=<{len(self.pin)} digits, hidden>, "
            f"at={self.at!r})"
        )


@dataclass(frozen=True, slots=True)
class CardRead:
    """A card presented to a reader.

    Attributes:
        reader: configured reader id.
        card: the credential (its ``repr`` is hidden).
        at: monotonic seconds on the reader's clock.
        fmt: the format it was decoded from: ``"H10301"`` (26-bit), ``"W34"`` (34-bit) or
            ``"decimal"`` (digits typed by a USB reader or sent as OSDP ASCII).
    """

    reader: str
    card: CardNumber
    at: float
    fmt: str


@dataclass(frozen=True, slots=True)
class ReaderFault:
    """Something a reader sent could not be used, or the reader itself is unwell.

    ``reason`` is short and log-safe ("bad trailing parity", "timeout", "link down",
    "tamper"); it never contains card numbers, PIN digits or keys.
    """

    reader: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class FaceRequested:
    """Someone at the terminal asked for face entry: the "face" key on a keypad (with no PIN
    being typed) or the face button. With ``face_zone.trigger: request`` the face path
    processes no face at that door without one."""

    reader: str
    at: float


ReaderEvent: TypeAlias = KeyPress | PinEntered | CardRead | ReaderFault | FaceRequested
"""Any event a reader delivers."""

EventCallback: TypeAlias = Callable[[ReaderEvent], None]
"""The ``on_event`` callback every reader takes."""


class Reader(Protocol):
    """What the daemon's loop needs from any reader."""

    reader_id: str

    def poll(self, now: float) -> None:
        """Do time-based work (frame gaps, PIN timeouts, link checks) due at ``now``."""

    def close(self) -> None:
        """Release the hardware; safe to call more than once."""
