"""``export()``: a self-contained, verifiable bundle of the audit files covering a period.

The bundle is a ``.tar.gz`` holding ``audit/audit-NNNNNN.jsonl`` (whole files: a file is the
unit of the chain and closed files end with a signature), ``audit/verify.pub`` and
``MANIFEST.json`` (period, files with SHA-256, sequence range, key ids). ``verify_bundle``
unpacks it to a temporary folder and runs ``verify`` there, so an auditor needs nothing else.
Compare the key id with the one recorded when the device was commissioned.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from .log import PUBLIC_KEY_FILE, _last_record, audit_files
from .records import key_id
from .verify import Broken, VerifyReport, load_public_keys, verify

__all__ = ["ExportResult", "ExportTooLarge", "export", "verify_bundle"]


@dataclass(slots=True, frozen=True)
class ExportResult:
    """What went into a bundle (``path``: ``None`` when it was written to a stream)."""

    path: Path | None
    files: tuple[str, ...]
    first_seq: int
    last_seq: int


class ExportTooLarge(ValueError):
    """The period's audit files are more than the caller can carry (``max_bytes``)."""


def _first_record(path: Path) -> dict[str, Any] | None:
    with path.open("rb") as f:
        line = f.readline()
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _ts(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _whole_lines(path: Path) -> bytes:
    """The file's bytes up to its last complete line: the live file may be appended to while
    it is read, and a record half written is not part of the chain yet."""
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1]


def export(
    folder: Path,
    start: datetime | float,
    end: datetime | float,
    out: Path | BinaryIO,
    *,
    max_bytes: int | None = None,
) -> ExportResult:
    """Write a bundle of every audit file with records between ``start`` and ``end`` to
    ``out`` (a file path, or a binary stream such as ``io.BytesIO``).

    Each file is read once, so its hash in the manifest is that of the bytes bundled.

    Raises:
        ValueError: no file has records in the period, or ``end`` is before ``start``.
        ExportTooLarge: the files chosen hold more than ``max_bytes`` (nothing written).
    """
    lo, hi = _ts(start), _ts(end)
    if hi < lo:
        raise ValueError("the end of the period is before its start")
    chosen: list[Path] = []
    first_seq = last_seq = 0
    for path in audit_files(Path(folder)):
        head, tail = _first_record(path), _last_record(path)
        if head is None or tail is None:
            continue
        if float(head["ts"]) <= hi and float(tail["ts"]) >= lo:
            if not chosen:
                first_seq = int(head["seq"])
            chosen.append(path)
            last_seq = int(tail["seq"])
    if not chosen:
        raise ValueError("no audit records in that period")
    size = sum(p.stat().st_size for p in chosen)
    if max_bytes is not None and size > max_bytes:
        raise ExportTooLarge(
            f"the period holds {size / 2**20:.1f} MiB of audit files, more than "
            f"{max_bytes / 2**20:.0f} MiB; choose a shorter period, or run "
            "`facegate audit export` on the device"
        )
    pub = Path(folder) / PUBLIC_KEY_FILE
    contents = {p.name: _whole_lines(p) for p in chosen}
    contents[pub.name] = pub.read_bytes()
    manifest = {
        "format": "facegate-audit-bundle/1",
        "from": lo,
        "to": hi,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "key_ids": [key_id(k) for k in load_public_keys(pub)],
        "files": {p.name: hashlib.sha256(contents[p.name]).hexdigest() for p in chosen},
    }
    contents["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    if isinstance(out, Path | str):
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            _write_tar(f, contents)
        return ExportResult(out, tuple(p.name for p in chosen), first_seq, last_seq)
    _write_tar(out, contents)
    return ExportResult(None, tuple(p.name for p in chosen), first_seq, last_seq)


def _write_tar(stream: BinaryIO, contents: dict[str, bytes]) -> None:
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        for name, data in contents.items():
            arcname = name if name == "MANIFEST.json" else f"audit/{name}"
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def verify_bundle(bundle: Path, public_key: bytes | None = None) -> VerifyReport:
    """Unpack ``bundle`` to a temporary folder and verify it (and its manifest hashes)."""
    with tempfile.TemporaryDirectory(prefix="facegate-audit-") as tmp:
        root = Path(tmp)
        with tarfile.open(bundle, "r:gz") as tar:
            tar.extractall(root, filter="data")
        report = verify(root / "audit", public_key)
        manifest = json.loads((root / "MANIFEST.json").read_text())
        for name, digest in manifest["files"].items():
            path = root / "audit" / name
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                return VerifyReport(False, 0, Broken(name, 0, "does not match MANIFEST.json"))
        return report
