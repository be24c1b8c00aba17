"""Event rows that survive a full disk: written now, or kept in order and written later.

A write that fails (``database or disk is full``, any SQLite or OS error) never reaches the
decision: the door has already acted. The row is kept in a bounded in-memory buffer (the
oldest dropped beyond it, and counted), retried in order every ``retry_every_s``, and the
failure is reported once through ``on_alarm`` (``disk_full`` or ``store_write_failed``) and
cleared once everything, event rows and the audit trail's own buffer, is written again and
the store's reserve (the room it releases to start on a full disk) is back.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any

from ..audit import AuditLog
from ..errors import StoreError
from ..store import Event, Store

__all__ = ["DISK_FULL", "STORE_WRITE_FAILED", "WRITE_ERRORS", "EventRecorder", "failure_kind"]

logger = logging.getLogger(__name__)

DISK_FULL = "disk_full"
STORE_WRITE_FAILED = "store_write_failed"
WRITE_ERRORS = (sqlite3.Error, OSError, StoreError)
BUFFER_EVENTS = 1000  # a day of a busy door; each is a few hundred bytes
RETRY_EVERY_S = 10.0

# on_alarm(kind, cleared, detail)
AlarmSink = Callable[[str, bool, dict[str, Any]], None]


def failure_kind(exc: BaseException) -> str:
    """``disk_full`` for SQLITE_FULL / ENOSPC / EDQUOT (or their cause), else
    ``store_write_failed``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.Error):
            code = getattr(seen, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL or "disk is full" in str(seen):
                return DISK_FULL
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return DISK_FULL
        seen = seen.__cause__ or seen.__context__
    return STORE_WRITE_FAILED


class EventRecorder:
    """Writes event rows through a full disk (see the module docstring).

    Args:
        on_alarm: raises (``cleared=False``) and clears the write alarm; called once each.
        limit: event rows kept in memory at most.
        retry_every_s: how often ``retry`` tries again (monotonic seconds).
    """

    def __init__(
        self,
        on_alarm: AlarmSink,
        *,
        limit: int = BUFFER_EVENTS,
        retry_every_s: float = RETRY_EVERY_S,
    ) -> None:
        self.on_alarm = on_alarm
        self.limit = max(1, limit)
        self.retry_every_s = retry_every_s
        self.store: Store | None = None
        self.audit: AuditLog | None = None
        self.pending: deque[Event] = deque()
        self.dropped = 0  # dropped during the current alarm
        self.written_late = 0  # written from the buffer during the current alarm
        self.alarm: str | None = None  # the active alarm kind, if any
        self._next_retry = 0.0

    def record(self, event: Event) -> None:
        """Write ``event`` now, or keep it (after any kept earlier: rows stay in order)."""
        if self.store is None:
            return
        if self.pending:
            self._keep(event)
            return
        try:
            self.store.record_event(event)
        except WRITE_ERRORS as exc:
            self._keep(event)
            self.failed(exc)

    def failed(self, exc: BaseException, what: str = "event row") -> None:
        """A write failed: raise the alarm once (a retention purge or checkpoint too)."""
        kind = failure_kind(exc)
        if self.alarm is None:
            logger.error("cannot write the %s (%s); the gate keeps deciding", what, exc)
            self.alarm = kind
            self.on_alarm(kind, False, {"pending": len(self.pending), "error": str(exc)[:100]})
        else:
            logger.debug("write still failing (%s)", exc)

    def retry(self, now: float, *, force: bool = False) -> None:
        """Every ``retry_every_s`` while something is behind: write the kept rows in order,
        let the audit trail flush, and clear the alarm once everything is written."""
        if not force and now < self._next_retry:
            return
        self._next_retry = now + self.retry_every_s
        store, audit = self.store, self.audit
        if store is not None and store.reserve_released and self.alarm is None:
            self.failed(
                OSError(errno.ENOSPC, "no room to open the store: its reserve was released"),
                "store at start",
            )
        if audit is not None and self.alarm is None and (audit.pending or audit.write_error):
            error = audit.write_error or OSError(errno.EIO, "audit records not written")
            self.failed(error, "audit record")
        if self.alarm is None:
            return
        while self.pending and self.store is not None:
            try:
                self.store.record_event(self.pending[0])
            except WRITE_ERRORS as exc:
                logger.debug("event rows still cannot be written (%s)", exc)
                return
            self.pending.popleft()
            self.written_late += 1
        if self.audit is not None and not self.audit.flush():
            return
        if self.store is not None:
            if not self.store.make_reserve():
                return  # still (nearly) full: room for the reserve first
            self.store.reserve_released = False
        self._clear()

    def close(self, now: float) -> None:
        """At shutdown: one last try; what still cannot be written is logged as lost."""
        if self.pending or self.alarm is not None:
            self.retry(now, force=True)
        if self.pending:
            logger.error("%d event rows could not be written and are lost", len(self.pending))
            self.pending.clear()

    def _keep(self, event: Event) -> None:
        self.pending.append(event)
        if len(self.pending) > self.limit:
            self.pending.popleft()
            self.dropped += 1
            if self.dropped == 1:
                logger.error(
                    "the event buffer is full (%d rows): the oldest are dropped", self.limit
                )

    def _clear(self) -> None:
        kind, self.alarm = self.alarm, None
        assert kind is not None
        detail = {"written": self.written_late, "dropped": self.dropped}
        logger.warning("writing again: %d kept event rows written, %d dropped", *detail.values())
        self.dropped = self.written_late = 0
        self.on_alarm(kind, True, detail)
