"""``AdminServer``: the Unix socket through which a running daemon is managed.

The socket lives in the runtime directory (``/run/facegate/admin.sock``), mode 0660, group
``facegate-admin``. Each connection gets a thread (at most ``max_clients`` at once) and a
timeout; each request is checked in order — frame size, JSON, schema, known command, the
caller's role (``SO_PEERCRED`` → ``RoleMap``), the command's own argument model — and every
outcome, accepted or refused, is reported to ``on_audit`` (command and outcome only, never
the arguments). Nothing a client sends can stop the server.

Handlers are pluggable: ``{"status": Handler(Role.AUDITOR, app_status), ...}``.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import stat
import threading
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
    FrameTooLarge,
    Reply,
    Request,
    decode,
    encode,
    read_frame,
    write_frame,
)
from .roles import PeerCred, Role, RoleMap, peer_credentials

__all__ = ["AdminAuditEvent", "AdminCommandError", "AdminServer", "Handler", "HandlerFunc"]

logger = logging.getLogger(__name__)

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

    outcome: str  # ok, forbidden, unknown_command, bad_json, bad_request, bad_args, too_large, ...
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
        timeout_s: per-connection idle/read timeout.
        max_clients: connections served at once; more are told ``busy``.
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
        self._slots = threading.BoundedSemaphore(max_clients)
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
            if not self._slots.acquire(blocking=False):
                self._refuse_busy(conn)
                continue
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._workers.add(worker)
            worker.start()

    def _refuse_busy(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(1.0)
                peer = peer_credentials(conn)
                self._audit("busy", peer, None, None)
                write_frame(conn, encode(_error(None, "busy", "too many admin connections")))
            except OSError:
                pass

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(self.timeout_s)
                peer = peer_credentials(conn)
                role = self.roles.role_for(peer)
                while not self._stop.is_set():
                    try:
                        frame = read_frame(conn, self.max_bytes)
                    except FrameTooLarge as exc:
                        self._audit("too_large", peer, role, None, size=exc.size)
                        write_frame(conn, encode(_error(None, "too_large", str(exc))))
                        return  # the body was not read: the stream cannot be resynced
                    except (FrameError, TimeoutError):
                        return
                    if frame is None:
                        return
                    reply = self._handle(frame, peer, role)
                    write_frame(conn, encode(reply))
        except OSError as exc:  # the client went away; nothing to do
            logger.debug("admin connection ended: %s", exc)
        except Exception:  # never let one connection take the server down
            logger.exception("admin connection failed")
        finally:
            self._slots.release()
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _handle(self, frame: bytes, peer: PeerCred, role: Role | None) -> Reply:
        try:
            raw = decode(frame)
        except (ValueError, UnicodeDecodeError):
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
        where = ".".join(str(p) for p in err["loc"]) or "request"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
