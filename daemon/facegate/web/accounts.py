"""Console accounts: a JSON file owned by the web user, Argon2id passwords, optional TOTP.

Each account has a name (what the person types), a role (``auditor``, ``operator`` or
``admin``, the admin socket's roles) and a pseudonym (``w-`` and 16 random lowercase letters,
75 bits; letters because the audit trail refuses long digit runs, which look like card or
phone numbers) made when the account is created. Only the pseudonym ever leaves this file:
audit records and logs name a console user by it, so the audit trail holds no names.

The file is written atomically (a temporary file in the same folder, fsync, rename) with mode
0600; an unreadable or tampered file is refused with a clear message, never half-used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import string
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import FacegateError

__all__ = [
    "ROLES",
    "Account",
    "AccountError",
    "Accounts",
    "check_password",
    "check_username",
    "new_totp_secret",
    "totp_ok",
]

ROLES = ("auditor", "operator", "admin")
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
PSEUDONYM = r"w-[a-z]{16}"
MIN_PASSWORD = 10
MAX_PASSWORD = 256
# Argon2id (argon2-cffi's default type) at RFC 9106's second recommended option, scaled to a
# Pi: 64 MiB, 3 passes, 2 lanes — about 0.2 s to check on a Pi 4.
_HASHER = PasswordHasher(time_cost=3, memory_cost=65_536, parallelism=2)


class AccountError(FacegateError, ValueError):
    """A bad name, password, role or accounts file; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str
    pseudonym: str
    password_hash: str
    totp_secret: str | None = None

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None


def check_username(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise AccountError(
            "a user name is 2 to 32 characters: lowercase letters, digits, '_', '.', '-', "
            "starting with a letter"
        )
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if len(set(password)) < 4:
        raise AccountError("a password needs at least 4 different characters")
    return password


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"a role is one of {', '.join(ROLES)}")
    return role


class Accounts:
    """The accounts file (loaded at start, rewritten on every change)."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or _HASHER
        # A hash of a random password, checked when the name is unknown, so a wrong name
        # takes as long as a wrong password (no user enumeration by timing).
        self._dummy = self.hasher.hash(secrets.token_hex(16))
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = self._load()

    def _load(self) -> dict[str, Account]:
        try:
            mode = self.path.stat().st_mode
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AccountError(
                f"cannot read the accounts file {self.path}: {exc.strerror}"
            ) from None
        if mode & 0o077:
            raise AccountError(
                f"the accounts file {self.path} can be read by others (mode "
                f"{mode & 0o777:o}); make it 0600, owned by the console's user"
            )
        try:
            data = json.loads(raw)
            found = {}
            for item in data["accounts"]:
                acc = Account(**{k: item[k] for k in Account.__dataclass_fields__ if k in item})
                check_username(acc.name)
                _check_role(acc.role)
                if not re.fullmatch(PSEUDONYM, acc.pseudonym):
                    raise AccountError("a pseudonym is malformed")
                found[acc.name] = acc
        except (ValueError, KeyError, TypeError) as exc:
            raise AccountError(
                f"the accounts file {self.path} is damaged ({type(exc).__name__}); restore it "
                "or create accounts again"
            ) from None
        return found

    def _save(self, accounts: dict[str, Account]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "accounts": [asdict(a) for a in accounts.values()]}
        fd, tmp = tempfile.mkstemp(prefix=".accounts-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._accounts = accounts

    # -- queries -----------------------------------------------------------------------

    def get(self, name: str) -> Account | None:
        return self._accounts.get(name)

    def all(self) -> list[Account]:
        return sorted(self._accounts.values(), key=lambda a: a.name)

    def verify(self, name: str, password: str) -> Account | None:
        """The account when the password is right; ``None`` otherwise (same time either way)."""
        account = self._accounts.get(name)
        candidate = account.password_hash if account else self._dummy
        try:
            self.hasher.verify(candidate, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if account is not None and self.hasher.check_needs_rehash(account.password_hash):
            with contextlib.suppress(OSError):
                self._replace(replace(account, password_hash=self.hasher.hash(password)))
        return account

    # -- changes ------------------------------------------------------------------------

    def _replace(self, account: Account) -> None:
        with self._lock:
            self._save({**self._accounts, account.name: account})

    def add(self, name: str, role: str, password: str) -> Account:
        check_username(name)
        _check_role(role)
        check_password(password)
        if name in self._accounts:
            raise AccountError(f"there is already a user {name!r}")
        account = Account(name, role, _new_pseudonym(), self.hasher.hash(password))
        self._replace(account)
        return account

    def set_password(self, name: str, password: str) -> Account:
        account = self._need(name)
        check_password(password)
        updated = replace(account, password_hash=self.hasher.hash(password))
        self._replace(updated)
        return updated

    def set_role(self, name: str, role: str) -> Account:
        updated = replace(self._need(name), role=_check_role(role))
        self._replace(updated)
        return updated

    def set_totp(self, name: str, secret: str | None) -> Account:
        updated = replace(self._need(name), totp_secret=secret)
        self._replace(updated)
        return updated

    def remove(self, name: str) -> None:
        self._need(name)
        with self._lock:
            self._save({k: v for k, v in self._accounts.items() if k != name})

    def _need(self, name: str) -> Account:
        account = self._accounts.get(name)
        if account is None:
            raise AccountError(f"no user {name!r}")
        return account


def _new_pseudonym() -> str:
    return "w-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_ok(secret: str, code: str) -> bool:
    """Whether ``code`` is the current TOTP (±1 step of 30 s)."""
    import pyotp

    code = code.strip().replace(" ", "")
    if not re.fullmatch(r"[0-9]{6}", code):
        return False
    return bool(pyotp.TOTP(secret).verify(code, valid_window=1))
