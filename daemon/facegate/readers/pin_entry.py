"""Key presses to PINs: a pure collector, in the manner of ESPHome's ``key_collector``.

Readers only report keys; :class:`PinCollector` decides when a PIN is complete. It takes
values (a key, the time) and returns values (a :class:`PinEntered`, a
:class:`ReaderFault` or nothing), so every rule is tested without hardware or sleeping.
:class:`PinAssembler` is the thin adapter that sits between any reader's ``on_event`` and
the daemon, keeping one collector per reader so two keypads never mix digits.
"""

from __future__ import annotations

import logging
import threading

from ..errors import ConfigError
from .events import EventCallback, FaceRequested, KeyPress, PinEntered, ReaderEvent, ReaderFault

__all__ = ["PinAssembler", "PinCollector"]

logger = logging.getLogger(__name__)

DIGITS = "0123456789"


class PinCollector:
    """Collects keys from one reader into PINs.

    Rules, in order, for each key:

    * a *clear* key discards the partial entry (no event);
    * an *end* key finishes it: fewer than ``min_length`` keys → fault ``"PIN too short"``;
      a lone end key with nothing typed is ignored;
    * a key that is neither allowed, end nor clear discards the entry → fault
      ``"key not allowed in a PIN"``;
    * an allowed key is appended; with ``end_key_required=False`` reaching ``max_length``
      finishes the entry; with ``end_key_required=True`` one key beyond ``max_length`` →
      fault ``"PIN too long"``, and further keys are swallowed until an end key, a clear
      key or the timeout, so the tail of an overlong entry can never become a PIN.

    A partial entry expires ``timeout_s`` after its last key: :meth:`poll` then returns a
    ``"timeout"`` fault.

    Args:
        reader_id: id put into the events.
        min_length: fewest keys in a PIN.
        max_length: most keys in a PIN.
        end_keys: keys that finish an entry.
        clear_keys: keys that discard an entry.
        allowed_keys: keys a PIN is made of.
        timeout_s: seconds allowed between keys; ``None`` for no timeout.
        end_key_required: if False, reaching ``max_length`` finishes the entry.
        face_keys: keys that ask for face entry when no PIN is being typed (a *clear* key
            may double as one: with nothing typed it has nothing to clear).

    Raises:
        ConfigError: the rules contradict each other.
    """

    def __init__(
        self,
        reader_id: str,
        *,
        min_length: int = 4,
        max_length: int = 8,
        end_keys: str = "#",
        clear_keys: str = "*",
        allowed_keys: str = DIGITS,
        timeout_s: float | None = 10.0,
        end_key_required: bool = True,
        face_keys: str = "",
    ) -> None:
        if min_length < 1:
            raise ConfigError("pin -> min_length must be at least 1")
        if max_length < min_length:
            raise ConfigError("pin -> max_length must not be less than min_length")
        if not allowed_keys:
            raise ConfigError("pin -> allowed_keys must not be empty")
        ends, clears, allowed = frozenset(end_keys), frozenset(clear_keys), frozenset(allowed_keys)
        if ends & clears or ends & allowed or clears & allowed:
            raise ConfigError("pin -> end_keys, clear_keys and allowed_keys must not overlap")
        if frozenset(face_keys) & (ends | allowed):
            raise ConfigError("pin -> face_key must not be a digit or an end key")
        if end_key_required and not ends:
            raise ConfigError("pin -> end_key_required needs at least one end key")
        if timeout_s is not None and timeout_s <= 0:
            raise ConfigError("pin -> timeout_s must be positive (or null for no timeout)")
        self.reader_id = reader_id
        self.min_length = min_length
        self.max_length = max_length
        self.end_keys = end_keys
        self.clear_keys = clear_keys
        self.allowed_keys = allowed_keys
        self.timeout_s = timeout_s
        self.end_key_required = end_key_required
        self.face_keys = face_keys
        self._ends, self._clears, self._allowed = ends, clears, allowed
        self._buffer: list[str] = []
        self._last_at: float | None = None
        self._overflow = False

    def for_reader(self, reader_id: str) -> PinCollector:
        """A fresh collector with the same rules for another reader."""
        return PinCollector(
            reader_id,
            min_length=self.min_length,
            max_length=self.max_length,
            end_keys=self.end_keys,
            clear_keys=self.clear_keys,
            allowed_keys=self.allowed_keys,
            timeout_s=self.timeout_s,
            end_key_required=self.end_key_required,
            face_keys=self.face_keys,
        )

    @property
    def pending(self) -> int:
        """How many keys of an unfinished entry are held."""
        return len(self._buffer)

    @property
    def busy(self) -> bool:
        """True while an entry is in progress (including a swallowed overlong one)."""
        return bool(self._buffer) or self._overflow

    def reset(self) -> None:
        """Discard any partial entry."""
        self._buffer.clear()
        self._last_at = None
        self._overflow = False

    def feed(self, key: str, now: float) -> PinEntered | ReaderFault | None:
        """Take one key pressed at ``now``.

        If the previous partial entry had already expired (``poll`` was not called in
        time), it is discarded first and the key starts a new entry; the ``"timeout"``
        fault is returned unless the key itself produced an event.

        Returns:
            A :class:`PinEntered` when the entry is complete, a :class:`ReaderFault` when
            it was rejected, else ``None``.
        """
        expired = self.poll(now)
        result = self._accept(key, now)
        if result is None:
            return expired
        return result

    def poll(self, now: float) -> ReaderFault | None:
        """Expire a partial entry whose last key is ``timeout_s`` old.

        Returns:
            A ``"timeout"`` fault if keys were discarded, else ``None``.
        """
        if self.timeout_s is None or self._last_at is None:
            return None
        if now - self._last_at < self.timeout_s:
            return None
        had_keys = bool(self._buffer)
        self.reset()
        if not had_keys:
            return None  # an overlong entry already reported its fault
        logger.info("%s: partial PIN entry timed out", self.reader_id)
        return ReaderFault(self.reader_id, "timeout", now)

    def _accept(self, key: str, now: float) -> PinEntered | ReaderFault | None:
        if key in self._clears:
            self.reset()
            return None
        if key in self._ends:
            if self._overflow or not self._buffer:
                self.reset()
                return None
            if len(self._buffer) < self.min_length:
                return self._fault("PIN too short", now)
            return self._finish(now)
        if key not in self._allowed:
            return self._fault("key not allowed in a PIN", now)
        self._last_at = now
        if self._overflow:
            return None
        if len(self._buffer) >= self.max_length:
            fault = self._fault("PIN too long", now)
            self._overflow, self._last_at = True, now
            return fault
        self._buffer.append(key)
        if not self.end_key_required and len(self._buffer) == self.max_length:
            return self._finish(now)
        return None

    def _finish(self, now: float) -> PinEntered:
        pin = "".join(self._buffer)
        self.reset()
        return PinEntered(self.reader_id, pin, now)

    def _fault(self, reason: str, now: float) -> ReaderFault:
        self.reset()
        logger.info("%s: PIN entry rejected: %s", self.reader_id, reason)
        return ReaderFault(self.reader_id, reason, now)


class PinAssembler:
    """An ``on_event`` filter turning :class:`KeyPress` events into PINs.

    Wrap the daemon's callback and hand this object to a reader as its ``on_event``:
    key presses go to a per-reader :class:`PinCollector` and come out as
    :class:`PinEntered` or :class:`ReaderFault`; a face key pressed with no PIN being typed
    comes out as :class:`FaceRequested`; every other event passes through.
    Call :meth:`poll` from the main loop so partial entries time out. Thread-safe, since
    readers may call it from their own threads.

    Args:
        on_event: where PINs, faults and other events go.
        collector: the rules (its ``reader_id`` is ignored; one copy is made per reader).
        forward_keys: also pass each :class:`KeyPress` on (e.g. for a beep per key).
    """

    def __init__(
        self,
        on_event: EventCallback,
        *,
        collector: PinCollector | None = None,
        forward_keys: bool = False,
    ) -> None:
        self._on_event = on_event
        self._template = collector or PinCollector("template")
        self._forward_keys = forward_keys
        self._collectors: dict[str, PinCollector] = {}
        self._lock = threading.Lock()

    def __call__(self, event: ReaderEvent) -> None:
        if not isinstance(event, KeyPress):
            self._on_event(event)
            return
        with self._lock:
            collector = self._collectors.get(event.reader)
            if collector is None:
                collector = self._collectors[event.reader] = self._template.for_reader(event.reader)
            result: ReaderEvent | None
            if event.key in collector.face_keys and not collector.busy:
                result = FaceRequested(event.reader, event.at)
            elif event.key in collector.face_keys and event.key not in collector.clear_keys:
                result = None  # a face key while a PIN is typed: ignored, the PIN goes on
            else:
                result = collector.feed(event.key, event.at)
        if self._forward_keys:
            self._on_event(event)
        if result is not None:
            self._on_event(result)

    def busy(self) -> bool:
        """Whether someone is part-way through typing a PIN on any of its readers."""
        with self._lock:
            return any(c.busy for c in self._collectors.values())

    def poll(self, now: float) -> None:
        """Deliver ``"timeout"`` faults for partial entries that expired by ``now``."""
        with self._lock:
            faults = [f for c in self._collectors.values() if (f := c.poll(now)) is not None]
        for fault in faults:
            self._on_event(fault)

    def reset(self) -> None:
        """Discard every partial entry (e.g. when the door opened by another means)."""
        with self._lock:
            for collector in self._collectors.values():
                collector.reset()
