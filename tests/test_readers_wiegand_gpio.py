"""The Wiegand GPIO adapter on gpiozero's MockFactory with a fake clock: no hardware, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.readers import (
    CardNumber,
    CardRead,
    KeyPress,
    PinAssembler,
    PinEntered,
    ReaderError,
    ReaderEvent,
    ReaderFault,
    WiegandFramer,
    WiegandReader,
    encode_h10301,
    encode_w34,
)
from facegate.readers.wiegand import encode_key4, encode_key8

D0, D1 = 5, 6
PULSE_S, BIT_INTERVAL_S = 0.00005, 0.002


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=100.0)


@pytest.fixture
def events() -> list[ReaderEvent]:
    return []


@pytest.fixture
def reader(
    factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> Iterator[WiegandReader]:
    with WiegandReader(
        D0, D1, reader_id="gate-w", on_event=events.append, pin_factory=factory, clock=clock
    ) as r:
        yield r


def send(factory: MockFactory, clock: FakeClock, bits: Sequence[int]) -> None:
    """Emit a frame as a reader does: a short low pulse on D0 (0) or D1 (1) per bit."""
    for bit in bits:
        pin = factory.pin(D1 if bit else D0)
        pin.drive_low()
        clock.advance(PULSE_S)
        pin.drive_high()
        clock.advance(BIT_INTERVAL_S - PULSE_S)


def test_lines_idle_high_with_pull_ups(reader: WiegandReader, factory: MockFactory) -> None:
    assert factory.pin(D0).state is True and factory.pin(D1).state is True
    assert factory.pin(D0).pull == "up" and factory.pin(D1).pull == "up"


def test_a_26_bit_frame_becomes_a_card_read(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_h10301(123, 45678))
    reader.poll()
    assert events == []  # the gap has not passed yet
    clock.advance(0.025)
    reader.poll()
    (event,) = events
    assert isinstance(event, CardRead)
    assert event.card == CardNumber(facility=123, number=45678, bits=26)
    assert event.fmt == "H10301" and event.reader == "gate-w"
    assert event.at == pytest.approx(100.0 + 25 * BIT_INTERVAL_S + PULSE_S)


def test_a_34_bit_frame(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_w34(1000, 12345))
    clock.advance(0.05)
    reader.poll()
    assert events == [CardRead("gate-w", CardNumber(1000, 12345, 34), events[0].at, "W34")]


def test_bad_parity_is_a_fault_and_no_card(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    frame = list(encode_h10301(123, 45678))
    frame[10] ^= 1
    send(factory, clock, frame)
    clock.advance(0.05)
    reader.poll()
    (event,) = events
    assert isinstance(event, ReaderFault)
    assert "parity" in event.reason and "45678" not in event.reason


def test_a_4_bit_burst_is_a_key_press(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_key4("7"))
    clock.advance(0.03)
    reader.poll()
    assert [type(e) for e in events] == [KeyPress] and events[0].key == "7"  # type: ignore[union-attr]


def test_two_frames_separated_by_more_than_the_gap_are_two_events(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_h10301(1, 2))
    clock.advance(0.03)
    send(factory, clock, encode_h10301(3, 4))
    # The second frame's first edge closed the first frame even though poll() was late.
    clock.advance(0.03)
    reader.poll()
    assert [e.card for e in events if isinstance(e, CardRead)] == [
        CardNumber(1, 2, 26),
        CardNumber(3, 4, 26),
    ]


def test_frames_closer_than_the_gap_merge_and_are_rejected(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_h10301(1, 2))
    clock.advance(0.01)
    send(factory, clock, encode_h10301(3, 4))
    clock.advance(0.03)
    reader.poll()
    assert events == [
        ReaderFault(
            "gate-w", "unsupported frame length 52 bits (26, 34, 4 or 8 expected)", events[0].at
        )
    ]


def test_truncated_frame_is_a_fault(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, encode_h10301(123, 45678)[:20])
    clock.advance(0.03)
    reader.poll()
    assert isinstance(events[0], ReaderFault) and "20 bits" in events[0].reason


def test_a_long_noise_burst_is_one_fault(
    reader: WiegandReader, factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    send(factory, clock, [1, 0] * 100)
    clock.advance(0.03)
    reader.poll()
    assert events == [ReaderFault("gate-w", "frame too long (200 bits)", events[0].at)]


def test_keypad_bursts_through_a_pin_assembler(
    factory: MockFactory, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    with WiegandReader(
        D0,
        D1,
        reader_id="kp",
        on_event=PinAssembler(events.append),
        pin_factory=factory,
        clock=clock,
    ) as reader:
        for key in "2580#":
            send(factory, clock, encode_key8(key))
            clock.advance(0.2)
            reader.poll()
    assert events == [PinEntered("kp", "2580", events[0].at)]


def test_close_releases_the_pins(factory: MockFactory, clock: FakeClock) -> None:
    reader = WiegandReader(D0, D1, reader_id="w", on_event=lambda e: None, pin_factory=factory)
    reader.close()
    reader.close()
    assert reader.closed
    # The pins are free again.
    WiegandReader(D0, D1, reader_id="w2", on_event=lambda e: None, pin_factory=factory).close()


def test_pin_in_use_is_a_reader_error(factory: MockFactory) -> None:
    with (
        WiegandReader(D0, D1, reader_id="w", on_event=lambda e: None, pin_factory=factory),
        pytest.raises(ReaderError, match="GPIO"),
    ):
        WiegandReader(D0, 7, reader_id="w2", on_event=lambda e: None, pin_factory=factory)
    # The failed reader did not keep pin 7.
    WiegandReader(7, 8, reader_id="w3", on_event=lambda e: None, pin_factory=factory).close()


def test_framer_is_pure() -> None:
    f = WiegandFramer(gap_s=0.025)
    assert f.edge(1, 0.0) is None and f.edge(0, 0.002) is None
    assert f.pending == 2 and f.poll(0.026) is None
    frame = f.poll(0.027)
    assert frame is not None and frame.bits == (1, 0) and frame.count == 2
    assert "1, 0" not in repr(frame)
    with pytest.raises(ReaderError):
        WiegandFramer(gap_s=0)
