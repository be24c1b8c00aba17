"""The encrypted SQLite store: people, consent records, sealed templates, pseudonymised events.

SQLite in WAL mode, ``secure_delete`` on (deleted rows are overwritten with zeros, not just
unlinked), every change in one transaction. Templates are sealed before they reach SQLite;
the database never sees a plaintext embedding.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clock import Clock, SystemClock
from ..errors import MasterKeyError, StoreError
from . import crypto
from .safety import (
    RESERVE_NAME,
    make_reserve,
    refuse_lost_database,
    release_reserve,
)
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Event", "Store", "new_pseudonym"]

logger = logging.getLogger(__name__)

DB_NAME = "facegate.db"


def new_pseudonym() -> str:
    """A random, meaningless person id (``p-`` + 16 hex digits)."""
    return "p-" + secrets.token_hex(8)


@dataclass(slots=True, frozen=True)
class Event:
    """A pseudonymised access event: no name, no image, no embedding."""

    ts: float
    door: str
    method: str
    result: str
    subject: str | None
    score: float | None
    reason: str


class Store:
    """The device's encrypted state in ``<state_dir>/facegate.db``.

    Args:
        state_dir: folder holding the database (created 0700 if missing).
        master_key: the 32-byte master key (see ``crypto.load_master_key``).
        clock: time source for record timestamps.
    """

    def __init__(self, state_dir: Path, master_key: bytes, *, clock: Clock | None = None) -> None:
        if len(master_key) != crypto.KEY_BYTES:
            raise StoreError("the master key must be 32 bytes")
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_NAME
        self._master = master_key
        self.clock = clock or SystemClock()
        self.checkpoint_error: sqlite3.Error | None = None  # of the last checkpoint()
        self.reserve_released = False  # the store opened only after releasing its reserve
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(
                f"cannot create state folder {self.state_dir}: {exc.strerror}"
            ) from None
        self._refuse_lost_database()
        try:
            self._open()
        except sqlite3.OperationalError as exc:
            # A full disk cannot even map the WAL index (-shm) at start: give the reserve
            # back and try once more, so the gate starts and can say so.
            if not self._release_reserve():
                raise StoreError(
                    f"cannot open {self.path}: {exc} (is {self.state_dir} full?)"
                ) from exc
            logger.error("%s: no room to open the store (%s); reserve released", self.path, exc)
            try:
                self._open()
            except sqlite3.OperationalError as again:
                raise StoreError(
                    f"cannot open {self.path}: {again} (is {self.state_dir} full?)"
                ) from again
        if not self.reserve_released:
            self.make_reserve()

    def _open(self) -> None:
        old_umask = os.umask(0o077)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        finally:
            os.umask(old_umask)
        try:
            self._db.execute("PRAGMA busy_timeout = 5000")
            # Refuse a database we do not understand before any pragma that writes to it.
            self._check_compatible()
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._migrate()
            self._check_key()
        except sqlite3.OperationalError:
            self._db.close()
            raise  # a full disk, an I/O error: the caller decides
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"{self.path} is not a facegate database or is corrupt: {exc}"
            ) from None
        except StoreError:
            self._db.close()
            raise

    # -- the reserve and a lost database (store/safety.py) -----------------------------------

    @property
    def reserve_path(self) -> Path:
        return self.state_dir / RESERVE_NAME

    def make_reserve(self) -> bool:
        """Keep a reserve beside the database while there is room (see ``safety``)."""
        return make_reserve(self.state_dir)

    def _release_reserve(self) -> bool:
        if not release_reserve(self.state_dir):
            return False
        self.reserve_released = True
        return True

    def _refuse_lost_database(self) -> None:
        refuse_lost_database(self.path, self.state_dir, self.key_id)

    def _check_key(self) -> None:
        """Bind the database to its master key by fingerprint; refuse any other key."""
        fingerprint = crypto.key_fingerprint(self._master)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'master_key_id'").fetchone()
        if row is None:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('master_key_id', ?)", (fingerprint,)
                )
        elif row[0] != fingerprint:
            raise MasterKeyError(
                f"{self.path} was sealed with master key {row[0]}, not with the key given "
                f"({fingerprint}); the daemon will not start with the wrong key"
            )

    @property
    def key_id(self) -> str:
        """Fingerprint of the master key this database is sealed with."""
        return crypto.key_fingerprint(self._master)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

        A failed ``COMMIT`` (``database or disk is full``) is rolled back too, and the
        original error is what the caller sees: SQLite may already have rolled the
        transaction back itself, so a ``ROLLBACK`` that fails must not hide it.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.exception("could not roll back a failed transaction on %s", self.path)
            raise

    def _check_compatible(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema v{version}, newer than this facegate understands "
                f"(v{SCHEMA_VERSION}); upgrade facegate instead of downgrading the database"
            )
        if version == 0:
            tables = self._db.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            if tables:
                raise StoreError(
                    f"{self.path} is an SQLite database but not a facegate one; "
                    "refusing to add tables to it"
                )

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as db:
                for statement in MIGRATIONS[target - 1]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
            logger.info("store migrated to schema v%d", target)

    def data_version(self) -> int:
        """SQLite's counter that changes when another connection commits (tamper check)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def checkpoint(self, *, attempts: int = 20, pause_s: float = 0.1) -> bool:
        """Fold the WAL into the database and truncate it, so deleted pages leave no copy.

        A reader holding an old snapshot blocks a full checkpoint; this retries for a while.
        Returns whether the WAL was fully checkpointed and truncated. A checkpoint that
        fails (a full disk: the database file cannot grow) is logged, kept in
        ``checkpoint_error`` and returns ``False``: what was committed stays committed, and
        the next checkpoint folds it in.
        """
        # Wait briefly in SQLite's busy handler and retry here, on the injected clock,
        # instead of blocking for the full busy timeout on every attempt.
        self.checkpoint_error = None
        try:
            self._db.execute("PRAGMA busy_timeout = 50")
            try:
                for attempt in range(attempts):
                    busy, _log, _done = self._db.execute(
                        "PRAGMA wal_checkpoint(TRUNCATE)"
                    ).fetchone()
                    if busy == 0:
                        return True
                    if attempt + 1 < attempts:
                        self.clock.sleep(pause_s)
            finally:
                self._db.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            self.checkpoint_error = exc
            logger.error(
                "WAL checkpoint of %s failed (%s); deleted data stays in %s-wal until the "
                "next checkpoint",
                self.path.name,
                exc,
                self.path.name,
            )
            return False
        logger.warning(
            "WAL checkpoint blocked by another reader; deleted data stays in %s-wal until "
            "the next checkpoint",
            self.path.name,
        )
        return False

    def enroll_many(
        self,
        people: Iterable[np.ndarray],
        *,
        space: str,
        method: str,
        notice_version: str,
        taken_by: str,
        scope: str,
        expires_at: float,
    ) -> list[str]:
        """Create many people, each with a consent record and templates, in one transaction.

        For bulk imports and benchmarks: one transaction. Each element of ``people`` is a
        (k, dim) array of that person's templates; every one expires at ``expires_at``.
        """
        pseudonyms: list[str] = []
        now = self.clock.time()
        with self.transaction() as db:
            for templates in people:
                rows = np.atleast_2d(np.asarray(templates, dtype=np.float32))
                if rows.ndim != 2 or rows.size == 0 or not np.all(np.isfinite(rows)):
                    raise StoreError("each person needs a finite, non-empty (k, dim) array")
                pseudonym = new_pseudonym()
                data_key = crypto.new_data_key()
                consent_id = "c-" + uuid.uuid4().hex[:16]
                db.execute(
                    "INSERT INTO people (pseudonym, wrapped_key, created_at) VALUES (?, ?, ?)",
                    (pseudonym, crypto.seal(self._master, data_key), now),
                )
                db.execute(
                    "INSERT INTO consents (consent_id, pseudonym, given_at, method,"
                    " notice_version, taken_by, scope, separate) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                    (consent_id, pseudonym, now, method, notice_version, taken_by, scope),
                )
                db.executemany(
                    "INSERT INTO templates (pseudonym, consent_id, space, dim, sealed,"
                    " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            pseudonym,
                            consent_id,
                            space,
                            int(row.shape[0]),
                            crypto.seal(data_key, row.astype("<f4").tobytes()),
                            now,
                            expires_at,
                        )
                        for row in rows
                    ],
                )
                pseudonyms.append(pseudonym)
        return pseudonyms

    def iter_templates(self, space: str) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(pseudonym, templates[k, dim])`` for every person with templates in ``space``."""
        keys: dict[str, bytes] = {}
        current: str | None = None
        batch: list[np.ndarray] = []
        cursor = self._db.execute(
            "SELECT t.id, t.pseudonym, t.dim, t.sealed, p.wrapped_key FROM templates t"
            " JOIN people p ON p.pseudonym = t.pseudonym WHERE t.space = ?"
            " ORDER BY t.pseudonym, t.id",
            (space,),
        )
        for row_id, pseudonym, dim, sealed, wrapped in cursor:
            if pseudonym != current:
                if current is not None and batch:
                    yield current, np.stack(batch)
                current, batch = pseudonym, []
                keys.clear()
            key = keys.get(pseudonym)
            if key is None:
                key = crypto.open_sealed(self._master, wrapped, what=f"data key of {pseudonym}")
                keys[pseudonym] = key
            plain = crypto.open_sealed(key, sealed, what=f"template {row_id}")
            if len(plain) != 4 * dim:
                raise StoreError(f"template {row_id} has {len(plain)} bytes, expected {4 * dim}")
            batch.append(np.frombuffer(plain, dtype="<f4").astype(np.float32))
        if current is not None and batch:
            yield current, np.stack(batch)

    def count_people_with_face(self) -> int:
        """Distinct people who currently have at least one stored face template."""
        return int(
            self._db.execute("SELECT COUNT(DISTINCT pseudonym) FROM templates").fetchone()[0]
        )

    # -- access facts for the policy --------------------------------------------------

    def access_rows(
        self,
    ) -> tuple[
        list[tuple[str, float | None, float | None, bool]], list[tuple[str, str, str, str | None]]
    ]:
        """People ``(pseudonym, valid_from, valid_until, has_face)`` and credentials
        ``(pseudonym, kind, lookup, verifier)`` (hashes only; never a raw PIN or card)."""
        people = [
            (p, vf, vu, bool(n))
            for p, vf, vu, n in self._db.execute(
                "SELECT p.pseudonym, p.valid_from, p.valid_until,"
                " (SELECT COUNT(*) FROM templates t WHERE t.pseudonym = p.pseudonym)"
                " FROM people p"
            )
        ]
        creds = [
            (p, k, lookup, verifier)
            for p, k, lookup, verifier in self._db.execute(
                "SELECT pseudonym, kind, lookup, verifier FROM credentials"
                " WHERE valid_until IS NULL OR valid_until > ?",
                (self.clock.time(),),
            )
        ]
        return people, creds

    # -- events --------------------------------------------------------------------------

    def record_event(self, event: Event) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (ts, door, method, result, subject, score, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event.ts,
                    event.door,
                    event.method,
                    event.result,
                    event.subject,
                    None if event.score is None else round(float(event.score), 4),
                    event.reason,
                ),
            )

    def events(self, limit: int = 100) -> list[Event]:
        rows = self._db.execute(
            "SELECT ts, door, method, result, subject, score, reason FROM events"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [Event(*row) for row in reversed(rows)]

    # -- keys --------------------------------------------------------------------------

    def has_device_key(self, name: str) -> bool:
        """Whether the device key ``name`` was ever created (without creating it)."""
        row = self._db.execute("SELECT 1 FROM device_keys WHERE name = ?", (name,)).fetchone()
        return row is not None

    def device_key(self, name: str) -> bytes:
        """A random device key (card hashing, audit pseudonyms), created on first use.

        Stored wrapped by the master key, so it survives master-key rotation unchanged and
        card hashes stay valid.
        """
        row = self._db.execute("SELECT wrapped FROM device_keys WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return crypto.open_sealed(self._master, row[0], what=f"device key {name}")
        key = crypto.new_data_key()
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO device_keys (name, wrapped) VALUES (?, ?)",
                (name, crypto.seal(self._master, key)),
            )
        return self.device_key(name)

    def rotate_master_key(self, new_key: bytes) -> int:
        """Re-wrap every data key and device key under ``new_key`` in one transaction.

        No template or identity ciphertext is decrypted or rewritten. Returns how many keys
        were re-wrapped. The caller swaps the key file (see ``keys.rotate``).
        """
        if len(new_key) != crypto.KEY_BYTES:
            raise StoreError("the new master key must be 32 bytes")
        count = 0
        with self.transaction() as db:
            for table, column, key_col in (
                ("people", "wrapped_key", "pseudonym"),
                ("device_keys", "wrapped", "name"),
            ):
                rows = db.execute(f"SELECT {key_col}, {column} FROM {table}").fetchall()
                for ident, wrapped in rows:
                    plain = crypto.open_sealed(self._master, wrapped, what=f"{table} {ident}")
                    db.execute(
                        f"UPDATE {table} SET {column} = ? WHERE {key_col} = ?",
                        (crypto.seal(new_key, plain), ident),
                    )
                    count += 1
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'master_key_id'",
                (crypto.key_fingerprint(new_key),),
            )
        self._master = new_key
        self.checkpoint()
        return count

    # -- for the lifecycle (store/lifecycle.py, store/retention.py) ----------------------

    def wrap_key(self, data_key: bytes) -> bytes:
        """A person's data key sealed with the master key, as stored in ``people``."""
        return crypto.seal(self._master, data_key)

    def unwrap_key(self, wrapped: bytes, *, what: str) -> bytes:
        """Open a wrapped data key (``what`` names it in the error if it does not open)."""
        return crypto.open_sealed(self._master, wrapped, what=what)

    def query(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run one read-only statement outside a transaction (writes go through
        :meth:`transaction`)."""
        return self._db.execute(sql, params)

    def record(
        self,
        db: sqlite3.Connection,
        kind: str,
        pseudonym: str | None,
        consent_id: str | None,
        detail: dict[str, object],
    ) -> None:
        """Append a processing record (kept for years; never a name or biometric)."""
        db.execute(
            "INSERT INTO processing_records (ts, kind, pseudonym, consent_id, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.clock.time(), kind, pseudonym, consent_id, json.dumps(detail, sort_keys=True)),
        )
