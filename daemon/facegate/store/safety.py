"""What keeps the store safe when the disk fills up or the database goes missing.

* **The reserve.** ``RESERVE_BYTES`` of zeros beside the database, kept while there is room:
  on a disk that filled up, releasing them lets the next start map the WAL index and raise
  its ``disk_full`` alarm instead of failing to start at all.
* **A lost database.** A missing or empty ``facegate.db`` on a device with an audit trail is a
  lost store: creating a new empty one would silently drop every person, credential and
  consent record (and start the audit trail under a new key). Only a new install, with no
  audit trail yet, gets a new database.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..errors import StoreError

__all__ = [
    "AUDIT_DIR",
    "RESERVE_BYTES",
    "RESERVE_NAME",
    "make_reserve",
    "refuse_lost_database",
    "release_reserve",
]

AUDIT_DIR = "audit"  # the audit trail's folder in the state folder (audit/signing.py)
RESERVE_NAME = "facegate.reserve"
RESERVE_BYTES = 256 * 1024


def make_reserve(state_dir: Path) -> bool:
    """Keep the reserve in ``state_dir`` (if there is room); returns whether it is there."""
    path = state_dir / RESERVE_NAME
    try:
        if path.stat().st_size == RESERVE_BYTES:
            return True
    except FileNotFoundError:
        pass
    except OSError:
        return False
    try:
        if shutil.disk_usage(state_dir).free < 4 * RESERVE_BYTES:
            return False  # not while the disk is (nearly) full: that room is needed
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            block = bytes(65_536)
            for _ in range(RESERVE_BYTES // len(block)):
                if os.write(fd, block) != len(block):  # real blocks, not a sparse file
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        path.unlink(missing_ok=True)
        return False
    return True


def release_reserve(state_dir: Path) -> bool:
    """Give the reserve's room back; returns whether there was one."""
    try:
        (state_dir / RESERVE_NAME).unlink()
    except OSError:
        return False
    return True


def refuse_lost_database(path: Path, state_dir: Path, key_id: str) -> None:
    """Raise when ``path`` is missing or empty but ``state_dir`` has an audit trail.

    Raises:
        StoreError: naming the file, the trail and how to restore (or start over on purpose).
    """
    try:
        size: int | None = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if size:
        return
    trail = state_dir / AUDIT_DIR
    try:
        records = sorted(trail.glob("audit-*.jsonl")) if trail.is_dir() else []
    except OSError:
        records = []
    if not records:
        return  # a new install
    what = "is missing" if size is None else "is empty (0 bytes)"
    raise StoreError(
        f"{path} {what}, but this device has an audit trail ({len(records)} files in "
        f"{trail}): its people, credentials and consent records are lost, and facegate "
        "refuses to replace them with an empty store. Restore the database from your "
        f"backup into {path} (it opens with master key {key_id}). To start over "
        f"with an empty store on purpose, first archive {trail} elsewhere (its records "
        "are kept at least 3 years)."
    )
