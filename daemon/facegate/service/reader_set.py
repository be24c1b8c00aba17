"""The card readers and keypads as one way in: every reader's events arrive on one queue.

Readers report from their own threads (gpiozero callbacks, serial ports); the loop drains the
queue once per turn, so cards and PINs are decided on the loop thread like everything else.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator, Sequence
from typing import Any

from ..clock import Clock
from ..config.readers import ReaderConfig
from ..readers import ReaderEvent
from ..readers.registry import BuiltReader, build_reader

__all__ = ["ReaderSet"]

logger = logging.getLogger(__name__)


class ReaderSet:
    """The configured readers and the queue they report to."""

    def __init__(self) -> None:
        self.readers: list[BuiltReader] = []
        self.inbox: queue.SimpleQueue[ReaderEvent] = queue.SimpleQueue()

    def open(self, configs: Sequence[ReaderConfig], *, pin_factory: Any, clock: Clock) -> None:
        """Open every reader (each one's events go to the queue)."""
        for cfg in configs:
            self.readers.append(build_reader(cfg, self.inbox, pin_factory=pin_factory, clock=clock))

    def door_of(self, reader_id: str) -> str | None:
        """The door a reader serves (``None``: not one of ours)."""
        return next((r.cfg.door for r in self.readers if r.cfg.id == reader_id), None)

    def busy_at(self, door: str) -> bool:
        """Someone is typing a PIN on a keypad of ``door``."""
        return any(r.cfg.door == door and r.busy() for r in self.readers)

    def poll(self, now: float) -> Iterator[ReaderEvent]:
        """Let every reader settle, then hand out the queued events."""
        for reader in self.readers:
            reader.poll(now)
        while True:
            try:
                yield self.inbox.get_nowait()
            except queue.Empty:
                return

    def close(self) -> None:
        """Close every reader; a failure is logged and the others are still closed."""
        for reader in self.readers:
            try:
                reader.close()
            except Exception:
                logger.exception("could not close reader %s", reader.cfg.id)
        self.readers.clear()
