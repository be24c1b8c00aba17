"""The console's only way to the gate: the daemon's admin socket.

The console holds no keys and never opens the database. Every read and every change is an
admin command; the daemon checks and audits it as it does for the CLI. The console's own user
has one role on the socket (the highest its accounts need); each console user's role is then
checked here against the role the daemon itself requires for the command (from its
``commands`` list), so an operator in the browser can do exactly what an operator at the
shell can.

A few connections are kept open and shared (the socket serves ``admin.max_clients`` at once,
one reserved for an admin), and ``status``/``events`` are cached for a second, so 20 browsers
polling the dashboard cost the gate loop one call a second. When the daemon does not answer,
calls raise ``DaemonDown`` and the pages say so; the console keeps answering.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..admin import AdminClient, AdminError

__all__ = ["ROLE_ORDER", "Daemon", "DaemonDown", "DaemonRefused"]

ROLE_ORDER = {"auditor": 1, "operator": 2, "admin": 3}
# What each command needs when the daemon cannot be asked (the daemon's own table wins).
FALLBACK_ROLES = {
    "status": "auditor",
    "events": "auditor",
    "audit.verify": "auditor",
    "compliance.check": "auditor",
    "compliance.documents": "auditor",
    "web.audit": "auditor",
    "audit.export": "auditor",
    "request.list": "auditor",
    "person.reconsent_due": "auditor",
    "request.record": "operator",
    "request.answer": "operator",
    "person.reconsent": "operator",
    "enroll.camera": "operator",
    "door.open": "operator",
    "person.list": "operator",
    "person.withdraw": "operator",
    "enroll": "operator",
    "person.delete": "admin",
    "person.find": "admin",
    "person.export": "admin",
    "person.update": "admin",
}
READ_ONLY = {"audit.verify", "audit.export", "compliance.documents", "commands", "whoami"}
_DOWN_CODES = {"unreachable", "disconnected", "busy", "timeout"}
# Reads shared by every browser for a moment (seconds); any other command (a change) clears
# them all, so a page after an enrolment or withdrawal never shows the state before it.
CACHED = {"status": 1.0, "events": 1.0, "person.list": 5.0, "compliance.check": 10.0}


class DaemonDown(Exception):
    """The daemon did not answer (stopped, restarting, or busy)."""


class DaemonRefused(Exception):
    """The daemon answered with an error; ``code`` and a message safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Daemon:
    """Shared, bounded access to the admin socket."""

    def __init__(
        self,
        socket_path: Path,
        *,
        connections: int = 3,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.timeout_s = timeout_s
        self.clock = clock
        self._pool: queue.LifoQueue[AdminClient] = queue.LifoQueue()
        for _ in range(connections):
            self._pool.put(AdminClient(self.socket_path, timeout_s=timeout_s))
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        self._roles: dict[str, str] | None = None
        self.last_down: str | None = None

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        """One admin command's result.

        Raises:
            DaemonDown: no answer; DaemonRefused: an answer that is an error.
        """
        ttl = CACHED.get(command)
        key = (command, repr(sorted(args.items())))
        if ttl is not None:
            with self._cache_lock:
                hit = self._cache.get(key)
            if hit is not None and self.clock() - hit[0] < ttl:
                return hit[1]
        if ttl is None and command not in READ_ONLY:
            with self._cache_lock:
                self._cache.clear()
        result = self._call(command, args)
        if ttl is not None:
            with self._cache_lock:
                self._cache[key] = (self.clock(), result)
        return result

    def _call(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            client = self._pool.get(timeout=self.timeout_s)
        except queue.Empty:
            raise DaemonDown("the console is waiting for the daemon; try again") from None
        try:
            for attempt in (1, 2):
                try:
                    result = client.call(command, **args)
                    self.last_down = None
                    return result
                except AdminError as exc:
                    # An idle connection the daemon closed: one fresh try, then give up.
                    if exc.code == "disconnected" and attempt == 1:
                        client.close()
                        continue
                    if exc.code in _DOWN_CODES:
                        client.close()
                        self.last_down = exc.code
                        raise DaemonDown(str(exc)) from None
                    message = str(exc).removeprefix(f"{exc.code}: ")
                    raise DaemonRefused(exc.code, message) from None
            raise DaemonDown("the daemon closed the connection")  # pragma: no cover
        finally:
            self._pool.put(client)

    def fetch(
        self,
        command: str,
        args: dict[str, Any],
        *,
        max_bytes: int,
        timeout_s: float = 60.0,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """A command whose reply is larger, or slower, than the shared connections wait for
        (an audit export, an enrolment from the camera): on a connection of its own, closed
        after; never cached (a change clears the cache as ``call`` does). Setting ``cancel``
        hangs up that connection, which stops a long command at the daemon.

        Raises:
            DaemonDown: no answer (or cancelled); DaemonRefused: an answer that is an error.
        """
        if command not in READ_ONLY and command not in CACHED:
            with self._cache_lock:
                self._cache.clear()
        client = AdminClient(self.socket_path, timeout_s=timeout_s, max_bytes=max_bytes)
        finished = threading.Event()
        if cancel is not None:

            def watch() -> None:
                while not finished.is_set():
                    if cancel.wait(0.2):
                        client.hang_up()
                        return

            threading.Thread(target=watch, name="fetch-cancel", daemon=True).start()
        try:
            result = client.call(command, **args)
        except AdminError as exc:
            if cancel is not None and cancel.is_set():  # we hung up: the daemon is fine
                raise DaemonDown("cancelled") from None
            if exc.code in _DOWN_CODES:
                self.last_down = exc.code
                raise DaemonDown(str(exc)) from None
            raise DaemonRefused(exc.code, str(exc).removeprefix(f"{exc.code}: ")) from None
        finally:
            finished.set()
            client.close()
        self.last_down = None
        return result

    def required_role(self, command: str) -> str:
        """The role the daemon requires for ``command`` (asked once, then remembered)."""
        if self._roles is None:
            try:
                listed = self._call("commands", {}).get("commands", {})
                self._roles = {name: info["role"] for name, info in listed.items()}
            except (DaemonDown, DaemonRefused):
                return FALLBACK_ROLES.get(command, "admin")
        return self._roles.get(command, FALLBACK_ROLES.get(command, "admin"))

    def offers(self, command: str) -> bool:
        """Whether the running daemon has ``command`` (newer daemons have more)."""
        self.required_role(command)  # loads the daemon's table once it answers
        return self._roles is not None and command in self._roles

    def allowed(self, role: str | None, command: str) -> bool:
        if role is None:
            return False
        return ROLE_ORDER.get(role, 0) >= ROLE_ORDER[self.required_role(command)]

    def up(self) -> bool:
        try:
            self.call("status")
        except (DaemonDown, DaemonRefused):
            return False
        return True

    def audit(
        self,
        pseudonym: str | None,
        role: str | None,
        action: str,
        outcome: str,
        target: str | None = None,
    ) -> bool:
        """Record a console action in the daemon's audit trail; whether it was recorded."""
        args: dict[str, Any] = {"action": action, "outcome": outcome}
        if pseudonym:
            args["actor"] = pseudonym
        if role:
            args["role"] = role
        if target:
            args["target"] = target
        try:
            self._call("web.audit", args)
        except (DaemonDown, DaemonRefused):
            return False
        return True

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return
