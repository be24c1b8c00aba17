"""OSDP (IEC 60839-11-5) readers over RS-485, with facegate as the Control Panel (CP).

Uses the ``libosdp`` package (imported as ``osdp``). The secure channel is not optional:
:class:`OsdpReader` refuses to start without a 16-byte Secure Channel Base Key (SCBK),
refuses the published install-mode key SCBK-D, never enables install mode, and sets
libosdp's ``EnforceSecure`` flag so the CP will not talk to the reader in clear text (a
reader with another key never comes online). A card read that somehow arrives without
an active secure channel is dropped with a fault.

What crosses the link becomes facegate events:

* card reads in raw Wiegand (or raw unspecified) format are decoded by
  :func:`facegate.readers.wiegand.decode` (26-bit H10301, 34-bit); ASCII reads must be
  decimal digits and become ``fmt="decimal"`` cards;
* keypad data (``"0"``–``"9"``, ``0x7F`` = ``*``, ``0x0D`` = ``#``, per OSDP) goes
  through a :class:`~facegate.readers.pin_entry.PinCollector` and arrives as
  :class:`PinEntered`;
* the link going down (or never coming up within ``link_timeout_s``), tamper, power
  failure and a disconnected/tampered remote reader become :class:`ReaderFault`.

libosdp keeps its own timing (its protocol timeouts run on real time); the injected clock
stamps events and times the PIN entry and the link check. Call :meth:`OsdpReader.poll`
every ~20 ms from the daemon's loop, or :meth:`OsdpReader.start` a thread that does.
Events are delivered from ``poll()``, never from inside libosdp's callback.

RS-485 on a Pi: use a transceiver with automatic direction control (or enable the
kernel's RS-485 mode on the UART); the port is opened raw, 8N1, with exclusive access.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import stat
import termios
import threading
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from ..clock import Clock, SystemClock
from ..config.readers import OsdpReaderConfig
from ..errors import GateError
from ._ticker import Ticker, describe_error
from .built import BuiltReader, pin_collector
from .errors import ReaderError, WiegandError
from .events import (
    CardNumber,
    CardRead,
    EventCallback,
    KeyPress,
    ReaderEvent,
    ReaderFault,
)
from .pin_entry import PinAssembler, PinCollector
from .wiegand import WiegandCard, bits_from_bytes, decode

__all__ = [
    "BAUD_RATES",
    "SCBK_D",
    "FdChannel",
    "OsdpReader",
    "check_scbk",
    "keypad_keys",
    "open_serial_port",
]

logger = logging.getLogger(__name__)

SCBK_D = bytes(range(0x30, 0x40))
"""The published default key of OSDP install mode: never acceptable as a site key."""

BAUD_RATES: dict[int, int] = {
    9600: termios.B9600,
    19200: termios.B19200,
    38400: termios.B38400,
    57600: termios.B57600,
    115200: termios.B115200,
    230400: termios.B230400,
}
"""The OSDP baud rates and their termios constants."""

_KEYPAD = {0x7F: "*", 0x0D: "#"}  # OSDP: '*' is sent as DEL, '#' as CR
_FUNCTION_KEYS = "ABCDEFGH"  # 0x41-0x48: F1-F4 and their combinations
_LOCAL_STATUS = ("tamper", "power failure")  # osdp_LSTATR byte order
_REMOTE_STATUS = {1: "reader not connected", 2: "reader tamper"}  # osdp_RSTATR values
_MAX_ASCII_DIGITS = 32


def check_scbk(scbk: object, reader_id: str = "osdp") -> bytes:
    """Validate a Secure Channel Base Key.

    Returns:
        The key as ``bytes``.

    Raises:
        ReaderError: missing, not 16 bytes, the install-mode key SCBK-D, or all one byte.
    """
    if not scbk:
        raise ReaderError(
            f"{reader_id}: OSDP needs a 16-byte secure channel key (scbk); facegate does "
            "not run OSDP without the secure channel"
        )
    if not isinstance(scbk, bytes | bytearray) or len(scbk) != 16:
        raise ReaderError(f"{reader_id}: the OSDP scbk must be exactly 16 bytes")
    key = bytes(scbk)
    if key == SCBK_D:
        raise ReaderError(
            f"{reader_id}: the OSDP scbk is the public install-mode key SCBK-D; set a "
            "site-specific random key on the CP and the reader"
        )
    if len(set(key)) == 1:
        raise ReaderError(f"{reader_id}: the OSDP scbk is one repeated byte; use a random key")
    return key


def keypad_keys(data: bytes) -> list[str | None]:
    """Map OSDP keypad bytes to keys; ``None`` for a byte that is not a key."""
    keys: list[str | None] = []
    for byte in data:
        if 0x30 <= byte <= 0x39:
            keys.append(chr(byte))
        elif byte in _KEYPAD:
            keys.append(_KEYPAD[byte])
        elif 0x41 <= byte <= 0x48:
            keys.append(_FUNCTION_KEYS[byte - 0x41])
        else:
            keys.append(None)
    return keys


def open_serial_port(port: str, baud: int) -> int:
    """Open ``port`` raw, 8N1, no flow control, non-blocking, with exclusive access.

    Returns:
        The file descriptor (the caller closes it).

    Raises:
        ReaderError: unknown baud rate, or the port cannot be opened or configured.
    """
    if baud not in BAUD_RATES:
        raise ReaderError(f"OSDP baud must be one of {sorted(BAUD_RATES)}, not {baud}")
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise ReaderError(f"cannot open serial port {port}: {exc.strerror or exc}") from exc
    try:
        # Exclusive: a second opener (e.g. a getty or a stray tool) would garble the bus.
        fcntl.ioctl(fd, termios.TIOCEXCL)
        attrs = termios.tcgetattr(fd)
        attrs[0] = 0  # iflag: no CR/NL mapping, no XON/XOFF, no parity marking
        attrs[1] = 0  # oflag: no output processing
        attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL  # 8N1, ignore modem lines
        attrs[3] = 0  # lflag: no echo, no canonical mode, no signals
        attrs[4] = attrs[5] = BAUD_RATES[baud]
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        termios.tcflush(fd, termios.TCIOFLUSH)
    except (OSError, termios.error) as exc:
        os.close(fd)
        raise ReaderError(f"{port} is not a usable serial port: {exc}") from exc
    return fd


class FdChannel:
    """A libosdp channel (``read``/``write``/``flush``) over a non-blocking file descriptor.

    Works on a serial port opened by :func:`open_serial_port` and on either end of a
    pseudo-terminal. The descriptor stays owned by the caller.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.id = fd  # libosdp's channel id, used to tell channels apart in its logs

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` received bytes; empty when none are waiting."""
        try:
            return os.read(self.fd, max_bytes)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # e.g. EIO from a pty whose other end is closed: link is down
            return b""

    def write(self, buf: bytes) -> int:
        """Send as much of ``buf`` as the port takes now; returns the count sent."""
        try:
            return os.write(self.fd, buf)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return -1

    def flush(self) -> None:
        """Discard bytes received but not read (libosdp calls this to resynchronise)."""
        with contextlib.suppress(OSError):
            while os.read(self.fd, 256):
                pass


def _import_osdp() -> ModuleType:
    try:
        return importlib.import_module("osdp")
    except ImportError as exc:
        raise ReaderError("OSDP readers need the 'libosdp' package (pip install libosdp)") from exc


class OsdpReader:
    """One OSDP reader (PD) on a serial port, with facegate as its Control Panel.

    Args:
        port: serial device (e.g. ``/dev/ttyAMA0``, ``/dev/serial/by-id/…``).
        address: the reader's OSDP address (0–126).
        scbk: the 16-byte Secure Channel Base Key shared with the reader.
        reader_id: configured reader id, put into every event.
        on_event: receives :class:`CardRead`, :class:`PinEntered` and :class:`ReaderFault`
            (and each :class:`KeyPress` when ``forward_keys``).
        baud: one of :data:`BAUD_RATES`.
        clock: time source for event stamps, the PIN timeout and the link check.
        collector: PIN rules for the reader's keypad (defaults to :class:`PinCollector`'s).
        forward_keys: also deliver each key press.
        link_timeout_s: how long after start-up the reader may take to come online with a
            secure channel before a ``"link down"`` fault is delivered.
        log_level: libosdp's own log level (an ``osdp.LogLevel``; default ``Warning``,
            which never prints card data). It is process-wide in libosdp.

    Raises:
        ReaderError: no or an unsafe SCBK, a bad address or baud rate, libosdp missing,
            or the port cannot be opened.
    """

    def __init__(
        self,
        port: str,
        *,
        address: int,
        scbk: bytes,
        reader_id: str,
        on_event: EventCallback,
        baud: int = 9600,
        clock: Clock | None = None,
        collector: PinCollector | None = None,
        forward_keys: bool = False,
        link_timeout_s: float = 10.0,
        log_level: int | None = None,
    ) -> None:
        # Check the key *before* touching the port: no secure channel, no reader.
        key = check_scbk(scbk, reader_id)
        if not 0 <= address <= 126:
            raise ReaderError(f"{reader_id}: OSDP address must be 0-126 (127 is broadcast)")
        if baud not in BAUD_RATES:
            raise ReaderError(f"{reader_id}: OSDP baud must be one of {sorted(BAUD_RATES)}")
        if link_timeout_s <= 0:
            raise ReaderError(f"{reader_id}: link_timeout_s must be positive")
        self.reader_id = reader_id
        self.port = port
        self.address = address
        self.clock = clock or SystemClock()
        self.link_timeout_s = float(link_timeout_s)
        self._on_event = on_event
        self._osdp = _import_osdp()
        self._sys = importlib.import_module("osdp_sys")
        self._lock = threading.Lock()
        self._outbox: list[ReaderEvent] = []
        self._pins = PinAssembler(
            self._outbox.append, collector=collector, forward_keys=forward_keys
        )
        self._ticker: Ticker | None = None
        self._started = self._now = self.clock.monotonic()
        self._link_up: bool | None = None  # None: not yet up since start
        self._secure = False
        self._local = [0, 0]
        self._remote: int = 0
        self._fd: int | None = open_serial_port(port, baud)
        try:
            self._channel = FdChannel(self._fd)
            osdp = self._osdp
            flags = [osdp.LibFlag.EnforceSecure]
            info = osdp.PDInfo(address, self._channel, scbk=key, name=reader_id, flags=flags)
            self._sys.set_loglevel(osdp.LogLevel.Warning if log_level is None else log_level)
            self._ctx: Any = self._sys.ControlPanel([info.get()])
            self._ctx.set_event_callback(self._on_osdp_event)
        except Exception:
            self._close_port()
            raise
        logger.info(
            "%s: OSDP reader at address %d on %s (%d baud, secure channel required)",
            reader_id,
            address,
            port,
            baud,
        )

    @property
    def link_up(self) -> bool:
        """True while the reader is online with an active secure channel."""
        return self._link_up is True

    def poll(self, now: float | None = None) -> None:
        """Run the CP once, then deliver what arrived, link faults and PIN timeouts.

        Args:
            now: monotonic time (defaults to the reader's clock).
        """
        now = self.clock.monotonic() if now is None else now
        with self._lock:
            if self._fd is None:
                return
            self._now = now
            self._ctx.refresh()
            self._check_link(now)
            self._pins.poll(now)
            events = self._outbox[:]
            self._outbox.clear()
        for event in events:
            self._on_event(event)

    def start(self, interval_s: float = 0.02) -> None:
        """Run :meth:`poll` every ``interval_s`` on a background thread until :meth:`close`."""
        if self._ticker is None:
            self._ticker = Ticker(f"osdp-{self.reader_id}", interval_s, self.clock, self.poll)

    def close(self) -> None:
        """Stop the thread, drop any partial PIN and close the port. Idempotent."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()
        with self._lock:
            self._pins.reset()
            self._ctx = None
            self._close_port()

    def _close_port(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> OsdpReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- inside the lock -------------------------------------------------------------

    def _fault(self, reason: str, now: float) -> None:
        logger.warning("%s: %s", self.reader_id, reason)
        self._outbox.append(ReaderFault(self.reader_id, reason, now))

    def _check_link(self, now: float) -> None:
        online = bool(self._ctx.status() & 1)
        self._secure = bool(self._ctx.sc_status() & 1)
        if online and self._secure:
            if self._link_up is not True:
                logger.info("%s: OSDP link up, secure channel active", self.reader_id)
            self._link_up = True
        elif self._link_up is True:
            self._link_up = False
            self._pins.reset()
            self._fault("link down", now)
        elif self._link_up is None and now - self._started >= self.link_timeout_s:
            self._link_up = False
            self._fault("link down: reader not online with a secure channel", now)

    def _on_osdp_event(self, pd: int, event: dict[str, Any]) -> int:
        # Called by libosdp from inside refresh(), so under self._lock: queue only.
        # A Python exception must not escape into the C library.
        try:
            self._handle(event, self._now)
        except Exception as exc:
            logger.error(
                "%s: could not handle an OSDP event (%s)", self.reader_id, describe_error(exc)
            )
        return 0

    def _handle(self, event: dict[str, Any], now: float) -> None:
        kinds = self._osdp.Event
        kind = event.get("event")
        if kind == kinds.CardRead:
            self._card(event, now)
        elif kind == kinds.KeyPress:
            self._keys(event, now)
        elif kind == kinds.Status:
            self._status(event, now)
        else:
            logger.debug("%s: OSDP event %s ignored", self.reader_id, kind)

    def _card(self, event: dict[str, Any], now: float) -> None:
        if not bool(self._ctx.sc_status() & 1):
            self._fault("card read without a secure channel: dropped", now)
            return
        fmt = event.get("format")
        data = bytes(event.get("data") or b"")
        formats = self._osdp.CardFormat
        if fmt in (formats.Wiegand, formats.Unspecified):
            try:
                decoded = decode(bits_from_bytes(data, int(event.get("length", 0))))
            except WiegandError as exc:
                self._fault(f"card data rejected: {exc.reason}", now)
                return
            if isinstance(decoded, WiegandCard):
                self._outbox.append(CardRead(self.reader_id, decoded.card, now, decoded.fmt))
            else:  # a keypad burst passed through as raw Wiegand
                self._pins(KeyPress(self.reader_id, decoded.key, now))
        elif fmt == formats.ASCII:
            text = data.decode("ascii", errors="replace").strip()
            if not text.isdigit() or not text.isascii() or len(text) > _MAX_ASCII_DIGITS:
                self._fault("card data rejected: ASCII card data is not decimal digits", now)
                return
            card = CardNumber(facility=None, number=int(text), bits=0, digits=len(text))
            self._outbox.append(CardRead(self.reader_id, card, now, "decimal"))
        else:
            self._fault("card data rejected: unsupported OSDP card format", now)

    def _keys(self, event: dict[str, Any], now: float) -> None:
        for key in keypad_keys(bytes(event.get("data") or b"")):
            if key is None:
                self._pins.reset()
                self._fault("keypad data rejected: not a key code", now)
                return
            self._pins(KeyPress(self.reader_id, key, now))

    def _status(self, event: dict[str, Any], now: float) -> None:
        kinds = self._osdp.StatusReportType
        report = bytes(event.get("report") or b"")
        if event.get("type") == kinds.Local:
            for i, reason in enumerate(_LOCAL_STATUS):
                value = report[i] if i < len(report) else 0
                if value and not self._local[i]:
                    self._fault(reason, now)
                elif not value and self._local[i]:
                    logger.info("%s: %s cleared", self.reader_id, reason)
                self._local[i] = value
        elif event.get("type") == kinds.Remote:
            value = report[0] if report else 0
            if value != self._remote and value in _REMOTE_STATUS:
                self._fault(_REMOTE_STATUS[value], now)
            self._remote = value


def read_scbk(path: Path) -> bytes:
    """The OSDP secure channel base key: 32 hex characters in a file nobody else can read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise GateError(f"OSDP key file {path} not found") from None
    if st.st_mode & 0o077:
        raise GateError(f"OSDP key file {path} has mode {stat.S_IMODE(st.st_mode):04o}; use 0600")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise GateError(f"OSDP key file {path} must hold 32 hexadecimal characters") from None
    if len(key) != 16:
        raise GateError(f"OSDP key file {path} must hold a 16-byte key (32 hex characters)")
    return key


def kinds(cfg: OsdpReaderConfig) -> frozenset[str]:
    """What this reader offers its door: a card and keys."""
    return frozenset({"card", "keypad"})


def build(
    cfg: OsdpReaderConfig, put: EventCallback, *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open a ``type: osdp`` reader on its serial port, secure channel required."""
    adapter = OsdpReader(
        str(cfg.port),
        address=cfg.address,
        scbk=read_scbk(cfg.scbk_file),
        reader_id=cfg.id,
        on_event=put,
        baud=cfg.baud,
        clock=clock,
        collector=pin_collector(cfg.id, cfg.pin),
    )
    adapter.start()
    return BuiltReader(cfg, adapter, None)
