"""USB HID card readers: the pure keystroke assembler, the evdev adapter on a fake device,
and (where the kernel offers /dev/uinput) a real virtual keyboard."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from facegate.clock import FakeClock
from facegate.readers import (
    CardNumber,
    CardRead,
    HidCardReader,
    KeystrokeAssembler,
    ReaderError,
    ReaderEvent,
    ReaderFault,
)
from facegate.readers.hid import DIGIT_KEYS

# Linux key codes (linux/input-event-codes.h)
KEY = {str(d): c for c, d in DIGIT_KEYS.items() if c < 12}
KP = {str(d): c for c, d in DIGIT_KEYS.items() if c >= 71}
KEY_ENTER, KEY_KPENTER, KEY_A, KEY_LEFTSHIFT = 28, 96, 30, 42
EV_SYN, EV_KEY, EV_MSC = 0, 1, 4


def typed(assembler: KeystrokeAssembler, codes: list[int], t0: float = 0.0) -> list:
    out = []
    for i, code in enumerate(codes):
        result = assembler.key(code, t0 + i * 0.01)
        if result is not None:
            out.append(result)
    return out


def digits(text: str, table: dict[str, int] = KEY) -> list[int]:
    return [table[ch] for ch in text]


def test_main_row_digits_then_enter_is_a_card() -> None:
    a = KeystrokeAssembler("usb")
    (event,) = typed(a, [*digits("0012345678"), KEY_ENTER])
    assert isinstance(event, CardRead) and event.fmt == "decimal"
    assert event.card == CardNumber(facility=None, number=12345678, bits=0, digits=10)
    assert event.card.raw() == b"decimal:0012345678"


def test_keypad_digits_and_keypad_enter() -> None:
    a = KeystrokeAssembler("usb")
    (event,) = typed(a, [*digits("9876543210", KP), KEY_KPENTER])
    assert isinstance(event, CardRead) and event.card.raw() == b"decimal:9876543210"


def test_non_digit_key_is_one_fault_and_the_rest_is_swallowed() -> None:
    a = KeystrokeAssembler("usb")
    events = typed(a, [*digits("123"), KEY_A, *digits("45678"), KEY_ENTER])
    assert [type(e) for e in events] == [ReaderFault]
    assert events[0].reason == "non-digit key from card reader"
    # The next card is read normally.
    (card,) = typed(a, [*digits("55555"), KEY_ENTER], t0=1.0)
    assert isinstance(card, CardRead) and card.card.number == 55555


def test_shifted_keys_are_not_digits() -> None:
    a = KeystrokeAssembler("usb")
    events = typed(a, [KEY_LEFTSHIFT, *digits("1234"), KEY_ENTER])
    assert [type(e) for e in events] == [ReaderFault]


def test_overlong_input_is_a_fault() -> None:
    a = KeystrokeAssembler("usb", max_digits=8)
    events = typed(a, [*digits("123456789012"), KEY_ENTER])
    assert [e.reason for e in events] == ["card number too long (over 8 digits)"]


def test_too_few_digits_is_a_fault() -> None:
    a = KeystrokeAssembler("usb", min_digits=4)
    events = typed(a, [*digits("123"), KEY_ENTER])
    assert [e.reason for e in events] == ["card number too short (3 digits)"]


def test_a_lone_enter_is_ignored() -> None:
    assert typed(KeystrokeAssembler("usb"), [KEY_ENTER, KEY_KPENTER]) == []


def test_missing_enter_times_out() -> None:
    a = KeystrokeAssembler("usb", timeout_s=1.0)
    typed(a, digits("1234"))
    assert a.poll(0.5) is None
    fault = a.poll(1.1)
    assert fault is not None and fault.reason == "incomplete card number (no Enter)"
    assert not a.busy


def test_faults_do_not_contain_digits() -> None:
    a = KeystrokeAssembler("usb", max_digits=5)
    events = typed(a, [*digits("98765432"), KEY_ENTER, *digits("97"), KEY_A])
    events.append(a.poll(100.0))
    for event in events:
        if isinstance(event, ReaderFault):
            assert "9876" not in event.reason and "97" not in event.reason


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ReaderError):
        KeystrokeAssembler("usb", min_digits=0)
    with pytest.raises(ReaderError):
        KeystrokeAssembler("usb", min_digits=9, max_digits=8)


# -- the evdev adapter against an injected fake device ----------------------------------


@dataclass
class Event:
    type: int
    code: int
    value: int


class FakeDevice:
    """Behaves like ``evdev.InputDevice`` for what HidCardReader uses."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pending: list[Event] = []
        self.grabbed = False
        self.closed = False
        self.error: OSError | None = None
        self.grab_error: OSError | None = None

    def type_text(self, codes: list[int]) -> None:
        # What a keyboard sends per key: a scancode, key down, sync, key up, sync.
        for code in codes:
            self.pending += [
                Event(EV_MSC, 4, 0x1E),
                Event(EV_KEY, code, 1),
                Event(EV_SYN, 0, 0),
                Event(EV_KEY, code, 0),
                Event(EV_SYN, 0, 0),
            ]

    def read(self) -> Iterator[Event]:
        if self.error is not None:
            raise self.error
        if not self.pending:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        events, self.pending = self.pending, []
        yield from events

    def grab(self) -> None:
        if self.grab_error is not None:
            raise self.grab_error
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def fileno(self) -> int:
        return 42

    def close(self) -> None:
        self.closed = True


class Devices:
    def __init__(self) -> None:
        self.opened: list[FakeDevice] = []
        self.unplugged = False

    def __call__(self, path: str) -> FakeDevice:
        if self.unplugged:
            raise FileNotFoundError(2, "No such file or directory", path)
        device = FakeDevice(path)
        self.opened.append(device)
        return device


def make_reader(devices: Devices, clock: FakeClock, events: list[ReaderEvent]) -> HidCardReader:
    return HidCardReader(
        "/dev/input/by-id/usb-reader-event-kbd",
        reader_id="usb1",
        on_event=events.append,
        clock=clock,
        device_factory=devices,
    )


def test_adapter_grabs_the_device_and_reads_a_card() -> None:
    devices, clock = Devices(), FakeClock()
    events: list[ReaderEvent] = []
    with make_reader(devices, clock, events) as reader:
        device = devices.opened[0]
        assert device.grabbed and reader.fileno() == 42
        reader.poll()  # nothing waiting: BlockingIOError is not an error
        device.type_text([*digits("0004221234"), KEY_ENTER])
        reader.poll()
        assert events == [CardRead("usb1", CardNumber(None, 4221234, 0, digits=10), 0.0, "decimal")]
    assert device.closed and not device.grabbed


def test_adapter_rejects_garbage_and_keeps_going() -> None:
    devices, clock = Devices(), FakeClock()
    events: list[ReaderEvent] = []
    with make_reader(devices, clock, events) as reader:
        devices.opened[0].type_text([*digits("12"), KEY_A, *digits("34"), KEY_ENTER])
        devices.opened[0].type_text([*digits("5678"), KEY_KPENTER])
        reader.poll()
    assert [type(e) for e in events] == [ReaderFault, CardRead]


def test_adapter_times_out_a_number_without_enter() -> None:
    devices, clock = Devices(), FakeClock()
    events: list[ReaderEvent] = []
    with make_reader(devices, clock, events) as reader:
        devices.opened[0].type_text(digits("1234"))
        reader.poll()
        clock.advance(1.5)
        reader.poll()
    assert events == [ReaderFault("usb1", "incomplete card number (no Enter)", 1.5)]


def test_unplugging_is_one_fault_then_the_device_is_reopened() -> None:
    devices, clock = Devices(), FakeClock()
    events: list[ReaderEvent] = []
    with make_reader(devices, clock, events) as reader:
        devices.opened[0].type_text(digits("12"))
        devices.opened[0].error = OSError(19, "No such device")
        devices.unplugged = True
        reader.poll()
        assert events == [ReaderFault("usb1", "device disconnected", 0.0)]
        assert not reader.connected and reader.fileno() == -1
        clock.advance(1.0)
        reader.poll()
        clock.advance(5.0)
        reader.poll()  # still unplugged: retried quietly
        assert len(events) == 1
        devices.unplugged = False
        clock.advance(5.0)
        reader.poll()
        assert reader.connected and devices.opened[-1].grabbed
        devices.opened[-1].type_text([*digits("4444"), KEY_ENTER])
        reader.poll()
    assert isinstance(events[-1], CardRead) and events[-1].card.number == 4444


def test_a_device_held_by_another_program_is_a_clear_error() -> None:
    class Busy(Devices):
        def __call__(self, path: str) -> FakeDevice:
            device = super().__call__(path)
            device.grab_error = OSError(16, "Device or resource busy")
            return device

    devices = Busy()
    with pytest.raises(ReaderError, match="cannot grab"):
        make_reader(devices, FakeClock(), [])
    assert devices.opened[0].closed


def test_a_missing_device_is_a_clear_error() -> None:
    devices = Devices()
    devices.unplugged = True
    with pytest.raises(ReaderError, match="cannot open"):
        make_reader(devices, FakeClock(), [])


def test_missing_evdev_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)  # makes "import evdev" fail
    with pytest.raises(ReaderError, match="'evdev' package"):
        HidCardReader("/dev/input/event0", reader_id="usb", on_event=print)


# -- a real evdev virtual keyboard, where the kernel allows it ---------------------------


def _uinput_unavailable() -> str | None:
    try:
        import evdev  # noqa: F401
    except ImportError:
        return (
            "evdev is not importable: on a Pi, apt-get install python3-evdev (install.sh does);"
            " elsewhere pip install 'facegate[pi]' (needs gcc and the kernel headers)"
        )
    if not os.path.exists("/dev/uinput"):
        return "/dev/uinput does not exist (kernel without the uinput module, e.g. this sandbox)"
    if not os.access("/dev/uinput", os.W_OK):
        return "/dev/uinput is not writable by this user"
    return None


@pytest.mark.skipif(_uinput_unavailable() is not None, reason=str(_uinput_unavailable()))
def test_real_uinput_keyboard_types_a_card_number() -> None:
    import evdev

    codes = [*KEY.values(), *KP.values(), KEY_ENTER, KEY_KPENTER]
    events: list[ReaderEvent] = []
    with evdev.UInput({evdev.ecodes.EV_KEY: codes}, name="facegate-test-card-reader") as ui:
        path = str(ui.device.path)
        with HidCardReader(path, reader_id="uinput", on_event=events.append) as reader:
            for code in [*digits("0012345678"), KEY_ENTER]:
                ui.write(evdev.ecodes.EV_KEY, code, 1)
                ui.write(evdev.ecodes.EV_KEY, code, 0)
                ui.syn()
            deadline_polls = 50
            while not events and deadline_polls:
                select.select([reader.fileno()], [], [], 0.1)  # bounded wait for input
                reader.poll()
                deadline_polls -= 1
            # The grab kept the keystrokes to us: a second grab by anyone else fails.
            other = evdev.InputDevice(path)
            try:
                with pytest.raises(OSError):
                    other.grab()
            finally:
                other.close()
    assert events and isinstance(events[0], CardRead)
    assert events[0].card.raw() == b"decimal:0012345678"
