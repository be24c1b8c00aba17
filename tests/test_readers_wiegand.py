"""The pure Wiegand decoder on real frame layouts and on bad input."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facegate.readers import CardNumber, ReaderError, WiegandError
from facegate.readers.wiegand import (
    WiegandCard,
    WiegandKey,
    bits_from_bytes,
    bits_to_bytes,
    decode,
    encode_h10301,
    encode_key4,
    encode_key8,
    encode_w34,
)


def bits(text: str) -> tuple[int, ...]:
    return tuple(int(c) for c in text.replace(" ", ""))


# Worked by hand: facility 123 = 0111 1011, card 45678 = 1011 0010 0110 1110.
# Bits 1-12 hold nine ones -> leading even-parity bit 1; bits 13-24 hold six -> trailing
# odd-parity bit 1.
H10301_123_45678 = bits("1 01111011 1011001001101110 1")
# facility 1000 = 0000 0011 1110 1000 (six ones -> 0), card 12345 = 0011 0000 0011 1001
# (six ones -> odd parity 1).
W34_1000_12345 = bits("0 0000001111101000 0011000000111001 1")


def test_known_26_bit_frame_decodes() -> None:
    result = decode(H10301_123_45678)
    assert isinstance(result, WiegandCard)
    assert result.fmt == "H10301"
    assert result.card == CardNumber(facility=123, number=45678, bits=26)
    assert encode_h10301(123, 45678) == H10301_123_45678


def test_known_34_bit_frame_decodes() -> None:
    result = decode(W34_1000_12345)
    assert isinstance(result, WiegandCard)
    assert result.fmt == "W34"
    assert result.card == CardNumber(facility=1000, number=12345, bits=34)
    assert encode_w34(1000, 12345) == W34_1000_12345


@pytest.mark.parametrize("frame", [H10301_123_45678, W34_1000_12345], ids=["26", "34"])
def test_every_single_bit_flip_is_rejected(frame: tuple[int, ...]) -> None:
    # The two parity groups partition the frame, so one flip always breaks one of them.
    for i in range(len(frame)):
        flipped = list(frame)
        flipped[i] ^= 1
        with pytest.raises(WiegandError, match="parity"):
            decode(flipped)


@given(st.integers(0, 255), st.integers(0, 65535), st.integers(0, 25))
def test_26_bit_round_trip_and_any_flip_rejected(facility: int, number: int, i: int) -> None:
    frame = encode_h10301(facility, number)
    assert decode(frame) == WiegandCard(CardNumber(facility, number, 26), "H10301")
    flipped = list(frame)
    flipped[i] ^= 1
    with pytest.raises(WiegandError):
        decode(flipped)


@given(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 33))
def test_34_bit_round_trip_and_any_flip_rejected(facility: int, number: int, i: int) -> None:
    frame = encode_w34(facility, number)
    assert decode(frame) == WiegandCard(CardNumber(facility, number, 34), "W34")
    flipped = list(frame)
    flipped[i] ^= 1
    with pytest.raises(WiegandError):
        decode(flipped)


def test_bad_leading_and_trailing_parity_have_clear_reasons() -> None:
    lead = list(H10301_123_45678)
    lead[0] ^= 1
    with pytest.raises(WiegandError, match="leading"):
        decode(lead)
    trail = list(H10301_123_45678)
    trail[-1] ^= 1
    with pytest.raises(WiegandError, match="trailing"):
        decode(trail)


@pytest.mark.parametrize("n", [26, 34])
def test_all_zeros_and_all_ones_are_rejected(n: int) -> None:
    for value in (0, 1):
        with pytest.raises(WiegandError, match="parity"):
            decode([value] * n)


def test_truncated_and_extended_streams_are_rejected() -> None:
    for frame in (H10301_123_45678, W34_1000_12345):
        for cut in range(1, len(frame)):
            prefix = frame[:cut]
            if len(prefix) in (4, 8, 26):
                continue  # those lengths are other formats; covered elsewhere
            with pytest.raises(WiegandError, match=r"unsupported frame length|empty"):
                decode(prefix)
        with pytest.raises(WiegandError, match="unsupported frame length"):
            decode((*frame, 0))
    with pytest.raises(WiegandError, match="empty"):
        decode([])


def test_a_26_bit_prefix_of_a_34_bit_frame_is_not_accepted_as_that_card() -> None:
    prefix = W34_1000_12345[:26]
    try:
        result = decode(prefix)
    except WiegandError:
        return
    assert result != decode(W34_1000_12345)


@pytest.mark.parametrize(
    "garbage",
    [[2] * 26, [0, 1, -1, 1], ["1"] * 26, "10111101110110010011011101", b"\x01" * 26, [None] * 8],
)
def test_garbage_is_rejected(garbage: object) -> None:
    with pytest.raises(WiegandError, match="not a bit stream"):
        decode(garbage)  # type: ignore[arg-type]


def test_bools_are_bits() -> None:
    assert decode([bool(b) for b in H10301_123_45678]) == decode(H10301_123_45678)


def test_4_bit_keypad_bursts() -> None:
    keys = "0123456789*#"
    for code, key in enumerate(keys):
        frame = tuple(int(b) for b in f"{code:04b}")
        assert decode(frame) == WiegandKey(key)
        assert encode_key4(key) == frame
    for code in range(12, 16):
        with pytest.raises(WiegandError, match="not a key"):
            decode([int(b) for b in f"{code:04b}"])


def test_8_bit_keypad_bursts_need_the_complement() -> None:
    assert decode(bits("1110 0001")) == WiegandKey("1")  # key 1: ~1 then 1
    assert decode(bits("0100 1011")) == WiegandKey("#")  # key 11: ~11 = 0100
    assert decode(bits("0101 1010")) == WiegandKey("*")
    for key in "0123456789*#":
        assert decode(encode_key8(key)) == WiegandKey(key)
    good = 0
    for high, low in itertools.product(range(16), range(16)):
        frame = [int(b) for b in f"{high:04b}{low:04b}"]
        if high == low ^ 0xF and low < 12:
            assert decode(frame) == WiegandKey("0123456789*#"[low])
            good += 1
        else:
            with pytest.raises(WiegandError):
                decode(frame)
    assert good == 12
    for value in (0, 1):
        with pytest.raises(WiegandError, match="complementary"):
            decode([value] * 8)


def test_keys_are_hidden_in_repr() -> None:
    assert "7" not in repr(decode(encode_key4("7")))


def test_errors_never_repeat_the_bits() -> None:
    bad = list(H10301_123_45678)
    bad[5] ^= 1
    with pytest.raises(WiegandError) as info:
        decode(bad)
    text = str(info.value)
    assert "123" not in text and "45678" not in text and "0111" not in text
    assert isinstance(info.value, ReaderError) and isinstance(info.value, ValueError)


def test_other_lengths_are_rejected() -> None:
    for n in range(0, 70):
        if n in (4, 8, 26, 34):
            continue
        with pytest.raises(WiegandError):
            decode([0] * n)


def test_encoders_check_ranges() -> None:
    with pytest.raises(ValueError):
        encode_h10301(256, 1)
    with pytest.raises(ValueError):
        encode_h10301(1, 65536)
    with pytest.raises(ValueError):
        encode_w34(-1, 1)
    with pytest.raises(WiegandError):
        encode_key4("A")


def test_osdp_byte_packing_round_trips() -> None:
    packed = bits_to_bytes(H10301_123_45678)
    assert len(packed) == 4 and packed[-1] & 0x3F == 0  # left-justified, zero padded
    assert bits_from_bytes(packed, 26) == H10301_123_45678
    assert bits_to_bytes(bits("1000 0000 1")) == b"\x80\x80"
    with pytest.raises(WiegandError, match="too short"):
        bits_from_bytes(b"\x00", 26)
