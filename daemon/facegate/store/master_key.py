"""Opening the store with the right key, and rotating that key crash-safely.

Rotation writes the new key to ``<key>.new.partial``, fsyncs it and renames it to ``<key>.new``
(so a ``.new`` is always a whole key), re-wraps every data key under it in one database
transaction (no template is decrypted), then renames ``<key>.new`` over the key file. The
database records its key's fingerprint, so after a crash at any point the next start decides
from the database which file opens it, whatever the ``.new`` holds (0 bytes, a partial write
left by an older version, a whole key): if the old key file matches, the rotation never
committed and the ``.new`` is removed; if the ``.new`` matches, the rename is completed. A
``.new.partial`` is always removed. If neither file matches, nothing is deleted and the error
says to restore the key from its backup.
"""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
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


def _partial(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".new.partial")


# Fault injection for tests: called with the name of each write step of a rotation, just
# after that step (a test raises or exits there to simulate a kill).
_after_step: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _after_step is not None:
        _after_step(name)


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


def _try_load(path: Path, passphrase: bytes | None) -> tuple[bytes | None, str]:
    """The key in ``path`` and its fingerprint, or ``None`` and why it does not load."""
    try:
        key = crypto.load_master_key(path, passphrase=passphrase)
    except MasterKeyError as exc:
        return None, str(exc)
    return key, f"key {crypto.key_fingerprint(key)}"


def resolve_pending_rotation(
    key_path: Path, state_dir: Path, *, passphrase: bytes | None = None
) -> None:
    """Finish or undo a rotation interrupted by a crash (see the module docstring).

    Raises:
        MasterKeyError: a ``.new`` is there but neither it nor the key file opens the database
            (nothing is deleted then).
    """
    partial = _partial(key_path)
    if partial.exists():  # never renamed to .new: the rotation had not begun to commit
        partial.unlink()
        crypto._fsync_dir(key_path.parent)
        logger.warning("removed %s, left by an interrupted master-key rotation", partial.name)
    pending = _pending(key_path)
    if not pending.exists():
        return
    stored = _stored_key_id(state_dir)
    old_key, old_state = _try_load(key_path, passphrase)
    if old_key is not None and crypto.key_fingerprint(old_key) == stored:
        pending.unlink()  # the rotation never committed: whatever the .new holds is unused
        crypto._fsync_dir(key_path.parent)
        logger.warning("discarded the new key of an interrupted master-key rotation")
        return
    new_key, new_state = _try_load(pending, passphrase)
    if new_key is not None and crypto.key_fingerprint(new_key) == stored:
        os.replace(pending, key_path)
        crypto._fsync_dir(key_path.parent)
        logger.warning("completed an interrupted master-key rotation")
        return
    sealed = "cannot be read" if stored is None else f"is sealed with key {stored}"
    raise MasterKeyError(
        f"an interrupted master-key rotation left {pending}, but {state_dir / DB_NAME} "
        f"{sealed} and neither {key_path} ({old_state}) nor {pending} ({new_state}) matches; "
        "nothing was deleted. Restore the key file (or the database) from its offline backup"
    )


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

    A passphrase-protected key file stays protected by the same passphrase, and a key sealed
    to the Pi's OTP key stays sealed to it.
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
    from .sealing import OTP_MAGIC, otp_kek

    sealed = key_path.exists() and key_path.read_bytes()[:4] == OTP_MAGIC
    kek = otp_kek() if sealed else None  # a key sealed to the Pi stays sealed to it
    resolve_pending_rotation(key_path, state_dir, passphrase=passphrase)
    old = crypto.load_master_key(key_path, passphrase=passphrase)
    new = nacl.utils.random(crypto.KEY_BYTES)
    pending, partial = _pending(key_path), _partial(key_path)
    # Whole and durable under a temporary name first: a .new is never a partial key.
    crypto.write_key_file(
        partial,
        new,
        passphrase=passphrase,
        exclusive=True,
        step=lambda name: _step("partial_" + name),
        otp_kek=kek,
    )
    os.replace(partial, pending)
    crypto._fsync_dir(key_path.parent)
    _step("new_renamed")
    with Store(state_dir, old) as store:
        count = store.rotate_master_key(new)
        _step("committed")
    os.replace(pending, key_path)
    crypto._fsync_dir(key_path.parent)
    _step("key_renamed")
    return RotationResult(crypto.key_fingerprint(old), crypto.key_fingerprint(new), count)
