"""USB HID card readers that "type" the card number and press Enter.

Many cheap 125 kHz / 13.56 MHz readers are USB keyboards: on each card they type its
number in decimal and press Enter. Left to the console, those keystrokes would land in
a login prompt, so :class:`HidCardReader` grabs the input device (``EVIOCGRAB`` via
``evdev``) and turns the keystrokes into :class:`CardRead` events itself.

:class:`KeystrokeAssembler` is the pure core: Linux key codes in, a card or a fault out.
It knows the main-row and keypad digits and both Enter keys; any other key, too many
digits, too few digits, or a number left without its Enter for ``timeout_s`` discard the
buffer and give a :class:`ReaderFault` (one per garbled read: the rest of it up to Enter
is swallowed). Key codes are the kernel's stable ABI (``linux/input-event-codes.h``), so
the core needs no ``evdev`` import and is tested without it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from ..clock import Clock, SystemClock
from ..config.readers import HidReaderConfig
from .built import BuiltReader
from .errors import ReaderError
from .events import CardNumber, CardRead, EventCallback, ReaderFault

__all__ = ["DIGIT_KEYS", "ENTER_KEYS", "HidCardReader", "KeystrokeAssembler"]

logger = logging.getLogger(__name__)

EV_KEY = 0x01
KEY_DOWN = 1  # evdev values: 0 up, 1 down, 2 autorepeat

DIGIT_KEYS: dict[int, str] = {
    # KEY_1 .. KEY_9, KEY_0 on the main row
    2: "1", 3: "2", 4: "3", 5: "4", 6: "5", 7: "6", 8: "7", 9: "8", 10: "9", 11: "0",
    # KEY_KP7 KEY_KP8 KEY_KP9, KEY_KP4 KEY_KP5 KEY_KP6, KEY_KP1 KEY_KP2 KEY_KP3, KEY_KP0
    71: "7", 72: "8", 73: "9", 75: "4", 76: "5", 77: "6", 79: "1", 80: "2", 81: "3", 82: "0",
}  # fmt: skip
"""Linux key code → digit, for ``KEY_0``–``KEY_9`` and ``KEY_KP0``–``KEY_KP9``."""

ENTER_KEYS = frozenset({28, 96})
"""``KEY_ENTER`` and ``KEY_KPENTER``."""


class KeystrokeAssembler:
    """Assembles key-down codes into decimal card numbers (pure, not thread-safe).

    Args:
        reader_id: id put into the events.
        min_digits: fewest digits accepted.
        max_digits: most digits accepted.
        timeout_s: seconds allowed between keystrokes of one card.
    """

    def __init__(
        self,
        reader_id: str,
        *,
        min_digits: int = 4,
        max_digits: int = 20,
        timeout_s: float = 1.0,
    ) -> None:
        if not 1 <= min_digits <= max_digits:
            raise ReaderError(f"{reader_id}: need 1 <= min_digits <= max_digits")
        if timeout_s <= 0:
            raise ReaderError(f"{reader_id}: timeout_s must be positive")
        self.reader_id = reader_id
        self.min_digits = min_digits
        self.max_digits = max_digits
        self.timeout_s = float(timeout_s)
        self._digits: list[str] = []
        self._swallowing = False  # a fault was reported; ignore keys up to Enter
        self._last: float | None = None

    @property
    def busy(self) -> bool:
        """True while a number (or the rest of a rejected one) is being typed."""
        return bool(self._digits) or self._swallowing

    def reset(self) -> None:
        """Discard anything typed so far."""
        self._digits.clear()
        self._swallowing = False
        self._last = None

    def key(self, code: int, now: float) -> CardRead | ReaderFault | None:
        """Take one key-down ``code`` at ``now``.

        Returns:
            A :class:`CardRead` on Enter after an acceptable number, a
            :class:`ReaderFault` when the read is rejected, else ``None``.
        """
        expired = self.poll(now)
        result = self._key(code, now)
        return expired if result is None else result

    def poll(self, now: float) -> ReaderFault | None:
        """Reject a number whose Enter did not come within ``timeout_s`` of its last key."""
        if self._last is None or now - self._last < self.timeout_s:
            return None
        had_digits = bool(self._digits)
        self.reset()
        return self._fault("incomplete card number (no Enter)", now) if had_digits else None

    def _key(self, code: int, now: float) -> CardRead | ReaderFault | None:
        if code in ENTER_KEYS:
            digits, swallowing = self._digits[:], self._swallowing
            self.reset()
            if swallowing or not digits:
                return None
            if len(digits) < self.min_digits:
                return self._fault(f"card number too short ({len(digits)} digits)", now)
            text = "".join(digits)
            card = CardNumber(facility=None, number=int(text), bits=0, digits=len(text))
            return CardRead(self.reader_id, card, now, "decimal")
        self._last = now
        if self._swallowing:
            return None
        digit = DIGIT_KEYS.get(code)
        if digit is None:
            return self._swallow("non-digit key from card reader", now)
        if len(self._digits) >= self.max_digits:
            return self._swallow(f"card number too long (over {self.max_digits} digits)", now)
        self._digits.append(digit)
        return None

    def _swallow(self, reason: str, now: float) -> ReaderFault:
        self._digits.clear()
        self._swallowing, self._last = True, now
        return self._fault(reason, now)

    def _fault(self, reason: str, now: float) -> ReaderFault:
        logger.warning("%s: card read rejected: %s", self.reader_id, reason)
        return ReaderFault(self.reader_id, reason, now)


def _open_evdev(path: str) -> Any:
    try:
        evdev = importlib.import_module("evdev")
    except ImportError as exc:
        raise ReaderError(
            "USB HID card readers need the 'evdev' package: pip install 'facegate[pi]' "
            "(or apt install python3-evdev)"
        ) from exc
    return evdev.InputDevice(path)


class HidCardReader:
    """A USB "keyboard wedge" card reader, read through ``evdev`` with the device grabbed.

    Call :meth:`poll` from the daemon's loop (or select on :meth:`fileno`); events are
    delivered from it. If the reader is unplugged, one ``"device disconnected"`` fault is
    delivered and the device is reopened every ``reopen_s`` until it is back.

    Args:
        device_path: the reader's event device; prefer the stable
            ``/dev/input/by-id/usb-…-event-kbd`` link over ``/dev/input/eventN``.
        reader_id: configured reader id, put into every event.
        on_event: receives :class:`CardRead` and :class:`ReaderFault`.
        min_digits: fewest digits accepted.
        max_digits: most digits accepted.
        clock: time source.
        timeout_s: seconds allowed between keystrokes of one card.
        reopen_s: seconds between attempts to reopen a lost device.
        device_factory: opens the device from its path (``evdev.InputDevice`` by default;
            tests pass a fake). The object needs ``read()``, ``grab()``, ``ungrab()``,
            ``close()`` and ``fileno()`` like ``evdev.InputDevice``.

    Raises:
        ReaderError: ``evdev`` is missing, or the device cannot be opened or grabbed.
    """

    def __init__(
        self,
        device_path: str,
        *,
        reader_id: str,
        on_event: EventCallback,
        min_digits: int = 4,
        max_digits: int = 20,
        clock: Clock | None = None,
        timeout_s: float = 1.0,
        reopen_s: float = 5.0,
        device_factory: Callable[[str], Any] | None = None,
    ) -> None:
        self.reader_id = reader_id
        self.device_path = device_path
        self.clock = clock or SystemClock()
        self.reopen_s = float(reopen_s)
        self._on_event = on_event
        self._assembler = KeystrokeAssembler(
            reader_id, min_digits=min_digits, max_digits=max_digits, timeout_s=timeout_s
        )
        self._factory = device_factory or _open_evdev
        self._closed = False
        self._reopen_at: float | None = None
        self._device: Any = self._open()
        logger.info("%s: USB HID card reader on %s (grabbed)", reader_id, device_path)

    def _open(self) -> Any:
        try:
            device = self._factory(self.device_path)
        except ReaderError:
            raise
        except OSError as exc:
            raise ReaderError(
                f"{self.reader_id}: cannot open {self.device_path}: {exc.strerror or exc} "
                "(is the user in the 'input' group?)"
            ) from exc
        try:
            # Exclusive: the typed digits must not also reach a console or another program.
            device.grab()
        except OSError as exc:
            device.close()
            raise ReaderError(
                f"{self.reader_id}: cannot grab {self.device_path} (another program holds "
                f"it?): {exc.strerror or exc}"
            ) from exc
        return device

    @property
    def connected(self) -> bool:
        """True while the device is open and grabbed."""
        return self._device is not None

    def fileno(self) -> int:
        """The device's file descriptor, for ``select``; -1 while disconnected."""
        return -1 if self._device is None else int(self._device.fileno())

    def poll(self, now: float | None = None) -> None:
        """Read every pending keystroke, deliver finished cards and faults.

        Args:
            now: monotonic time (defaults to the reader's clock).
        """
        if self._closed:
            return
        now = self.clock.monotonic() if now is None else now
        if self._device is None:
            self._try_reopen(now)
            return
        for code in self._key_downs():
            result = self._assembler.key(code, now)
            if result is not None:
                self._on_event(result)
        if self._device is None:
            self._assembler.reset()
            self._on_event(ReaderFault(self.reader_id, "device disconnected", now))
            self._reopen_at = now + self.reopen_s
            return
        expired = self._assembler.poll(now)
        if expired is not None:
            self._on_event(expired)

    def _key_downs(self) -> Iterable[int]:
        codes: list[int] = []
        try:
            for event in self._device.read():
                if event.type == EV_KEY and event.value == KEY_DOWN:
                    codes.append(event.code)
        except BlockingIOError:
            pass  # nothing (more) to read
        except OSError as exc:
            logger.warning("%s: lost %s: %s", self.reader_id, self.device_path, exc.strerror or exc)
            self._drop_device()
        return codes

    def _try_reopen(self, now: float) -> None:
        if self._reopen_at is not None and now < self._reopen_at:
            return
        try:
            self._device = self._open()
        except ReaderError as exc:
            logger.debug("%s: still unavailable: %s", self.reader_id, exc)
            self._reopen_at = now + self.reopen_s
            return
        self._reopen_at = None
        logger.info("%s: %s is back", self.reader_id, self.device_path)

    def _drop_device(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        with contextlib.suppress(OSError):
            device.close()

    def close(self) -> None:
        """Release the grab and close the device. Safe to call more than once."""
        self._closed = True
        self._assembler.reset()
        device = self._device
        if device is not None:
            with contextlib.suppress(OSError):  # already gone
                device.ungrab()
        self._drop_device()

    def __enter__(self) -> HidCardReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def kinds(cfg: HidReaderConfig) -> frozenset[str]:
    """What this reader offers its door: a card."""
    return frozenset({"card"})


def build(
    cfg: HidReaderConfig, put: EventCallback, *, pin_factory: Any, clock: Clock
) -> BuiltReader:
    """Open a ``type: hid`` USB card reader (``pin_factory`` is unused: no GPIO)."""
    adapter = HidCardReader(
        str(cfg.device),
        reader_id=cfg.id,
        on_event=put,
        min_digits=cfg.min_digits,
        max_digits=cfg.max_digits,
        clock=clock,
    )
    return BuiltReader(cfg, adapter, None)
