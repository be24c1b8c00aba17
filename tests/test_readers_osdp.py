"""OSDP over a real link: our CP against a libosdp Peripheral Device on a pseudo-terminal.

The PD runs on the pty's master end through a file-descriptor channel; the OsdpReader
opens the slave end by its path as it would open /dev/ttyAMA0, so the serial set-up code
runs too. The secure channel is established with the shared SCBK before anything is
reported. Every wait is bounded, so a broken link fails within seconds.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from facegate.readers import (
    CardNumber,
    CardRead,
    KeyPress,
    OsdpReader,
    PinEntered,
    ReaderError,
    ReaderEvent,
    ReaderFault,
    check_scbk,
)
from facegate.readers.osdp import SCBK_D, FdChannel, keypad_keys
from facegate.readers.wiegand import bits_to_bytes, encode_h10301

osdp = pytest.importorskip("osdp", reason="libosdp is not installed (pip install libosdp)")

ADDRESS = 101
SCBK = bytes.fromhex("a3f1c2d4e5b60718293a4b5c6d7e8f90")
OTHER_SCBK = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
LINK_TIMEOUT_S = 10.0


@dataclass
class Link:
    reader: OsdpReader
    pd: Any
    events: queue.Queue[ReaderEvent]

    def next_event(self, timeout_s: float = 5.0) -> ReaderEvent:
        try:
            return self.events.get(timeout=timeout_s)
        except queue.Empty:
            pytest.fail(f"no event from the OSDP reader within {timeout_s} s")

    def wait_for(self, pred: Callable[[ReaderEvent], bool], timeout_s: float = 5.0) -> ReaderEvent:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if pred(event):
                return event
        pytest.fail(f"expected event not seen within {timeout_s} s")


def wait_until(cond: Callable[[], bool], timeout_s: float) -> bool:
    """Bounded wait for the OSDP link (the only place these tests wait on real time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    path = os.ttyname(slave)
    try:
        yield master, path
    finally:
        os.close(master)
        os.close(slave)


def start_pd(master: int, scbk: bytes | None) -> Any:
    info = osdp.PDInfo(
        ADDRESS,
        FdChannel(master),
        scbk=scbk,
        flags=[osdp.LibFlag.EnforceSecure] if scbk else [],
    )
    caps = osdp.PDCapabilities(
        [
            (osdp.Capability.CardDataFormat, 1, 1),
            (osdp.Capability.Readers, 1, 1),
            (osdp.Capability.CommunicationSecurity, 1, 1),
        ]
    )
    pd = osdp.PeripheralDevice(info, caps, log_level=osdp.LogLevel.Warning)
    pd.start()
    return pd


@pytest.fixture
def make_link(pty_pair: tuple[int, str]) -> Iterator[Callable[..., Link]]:
    made: list[Link] = []

    def make(pd_scbk: bytes | None = SCBK, link_timeout_s: float = LINK_TIMEOUT_S) -> Link:
        master, path = pty_pair
        pd = start_pd(master, pd_scbk)
        events: queue.Queue[ReaderEvent] = queue.Queue()
        reader = OsdpReader(
            path,
            address=ADDRESS,
            scbk=SCBK,
            reader_id="osdp-door",
            on_event=events.put,
            baud=115200,
            link_timeout_s=link_timeout_s,
        )
        link = Link(reader, pd, events)
        made.append(link)
        reader.start()
        return link

    yield make
    for link in made:
        link.reader.close()
        link.pd.stop()


@pytest.fixture
def link(make_link: Callable[..., Link]) -> Link:
    link = make_link()
    if not wait_until(lambda: link.reader.link_up, timeout_s=10.0):
        pytest.fail("the secure channel to the PD did not come up within 10 s")
    assert link.pd.is_sc_active()
    return link


def card_event(bits: tuple[int, ...]) -> dict[str, Any]:
    return {
        "event": osdp.Event.CardRead,
        "reader_no": 0,
        "direction": 0,
        "format": osdp.CardFormat.Wiegand,
        "length": len(bits),
        "data": bits_to_bytes(bits),
    }


def test_card_read_crosses_the_secure_link(link: Link) -> None:
    link.pd.submit_event(card_event(encode_h10301(123, 45678)))
    event = link.next_event()
    assert isinstance(event, CardRead)
    assert event.card == CardNumber(facility=123, number=45678, bits=26)
    assert event.fmt == "H10301" and event.reader == "osdp-door"


def test_keypad_entry_crosses_as_a_pin(link: Link) -> None:
    # OSDP keypad data: ASCII digits, 0x0D for '#'.
    link.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0, "data": b"2580\r"})
    event = link.next_event()
    assert isinstance(event, PinEntered) and event.pin == "2580"


def test_keys_split_over_several_osdp_replies_make_one_pin(link: Link) -> None:
    for chunk in (b"1", b"2", b"\x7f", b"79", b"31\r"):  # 0x7F is '*': clears "12"
        link.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0, "data": chunk})
    event = link.next_event()
    assert isinstance(event, PinEntered) and event.pin == "7931"


def test_bad_wiegand_over_the_link_is_a_fault(link: Link) -> None:
    bad = list(encode_h10301(123, 45678))
    bad[3] ^= 1
    link.pd.submit_event(card_event(tuple(bad)))
    fault = link.next_event()
    assert isinstance(fault, ReaderFault) and "parity" in fault.reason
    assert "45678" not in fault.reason


def test_ascii_card_data(link: Link) -> None:
    # libosdp's PD no longer sends the deprecated ASCII format, but other PDs may: feed
    # the CP callback the dict libosdp builds for one (no "length" for ASCII).
    ascii_card = {"event": osdp.Event.CardRead, "reader_no": 0, "direction": 0,
                  "format": osdp.CardFormat.ASCII}  # fmt: skip
    with link.reader._lock:
        link.reader._on_osdp_event(0, {**ascii_card, "data": b"0004221234"})
        link.reader._on_osdp_event(0, {**ascii_card, "data": b"12AB"})
    link.reader.poll()
    event = link.next_event()
    assert isinstance(event, CardRead) and event.fmt == "decimal"
    assert event.card.raw() == b"decimal:0004221234"
    fault = link.next_event()
    assert isinstance(fault, ReaderFault) and "not decimal" in fault.reason


def test_tamper_is_a_fault(link: Link) -> None:
    link.pd.submit_event(
        {"event": osdp.Event.Status, "type": osdp.StatusReportType.Local, "report": b"\x01\x00"}
    )
    event = link.wait_for(lambda e: isinstance(e, ReaderFault))
    assert isinstance(event, ReaderFault) and event.reason == "tamper"


@pytest.mark.slow  # libosdp declares a silent PD offline after its 8 s response timeout
def test_link_down_is_a_fault(link: Link) -> None:
    link.pd.stop()
    event = link.wait_for(lambda e: isinstance(e, ReaderFault), timeout_s=15.0)
    assert isinstance(event, ReaderFault) and event.reason == "link down"
    link.pd.start()  # so that teardown can stop it


def test_wrong_scbk_never_yields_a_card(make_link: Callable[..., Link]) -> None:
    link = make_link(pd_scbk=OTHER_SCBK, link_timeout_s=1.0)
    link.pd.submit_event(card_event(encode_h10301(123, 45678)))
    fault = link.wait_for(lambda e: isinstance(e, ReaderFault), timeout_s=6.0)
    assert isinstance(fault, ReaderFault) and fault.reason.startswith("link down")
    assert not link.reader.link_up and not link.pd.is_sc_active()
    # Give the PD more chances to push the card: none arrives.
    wait_until(lambda: not link.events.empty(), timeout_s=1.0)
    seen = []
    while not link.events.empty():
        seen.append(link.events.get_nowait())
    assert not any(isinstance(e, CardRead | PinEntered | KeyPress) for e in seen)


def test_pd_without_secure_channel_never_yields_a_card(make_link: Callable[..., Link]) -> None:
    link = make_link(pd_scbk=None, link_timeout_s=1.0)
    link.pd.submit_event(card_event(encode_h10301(1, 2)))
    fault = link.wait_for(lambda e: isinstance(e, ReaderFault), timeout_s=6.0)
    assert isinstance(fault, ReaderFault) and fault.reason.startswith("link down")
    assert not link.reader.link_up


@pytest.mark.parametrize(
    ("scbk", "message"),
    [
        (b"", "secure channel"),
        (None, "secure channel"),
        (bytes(15), "16 bytes"),
        ("a3f1c2d4e5b60718293a4b5c6d7e8f90", "16 bytes"),
        (SCBK_D, "SCBK-D"),
        (bytes(16), "repeated"),
    ],
)
def test_no_or_unsafe_scbk_is_refused_before_opening_the_port(scbk: Any, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        OsdpReader(
            "/dev/does-not-exist",
            address=1,
            scbk=scbk,
            reader_id="osdp",
            on_event=print,
        )


def test_bad_settings_are_refused(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    with pytest.raises(ReaderError, match="address"):
        OsdpReader(path, address=127, scbk=SCBK, reader_id="o", on_event=print)
    with pytest.raises(ReaderError, match="baud"):
        OsdpReader(path, address=1, scbk=SCBK, reader_id="o", on_event=print, baud=1200)
    with pytest.raises(ReaderError, match="cannot open serial port"):
        OsdpReader("/dev/does-not-exist", address=1, scbk=SCBK, reader_id="o", on_event=print)
    with pytest.raises(ReaderError, match="not a usable serial port"):
        OsdpReader("/dev/null", address=1, scbk=SCBK, reader_id="o", on_event=print)


def test_check_scbk_returns_bytes() -> None:
    assert check_scbk(bytearray(SCBK)) == SCBK


def test_keypad_byte_mapping() -> None:
    assert keypad_keys(b"0123456789\x7f\r") == list("0123456789*#")
    assert keypad_keys(b"AH") == ["A", "H"]
    assert keypad_keys(b"\x00*#") == [None, None, None]


def test_close_is_idempotent_and_stops_the_thread(link: Link) -> None:
    link.reader.close()
    link.reader.close()
    link.reader.poll()  # no-op after close
    assert threading.active_count() >= 1


def test_no_card_number_or_pin_in_any_log(
    link: Link, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    link.pd.submit_event(card_event(encode_h10301(123, 45678)))
    link.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0, "data": b"97531\r"})
    link.pd.submit_event({"event": osdp.Event.KeyPress, "reader_no": 0, "data": b"86\r"})
    got = [link.next_event() for _ in range(3)]
    assert [type(e) for e in got] == [CardRead, PinEntered, ReaderFault]
    link.reader.close()
    out, err = capfd.readouterr()  # libosdp's own C logging goes to stdout/stderr
    for text in (caplog.text, out, err, *(repr(e) for e in got)):
        for secret in ("45678", "97531"):
            assert secret not in text
    assert isinstance(got[2], ReaderFault) and not any(c.isdigit() for c in got[2].reason)
