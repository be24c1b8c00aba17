"""``verify()``: walk the audit files in order and report the first broken record.

Checks, record by record: the line is JSON; its ``hash`` matches its canonical bytes; ``seq``
is one more than the last; ``prev`` is the last record's hash (across files); a signature
record's Ed25519 signature is valid for a listed public key. Only the public key is needed
(``verify.pub`` beside the log), never the master key.

Limit, stated plainly: records after the last signature (``unsigned_tail``) are chained but not
yet signed, and a chain cannot show that whole records were cut off *after* the last one the
verifier sees. Compare ``last_seq`` with the daemon's status or an earlier export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .log import PUBLIC_KEY_FILE, audit_files
from .records import FILE_KIND, GENESIS, SIGNATURE_KIND, key_id, record_hash, signed_message

__all__ = ["Broken", "VerifyReport", "load_public_keys", "verify"]


@dataclass(slots=True, frozen=True)
class Broken:
    """Where the chain first fails: file name, 1-based line, and why."""

    file: str
    line: int
    reason: str


@dataclass(slots=True, frozen=True)
class VerifyReport:
    """Outcome of ``verify``.

    Attributes:
        ok: every record checked out.
        records: how many records were read before the first break (or in all).
        first_broken: the first failure, or None.
        signatures: valid signature records seen.
        first_seq: sequence number of the first record (1 unless old files were pruned).
        last_seq: sequence number of the last good record.
        unsigned_tail: good records after the last signature.
        files: how many files were walked.
        torn_bytes: the last file ends in an incomplete line of this many bytes: a write cut
            short by a crash or power loss, not an edit (every record before it verified).
            The daemon drops it when it starts, recording the bytes dropped in a signed
            record; ``facegate audit repair`` does the same with the daemon stopped.
    """

    ok: bool
    records: int
    first_broken: Broken | None
    signatures: int = 0
    first_seq: int = 0
    last_seq: int = 0
    unsigned_tail: int = 0
    files: int = 0
    torn_bytes: int = 0


def load_public_keys(path: Path) -> list[bytes]:
    """The hex keys of a ``verify.pub`` file (one per line)."""
    keys = []
    for word in path.read_text().split():
        raw = bytes.fromhex(word)
        if len(raw) != 32:
            raise ValueError(f"{path}: not an Ed25519 public key")
        keys.append(raw)
    return keys


def _keys(folder: Path, public_key: Any) -> dict[str, VerifyKey]:
    if public_key is None:
        raw: Iterable[Any] = load_public_keys(folder / PUBLIC_KEY_FILE)
    elif isinstance(public_key, bytes | VerifyKey):
        raw = [public_key]
    else:
        raw = public_key
    out: dict[str, VerifyKey] = {}
    for item in raw:
        vk = item if isinstance(item, VerifyKey) else VerifyKey(bytes(item))
        out[key_id(bytes(vk))] = vk
    return out


def verify(
    folder: Path,
    public_key: bytes | VerifyKey | Sequence[bytes | VerifyKey] | None = None,
    *,
    live: bool = False,
) -> VerifyReport:
    """Verify every audit file in ``folder`` in chain order.

    Args:
        folder: the audit folder.
        public_key: trusted key(s); default: the keys listed in ``folder/verify.pub``.
        live: the log is being written (the daemon verifying itself): an incomplete last
            line of the last file is a write in progress, not damage, and is skipped.

    Returns:
        The report; ``first_broken`` names the file, line and reason of the first failure.
    """
    folder = Path(folder)
    try:
        keys = _keys(folder, public_key)
    except (OSError, ValueError) as exc:
        return VerifyReport(False, 0, Broken(PUBLIC_KEY_FILE, 0, f"no usable public key: {exc}"))
    files = audit_files(folder)
    if not files:
        return VerifyReport(False, 0, Broken("-", 0, "no audit files"))
    count = signatures = unsigned = torn = 0
    first_seq = last_seq = 0
    prev: str | None = None

    def broken(path: Path, line: int, reason: str) -> VerifyReport:
        return VerifyReport(
            False, count, Broken(path.name, line, reason), signatures, first_seq, last_seq,
            unsigned, len(files),
        )  # fmt: skip

    for path in files:
        with path.open("rb") as f:
            data = f.read()
        if path == files[-1] and data and not data.endswith(b"\n"):
            # Only the very end of the chain can be a write in progress or cut by a crash.
            keep = data.rfind(b"\n") + 1
            torn = 0 if live else len(data) - keep
            data = data[:keep]
        if data and not data.endswith(b"\n"):
            last_line = data.count(b"\n") + 1
            return broken(path, last_line, "truncated: the last line is incomplete")
        for number, raw in enumerate(data.splitlines(), start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                return broken(path, number, "not valid JSON (edited or truncated)")
            if not isinstance(record, dict) or not {"seq", "hash", "prev", "kind"} <= set(record):
                return broken(path, number, "not an audit record (fields missing)")
            if record_hash(record) != record["hash"]:
                return broken(path, number, "content does not match its hash (record edited)")
            seq = record["seq"]
            if prev is None:
                # The very first record, or the first left after retention pruned old files.
                if record["prev"] != GENESIS and record["kind"] != FILE_KIND:
                    return broken(path, number, "the chain does not start with a file record")
                first_seq = seq
            else:
                if seq != last_seq + 1:
                    why = "missing" if seq > last_seq + 1 else "out of order or repeated"
                    return broken(path, number, f"expected seq {last_seq + 1}, found {seq} ({why})")
                if record["prev"] != prev:
                    return broken(path, number, "prev does not match the hash of the record before")
            if number == 1 and record["kind"] != FILE_KIND:
                return broken(path, number, "a file must start with a file record")
            if record["kind"] == SIGNATURE_KIND:
                vk = keys.get(str(record.get("key")))
                if vk is None:
                    return broken(path, number, "signed with a key not in the trusted key list")
                try:
                    vk.verify(signed_message(seq, record["prev"]), bytes.fromhex(record["sig"]))
                except (BadSignatureError, ValueError, TypeError):
                    return broken(path, number, "signature is not valid (forged or altered)")
                signatures += 1
                unsigned = 0
            else:
                unsigned += 1
            prev, last_seq = record["hash"], seq
            count += 1
    if torn and count == 0:
        return broken(files[-1], 1, "truncated: the only line is incomplete")
    return VerifyReport(
        True, count, None, signatures, first_seq, last_seq, unsigned, len(files), torn
    )
