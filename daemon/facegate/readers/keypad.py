"""A matrix keypad on GPIO rows and columns, scanned through gpiozero.

Rows are outputs held high when idle; columns are inputs with pull-ups. A scan pulls each
row low in turn and reads which columns follow it low: a key at (row, col) is pressed.
:class:`KeyDebouncer` is the pure core (the set of keys seen per scan in, one key press
out once it has been stable for ``debounce_s``); :class:`MatrixKeypad` is the adapter.
:class:`KeypadPinReader` pairs the keypad with a :class:`~facegate.readers.pin_entry.PinCollector`
so the daemon receives :class:`PinEntered` instead of single keys.

Either call :meth:`MatrixKeypad.scan` from your own loop every ``scan_interval_s`` (tests
do, with a ``FakeClock``), or :meth:`~MatrixKeypad.start` a background thread; in that
case ``on_event`` is called from that thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.exc import GPIOZeroError

from ..clock import Clock, SystemClock
from ..config.readers import KeypadReaderConfig
from ._ticker import Ticker
from .built import BuiltReader, pin_collector
from .errors import ReaderError
from .events import EventCallback, KeyPress
from .pin_entry import PinAssembler, PinCollector

__all__ = ["KeyDebouncer", "KeypadPinReader", "MatrixKeypad"]

logger = logging.getLogger(__name__)

_SEVERAL = "<several>"  # more than one key down: ambiguous on a matrix without diodes


class KeyDebouncer:
    """Turns per-scan key sets into single key presses (pure).

    A key press is reported once when exactly one key has been seen down for at least
    ``debounce_s``; it is reported again only after the keypad was seen in another stable
    state (released, or another key). Several keys at once report nothing, since a matrix
    without diodes can show "ghost" keys.

    Args:
        debounce_s: how long a state must hold before it counts.
    """

    def __init__(self, debounce_s: float = 0.04) -> None:
        if debounce_s < 0:
            raise ReaderError("keypad: debounce_s must not be negative")
        self.debounce_s = float(debounce_s)
        self._candidate: str | None = None
        self._since = float("-inf")
        self._latched: str | None = None

    def update(self, pressed: frozenset[str], now: float) -> str | None:
        """Take the keys seen down in one scan at ``now``; returns a newly pressed key."""
        if not pressed:
            candidate = None
        elif len(pressed) == 1:
            (candidate,) = pressed
        else:
            candidate = _SEVERAL
        if candidate != self._candidate:
            self._candidate, self._since = candidate, now
        if now - self._since < self.debounce_s or candidate == self._latched:
            return None
        self._latched = candidate
        return None if candidate in (None, _SEVERAL) else candidate


class MatrixKeypad:
    """A row/column key matrix.

    Args:
        rows: GPIO of each row (outputs, driven low to scan).
        cols: GPIO of each column (inputs with pull-ups).
        keys: the layout, one string per row, one character per column, e.g.
            ``["123", "456", "789", "*0#"]``.
        reader_id: configured reader id, put into every event.
        on_event: receives one :class:`KeyPress` per debounced press.
        pin_factory: gpiozero pin factory (``MockFactory`` in tests).
        clock: time source for debouncing and event stamps.
        scan_interval_s: time between scans of the background thread.
        debounce_s: how long a key must be stable to count.

    Raises:
        ReaderError: the layout does not match the pins, or a pin cannot be used.
    """

    def __init__(
        self,
        rows: Sequence[int | str],
        cols: Sequence[int | str],
        keys: Sequence[str],
        *,
        reader_id: str,
        on_event: EventCallback,
        pin_factory: Any = None,
        clock: Clock | None = None,
        scan_interval_s: float = 0.02,
        debounce_s: float = 0.04,
    ) -> None:
        if not rows or not cols:
            raise ReaderError(f"{reader_id}: a keypad needs at least one row and one column")
        if len(keys) != len(rows) or any(len(line) != len(cols) for line in keys):
            raise ReaderError(
                f"{reader_id}: keys must have {len(rows)} rows of {len(cols)} keys each"
            )
        if scan_interval_s <= 0:
            raise ReaderError(f"{reader_id}: scan_interval_s must be positive")
        self.reader_id = reader_id
        self.clock = clock or SystemClock()
        self.scan_interval_s = float(scan_interval_s)
        self._keys = [list(line) for line in keys]
        self._on_event = on_event
        self._debouncer = KeyDebouncer(debounce_s)
        self._lock = threading.Lock()
        self._ticker: Ticker | None = None
        self._rows: list[OutputDevice] = []
        self._cols: list[DigitalInputDevice] = []
        try:
            for pin in rows:
                # Active-low: "on" pulls the row low; idle rows stay high.
                self._rows.append(
                    OutputDevice(
                        pin, active_high=False, initial_value=False, pin_factory=pin_factory
                    )
                )
            for pin in cols:
                self._cols.append(DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory))
        except GPIOZeroError as exc:
            self._release()
            raise ReaderError(f"{reader_id}: cannot use the keypad GPIO pins: {exc}") from exc
        logger.info("%s: %dx%d matrix keypad", reader_id, len(rows), len(cols))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` released the pins."""
        return not self._rows

    def read_matrix(self) -> frozenset[str]:
        """Drive each row in turn and return the keys whose column followed it low."""
        pressed: set[str] = set()
        for r, row in enumerate(self._rows):
            row.on()
            try:
                for c, col in enumerate(self._cols):
                    if col.is_active:
                        pressed.add(self._keys[r][c])
            finally:
                row.off()
        return frozenset(pressed)

    def scan(self, now: float | None = None) -> KeyPress | None:
        """Scan once; deliver (and return) a :class:`KeyPress` if a key was just pressed.

        Args:
            now: monotonic time (defaults to the keypad's clock).
        """
        now = self.clock.monotonic() if now is None else now
        with self._lock:
            if self.closed:
                return None
            key = self._debouncer.update(self.read_matrix(), now)
        if key is None:
            return None
        event = KeyPress(self.reader_id, key, now)
        self._on_event(event)
        return event

    def poll(self, now: float | None = None) -> None:
        """Scan, unless the background thread already does."""
        if self._ticker is None:
            self.scan(now)

    def start(self) -> None:
        """Scan every ``scan_interval_s`` on a background thread until :meth:`close`."""
        if self._ticker is None:
            self._ticker = Ticker(
                f"keypad-{self.reader_id}", self.scan_interval_s, self.clock, self.scan
            )

    def close(self) -> None:
        """Stop scanning and release the pins (rows left high-impedance). Idempotent."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()
        with self._lock:
            self._release()

    def _release(self) -> None:
        devices: list[Any] = [*self._rows, *self._cols]
        self._rows, self._cols = [], []
        for device in devices:
            device.close()

    def __enter__(self) -> MatrixKeypad:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class KeypadPinReader:
    """A matrix keypad whose key presses come out as PINs.

    Takes the arguments of :class:`MatrixKeypad` plus the PIN rules; ``on_event``
    receives :class:`PinEntered` and :class:`ReaderFault` (and each :class:`KeyPress`
    too when ``forward_keys``).

    Args:
        rows: see :class:`MatrixKeypad`.
        cols: see :class:`MatrixKeypad`.
        keys: see :class:`MatrixKeypad`.
        reader_id: configured reader id.
        on_event: receives PINs and faults.
        collector: PIN rules (defaults to :class:`PinCollector`'s: 4–8 digits, ``#`` to
            end, ``*`` to clear, 10 s between keys).
        forward_keys: also deliver each key press (e.g. to beep).
        pin_factory: gpiozero pin factory.
        clock: time source.
        scan_interval_s: time between scans of the background thread.
        debounce_s: how long a key must be stable to count.
    """

    def __init__(
        self,
        rows: Sequence[int | str],
        cols: Sequence[int | str],
        keys: Sequence[str],
        *,
        reader_id: str,
        on_event: EventCallback,
        collector: PinCollector | None = None,
        forward_keys: bool = False,
        pin_factory: Any = None,
        clock: Clock | None = None,
        scan_interval_s: float = 0.02,
        debounce_s: float = 0.04,
    ) -> None:
        self.reader_id = reader_id
        self.pins = PinAssembler(on_event, collector=collector, forward_keys=forward_keys)
        self.keypad = MatrixKeypad(
            rows,
            cols,
            keys,
            reader_id=reader_id,
            on_event=self.pins,
            pin_factory=pin_factory,
            clock=clock,
            scan_interval_s=scan_interval_s,
            debounce_s=debounce_s,
        )
        self.clock = self.keypad.clock
        self._ticker: Ticker | None = None

    def scan(self, now: float | None = None) -> None:
        """Scan the keypad once and expire a stale partial PIN."""
        now = self.clock.monotonic() if now is None else now
        self.keypad.scan(now)
        self.pins.poll(now)

    def poll(self, now: float | None = None) -> None:
        """Scan (unless the background thread does) and expire a stale partial PIN."""
        now = self.clock.monotonic() if now is None else now
        if self._ticker is None:
            self.keypad.scan(now)
        self.pins.poll(now)

    def start(self) -> None:
        """Scan and expire PINs on a background thread until :meth:`close`."""
        if self._ticker is None:
            self._ticker = Ticker(
                f"keypad-{self.reader_id}", self.keypad.scan_interval_s, self.clock, self.scan
            )

    def close(self) -> None:
        """Stop the thread, forget any partial PIN, release the pins. Idempotent."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()
        self.pins.reset()
        self.keypad.close()

    def __enter__(self) -> KeypadPinReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def kinds(cfg: KeypadReaderConfig) -> frozenset[str]:
    """What this reader offers its door: keys."""
    return frozenset({"keypad"})


def build(
    cfg: KeypadReaderConfig, put: EventCallback, *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open a ``type: keypad`` matrix keypad and start scanning it."""
    adapter = KeypadPinReader(
        cfg.rows,
        cfg.cols,
        cfg.keys,
        reader_id=cfg.id,
        on_event=put,
        pin_factory=pin_factory,
        clock=clock,
        collector=pin_collector(cfg.id, cfg.pin),
    )
    adapter.start()
    return BuiltReader(cfg, adapter, None)
