"""Keys and sealing: PyNaCl ``SecretBox`` (XSalsa20-Poly1305) everywhere.

Key hierarchy: a 32-byte master key (a 0600 file, or a systemd credential) wraps one random
data key per person; that person's templates are sealed with their data key. Deleting the
wrapped data key makes every ciphertext of that person undecryptable, even in a backup.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import nacl.exceptions
import nacl.secret
import nacl.utils

from ..errors import MasterKeyError, StoreError

__all__ = [
    "KEY_BYTES",
    "create_master_key",
    "load_master_key",
    "new_data_key",
    "open_sealed",
    "resolve_key_path",
    "seal",
]

logger = logging.getLogger(__name__)

KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE  # 32
CREDENTIAL_NAME = "facegate-master-key"


def resolve_key_path(configured: Path | None, state_dir: Path) -> Path:
    """The key file to use: configured, else a systemd credential, else in the state dir."""
    if configured is not None:
        return configured
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / CREDENTIAL_NAME
        if candidate.exists():
            return candidate
    return state_dir / "master.key"


def create_master_key(path: Path) -> None:
    """Write 32 random bytes to ``path`` with mode 0600; refuse to overwrite.

    Raises:
        MasterKeyError: the file exists or cannot be created.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MasterKeyError(
            f"{path} already exists; refusing to overwrite a master key (the templates it "
            "protects would become unreadable)"
        ) from None
    except OSError as exc:
        raise MasterKeyError(f"cannot create master key {path}: {exc.strerror}") from None
    try:
        os.write(fd, nacl.utils.random(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def load_master_key(path: Path, *, check_mode: bool = True) -> bytes:
    """Read the master key, checking it exists, is 32 bytes and is not readable by others.

    Raises:
        MasterKeyError: with a message naming the problem (never the key).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MasterKeyError(
            f"master key {path} not found; create it with `facegate keys init`"
        ) from None
    except PermissionError:
        raise MasterKeyError(f"master key {path}: permission denied") from None
    if not stat.S_ISREG(st.st_mode):
        raise MasterKeyError(f"master key {path} is not a regular file")
    # A systemd credential is exposed read-only (0400/0440) to the service only, in a
    # private directory; any other key file must not be readable by group or others.
    if check_mode and st.st_mode & 0o077 and not _is_systemd_credential(path):
        raise MasterKeyError(
            f"master key {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0600 "
            f"(run `chmod 600 {path}`)"
        )
    data = path.read_bytes()
    if len(data) != KEY_BYTES:
        raise MasterKeyError(f"master key {path} is {len(data)} bytes, expected {KEY_BYTES}")
    return data


def _is_systemd_credential(path: Path) -> bool:
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if not cred_dir:
        return False
    return path.resolve().parent == Path(cred_dir).resolve()


def new_data_key() -> bytes:
    """A fresh random per-person data key."""
    return nacl.utils.random(KEY_BYTES)


def seal(key: bytes, plaintext: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` (random nonce prepended)."""
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def open_sealed(key: bytes, ciphertext: bytes, *, what: str) -> bytes:
    """Decrypt ``ciphertext``; ``what`` names the row in the error (never its content)."""
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(ciphertext))
    except nacl.exceptions.CryptoError:
        raise StoreError(
            f"{what} does not decrypt: wrong master key, or the row is corrupt"
        ) from None
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is malformed: {exc}") from None
