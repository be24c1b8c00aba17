"""A Wiegand reader on two GPIO inputs (D0, D1), through gpiozero.

Wiegand sends each bit as a short low pulse (typically 50–100 µs, one every 1–2 ms) on D0
for a 0 or on D1 for a 1; a frame ends when the lines stay quiet. :class:`WiegandFramer`
is the pure core: bits with timestamps in, finished frames out once ``gap_s`` passes
without an edge. :class:`WiegandReader` is the thin adapter: two
``gpiozero.DigitalInputDevice`` with pull-ups whose ``when_activated`` (falling edge)
callbacks feed the framer, and a :meth:`WiegandReader.poll` the daemon's loop calls to
close frames and deliver events. Events are only ever delivered from ``poll()``, on the
caller's thread, never from gpiozero's callback thread.

Edge timing on a Pi: with gpiozero's ``lgpio`` pin factory, edges are detected by the
kernel and queued by lgpio's alert thread, which calls gpiozero with each edge's kernel
timestamp (lgpio's ``tick``, in ns; gpiozero divides it to seconds and passes it to the
pin-level ``pin.when_changed(ticks, state)``). No pulse is lost to Python latency.
This adapter stamps each edge with the injected clock when its callback runs, which keeps
it testable on ``MockFactory`` with a ``FakeClock``; the default 25 ms gap is more than
ten bit intervals, so arrival-time jitter does not split frames. Should a loaded Pi ever
stall the callback thread for longer than ``gap_s`` mid-frame, switch to the pin-level
ticks (``factory.ticks_diff(later, earlier)``) for the gap measurement.

Wiring: most readers drive 5 V; put a level shifter or divider between them and the
3.3 V GPIO inputs.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from gpiozero import DigitalInputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..config.readers import WiegandReaderConfig
from .built import BuiltReader, pin_collector
from .errors import ReaderError, WiegandError
from .events import CardRead, EventCallback, KeyPress, ReaderEvent, ReaderFault
from .pin_entry import PinAssembler
from .wiegand import WiegandCard, decode

__all__ = ["RawFrame", "WiegandFramer", "WiegandReader", "frame_event"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, repr=False)
class RawFrame:
    """The bits of one frame (at most ``max_bits``) and how many edges it really had."""

    bits: tuple[int, ...]
    count: int
    at: float

    def __repr__(self) -> str:
        return f"RawFrame(<{self.count} bits, hidden>, at={self.at!r})"


class WiegandFramer:
    """Groups timestamped bits into frames separated by a quiet gap (pure, not thread-safe).

    Args:
        gap_s: silence after the last edge that ends a frame.
        max_bits: bits kept per frame; longer bursts are counted but not stored.
    """

    def __init__(self, *, gap_s: float = 0.025, max_bits: int = 64) -> None:
        if gap_s <= 0:
            raise ReaderError("wiegand: gap_s must be positive")
        if max_bits < 34:
            raise ReaderError("wiegand: max_bits must be at least 34")
        self.gap_s = float(gap_s)
        self.max_bits = int(max_bits)
        self._bits: list[int] = []
        self._count = 0
        self._last: float | None = None

    @property
    def pending(self) -> int:
        """Bits received for the frame still open."""
        return self._count

    def edge(self, bit: int, now: float) -> RawFrame | None:
        """Record one bit at ``now``; returns the previous frame if the gap had closed it."""
        closed = self.poll(now)
        if self._count < self.max_bits:
            self._bits.append(bit)
        self._count += 1
        self._last = now
        return closed

    def poll(self, now: float) -> RawFrame | None:
        """Close and return the open frame if ``gap_s`` has passed since its last edge."""
        if self._last is None or now - self._last < self.gap_s:
            return None
        frame = RawFrame(tuple(self._bits), self._count, self._last)
        self._bits, self._count, self._last = [], 0, None
        return frame


def frame_event(reader_id: str, frame: RawFrame, at: float) -> ReaderEvent:
    """The event for one closed frame: a card, a key, or a fault with a log-safe reason."""
    if frame.count > len(frame.bits):
        return ReaderFault(reader_id, f"frame too long ({frame.count} bits)", at)
    try:
        decoded = decode(frame.bits)
    except WiegandError as exc:
        return ReaderFault(reader_id, exc.reason, at)
    if isinstance(decoded, WiegandCard):
        return CardRead(reader_id, decoded.card, at, decoded.fmt)
    return KeyPress(reader_id, decoded.key, at)


class WiegandReader:
    """A Wiegand reader or keypad on two GPIO pins.

    Args:
        d0_pin: GPIO of the D0 (green) line.
        d1_pin: GPIO of the D1 (white) line.
        reader_id: configured reader id, put into every event.
        on_event: receives :class:`CardRead`, :class:`KeyPress` (keypad bursts) and
            :class:`ReaderFault`; wrap it in a :class:`~facegate.readers.pin_entry.PinAssembler`
            to get PINs from a Wiegand keypad.
        pin_factory: gpiozero pin factory (``MockFactory`` in tests).
        clock: time source for edge stamps and the gap.
        gap_s: quiet time that ends a frame.
        max_bits: longest burst kept; longer ones become a fault.

    Raises:
        ReaderError: a pin cannot be used.
    """

    def __init__(
        self,
        d0_pin: int | str,
        d1_pin: int | str,
        *,
        reader_id: str,
        on_event: EventCallback,
        pin_factory: Any = None,
        clock: Clock | None = None,
        gap_s: float = 0.025,
        max_bits: int = 64,
    ) -> None:
        self.reader_id = reader_id
        self.clock = clock or SystemClock()
        self._on_event = on_event
        self._framer = WiegandFramer(gap_s=gap_s, max_bits=max_bits)
        self._lock = threading.Lock()
        self._ready: deque[RawFrame] = deque()
        self._devices: list[DigitalInputDevice] = []
        try:
            for pin in (d0_pin, d1_pin):
                # Pull-ups hold the idle lines high; a reader pulls one low per bit.
                self._devices.append(DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory))
        except GPIOZeroError as exc:
            self.close()
            raise ReaderError(
                f"{reader_id}: cannot use GPIO {d0_pin}/{d1_pin} for Wiegand: {exc}"
            ) from exc
        self._devices[0].when_activated = self._on_d0
        self._devices[1].when_activated = self._on_d1
        logger.info("%s: Wiegand reader on GPIO D0=%s D1=%s", reader_id, d0_pin, d1_pin)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` released the pins."""
        return not self._devices

    def _on_d0(self) -> None:
        self._edge(0)

    def _on_d1(self) -> None:
        self._edge(1)

    def _edge(self, bit: int) -> None:
        # Runs on gpiozero's callback thread: record only, deliver from poll().
        now = self.clock.monotonic()
        with self._lock:
            closed = self._framer.edge(bit, now)
            if closed is not None:
                self._ready.append(closed)

    def poll(self, now: float | None = None) -> None:
        """Close a frame whose gap has passed and deliver the events of finished frames.

        Args:
            now: monotonic time (defaults to the reader's clock).
        """
        now = self.clock.monotonic() if now is None else now
        with self._lock:
            closed = self._framer.poll(now)
            if closed is not None:
                self._ready.append(closed)
            frames = list(self._ready)
            self._ready.clear()
        for frame in frames:
            event = frame_event(self.reader_id, frame, frame.at)
            if isinstance(event, ReaderFault):
                logger.warning("%s: Wiegand frame rejected: %s", self.reader_id, event.reason)
            self._on_event(event)

    def close(self) -> None:
        """Release both pins. Safe to call more than once."""
        devices, self._devices = self._devices, []
        for device in devices:
            device.close()

    def __enter__(self) -> WiegandReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def kinds(cfg: WiegandReaderConfig) -> frozenset[str]:
    """What this reader offers its door: a card, and keys when ``keypad`` is set."""
    return frozenset({"card", "keypad"}) if cfg.keypad else frozenset({"card"})


def build(
    cfg: WiegandReaderConfig, put: EventCallback, *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open a ``type: wiegand`` reader; its key bursts pass a PIN assembler on the way."""
    assembler = PinAssembler(put, collector=pin_collector(cfg.id, cfg.pin))
    adapter = WiegandReader(
        cfg.d0,
        cfg.d1,
        reader_id=cfg.id,
        on_event=assembler,
        pin_factory=pin_factory,
        clock=clock,
        gap_s=cfg.gap_s,
    )
    return BuiltReader(cfg, adapter, assembler)
