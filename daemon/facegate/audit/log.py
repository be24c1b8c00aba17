"""``AuditLog``: the append-only, hash-chained, signed processing record (Art. 9, 14).

Files ``audit-000001.jsonl``, ``audit-000002.jsonl`` … in ``<state_dir>/audit/`` (0700, files
0600). A file is closed with a signature record once it reaches ``max_bytes``; the next file
opens with a ``file`` record whose ``prev`` is the last hash of the previous file, so the chain
runs on across files and the verifier walks them in order. Signature records are appended every
``batch`` records, every ``sign_every_s`` seconds (see ``maybe_sign``), at rotation and on
close; on open, a tail left unsigned by a crash is signed first (``recovered: true``).

A failed write (``ENOSPC``: the disk is full) never leaves a half line: the file is cut back
to its last whole record and the chain is not advanced. With ``buffer_limit`` (the daemon) the
record is kept in memory, in order, and written by the next ``append``/``flush`` once there is
room (the oldest are dropped beyond the limit, and a ``records_dropped`` record in the chain
says how many); ``write_error`` tells the caller the log is behind. Without it (the commands)
the error is raised and nothing is kept.

Retention: ``prune()`` only ever deletes the oldest *closed* files whose newest record is older
than ``keep_years`` (at least three years, the Measures' minimum for processing records).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import threading
from collections import deque
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from ..clock import Clock, SystemClock
from .records import (
    FILE_KIND,
    GENESIS,
    SIGNATURE_KIND,
    AuditError,
    check_fields,
    check_kind,
    key_id,
    record_hash,
    signed_message,
    subject_id,
)

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_MAX_BYTES",
    "PUBLIC_KEY_FILE",
    "AuditLog",
    "audit_files",
    "signing_key_from_seed",
    "write_public_key",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_BATCH = 64
PUBLIC_KEY_FILE = "verify.pub"
FORMAT_VERSION = 1
YEAR_S = 365.25 * 86_400.0
_FILE_RE = re.compile(r"^audit-(\d{6})\.jsonl$")


def audit_files(folder: Path) -> list[Path]:
    """The log files in chain order (by their number)."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _FILE_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def signing_key_from_seed(seed: bytes) -> SigningKey:
    """An Ed25519 key from a 32-byte seed (``Store.device_key("audit-signing")``)."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return SigningKey(seed)


def write_public_key(folder: Path, public_key: bytes) -> Path:
    """Add ``public_key`` (hex, one per line) to ``folder/verify.pub`` unless already there.

    Older keys stay listed so records signed before a key change still verify.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / PUBLIC_KEY_FILE
    line = public_key.hex()
    known = path.read_text().split() if path.is_file() else []
    if line not in known:
        with path.open("a") as out:
            out.write(line + "\n")
        path.chmod(0o644)  # public on purpose: an auditor verifies without the master key
    return path


def _last_record(path: Path) -> dict[str, Any] | None:
    """The last complete JSON line of ``path`` (reads the file's tail only)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 65_536))
        lines = f.read().splitlines()
    for raw in reversed(lines):
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


class AuditLog:
    """Append-only hash-chained audit records, signed in batches. Thread-safe.

    Args:
        folder: the audit folder (created 0700).
        signing_key: the device's Ed25519 key.
        subject_key: the key of the pseudonym hash (``Store.device_key("audit-subject")``).
        clock: time source (wall time for ``ts``, monotonic for signing intervals).
        max_bytes: a file is rotated once it reaches this size.
        batch: a signature record after this many records.
        sign_every_s: ``maybe_sign()`` signs an unsigned tail older than this.
        keep_years: rotated files are kept at least this long (≥ 3).
        buffer_limit: records kept in memory while writes fail (0: raise at once instead).
    """

    def __init__(
        self,
        folder: Path,
        signing_key: SigningKey,
        subject_key: bytes,
        *,
        clock: Clock | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        batch: int = DEFAULT_BATCH,
        sign_every_s: float = 60.0,
        keep_years: float = 3.0,
        buffer_limit: int = 0,
    ) -> None:
        if max_bytes < 4096:
            raise ValueError("max_bytes must be at least 4096")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if keep_years < 3:
            raise ValueError("audit records are kept at least 3 years (2025 Measures Art. 9)")
        if len(subject_key) < 16:
            raise ValueError("the subject key must be at least 16 bytes")
        self.folder = Path(folder)
        self.clock = clock or SystemClock()
        self.max_bytes = max_bytes
        self.batch = batch
        self.sign_every_s = sign_every_s
        self.keep_years = keep_years
        self._key = signing_key
        self._public = bytes(signing_key.verify_key)
        self._key_id = key_id(self._public)
        self._subject_key = subject_key
        self._lock = threading.RLock()
        self._closed = False
        self.buffer_limit = max(0, buffer_limit)
        self._pending: deque[tuple[str, dict[str, Any], float]] = deque()
        self._dropped = 0  # records dropped from a full buffer, not yet reported in the chain
        self.dropped_total = 0
        self.write_error: OSError | None = None  # the last failed write, until one succeeds
        self._recovery: dict[str, Any] = {}  # for the next signature, if the first one failed
        # (file, offset) of bytes still to cut: a torn line, or a failed write not cut back
        self._torn_at: tuple[Path, int] | None = None
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_public_key(self.folder, self._public)
        self._open_chain()

    # -- public API -----------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        """Fingerprint of the public key this log signs with."""
        return self._key_id

    @property
    def path(self) -> Path:
        """The file being appended to."""
        return self._path

    def subject(self, pseudonym: str) -> str:
        """The keyed hash that stands for ``pseudonym`` in this log."""
        return subject_id(self._subject_key, pseudonym)

    @property
    def pending(self) -> int:
        """Records kept in memory, not yet written (a full disk)."""
        return len(self._pending)

    def append(
        self, kind: str, *, subject: str | None = None, **fields: Any
    ) -> dict[str, Any] | None:
        """Append one record; returns it (as written), or ``None`` when it was kept in memory
        because the write failed (``buffer_limit``; see ``write_error``).

        Args:
            kind: e.g. ``decision``, ``alarm``, ``admin``, ``consent``, ``deletion``.
            subject: the person's pseudonym; stored only as its keyed hash.
            **fields: short strings, numbers, booleans; personal field names are refused.

        Raises:
            AuditFieldError: a field name or value is not allowed.
            RuntimeError: the log is closed.
            OSError: the write failed (without ``buffer_limit``); the file is unchanged.
        """
        check_kind(kind)
        check_fields(fields)
        if subject is not None:
            fields["subject"] = self.subject(subject)
        with self._lock:
            if self._closed:
                raise RuntimeError("the audit log is closed")
            now = self.clock.time()
            if not self.buffer_limit:
                record = self._write(kind, fields, ts=now)
                self._unsigned += 1
                self._housekeeping()
                return record
            self._pending.append((kind, fields, now))
            if len(self._pending) > self.buffer_limit:
                self._pending.popleft()
                self._dropped += 1
                self.dropped_total += 1
            written = self._flush()
            return written.get(id(fields))

    def flush(self) -> bool:
        """Write the records kept in memory, in order; ``True`` when none is left."""
        with self._lock:
            if self._closed:
                return not self._pending
            self._flush()
            return not self._pending and self.write_error is None

    def _flush(self) -> dict[int, dict[str, Any]]:
        written: dict[int, dict[str, Any]] = {}
        try:
            if self._recovery and self._unsigned:
                self._sign()  # the recovery signature (a dropped torn line) comes first
            if self._dropped:
                ts = self._pending[0][2] if self._pending else self.clock.time()
                self._write("records_dropped", {"count": self._dropped}, ts=ts)
                self._dropped = 0
                self._unsigned += 1
            while self._pending:
                kind, fields, ts = self._pending[0]
                written[id(fields)] = self._write(kind, fields, ts=ts)
                self._pending.popleft()
                self._unsigned += 1
                self._housekeeping()
            self._housekeeping()
        except OSError as exc:
            if self.write_error is None:
                logger.error(
                    "audit: cannot write to %s (%s); %d records kept in memory until there is room",
                    self._path,
                    exc.strerror or exc,
                    len(self._pending),
                )
            self.write_error = exc
            return written
        if self.write_error is not None:
            logger.warning("audit: writing again; the records kept in memory are written")
        self.write_error = None
        return written

    def _housekeeping(self) -> None:
        if self._unsigned >= self.batch or (self._recovery and self._unsigned):
            self._sign()
        if self._size >= self.max_bytes:
            self._rotate()

    def maybe_sign(self) -> bool:
        """Sign the unsigned tail if it is older than ``sign_every_s`` (call from the loop)."""
        with self._lock:
            if self._closed or not self._unsigned:
                return False
            if self.clock.monotonic() - self._last_sign_mono < self.sign_every_s:
                return False
            if not self.buffer_limit:
                self._sign()
                return True
            self._flush()
            if not self._unsigned:
                return True  # the flush signed it
            try:
                self._sign()
            except OSError as exc:
                self.write_error = exc
                return False
            return True

    def prune(self) -> list[Path]:
        """Delete the oldest closed files whose newest record is older than ``keep_years``."""
        removed: list[Path] = []
        with self._lock:
            cutoff = self.clock.time() - self.keep_years * YEAR_S
            for path in audit_files(self.folder)[:-1]:  # never the open file
                last = _last_record(path)
                if last is None or float(last.get("ts", 0.0)) >= cutoff:
                    break  # oldest first and contiguous: the chain keeps a single start
                path.unlink()
                removed.append(path)
            if removed:
                self._write("retention", {"files_removed": len(removed)})
                self._unsigned += 1
                self._sign()
        return removed

    def close(self) -> None:
        """Sign whatever is unsigned and close. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pending or self._dropped:
                self._flush()
            if self._pending:
                logger.error(
                    "audit: %d records could not be written (%s) and are lost",
                    len(self._pending),
                    self.write_error,
                )
            if not self._unsigned:
                return
            try:
                self._sign()
            except OSError as exc:
                if not self.buffer_limit:
                    raise
                logger.error("audit: the last records stay unsigned (%s)", exc)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _open_chain(self) -> None:
        self.recovered_bytes = 0  # bytes of a torn last line dropped on opening
        files = audit_files(self.folder)
        self._last_sign_mono = self.clock.monotonic()
        self._unsigned = 0
        if not files:
            self._seq, self._prev = 0, GENESIS
            self._start_file(1)
            self._unsigned = 1
            return
        self._path = files[-1]
        last = _last_record(self._path)
        if last is None:
            raise AuditError(
                f"audit file {self._path} has no readable record; run `facegate audit verify`"
            )
        self._seq, self._prev = int(last["seq"]), str(last["hash"])
        size = self._path.stat().st_size
        keep = self._partial_line_at(size)
        dropped = 0 if keep is None else size - keep
        if keep is not None:
            # Cut with the recovery signature's write (see _raw_write): if that write fails
            # the bytes stay, so a drop is never left unreported.
            self._torn_at = (self._path, keep)
            logger.warning("audit: dropping %d bytes of a half-written record", dropped)
        self.recovered_bytes = dropped
        self._size = size - dropped
        if last.get("kind") != SIGNATURE_KIND or dropped:
            self._unsigned = 1
            self._recovery = {"recovered": True}
            if dropped:
                self._recovery["dropped_bytes"] = dropped
        try:
            self._housekeeping()
        except OSError as exc:
            if not self.buffer_limit:
                raise
            logger.error("audit: cannot write to %s at start (%s)", self._path, exc)
            self.write_error = exc  # the daemon goes on; the signature is written later

    def _partial_line_at(self, data_size: int) -> int | None:
        """Where a half-written last line (a crash during a write) starts, if there is one.

        That record was never completely written, so nothing was acknowledged for it; the
        recovery signature records how many bytes were dropped.
        """
        with self._path.open("rb") as f:
            f.seek(max(0, data_size - 65_536))
            tail = f.read()
        if not tail or tail.endswith(b"\n"):
            return None
        return data_size - len(tail) + tail.rfind(b"\n") + 1

    def _start_file(self, number: int) -> None:
        previous: tuple[Path | None, int] = (
            getattr(self, "_path", None),
            getattr(self, "_size", 0),
        )
        path = self.folder / f"audit-{number:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        os.close(fd)
        self._path, self._size = path, 0
        try:
            self._write(FILE_KIND, {"file": number, "key": self._key_id})
        except OSError:
            # No room for its first record: no file without one; rotate again later.
            path.unlink(missing_ok=True)
            if previous[0] is not None:
                self._path, self._size = previous[0], previous[1]
            raise

    def _rotate(self) -> None:
        if self._unsigned:
            self._sign()
        number = int(_number(self._path)) + 1
        self._start_file(number)
        self._unsigned += 1
        logger.info("audit log rotated to %s", self._path.name)
        try:
            self.prune()
        except OSError:
            logger.exception("audit retention could not remove an old file")

    def _write(
        self, kind: str, fields: dict[str, Any], *, ts: float | None = None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "seq": self._seq + 1,
            "ts": round(self.clock.time() if ts is None else ts, 3),
            "kind": kind,
            "prev": self._prev,
            **fields,
        }
        record["hash"] = record_hash(record)
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        self._raw_write(line.encode())
        self._seq, self._prev = record["seq"], record["hash"]
        return record

    def _sign(self) -> None:
        seq = self._seq + 1
        sig = self._key.sign(signed_message(seq, self._prev)).signature.hex()
        fields: dict[str, Any] = {"key": self._key_id, "count": self._unsigned, "sig": sig}
        fields.update(self._recovery)  # a tail left unsigned by a crash, signed on opening
        self._write(SIGNATURE_KIND, fields)
        self._recovery = {}
        self._unsigned = 0
        self._last_sign_mono = self.clock.monotonic()
        with self._path.open("ab") as f:
            os.fsync(f.fileno())

    def _raw_write(self, data: bytes) -> None:
        """Append one whole line, or nothing: a failed write is cut back off the file."""
        fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            torn = b""
            if self._torn_at is not None and self._torn_at[0] == self._path:
                cut = self._torn_at[1]  # a torn line (or a failed write) is still there
                torn = os.pread(fd, max(0, os.fstat(fd).st_size - cut), cut)
                os.ftruncate(fd, cut)
            start = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    view = view[written:]
            except OSError:
                try:
                    os.ftruncate(fd, start)
                    rest = memoryview(torn if "dropped_bytes" in self._recovery else b"")
                    while rest:  # put it back (it fits: it was just freed)
                        rest = rest[os.write(fd, rest) :]  # cut for good only with its record
                except OSError:
                    self._torn_at = (self._path, start)  # cut before the next write
                    logger.exception("audit: could not cut a failed write off %s", self._path)
                raise
            self._torn_at = None
        finally:
            os.close(fd)
        self._size += len(data)


def _number(path: Path) -> str:
    match = _FILE_RE.match(path.name)
    if match is None:
        raise ValueError(f"not an audit file: {path.name}")
    return match.group(1)
