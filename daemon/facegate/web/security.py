"""Sessions, CSRF tokens, the login rate limit, and the ASGI middleware around every request.

Sessions live in this process's memory only (a restart logs everyone out): a random 256-bit id
in a ``__Host-`` cookie (Secure, HttpOnly, SameSite=Strict, Path=/), an idle timeout and an
absolute lifetime. A session is created before login (it carries the login form's CSRF token)
and replaced by a new one at login, so an id planted before login is worth nothing after it.

Every POST carries the session's CSRF token in a form field (checked in constant time), and a
request whose ``Origin`` names another site is refused as well.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "COOKIE",
    "BodyLimit",
    "LoginLimiter",
    "SecurityHeaders",
    "Session",
    "Sessions",
]

logger = logging.getLogger(__name__)

COOKIE = "__Host-facegate"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Session:
    sid: str
    csrf: str
    created: float
    seen: float
    user: str | None = None
    role: str | None = None
    pseudonym: str | None = None
    lang: str = "zh-CN"
    # Receipts of this session's withdrawals and deletions, to download (memory only).
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    flash: str | None = None


class Sessions:
    """In-memory sessions with an idle timeout and an absolute lifetime."""

    def __init__(
        self,
        *,
        idle_s: float = 15 * 60,
        max_age_s: float = 8 * 3600,
        limit: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.limit = limit
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, *, lang: str = "zh-CN") -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang=lang)
        with self._lock:
            if len(self._by_id) >= self.limit:
                self._expire(now, force=True)
            self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None, *, touch: bool = True) -> Session | None:
        """The live session ``sid``; ``touch``: this request counts as activity (the
        dashboard's polling does not, so an unattended browser is still logged out)."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.created > self.max_age_s:
                del self._by_id[sid]
                return None
            if touch:
                session.seen = now
            return session

    def rotate(self, old: Session, *, user: str, role: str, pseudonym: str) -> Session:
        """A fresh session (new id, new CSRF token) for a user who has just logged in."""
        self.drop(old.sid)
        session = self.new(lang=old.lang)
        session.user, session.role, session.pseudonym = user, role, pseudonym
        return session

    def drop(self, sid: str) -> None:
        with self._lock:
            self._by_id.pop(sid, None)

    def drop_user(self, user: str) -> None:
        with self._lock:
            for sid in [s for s, v in self._by_id.items() if v.user == user]:
                del self._by_id[sid]

    def _expire(self, now: float, *, force: bool = False) -> None:
        for sid, s in list(self._by_id.items()):
            if now - s.seen > self.idle_s or now - s.created > self.max_age_s:
                del self._by_id[sid]
        if force and len(self._by_id) >= self.limit:  # drop the oldest anonymous sessions
            anonymous = sorted((s.seen, sid) for sid, s in self._by_id.items() if s.user is None)
            for _seen, sid in anonymous[: max(1, len(anonymous) // 2)]:
                del self._by_id[sid]


def csrf_ok(session: Session | None, token: object) -> bool:
    return (
        session is not None
        and isinstance(token, str)
        and hmac.compare_digest(session.csrf.encode(), token.encode())
    )


class LoginLimiter:
    """Failed logins: at most ``per_address`` per address per window, and an account locked
    for ``lock_s`` after ``per_user`` failures in a row.

    With ``state`` (a file beside the accounts file) the counts and locks are kept there, so
    restarting the console does not lift a lock or reset a count: written atomically (a
    temporary file renamed over it, mode 0600) after each failure and each success that
    cleared something, at most ``MAX_SAVED`` users and addresses (the newest), expired entries
    dropped, and with ``known`` only the names it knows as accounts (a password typed into
    the user-name field is never written down). Times are wall-clock seconds (a monotonic
    clock does not survive a restart); a lock read back is never longer than ``lock_s``
    from now, whatever the clock did.
    """

    MAX_SAVED = 1000

    def __init__(
        self,
        *,
        per_address: int = 10,
        window_s: float = 300.0,
        per_user: int = 5,
        lock_s: float = 900.0,
        clock: Callable[[], float] = time.time,
        state: Path | None = None,
        known: Callable[[str], bool] | None = None,
    ) -> None:
        self.per_address, self.window_s = per_address, window_s
        self.per_user, self.lock_s = per_user, lock_s
        self.clock = clock
        self.state = state
        self.known = known  # which names are accounts: only theirs are written to ``state``
        self._address: dict[str, deque[float]] = {}
        self._user: dict[str, tuple[int, float]] = {}  # failures in a row, locked until
        self._lock = threading.Lock()
        if state is not None:
            self._load(state)

    def refused(self, address: str, user: str) -> str | None:
        """Why a login attempt is refused before checking the password (or ``None``)."""
        now = self.clock()
        with self._lock:
            times = self._address.get(address)
            if times is not None:
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if len(times) >= self.per_address:
                    return "rate"
            _count, until = self._user.get(user, (0, 0.0))
            if until > now:
                return "locked"
        return None

    def failed(self, address: str, user: str) -> bool:
        """Count a failure; whether it has just locked the account."""
        now = self.clock()
        with self._lock:
            self._address.setdefault(address, deque(maxlen=self.per_address)).append(now)
            count, _until = self._user.get(user, (0, 0.0))
            count += 1
            locked = count >= self.per_user
            self._user.pop(user, None)  # re-inserted last: the newest is kept when bounded
            self._user[user] = (0, now + self.lock_s) if locked else (count, 0.0)
            # Bounded memory under a spray of addresses or made-up names (oldest dropped).
            if len(self._address) > 10_000:
                self._address.pop(next(iter(self._address)))
            if len(self._user) > 10_000:  # the oldest that is not locked: a spray lifts no lock
                unlocked = (u for u, (_c, until) in self._user.items() if until <= now)
                self._user.pop(next(unlocked, next(iter(self._user))))
            self._save(now)
        return locked

    def succeeded(self, user: str) -> None:
        with self._lock:
            if self._user.pop(user, None) is not None:
                self._save(self.clock())

    # -- the state file -------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            users = data["users"]
            addresses = data["addresses"]
            now = self.clock()
            for name, (count, until) in list(users.items())[-self.MAX_SAVED :]:
                until = min(float(until), now + self.lock_s)
                if (int(count) > 0 or until > now) and isinstance(name, str):
                    self._user[name] = (min(int(count), self.per_user), until)
            for address, times in list(addresses.items())[-self.MAX_SAVED :]:
                kept = [float(t) for t in times if now - float(t) <= self.window_s]
                if kept and isinstance(address, str):
                    self._address[address] = deque(kept[-self.per_address :], self.per_address)
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            # Damaged (only this console's user can write the folder): start counting again,
            # and say so in the journal; the file is rewritten at the next failure.
            logger.warning("the login-limit state %s is unreadable; starting afresh", path)
            self._user.clear()
            self._address.clear()

    def _save(self, now: float) -> None:
        if self.state is None:
            return
        kept = [
            (name, [count, until])
            for name, (count, until) in self._user.items()
            if (count > 0 or until > now) and (self.known is None or self.known(name))
        ]
        users = dict(kept[-self.MAX_SAVED :])
        addresses = {
            address: [t for t in times if now - t <= self.window_s]
            for address, times in list(self._address.items())[-self.MAX_SAVED :]
            if times and now - times[-1] <= self.window_s
        }
        data = json.dumps({"version": 1, "users": users, "addresses": addresses})
        try:
            self.state.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".login-limits-", dir=self.state.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.state)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:  # the limits still hold in memory; logins keep working
            logger.warning("cannot save the login-limit state %s: %s", self.state, exc.strerror)


SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=31536000"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """HSTS, a strict CSP and friends on every response; nothing cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in SECURITY_HEADERS if h[0] not in names
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse a request body above ``limit`` bytes before reading it: by its Content-Length
    at once (413), and, for a chunked body without one, as soon as the count passes it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(send, self.limit)
                    return
        seen = 0
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:  # else the answer is already on its way: just stop reading
                await _too_large(send, self.limit)


class BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (
        f"413: the upload is larger than {limit // (1024 * 1024)} MiB and was not read. "
        "Send smaller photos (at most 3 at a time).\n"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
