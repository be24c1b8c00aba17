"""``AdminServer``: the Unix socket through which a running daemon is managed.

The socket lives in the runtime directory (``/run/facegate/admin.sock``), mode 0660, group
``facegate-admin``. The caller's role (``SO_PEERCRED`` → ``RoleMap``) is decided when the
connection is accepted, before a byte is read: a caller without a role is answered
``forbidden`` at once and closed, so it never holds a slot. A caller with a role gets a thread
(at most ``max_clients`` at once, the last slot kept for the ``admin`` role) and must send each
whole request within ``timeout_s`` (a deadline, not a per-``recv`` timeout: trickling bytes
does not extend it). Each request is checked in order — frame size, JSON (strict: no ``NaN``
or ``Infinity``, bounded nesting), schema, known command, role, the command's own argument
model — and every outcome, accepted or refused, is reported to ``on_audit`` (command and
outcome only, never the arguments). Nothing a client sends can stop the server, and every
request that is read gets a reply: an error code and a one-line message, never a traceback.

Handlers are pluggable: ``{"status": Handler(Role.AUDITOR, app_status), ...}``.
"""

from __future__ import annotations

import contextlib
import grp
import json
import logging
import os
import re
import select
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import FacegateError
from .protocol import (
    DEFAULT_MAX_BYTES,
    ErrorBody,
    FrameError,
    FrameTimeout,
    FrameTooLarge,
    Reply,
    Request,
    RequestRefused,
    decode,
    encode,
    read_frame,
    write_frame,
)
from .roles import PeerCred, Role, RoleMap, peer_credentials

__all__ = [
    "AdminAuditEvent",
    "AdminCommandError",
    "AdminServer",
    "Handler",
    "HandlerFunc",
    "requester_gone",
]

logger = logging.getLogger(__name__)

_connection = threading.local()  # the connection whose request this thread is handling


def requester_gone() -> bool:
    """Whether the client whose request the calling handler is running has hung up (its end
    of the socket is closed: Ctrl-C, a killed process). ``False`` outside a handler.

    A long handler (``enroll.camera``) polls it and stops, so that nothing is done for a
    requester who is no longer there.
    """
    conn: socket.socket | None = getattr(_connection, "conn", None)
    if conn is None:
        return False
    try:
        # The socket keeps the time-out its request was read with, and recv() on it waits
        # that long before MSG_DONTWAIT counts: ask the kernel first, without waiting.
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False  # still connected, nothing sent
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, TimeoutError):
        return False
    except (OSError, ValueError):  # reset, or already closed
        return True

HandlerFunc = Callable[[Any, PeerCred], dict[str, Any]]


class AdminCommandError(FacegateError, RuntimeError):
    """Raised by a handler to refuse a request with a code and a message for the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True, frozen=True)
class Handler:
    """One admin command.

    Args:
        role: the lowest role allowed to call it.
        func: ``func(args, peer) -> dict``; ``args`` is an instance of ``args_model`` (or the
            raw dict when there is none).
        args_model: pydantic model of the arguments (use ``extra="forbid"``).
        summary: one line for ``commands``.
    """

    role: Role
    func: HandlerFunc
    args_model: type[BaseModel] | None = None
    summary: str = ""


@dataclass(slots=True, frozen=True)
class AdminAuditEvent:
    """One request's outcome, for the audit log (no arguments: they may be personal)."""

    outcome: str  # ok, forbidden, unknown_command, bad_json, bad_request, bad_args, too_large,
    # timeout, busy, failed, or a handler's own code
    uid: int
    gid: int
    pid: int
    role: str | None
    command: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except FileNotFoundError:
        return False


class AdminServer:
    """Serves admin requests on a Unix socket, one thread per connection.

    Args:
        path: socket path.
        handlers: command name → ``Handler``.
        roles: peer credential → role.
        on_audit: called for every request outcome (from connection threads).
        max_bytes: largest accepted request frame.
        group: group to give the socket (None: leave the process's group).
        mode: socket permissions.
        timeout_s: the deadline for each whole request (and an idle connection's lifetime
            between requests); also bounds writing a reply.
        max_clients: connections served at once; more are told ``busy``. When there are
            two or more, the last is kept for the ``admin`` role, so lower roles cannot fill
            every slot.
    """

    def __init__(
        self,
        path: Path,
        handlers: Mapping[str, Handler],
        roles: RoleMap,
        *,
        on_audit: Callable[[AdminAuditEvent], None] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        group: str | None = None,
        mode: int = 0o660,
        timeout_s: float = 5.0,
        max_clients: int = 8,
    ) -> None:
        self.path = Path(path)
        self.handlers: dict[str, Handler] = dict(handlers)
        self.roles = roles
        self.on_audit = on_audit
        self.max_bytes = max_bytes
        self.group = group
        self.mode = mode
        self.timeout_s = timeout_s
        self.max_clients = max_clients
        self._active = 0  # connections holding a slot (under self._lock)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.handlers.setdefault(
            "commands", Handler(Role.AUDITOR, self._cmd_commands, summary="commands you may use")
        )
        self.handlers.setdefault(
            "whoami", Handler(Role.AUDITOR, self._cmd_whoami, summary="your uid and role")
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the socket (replacing a stale one), set its mode and group, start serving."""
        if self._sock is not None:
            return
        if _is_socket(self.path):
            self.path.unlink()  # stale from a crash; systemd empties RuntimeDirectory anyway
        elif self.path.exists():
            raise FileExistsError(f"{self.path} exists and is not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.bind(str(self.path))  # created 0600 under UMask=0077, widened below
            if self.group is not None:
                os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
            os.chmod(self.path, self.mode)
            sock.listen(16)
            # Blocking accept(): close() wakes it with shutdown() (Linux returns EINVAL).
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="admin-accept", daemon=True)
        self._thread.start()
        logger.info("admin socket listening on %s", self.path)

    def close(self) -> None:
        """Stop accepting, wait briefly for connections, remove the socket. Idempotent."""
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=self.timeout_s)

    def __enter__(self) -> AdminServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._stop.is_set():
                    return
                logger.exception("admin socket accept failed")
                self._stop.wait(0.5)  # e.g. out of file descriptors: do not spin
                continue
            try:
                self._admit(conn)
            except Exception:  # never let one connection stop the accept loop
                logger.exception("admin connection could not be admitted")
                conn.close()

    def _admit(self, conn: socket.socket) -> None:
        """Decide on a new connection before reading from it: role first, then a slot."""
        try:
            peer = peer_credentials(conn)
        except OSError:
            conn.close()
            return
        role = self.roles.role_for(peer)
        if role is None:
            self._audit("forbidden", peer, None, None)
            self._refuse(conn, "forbidden", f"uid {peer.uid} has no role on this socket")
            return
        if not self._take_slot(role):
            self._audit("busy", peer, role, None)
            self._refuse(conn, "busy", "too many admin connections")
            return
        worker = threading.Thread(target=self._serve, args=(conn, peer, role), daemon=True)
        with self._lock:
            self._workers.add(worker)
        try:
            worker.start()
        except BaseException:  # no thread to be had: give the slot back, drop the connection
            with self._lock:
                self._active -= 1
                self._workers.discard(worker)
            conn.close()
            raise

    def _take_slot(self, role: Role) -> bool:
        limit = self.max_clients
        if limit > 1 and role < Role.ADMIN:
            limit -= 1  # the last slot is the admin's
        with self._lock:
            if self._active >= limit:
                return False
            self._active += 1
            return True

    def _release_slot(self) -> None:
        with self._lock:
            self._active -= 1
            self._workers.discard(threading.current_thread())

    @staticmethod
    def _refuse(conn: socket.socket, code: str, message: str) -> None:
        """Answer a connection that is not served, without reading it, and close it."""
        with conn:
            try:
                conn.settimeout(0.5)  # a short reply to a fresh socket: never blocks long
                write_frame(conn, encode(_error(None, code, message)))
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, conn: socket.socket, peer: PeerCred, role: Role) -> None:
        try:
            with conn:
                while not self._stop.is_set():
                    deadline = time.monotonic() + self.timeout_s
                    try:
                        frame = read_frame(conn, self.max_bytes, deadline=deadline)
                    except FrameTooLarge as exc:
                        self._audit("too_large", peer, role, None, size=exc.size)
                        self._reply(conn, _error(None, "too_large", str(exc)))
                        return  # the body was not read: the stream cannot be resynced
                    except FrameTimeout as exc:
                        if exc.started:  # a slow or stalled request; an idle one just ends
                            self._audit("timeout", peer, role, None)
                            message = f"the request did not arrive within {self.timeout_s:g} s"
                            self._reply(conn, _error(None, "timeout", message))
                        return
                    except FrameError:
                        return
                    if frame is None:
                        return
                    _connection.conn = conn
                    try:
                        reply = self._handle(frame, peer, role)
                    except Exception as exc:  # a bug; still answer, and keep serving others
                        logger.error("admin request failed: %s", type(exc).__name__)
                        self._audit("failed", peer, role, None)
                        reply = _error(None, "failed", "internal error; see the journal")
                    finally:
                        _connection.conn = None
                    self._reply(conn, reply)
        except OSError as exc:  # the client went away; nothing to do
            logger.debug("admin connection ended: %s", exc)
        except Exception:  # never let one connection take the server down
            logger.exception("admin connection failed")
        finally:
            self._release_slot()

    def _reply(self, conn: socket.socket, reply: Reply) -> None:
        conn.settimeout(self.timeout_s)  # a client that does not read cannot hold the thread
        write_frame(conn, encode(reply))

    def _handle(self, frame: bytes, peer: PeerCred, role: Role | None) -> Reply:
        try:
            raw = decode(frame)
        except RequestRefused as exc:
            self._audit("bad_request", peer, role, None)
            return _error(None, "bad_request", str(exc))
        except json.JSONDecodeError as exc:
            self._audit("bad_json", peer, role, None)
            return _error(None, "bad_json", f"the request is not valid JSON ({exc.msg})")
        except ValueError:  # not UTF-8; an integer too long to convert
            self._audit("bad_json", peer, role, None)
            return _error(None, "bad_json", "the request is not valid JSON")
        try:
            request = Request.model_validate(raw)
        except ValidationError as exc:
            self._audit("bad_request", peer, role, None)
            return _error(_id_of(raw), "bad_request", _summary(exc))
        handler = self.handlers.get(request.command)
        if handler is None:
            self._audit("unknown_command", peer, role, request.command)
            return _error(request.id, "unknown_command", f"no command {request.command!r}")
        if role is None or role < handler.role:
            self._audit("forbidden", peer, role, request.command)
            need = handler.role.label
            return _error(request.id, "forbidden", f"{request.command} needs the {need} role")
        args: Any = request.args
        if handler.args_model is not None:
            try:
                args = handler.args_model.model_validate(request.args)
            except ValidationError as exc:
                self._audit("bad_args", peer, role, request.command)
                return _error(request.id, "bad_args", _summary(exc))
        try:
            result = handler.func(args, peer)
        except AdminCommandError as exc:
            self._audit(exc.code, peer, role, request.command)
            return _error(request.id, exc.code, str(exc))
        except FacegateError as exc:  # messages of facegate errors are safe to show
            self._audit("failed", peer, role, request.command)
            return _error(request.id, "failed", str(exc))
        except Exception as exc:
            logger.error("admin command %s failed: %s", request.command, type(exc).__name__)
            self._audit("failed", peer, role, request.command)
            return _error(request.id, "failed", "internal error; see the journal")
        self._audit("ok", peer, role, request.command)
        return Reply(id=request.id, ok=True, result=result)

    def _audit(
        self, outcome: str, peer: PeerCred, role: Role | None, command: str | None, **detail: Any
    ) -> None:
        if outcome != "ok":
            logger.warning(
                "admin request refused: %s (uid %d, command %s)", outcome, peer.uid, command
            )
        if self.on_audit is None:
            return
        event = AdminAuditEvent(
            outcome, peer.uid, peer.gid, peer.pid, role.label if role else None, command, detail
        )
        try:
            self.on_audit(event)
        except Exception:
            logger.exception("admin audit callback failed")

    # -- built-in commands ----------------------------------------------------------------

    def _cmd_commands(self, _args: Any, peer: PeerCred) -> dict[str, Any]:
        role = self.roles.role_for(peer)
        allowed = {
            name: {"role": h.role.label, "summary": h.summary}
            for name, h in sorted(self.handlers.items())
            if role is not None and role >= h.role
        }
        return {"commands": allowed}

    def _cmd_whoami(self, _args: Any, peer: PeerCred) -> dict[str, Any]:
        role = self.roles.role_for(peer)
        return {"uid": peer.uid, "gid": peer.gid, "role": role.label if role else None}


def _error(request_id: int | None, code: str, message: str) -> Reply:
    return Reply(id=request_id, ok=False, error=ErrorBody(code=code, message=message))


def _id_of(raw: Any) -> int | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _summary(exc: ValidationError) -> str:
    """Field paths and messages only: never echo the (possibly personal) input values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(_place(p) for p in err["loc"]) or "request"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_\[\]-]{0,39}")


def _place(part: str | int) -> str:
    """A field name or list index of an error's location; a key the client made up that is not
    a plain name (a newline, a sentence, 5 kB) is not repeated."""
    if isinstance(part, int) or _FIELD.fullmatch(part):
        return str(part)
    return "<field>"
