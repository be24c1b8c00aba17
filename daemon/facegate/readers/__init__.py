"""The readers of the gate: Wiegand, matrix keypad, USB HID and OSDP, as equal ways in.

Every reader turns hardware signals into events (:class:`CardRead`, :class:`KeyPress`,
:class:`PinEntered`, :class:`ReaderFault`) delivered to an ``on_event`` callback, and has
``poll(now)`` and ``close()`` (see :class:`Reader`). The parsing is pure and separate from
the I/O, as in ESPHome's ``key_collector``: :func:`decode` (Wiegand frames),
:class:`PinCollector` (keys → PIN), :class:`KeystrokeAssembler` (USB keystrokes → card);
the adapters (:class:`WiegandReader`, :class:`MatrixKeypad`, :class:`HidCardReader`,
:class:`OsdpReader`) only move signals. Card numbers and PINs never appear in ``repr``,
log lines or fault reasons.

``evdev`` and ``libosdp`` are imported only when a USB or OSDP reader is created.
"""

from .errors import ReaderError, WiegandError
from .events import (
    CardNumber,
    CardRead,
    EventCallback,
    KeyPress,
    PinEntered,
    Reader,
    ReaderEvent,
    ReaderFault,
)
from .hid import HidCardReader, KeystrokeAssembler
from .keypad import KeyDebouncer, KeypadPinReader, MatrixKeypad
from .osdp import FdChannel, OsdpReader, check_scbk, open_serial_port
from .pin_entry import PinAssembler, PinCollector
from .wiegand import WiegandCard, WiegandKey, decode, encode_h10301, encode_w34
from .wiegand_gpio import WiegandFramer, WiegandReader

__all__ = [
    "CardNumber",
    "CardRead",
    "EventCallback",
    "FdChannel",
    "HidCardReader",
    "KeyDebouncer",
    "KeyPress",
    "KeypadPinReader",
    "KeystrokeAssembler",
    "MatrixKeypad",
    "OsdpReader",
    "PinAssembler",
    "PinCollector",
    "PinEntered",
    "Reader",
    "ReaderError",
    "ReaderEvent",
    "ReaderFault",
    "WiegandCard",
    "WiegandError",
    "WiegandFramer",
    "WiegandKey",
    "WiegandReader",
    "check_scbk",
    "decode",
    "encode_h10301",
    "encode_w34",
    "open_serial_port",
]
