"""No reader ever writes a card number, PIN or key into a log line or a fault reason."""

from __future__ import annotations

import logging

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from facegate.clock import FakeClock
from facegate.readers import (
    KeypadPinReader,
    KeystrokeAssembler,
    PinAssembler,
    PinCollector,
    ReaderEvent,
    ReaderFault,
    WiegandReader,
    encode_h10301,
)
from facegate.readers.hid import DIGIT_KEYS
from facegate.readers.wiegand import encode_key4

SECRETS = ("45678", "2580", "13579", "8642097531")


def test_wiegand_keypad_pin_and_hid_flows_log_nothing_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="facegate")
    events: list[ReaderEvent] = []
    factory, clock = MockFactory(), FakeClock()

    def send(bits: tuple[int, ...]) -> None:
        for bit in bits:
            pin = factory.pin(6 if bit else 5)
            pin.drive_low()
            pin.drive_high()
            clock.advance(0.002)
        clock.advance(0.05)

    with WiegandReader(
        5, 6, reader_id="w", on_event=PinAssembler(events.append), pin_factory=factory, clock=clock
    ) as wiegand:
        good = encode_h10301(123, 45678)
        bad = list(good)
        bad[7] ^= 1
        for frame in (good, tuple(bad), good[:25]):
            send(frame)
            wiegand.poll()
        for key in "2580#":
            send(encode_key4(key))
            wiegand.poll()
        for key in "13579":  # left unfinished: times out
            send(encode_key4(key))
            wiegand.poll()
        clock.advance(60)
        wiegand.poll()

    rows = [17, 27, 22, 23]
    cols = [24, 25, 26]
    col_pins = [factory.pin(c) for c in cols]
    row_pins = [factory.pin(r, pin_class=MockConnectedPin) for r in rows]
    layout = ["123", "456", "789", "*0#"]
    with KeypadPinReader(
        rows, cols, layout, reader_id="kp", on_event=events.append,
        collector=PinCollector("kp", max_length=4), pin_factory=factory, clock=clock,
    ) as keypad:  # fmt: skip
        for key in "2580#" + "13579#":
            r = next(i for i, line in enumerate(layout) if key in line)
            row_pins[r].input_pin = col_pins[layout[r].index(key)]
            for _ in range(4):
                keypad.scan()
                clock.advance(0.02)
            row_pins[r].input_pin = None
            col_pins[layout[r].index(key)].drive_high()
            for _ in range(4):
                keypad.scan()
                clock.advance(0.02)

    codes = {d: c for c, d in DIGIT_KEYS.items()}
    hid = KeystrokeAssembler("usb", max_digits=8)
    for text in ("8642097531", "864"):
        for ch in text:
            if (result := hid.key(codes[ch], clock.monotonic())) is not None:
                events.append(result)
        if (result := hid.key(28, clock.monotonic())) is not None:
            events.append(result)

    assert any(isinstance(e, ReaderFault) for e in events)
    texts = [caplog.text, *(repr(e) for e in events)]
    texts += [e.reason for e in events if isinstance(e, ReaderFault)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_a_failing_reader_loop_keeps_running_and_logs_no_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import threading

    from facegate.clock import SystemClock
    from facegate.readers._ticker import Ticker

    caplog.set_level(logging.DEBUG, logger="facegate")
    calls: list[float] = []
    done = threading.Event()

    def fails(now: float) -> None:
        calls.append(now)
        if len(calls) >= 12:
            done.set()
        raise KeyError("8642097531")

    ticker = Ticker("reader-x", 0.001, SystemClock(), fails)
    try:
        assert done.wait(timeout=5.0), "the loop stopped after a failure"
    finally:
        ticker.stop()
    assert not ticker.alive and ticker.failures >= 12
    assert "KeyError at test_readers_no_secrets.py" in caplog.text
    assert "8642097531" not in caplog.text
    mine = [r for r in caplog.records if r.getMessage().startswith("reader-x:")]
    assert len(mine) == 2  # the 1st and the 10th failure in a row
