"""Keys and sealing: PyNaCl ``SecretBox`` (XSalsa20-Poly1305) everywhere.

Key hierarchy: a 32-byte master key (a 0600 file, or a systemd credential) wraps one random
data key per person; that person's templates and identity fields are sealed with their data
key. Deleting the wrapped data key makes every ciphertext of that person undecryptable, even
in a backup. Device keys (card hashing, audit pseudonyms) are random too, wrapped the same way.

The key file holds either the 32 raw bytes, or — when an admin passphrase protects it — the
magic ``FGK1``, the Argon2id parameters and salt, and the key sealed with the passphrase-derived
key, or — sealed to a Raspberry Pi — the magic ``FGO1`` and the key sealed with a key derived
from the Pi's OTP private key (``store/sealing.py``). The passphrase comes from the systemd
credential ``facegate-passphrase``, from ``$FACEGATE_PASSPHRASE``, or from the admin's
terminal.
"""

from __future__ import annotations

import getpass
import logging
import os
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.pwhash
import nacl.secret
import nacl.utils

from ..errors import MasterKeyError, StoreError

__all__ = [
    "KEY_BYTES",
    "create_master_key",
    "key_fingerprint",
    "load_master_key",
    "new_data_key",
    "open_sealed",
    "passphrase_from_environment",
    "resolve_key_path",
    "seal",
    "write_key_file",
]

logger = logging.getLogger(__name__)

KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE  # 32
CREDENTIAL_NAME = "facegate-master-key"
PASSPHRASE_CREDENTIAL = "facegate-passphrase"
PASSPHRASE_ENV = "FACEGATE_PASSPHRASE"
_MAGIC = b"FGK1"
_HEADER = struct.Struct(">4sIQ16s")  # magic, opslimit, memlimit, salt
_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE  # 0.4 s on the dev machine, once at start
_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


def key_fingerprint(key: bytes) -> str:
    """A short public fingerprint of a key (keyed BLAKE2b of nothing): safe to store and show."""
    digest = nacl.hash.blake2b(
        b"facegate key id", key=key, digest_size=8, encoder=nacl.encoding.HexEncoder
    )
    return digest.decode("ascii")


def passphrase_from_environment() -> bytes | None:
    """The admin passphrase from a systemd credential or ``$FACEGATE_PASSPHRASE``, if any."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / PASSPHRASE_CREDENTIAL
        if candidate.is_file():
            return candidate.read_bytes().rstrip(b"\r\n")
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _wrap_with_passphrase(key: bytes, passphrase: bytes) -> bytes:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    kek = nacl.pwhash.argon2id.kdf(
        KEY_BYTES, passphrase, salt, opslimit=_OPSLIMIT, memlimit=_MEMLIMIT
    )
    return _HEADER.pack(_MAGIC, _OPSLIMIT, _MEMLIMIT, salt) + seal(kek, key)


def write_key_file(
    path: Path,
    key: bytes,
    *,
    passphrase: bytes | None = None,
    exclusive: bool = True,
    step: Callable[[str], None] | None = None,
    otp_kek: bytes | None = None,
) -> None:
    """Write ``key`` (optionally passphrase-wrapped) to ``path`` with mode 0600, fsynced.

    With ``exclusive`` an existing file is never overwritten. ``step`` is called after each
    write step (fault injection in tests).
    """
    if len(key) != KEY_BYTES:
        raise MasterKeyError("a master key must be 32 bytes")
    content = key if passphrase is None else _wrap_with_passphrase(key, passphrase)
    if otp_kek is not None:  # sealed to this Raspberry Pi's OTP key (store/sealing.py)
        from .sealing import seal_with_otp

        content = seal_with_otp(key, otp_kek)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise MasterKeyError(
            f"{path} already exists; refusing to overwrite a master key (the templates it "
            "protects would become unreadable)"
        ) from None
    except OSError as exc:
        raise MasterKeyError(f"cannot create master key {path}: {exc.strerror}") from None
    try:
        if step is not None:
            step("created")
        view = memoryview(content)
        while view:  # a short write is not an error: write the rest
            written = os.write(fd, view)
            view = view[written:]
        if step is not None:
            step("written")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    _fsync_dir(path.parent)
    if step is not None:
        step("synced")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_key_path(configured: Path | None, state_dir: Path) -> Path:
    """The key file to use: the one rule of ``key_discovery`` (configured, else the systemd
    credential, else /etc/credstore, else in the state dir)."""
    from .key_discovery import master_key_path

    return master_key_path(configured, state_dir)


def create_master_key(path: Path, *, passphrase: bytes | None = None) -> bytes:
    """Create a new random master key at ``path`` (mode 0600); refuse to overwrite.

    Returns the key. With ``passphrase`` the file holds it wrapped with Argon2id.

    Raises:
        MasterKeyError: the file exists or cannot be created.
    """
    key = nacl.utils.random(KEY_BYTES)
    write_key_file(path, key, passphrase=passphrase, exclusive=True)
    return key


def load_master_key(
    path: Path, *, check_mode: bool = True, passphrase: bytes | None = None
) -> bytes:
    """Read the master key, checking it exists, is not readable by others, and unwrapping it.

    A passphrase-wrapped key needs ``passphrase``, else the systemd credential or
    ``$FACEGATE_PASSPHRASE``, else a prompt on the admin's terminal.

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
    if data.startswith(_MAGIC):
        return _unwrap(path, data, passphrase)
    from .sealing import OTP_MAGIC, unseal_with_otp

    if data.startswith(OTP_MAGIC):
        return unseal_with_otp(path, data)
    if len(data) != KEY_BYTES:
        raise MasterKeyError(f"master key {path} is {len(data)} bytes, expected {KEY_BYTES}")
    return data


def _unwrap(path: Path, data: bytes, passphrase: bytes | None) -> bytes:
    if len(data) < _HEADER.size + 40:
        raise MasterKeyError(f"master key {path} is truncated")
    _magic, opslimit, memlimit, salt = _HEADER.unpack_from(data)
    if passphrase is None:
        passphrase = passphrase_from_environment()
    if passphrase is None and sys.stdin.isatty():
        passphrase = getpass.getpass(f"passphrase for {path}: ").encode()
    if not passphrase:
        raise MasterKeyError(
            f"master key {path} is protected by a passphrase: pass it as the systemd "
            f"credential {PASSPHRASE_CREDENTIAL}, in ${PASSPHRASE_ENV}, or run interactively"
        )
    try:
        kek = nacl.pwhash.argon2id.kdf(
            KEY_BYTES, passphrase, salt, opslimit=opslimit, memlimit=memlimit
        )
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError):
        raise MasterKeyError(f"master key {path} has invalid Argon2id parameters") from None
    try:
        key = bytes(nacl.secret.SecretBox(kek).decrypt(data[_HEADER.size :]))
    except nacl.exceptions.CryptoError:
        raise MasterKeyError(f"wrong passphrase for master key {path}") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"master key {path} is malformed")
    return key


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
