"""Opening the store with the right key, and rotating that key crash-safely.

Rotation writes the new key to ``<key>.new``, re-wraps every data key under it in one database
transaction (no template is decrypted), then renames ``<key>.new`` over the key file. The
database records its key's fingerprint, so after a crash at any point the next start knows
which of the two files opens it: before the commit the old key does (the stray ``.new`` is
removed); after it the new one does (the rename is completed).
"""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import nacl.utils

from ..clock import Clock
from ..errors import MasterKeyError
from . import crypto
from .db import DB_NAME, Store

__all__ = ["RotationResult", "open_store", "resolve_pending_rotation", "rotate_master_key"]

logger = logging.getLogger(__name__)


def _pending(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".new")


def _stored_key_id(state_dir: Path) -> str | None:
    db_path = state_dir / DB_NAME
    if not db_path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'master_key_id'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def resolve_pending_rotation(
    key_path: Path, state_dir: Path, *, passphrase: bytes | None = None
) -> None:
    """Finish or undo a rotation interrupted by a crash (see the module docstring)."""
    pending = _pending(key_path)
    if not pending.exists():
        return
    stored = _stored_key_id(state_dir)
    new_key = crypto.load_master_key(pending, passphrase=passphrase)
    if stored == crypto.key_fingerprint(new_key):
        os.replace(pending, key_path)
        crypto._fsync_dir(key_path.parent)
        logger.warning("completed an interrupted master-key rotation")
    else:
        pending.unlink()
        logger.warning("discarded the new key of an interrupted master-key rotation")


def open_store(
    key_path: Path,
    state_dir: Path,
    *,
    clock: Clock | None = None,
    passphrase: bytes | None = None,
) -> Store:
    """Resolve any interrupted rotation, load the key, open the store (fails closed)."""
    resolve_pending_rotation(key_path, state_dir, passphrase=passphrase)
    key = crypto.load_master_key(key_path, passphrase=passphrase)
    return Store(state_dir, key, clock=clock)


@dataclass(slots=True, frozen=True)
class RotationResult:
    old_key_id: str
    new_key_id: str
    rewrapped: int


def rotate_master_key(key_path: Path, state_dir: Path) -> RotationResult:
    """Replace the master key; every data key is re-wrapped, no template is decrypted.

    A passphrase-protected key file stays protected by the same passphrase.
    """
    if os.environ.get("CREDENTIALS_DIRECTORY") and key_path.parent == Path(
        os.environ["CREDENTIALS_DIRECTORY"]
    ):
        raise MasterKeyError(
            "the key was handed in as a systemd credential (read-only here); rotate the "
            "source file named in LoadCredential= with --key-file"
        )
    protected = key_path.exists() and key_path.read_bytes()[:4] == crypto._MAGIC
    passphrase = None
    if protected:
        passphrase = crypto.passphrase_from_environment()
        if passphrase is None and sys.stdin.isatty():
            passphrase = getpass.getpass(f"passphrase for {key_path}: ").encode()
        if not passphrase:
            raise MasterKeyError(f"{key_path} is passphrase-protected: give the passphrase")
    resolve_pending_rotation(key_path, state_dir, passphrase=passphrase)
    old = crypto.load_master_key(key_path, passphrase=passphrase)
    new = nacl.utils.random(crypto.KEY_BYTES)
    pending = _pending(key_path)
    crypto.write_key_file(pending, new, passphrase=passphrase, exclusive=True)
    with Store(state_dir, old) as store:
        count = store.rotate_master_key(new)
    os.replace(pending, key_path)
    crypto._fsync_dir(key_path.parent)
    return RotationResult(crypto.key_fingerprint(old), crypto.key_fingerprint(new), count)
