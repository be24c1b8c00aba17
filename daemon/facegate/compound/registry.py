"""The office's records of the compound (``registry.db`` in the office's compound folder).

Gates (their public keys, learned at ``compound join``), every change sent to each gate with
its sequence number and whether the gate answered, the gates' signed answers (deletion
receipts among them, kept), which gates were sent whom, the withdrawals sent because a
person's consent no longer names a gate (``drops``), and the events the gates sent (at most
once each: a gate's outbox number is the key). Names never come here: pseudonyms only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Registry"]

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS gates (
        id TEXT PRIMARY KEY, box_key TEXT NOT NULL, sign_key TEXT NOT NULL,
        cert_fingerprint TEXT NOT NULL, added_at REAL NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS changes (
        gate TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, pseudonym TEXT NOT NULL,
        payload BLOB NOT NULL, issued_at REAL NOT NULL, status TEXT, answered_at REAL,
        PRIMARY KEY (gate, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS changes_open ON changes(gate, seq) WHERE status IS NULL",
    # a person's last change at each gate (``latest``: every send looks it up)
    "CREATE INDEX IF NOT EXISTS changes_person ON changes(pseudonym, gate, seq)",
    """CREATE TABLE IF NOT EXISTS answers (
        gate TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, kind TEXT NOT NULL,
        pseudonym TEXT NOT NULL, signed BLOB NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (gate, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS holdings (
        pseudonym TEXT NOT NULL, gate TEXT NOT NULL, PRIMARY KEY (pseudonym, gate)
    )""",
    # a withdrawal sent because the person's consent no longer names the gate (its scope was
    # narrowed): told apart from a withdrawal of the person everywhere
    """CREATE TABLE IF NOT EXISTS drops (
        gate TEXT NOT NULL, seq INTEGER NOT NULL, pseudonym TEXT NOT NULL,
        PRIMARY KEY (gate, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        gate TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
        received_at REAL NOT NULL, PRIMARY KEY (gate, boot, seq)
    )""",
]


class Registry:
    """Thread-safe (one lock): paho's thread records answers while a command sends changes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA busy_timeout = 5000")
        # NORMAL: an answer lost to a power cut comes again (the gate keeps it and answers a
        # re-sent change the same way), so each answer need not wait for its own fsync.
        self._db.execute("PRAGMA synchronous = NORMAL")
        self.lock = threading.RLock()
        for statement in SCHEMA:
            self._db.execute(statement)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for several changes (a person sent to every gate at once)."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self.lock:
            self._db.close()

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self.lock:
            row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self._db.execute(sql, params))

    # -- gates -------------------------------------------------------------------------------

    def add_gate(self, gate: str, box_key: str, sign_key: str, fingerprint: str, at: float) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO gates (id, box_key, sign_key, cert_fingerprint, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET box_key = excluded.box_key,"
                " sign_key = excluded.sign_key, cert_fingerprint = excluded.cert_fingerprint",
                (gate, box_key, sign_key, fingerprint, at),
            )

    def gates(self) -> dict[str, tuple[str, str]]:
        """``{gate: (box_key, sign_key)}`` (base64 public keys)."""
        return {g: (b, s) for g, b, s in self._all("SELECT id, box_key, sign_key FROM gates")}

    def overview(self) -> list[tuple[str, int, int, int]]:
        """Per gate: ``(id, last change it confirmed, changes unanswered, events kept)``."""
        return [
            (g, int(seq), int(open_), int(events))
            for g, seq, open_, events in self._all(
                "SELECT g.id, g.last_seq,"
                " (SELECT COUNT(*) FROM changes c WHERE c.gate = g.id AND c.status IS NULL),"
                " (SELECT COUNT(*) FROM events e WHERE e.gate = g.id) FROM gates g ORDER BY g.id"
            )
        ]

    # -- changes and answers ------------------------------------------------------------------

    def add_change(
        self, gate: str, kind: str, pseudonym: str, make: Any, at: float, *, drop: bool = False
    ) -> tuple[int, bytes]:
        """Number and store the next change for ``gate``; ``make(seq)`` gives its payload.
        ``drop``: a withdrawal because the person's consent no longer names ``gate``."""
        with self.lock:
            seq = 1 + int(
                self._one("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE gate = ?", (gate,))
            )
            payload: bytes = make(seq)
            self._db.execute(
                "INSERT INTO changes (gate, seq, kind, pseudonym, payload, issued_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (gate, seq, kind, pseudonym, payload, at),
            )
            if kind == "enrol":
                self._db.execute("INSERT OR IGNORE INTO holdings VALUES (?, ?)", (pseudonym, gate))
            if drop:
                self._db.execute("INSERT INTO drops VALUES (?, ?, ?)", (gate, seq, pseudonym))
        return seq, payload

    def changes_after(self, gate: str, seq: int) -> list[bytes]:
        return [
            r[0]
            for r in self._all(
                "SELECT payload FROM changes WHERE gate = ? AND seq > ? ORDER BY seq", (gate, seq)
            )
        ]

    def answered(self, gate: str, seq: int) -> bool:
        status = self._one("SELECT status FROM changes WHERE gate = ? AND seq = ?", (gate, seq))
        return status is not None

    def open_changes(self) -> dict[str, int]:
        """``{gate: its oldest unanswered change}``."""
        return {
            g: int(seq)
            for g, seq in self._all(
                "SELECT gate, MIN(seq) FROM changes WHERE status IS NULL GROUP BY gate"
            )
        }

    def unanswered(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM changes WHERE status IS NULL"))

    def record_answer(
        self, gate: str, seq: int, status: str, kind: str, pseudonym: str, signed: bytes, at: float
    ) -> None:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (gate, seq, status, kind, pseudonym, signed, at),
            )
            self._db.execute(
                "UPDATE changes SET status = COALESCE(status, ?), answered_at ="
                " COALESCE(answered_at, ?) WHERE gate = ? AND seq = ?",
                (status, at, gate, seq),
            )
            self._db.execute(
                "UPDATE gates SET last_seq = MAX(last_seq, ?) WHERE id = ?", (seq, gate)
            )
            self._db.execute("COMMIT")

    def set_seen(self, gate: str, seq: int) -> None:
        with self.lock:
            self._db.execute(
                "UPDATE gates SET last_seq = MAX(last_seq, ?) WHERE id = ?", (seq, gate)
            )

    def latest(self, pseudonym: str) -> dict[str, tuple[int, str, bool]]:
        """``{gate: (seq, kind, dropped)}``: the last change each gate was sent about the person
        (``dropped``: a withdrawal because their consent no longer names the gate)."""
        return {
            g: (int(seq), kind, bool(drop))
            for g, seq, kind, drop in self._all(
                "SELECT c.gate, c.seq, c.kind, EXISTS (SELECT 1 FROM drops d WHERE d.gate = c.gate"
                " AND d.seq = c.seq) FROM changes c WHERE c.pseudonym = ? AND c.seq = (SELECT"
                " MAX(seq) FROM changes l WHERE l.gate = c.gate AND l.pseudonym = c.pseudonym)"
                " ORDER BY c.gate",
                (pseudonym,),
            )
        }

    def answer(self, gate: str, seq: int) -> tuple[str, bytes] | None:
        """``(status, signed answer)`` of one change, once the gate answered it."""
        with self.lock:
            row = self._db.execute(
                "SELECT status, signed FROM answers WHERE gate = ? AND seq = ?", (gate, seq)
            ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def holders(self, pseudonym: str) -> list[str]:
        return [
            r[0]
            for r in self._all(
                "SELECT gate FROM holdings WHERE pseudonym = ? ORDER BY gate", (pseudonym,)
            )
        ]

    def answers(self, pseudonym: str, kind: str) -> dict[str, tuple[str, bytes]]:
        """``{gate: (status, signed answer)}`` for the person's changes of ``kind`` (the
        latest per gate), withdrawals from a gate dropped from their consent's scope aside."""
        return {
            g: (s, bytes(b))
            for g, s, b in self._all(
                "SELECT a.gate, a.status, a.signed FROM answers a WHERE a.pseudonym = ?"
                " AND a.kind = ? AND NOT EXISTS (SELECT 1 FROM drops d WHERE d.gate = a.gate"
                " AND d.seq = a.seq) ORDER BY a.seq",
                (pseudonym, kind),
            )
        }

    def gate_answers(self, gate: str) -> list[bytes]:
        """Every signed answer of one gate, in its sequence."""
        return [
            bytes(r[0])
            for r in self._all("SELECT signed FROM answers WHERE gate = ? ORDER BY seq", (gate,))
        ]

    # -- events --------------------------------------------------------------------------

    def add_event(self, body: dict[str, Any], at: float) -> bool:
        """Keep one event (once: a re-sent one is ignored); whether it was new."""
        with self.lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                (
                    body["gate"],
                    body["boot"],
                    int(body["seq"]),
                    json.dumps(body, sort_keys=True),
                    at,
                ),
            )
            return cur.rowcount == 1

    def purge_events(self, before: float) -> int:
        """Delete events received before ``before`` (retention.event_days); how many."""
        with self.lock:
            return self._db.execute("DELETE FROM events WHERE received_at < ?", (before,)).rowcount

    def has_event(self, gate: str, boot: str, seq: int) -> bool:
        found = self._one(
            "SELECT 1 FROM events WHERE gate = ? AND boot = ? AND seq = ?", (gate, boot, seq)
        )
        return found is not None

    def events(self, gate: str | None = None) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT body FROM events"
            + (" WHERE gate = ?" if gate else "")
            + " ORDER BY gate, boot, seq",
            (gate,) if gate else (),
        )
        return [json.loads(r[0]) for r in rows]
