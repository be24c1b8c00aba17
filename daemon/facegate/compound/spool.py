"""The gate's outbox: events waiting for the broker, on disk, in order, with a bound.

A small SQLite file in the compound folder (``outbox.db``), apart from the gate's store: it is
written by the link's own thread only, and the loop never waits for it. Each event gets the
next number of this outbox (with the outbox's random ``boot`` id, so the office can tell a new
outbox from a replay); an event leaves only once the office has confirmed it (not merely the
broker: a broker that dies, or an office not yet subscribed again, loses nothing). When the
outbox is full the oldest events are dropped, counted; the count travels with every event.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["Outbox"]


class Outbox:
    """``put`` events, ``peek`` the oldest, ``remove`` them once delivered."""

    def __init__(self, path: Path, *, limit: int) -> None:
        self.limit = limit
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old_umask = os.umask(0o077)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        finally:
            os.umask(old_umask)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " body TEXT NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'boot'").fetchone()
        if row is None:
            self.boot = secrets.token_hex(4)
            self._db.execute("INSERT INTO meta VALUES ('boot', ?)", (self.boot,))
        else:
            self.boot = str(row[0])
        row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        self.dropped = 0 if row is None else int(row[0])

    def put(self, events: list[dict[str, Any]]) -> None:
        """Append events in order (one transaction); drop the oldest beyond the bound."""
        if not events:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO outbox (body) VALUES (?)",
                [(json.dumps(e, sort_keys=True),) for e in events],
            )
            over = self.count() - self.limit
            if over > 0:
                self._db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                    (over,),
                )
                self.dropped += over
                self._db.execute(
                    "INSERT INTO meta VALUES ('dropped', ?) ON CONFLICT(key)"
                    " DO UPDATE SET value = excluded.value",
                    (str(self.dropped),),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def peek(self, n: int, after: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """The ``n`` oldest events numbered above ``after``, with their numbers."""
        return [
            (int(seq), json.loads(body))
            for seq, body in self._db.execute(
                "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, n)
            )
        ]

    def remove_through(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))

    def close(self) -> None:
        self._db.close()
