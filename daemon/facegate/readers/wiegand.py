"""Wiegand frames to cards and keys: a pure decoder (bits in, values out).

Formats understood:

* **26-bit HID H10301** — ``P FFFFFFFF CCCCCCCCCCCCCCCC P``: bit 0 makes bits 0–12 even,
  bits 1–8 are the facility code, 9–24 the card number, bit 25 makes bits 13–25 odd.
* **34-bit** — ``P F×16 C×16 P``: bit 0 makes bits 0–16 even, bits 1–16 facility,
  17–32 card, bit 33 makes bits 17–33 odd.
* **4-bit keypad burst** — one key per burst, MSB first: 0–9, 10 = ``*``, 11 = ``#``.
* **8-bit keypad burst** — the complement of the key nibble, then the key nibble
  (key 1 = ``1110 0001``); a burst whose halves are not complementary is rejected.

In both card formats the two parity groups split the frame, so any single flipped bit
breaks exactly one parity and the frame is rejected. Every other length is rejected.
Rejections raise :class:`WiegandError` whose ``reason`` never repeats the bits.

The ``encode_*`` functions build the same frames; they serve the tests and any reader
simulator, and document the layout once more in executable form.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import WiegandError
from .events import CardNumber

__all__ = [
    "KEYPAD_KEYS",
    "WiegandCard",
    "WiegandKey",
    "bits_from_bytes",
    "bits_to_bytes",
    "decode",
    "encode_h10301",
    "encode_key4",
    "encode_key8",
    "encode_w34",
]

KEYPAD_KEYS = "0123456789*#"
"""Keypad codes 0–11 in order; codes 12–15 are not keys."""


@dataclass(frozen=True, slots=True)
class WiegandCard:
    """A decoded card frame; ``fmt`` is ``"H10301"`` or ``"W34"``."""

    card: CardNumber
    fmt: str


@dataclass(frozen=True, slots=True, repr=False)
class WiegandKey:
    """A decoded keypad burst (``key`` hidden from ``repr``, it may be a PIN digit)."""

    key: str

    def __repr__(self) -> str:
        return "WiegandKey(<hidden>)"


def decode(bits: Sequence[int]) -> WiegandCard | WiegandKey:
    """Decode one Wiegand frame.

    Args:
        bits: the frame in wire order, each 0 or 1 (``bool`` accepted).

    Returns:
        A :class:`WiegandCard` for 26- and 34-bit frames, a :class:`WiegandKey` for 4- and
        8-bit keypad bursts.

    Raises:
        WiegandError: not a bit stream, an unsupported length, bad parity, or a keypad
            burst that is not a key.
    """
    frame = _as_bits(bits)
    n = len(frame)
    if n == 4:
        return WiegandKey(_keypad_key(_value(frame)))
    if n == 8:
        high, low = _value(frame[:4]), _value(frame[4:])
        if high != low ^ 0xF:
            raise WiegandError("8-bit keypad burst: halves are not complementary")
        return WiegandKey(_keypad_key(low))
    if n == 26:
        _check_parity(frame, split=13)
        card = CardNumber(facility=_value(frame[1:9]), number=_value(frame[9:25]), bits=26)
        return WiegandCard(card, "H10301")
    if n == 34:
        _check_parity(frame, split=17)
        card = CardNumber(facility=_value(frame[1:17]), number=_value(frame[17:33]), bits=34)
        return WiegandCard(card, "W34")
    if n == 0:
        raise WiegandError("empty frame")
    raise WiegandError(f"unsupported frame length {n} bits (26, 34, 4 or 8 expected)")


def encode_h10301(facility: int, number: int) -> tuple[int, ...]:
    """The 26-bit H10301 frame for ``facility`` (0–255) and ``number`` (0–65535)."""
    return _encode(facility, 8, number, 16)


def encode_w34(facility: int, number: int) -> tuple[int, ...]:
    """The 34-bit frame for ``facility`` (0–65535) and ``number`` (0–65535)."""
    return _encode(facility, 16, number, 16)


def encode_key4(key: str) -> tuple[int, ...]:
    """The 4-bit burst of one keypad key (``"0"``–``"9"``, ``"*"``, ``"#"``)."""
    return _bits_of(_key_code(key), 4)


def encode_key8(key: str) -> tuple[int, ...]:
    """The 8-bit burst (complement nibble, then key nibble) of one keypad key."""
    code = _key_code(key)
    return _bits_of(code ^ 0xF, 4) + _bits_of(code, 4)


def bits_to_bytes(bits: Sequence[int]) -> bytes:
    """Pack bits MSB first, left-justified, zero-padded (OSDP raw card data layout)."""
    frame = _as_bits(bits)
    out = bytearray((len(frame) + 7) // 8)
    for i, bit in enumerate(frame):
        if bit:
            out[i // 8] |= 0x80 >> (i % 8)
    return bytes(out)


def bits_from_bytes(data: bytes, length: int) -> tuple[int, ...]:
    """Unpack ``length`` bits, MSB first, from ``data`` (inverse of :func:`bits_to_bytes`).

    Raises:
        WiegandError: ``data`` holds fewer than ``length`` bits.
    """
    if length < 0 or len(data) * 8 < length:
        raise WiegandError(f"raw card data too short for {length} bits")
    return tuple((data[i // 8] >> (7 - i % 8)) & 1 for i in range(length))


def _as_bits(bits: Sequence[int]) -> tuple[int, ...]:
    if isinstance(bits, str | bytes | bytearray):
        raise WiegandError("not a bit stream (expected a sequence of 0/1 values)")
    try:
        # operator.index accepts ints, bools and numpy integers, but not 1.0 or "1".
        frame = tuple(operator.index(b) for b in bits)
    except TypeError:
        raise WiegandError("not a bit stream (values other than 0 and 1)") from None
    if any(b not in (0, 1) for b in frame):
        raise WiegandError("not a bit stream (values other than 0 and 1)")
    return frame


def _value(bits: Sequence[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


def _bits_of(value: int, width: int) -> tuple[int, ...]:
    return tuple((value >> (width - 1 - i)) & 1 for i in range(width))


def _check_parity(frame: tuple[int, ...], *, split: int) -> None:
    # Leading bit: even parity over the first half; trailing bit: odd over the second.
    if sum(frame[:split]) % 2 != 0:
        raise WiegandError(f"{len(frame)}-bit frame: bad leading (even) parity")
    if sum(frame[split:]) % 2 != 1:
        raise WiegandError(f"{len(frame)}-bit frame: bad trailing (odd) parity")


def _keypad_key(code: int) -> str:
    if code >= len(KEYPAD_KEYS):
        raise WiegandError("keypad burst: code is not a key (12-15 are unused)")
    return KEYPAD_KEYS[code]


def _key_code(key: str) -> int:
    if len(key) != 1 or key not in KEYPAD_KEYS:
        raise WiegandError("not a keypad key (0-9, * or #)")
    return KEYPAD_KEYS.index(key)


def _encode(facility: int, fbits: int, number: int, nbits: int) -> tuple[int, ...]:
    if not 0 <= facility < (1 << fbits) or not 0 <= number < (1 << nbits):
        raise ValueError(f"facility must fit {fbits} bits and number {nbits} bits")
    data = _bits_of(facility, fbits) + _bits_of(number, nbits)
    half = len(data) // 2
    even = sum(data[:half]) % 2  # makes the first half plus this bit even
    odd = 1 - sum(data[half:]) % 2  # makes the second half plus this bit odd
    return (even, *data, odd)
