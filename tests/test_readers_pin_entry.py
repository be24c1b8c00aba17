"""PinCollector: every rule, exhaustively on a small alphabet and with hypothesis."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facegate.errors import ConfigError
from facegate.readers import (
    CardNumber,
    CardRead,
    KeyPress,
    PinAssembler,
    PinCollector,
    PinEntered,
    ReaderEvent,
    ReaderFault,
)


def feed_all(c: PinCollector, keys: str, start: float = 0.0, step: float = 0.5) -> list:
    out = []
    for i, key in enumerate(keys):
        result = c.feed(key, start + i * step)
        if result is not None:
            out.append(result)
    return out


def test_a_pin_ends_with_the_end_key() -> None:
    c = PinCollector("kp")
    assert feed_all(c, "2580") == []
    assert c.pending == 4
    assert c.feed("#", 2.0) == PinEntered("kp", "2580", 2.0)
    assert c.pending == 0


def test_too_short_on_end_key_is_a_fault() -> None:
    c = PinCollector("kp", min_length=4)
    (fault,) = feed_all(c, "123#")
    assert fault == ReaderFault("kp", "PIN too short", 1.5)
    assert c.pending == 0


def test_a_lone_end_key_is_ignored() -> None:
    assert feed_all(PinCollector("kp"), "#") == []


def test_clear_key_discards_the_entry() -> None:
    c = PinCollector("kp")
    assert feed_all(c, "99*1234#") == [PinEntered("kp", "1234", 3.5)]


def test_key_not_allowed_discards_the_entry() -> None:
    c = PinCollector("kp")
    events = feed_all(c, "12A3456#")
    assert events == [
        ReaderFault("kp", "key not allowed in a PIN", 1.0),
        PinEntered("kp", "3456", 3.5),
    ]


def test_too_long_is_a_fault_and_the_tail_never_becomes_a_pin() -> None:
    c = PinCollector("kp", min_length=4, max_length=6)
    events = feed_all(c, "1234567890#")
    assert events == [ReaderFault("kp", "PIN too long", 3.0)]
    # After the end key the collector is ready again.
    assert feed_all(c, "4321#", start=10.0) == [PinEntered("kp", "4321", 12.0)]


def test_overlong_entry_can_be_cleared() -> None:
    c = PinCollector("kp", max_length=4)
    assert feed_all(c, "12345") == [ReaderFault("kp", "PIN too long", 2.0)]
    assert feed_all(c, "*1111#", start=3.0)[-1] == PinEntered("kp", "1111", 5.5)


def test_max_length_ends_the_entry_when_no_end_key_is_required() -> None:
    c = PinCollector("kp", min_length=4, max_length=4, end_key_required=False)
    assert feed_all(c, "12345678") == [
        PinEntered("kp", "1234", 1.5),
        PinEntered("kp", "5678", 3.5),
    ]
    # An end key may still finish a shorter PIN that meets min_length.
    c2 = PinCollector("kp", min_length=3, max_length=6, end_key_required=False)
    assert feed_all(c2, "123#") == [PinEntered("kp", "123", 1.5)]


def test_timeout_between_keys() -> None:
    c = PinCollector("kp", timeout_s=5.0)
    feed_all(c, "12")
    assert c.poll(5.49) is None  # last key at 0.5
    assert c.poll(5.5) == ReaderFault("kp", "timeout", 5.5)
    assert c.pending == 0 and c.poll(100.0) is None


def test_a_late_key_starts_a_new_entry() -> None:
    c = PinCollector("kp", timeout_s=5.0)
    feed_all(c, "99")
    # No poll; the next key comes long after: the stale "99" is dropped.
    assert c.feed("1", 20.0) == ReaderFault("kp", "timeout", 20.0)
    assert feed_all(c, "234#", start=20.5) == [PinEntered("kp", "1234", 22.0)]


def test_no_timeout_when_disabled() -> None:
    c = PinCollector("kp", timeout_s=None)
    feed_all(c, "12")
    assert c.poll(1e9) is None
    assert c.feed("3", 1e9) is None and c.feed("4", 1e9) is None
    assert c.feed("#", 1e9) == PinEntered("kp", "1234", 1e9)


def test_custom_keys() -> None:
    c = PinCollector("kp", end_keys="E#", clear_keys="C", allowed_keys="0123456789AB")
    assert feed_all(c, "AB12E") == [PinEntered("kp", "AB12", 2.0)]
    # 'C' clears "12", so only "34" is left when '#' ends the entry.
    assert feed_all(c, "12C34#", start=10.0) == [ReaderFault("kp", "PIN too short", 12.5)]
    assert feed_all(PinCollector("kp", end_keys="#"), "1234*") == []


def test_multi_character_keys_are_not_digits() -> None:
    c = PinCollector("kp")
    assert c.feed("12", 0.0) == ReaderFault("kp", "key not allowed in a PIN", 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": 0},
        {"min_length": 5, "max_length": 4},
        {"allowed_keys": ""},
        {"end_keys": "#", "clear_keys": "#"},
        {"end_keys": "1"},
        {"end_keys": "", "end_key_required": True},
        {"timeout_s": 0},
    ],
)
def test_contradictory_rules_are_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        PinCollector("kp", **kwargs)


def test_faults_never_contain_the_digits() -> None:
    c = PinCollector("kp", min_length=4, max_length=5)
    events = feed_all(c, "987#") + feed_all(c, "987654#") + feed_all(c, "98X")
    events.append(c.feed("9", 0.0))
    events.append(c.poll(1e6))
    for event in events:
        if isinstance(event, ReaderFault):
            assert not any(d in event.reason for d in "0123456789")


# -- a reference model of the rules, checked against the collector ---------------------

MIN, MAX, TIMEOUT = 2, 3, 5.0


def reference(keys: list[tuple[str, float]], end_key_required: bool) -> list[tuple]:
    """The rules of PinCollector written out plainly, for comparison."""
    out: list[tuple] = []
    buf: list[str] = []
    overflow = False
    last: float | None = None
    for key, t in keys:
        timed_out = last is not None and t - last >= TIMEOUT
        stale = timed_out and bool(buf)
        if timed_out:
            buf, overflow, last = [], False, None
        result: tuple | None = None
        if key == "*":
            buf, overflow, last = [], False, None
        elif key == "#":
            if overflow or not buf:
                pass
            elif len(buf) < MIN:
                result = ("fault", "PIN too short")
            else:
                result = ("pin", "".join(buf))
            buf, overflow, last = [], False, None
        elif key not in "0123456789":
            buf, overflow, last = [], False, None
            result = ("fault", "key not allowed in a PIN")
        else:
            last = t
            if overflow:
                pass
            elif len(buf) >= MAX:
                buf, overflow = [], True
                result = ("fault", "PIN too long")
            else:
                buf.append(key)
                if not end_key_required and len(buf) == MAX:
                    result = ("pin", "".join(buf))
                    buf, last = [], None
        if result is None and stale:
            result = ("fault", "timeout")
        if result is not None:
            out.append(result)
    return out


def summarize(events: list) -> list[tuple]:
    return [("pin", e.pin) if isinstance(e, PinEntered) else ("fault", e.reason) for e in events]


def run(keys: list[tuple[str, float]], end_key_required: bool) -> list:
    c = PinCollector(
        "kp", min_length=MIN, max_length=MAX, timeout_s=TIMEOUT, end_key_required=end_key_required
    )
    return [r for k, t in keys if (r := c.feed(k, t)) is not None]


@pytest.mark.parametrize("end_key_required", [True, False])
def test_exhaustively_against_the_reference_on_short_sequences(end_key_required: bool) -> None:
    alphabet = ["1", "2", "#", "*", "A"]
    checked = 0
    for n in range(0, 7):
        for combo in itertools.product(alphabet, repeat=n):
            keys = [(k, float(i)) for i, k in enumerate(combo)]
            assert summarize(run(keys, end_key_required)) == reference(keys, end_key_required)
            checked += 1
    assert checked == sum(5**n for n in range(7))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("0123456789#*AB"), st.floats(0.0, 8.0, allow_nan=False)),
        max_size=40,
    ),
    st.booleans(),
)
def test_random_sequences_with_pauses_match_the_reference(
    steps: list[tuple[str, float]], end_key_required: bool
) -> None:
    t = 0.0
    keys = []
    for key, gap in steps:
        t += gap
        keys.append((key, t))
    events = run(keys, end_key_required)
    assert summarize(events) == reference(keys, end_key_required)
    for e in events:
        if isinstance(e, PinEntered):
            assert MIN <= len(e.pin) <= MAX and e.pin.isdigit()


# -- PinAssembler ----------------------------------------------------------------------


def test_assembler_turns_key_presses_into_pins_per_reader() -> None:
    out: list[ReaderEvent] = []
    pins = PinAssembler(out.append)
    card = CardRead("door", CardNumber(1, 2, 26), 0.0, "H10301")
    for i, (reader, key) in enumerate(
        [("a", "1"), ("b", "9"), ("a", "2"), ("b", "8"), ("a", "3"), ("a", "4")]
    ):
        pins(KeyPress(reader, key, float(i)))
    pins(card)
    pins(KeyPress("a", "#", 7.0))
    assert out == [card, PinEntered("a", "1234", 7.0)]
    pins.poll(100.0)
    assert out[-1] == ReaderFault("b", "timeout", 100.0)


def test_assembler_can_forward_keys_and_reset() -> None:
    out: list[ReaderEvent] = []
    pins = PinAssembler(out.append, collector=PinCollector("x", min_length=1), forward_keys=True)
    pins(KeyPress("a", "5", 0.0))
    assert out == [KeyPress("a", "5", 0.0)]
    pins.reset()
    pins(KeyPress("a", "#", 1.0))
    assert out == [KeyPress("a", "5", 0.0), KeyPress("a", "#", 1.0)]
