"""The matrix keypad on MockFactory: a pressed key connects its row to its column."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from facegate.clock import FakeClock
from facegate.readers import (
    KeyDebouncer,
    KeypadPinReader,
    KeyPress,
    MatrixKeypad,
    PinCollector,
    PinEntered,
    ReaderError,
    ReaderEvent,
    ReaderFault,
)

ROWS = [17, 27, 22, 5]
COLS = [6, 13, 19]
LAYOUT = ["123", "456", "789", "*0#"]
SCAN_S = 0.02


class Matrix:
    """Simulated key switches: while (r, c) is held, row r drives column c."""

    def __init__(self, factory: MockFactory) -> None:
        self.factory = factory
        self.cols = [factory.pin(c) for c in COLS]
        self.rows = [factory.pin(r, pin_class=MockConnectedPin) for r in ROWS]

    def press(self, key: str) -> None:
        r, c = next((r, row.index(key)) for r, row in enumerate(LAYOUT) if key in row)
        self.rows[r].input_pin = self.cols[c]

    def release_all(self) -> None:
        for row in self.rows:
            row.input_pin = None
        for col in self.cols:
            col.drive_high()


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
def matrix(factory: MockFactory) -> Matrix:
    return Matrix(factory)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> list[ReaderEvent]:
    return []


@pytest.fixture
def keypad(
    factory: MockFactory, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> Iterator[MatrixKeypad]:
    with MatrixKeypad(
        ROWS, COLS, LAYOUT, reader_id="kp", on_event=events.append, pin_factory=factory, clock=clock
    ) as kp:
        yield kp


def scans(kp: MatrixKeypad | KeypadPinReader, clock: FakeClock, n: int) -> None:
    for _ in range(n):
        kp.scan(clock.monotonic())
        clock.advance(SCAN_S)


def test_rows_idle_high_and_columns_pulled_up(keypad: MatrixKeypad, factory: MockFactory) -> None:
    assert all(factory.pin(r).state is True for r in ROWS)
    assert all(factory.pin(c).pull == "up" and factory.pin(c).state is True for c in COLS)


def test_reading_the_matrix_by_driving_a_row_and_a_column_low(
    keypad: MatrixKeypad, matrix: Matrix
) -> None:
    assert keypad.read_matrix() == frozenset()
    for key in "159*0#":
        matrix.press(key)
        assert keypad.read_matrix() == {key}
        matrix.release_all()
    # After a scan every row is back high.
    assert all(pin.state is True for pin in matrix.rows)


def test_a_held_key_is_one_key_press_after_debouncing(
    keypad: MatrixKeypad, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    matrix.press("5")
    scans(keypad, clock, 2)
    assert events == []  # seen for 20 ms only
    scans(keypad, clock, 10)
    assert events == [KeyPress("kp", "5", 0.04)]
    matrix.release_all()
    scans(keypad, clock, 5)
    matrix.press("5")
    scans(keypad, clock, 5)
    assert [e.key for e in events if isinstance(e, KeyPress)] == ["5", "5"]


def test_a_bounce_shorter_than_the_debounce_time_is_ignored(
    keypad: MatrixKeypad, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    matrix.press("3")
    scans(keypad, clock, 1)
    matrix.release_all()
    scans(keypad, clock, 1)
    matrix.press("3")
    scans(keypad, clock, 1)
    matrix.release_all()
    scans(keypad, clock, 5)
    assert events == []


def test_two_keys_at_once_are_ignored(
    keypad: MatrixKeypad, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    matrix.press("1")
    matrix.press("5")  # another row and column: a real two-key press
    scans(keypad, clock, 5)
    assert keypad.read_matrix() == {"1", "5"}
    assert events == []


def test_keypad_pin_reader_gives_pins(
    factory: MockFactory, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    with KeypadPinReader(
        ROWS, COLS, LAYOUT, reader_id="kp", on_event=events.append, pin_factory=factory, clock=clock
    ) as reader:
        for key in "2580#":
            matrix.press(key)
            scans(reader, clock, 4)
            matrix.release_all()
            scans(reader, clock, 4)
    assert [type(e) for e in events] == [PinEntered]
    assert isinstance(events[0], PinEntered) and events[0].pin == "2580"


def test_keypad_pin_reader_times_out_a_partial_pin(
    factory: MockFactory, matrix: Matrix, clock: FakeClock, events: list[ReaderEvent]
) -> None:
    with KeypadPinReader(
        ROWS,
        COLS,
        LAYOUT,
        reader_id="kp",
        on_event=events.append,
        collector=PinCollector("kp", timeout_s=3.0),
        pin_factory=factory,
        clock=clock,
    ) as reader:
        matrix.press("9")
        scans(reader, clock, 4)
        matrix.release_all()
        clock.advance(3.0)
        reader.poll()
    assert [e.reason for e in events if isinstance(e, ReaderFault)] == ["timeout"]


def test_background_thread_scans_and_close_stops_it(
    factory: MockFactory, matrix: Matrix, events: list[ReaderEvent]
) -> None:
    import threading

    got = threading.Event()

    def on_event(event: ReaderEvent) -> None:
        events.append(event)
        got.set()

    kp = MatrixKeypad(
        ROWS, COLS, LAYOUT, reader_id="kp", on_event=on_event, pin_factory=factory,
        scan_interval_s=0.005, debounce_s=0.0,
    )  # fmt: skip
    kp.start()
    matrix.press("8")
    try:
        assert got.wait(timeout=5.0), "the scan thread did not report the key"
    finally:
        kp.close()
    assert isinstance(events[0], KeyPress) and events[0].key == "8"
    assert kp.closed


def test_layout_must_match_the_pins(factory: MockFactory) -> None:
    with pytest.raises(ReaderError, match="4 rows of 3"):
        MatrixKeypad(ROWS, COLS, ["123"], reader_id="kp", on_event=print, pin_factory=factory)
    with pytest.raises(ReaderError):
        MatrixKeypad(ROWS, COLS, ["12", "45", "78", "*0"], reader_id="kp", on_event=print,
                     pin_factory=factory)  # fmt: skip


def test_debouncer_is_pure() -> None:
    d = KeyDebouncer(debounce_s=0.04)
    assert d.update(frozenset({"1"}), 0.0) is None
    assert d.update(frozenset({"1"}), 0.03) is None
    assert d.update(frozenset({"1"}), 0.04) == "1"
    assert d.update(frozenset({"1"}), 1.0) is None  # held: once only
    assert d.update(frozenset(), 1.1) is None
    assert d.update(frozenset(), 1.2) is None
    assert d.update(frozenset({"1"}), 1.3) is None
    assert d.update(frozenset({"1"}), 1.35) == "1"
    assert d.update(frozenset({"1", "2"}), 2.0) is None
    assert d.update(frozenset({"1", "2"}), 3.0) is None
    with pytest.raises(ReaderError):
        KeyDebouncer(-1)
