"""``AdminClient``: call a running daemon over its admin socket."""

from __future__ import annotations

import contextlib
import itertools
import socket
from pathlib import Path
from typing import Any

from ..errors import FacegateError
from .protocol import DEFAULT_MAX_BYTES, Reply, Request, decode, encode, read_frame, write_frame

__all__ = ["DEFAULT_SOCKET", "AdminClient", "AdminError"]

DEFAULT_SOCKET = Path("/run/facegate/admin.sock")


class AdminError(FacegateError, RuntimeError):
    """The daemon refused or failed a request; ``code`` says why (``forbidden``, …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class AdminClient:
    """One connection to the admin socket (opened on first call; a context manager).

    Args:
        path: the socket.
        timeout_s: connect/read timeout.
        max_bytes: largest accepted reply.
    """

    def __init__(
        self,
        path: Path = DEFAULT_SOCKET,
        *,
        timeout_s: float = 10.0,
        max_bytes: int = 16 * DEFAULT_MAX_BYTES,
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                sock.close()
                raise AdminError(
                    "unreachable", f"cannot reach the daemon at {self.path}: {exc.strerror}"
                ) from exc
            self._sock = sock
        return self._sock

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        """Send one request and return its result.

        Raises:
            AdminError: the daemon replied with an error, or could not be reached.
        """
        request = Request(id=next(self._ids), command=command, args=args)
        return self.call_raw(encode(request))

    def call_raw(self, payload: bytes) -> dict[str, Any]:
        """Send already-encoded bytes as one frame (tests, debugging)."""
        sock = self._connect()
        try:
            # The server may have answered before reading (``forbidden`` for a caller without
            # a role, ``busy``) and closed: a failed send leaves that answer to be read.
            with contextlib.suppress(OSError):
                write_frame(sock, payload)
            frame = read_frame(sock, self.max_bytes)
        except OSError as exc:
            self.close()
            raise AdminError("disconnected", f"the daemon closed the connection ({exc})") from exc
        if frame is None:
            self.close()
            raise AdminError("disconnected", "the daemon closed the connection")
        reply = Reply.model_validate(decode(frame))
        if not reply.ok and reply.id is None:
            # An answer to no request in particular (no role, busy, too large, too slow, not
            # JSON): the server has closed or will close this connection; the next call
            # opens a new one.
            self.close()
        if not reply.ok:
            error = reply.error
            raise AdminError(error.code if error else "error", error.message if error else "")
        return reply.result or {}

    def hang_up(self) -> None:
        """End the connection from another thread: a ``call`` waiting on it returns
        ``disconnected``, and the daemon sees its requester go (a long command stops)."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
