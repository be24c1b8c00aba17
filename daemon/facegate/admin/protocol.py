"""The admin wire format: length-prefixed JSON with a strict schema.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. A request is
``{"v": 1, "id": 7, "command": "person.withdraw", "args": {...}}`` (``extra="forbid"``); a
reply is ``{"v": 1, "id": 7, "ok": true, "result": {...}}`` or ``{"ok": false, "error":
{"code": "forbidden", "message": "..."}}``. Frames above ``max_bytes`` are refused unread.

JSON is read strictly: ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``),
which Python's ``json`` accepts, are refused (``RequestRefused``), and so is nesting deeper
than ``MAX_DEPTH`` — a request is a flat object, and nothing a client sends may reach the
interpreter's recursion limit. A server reads a frame against a whole-request deadline
(``read_frame(..., deadline=...)``), not a per-``recv`` timeout, so a client that trickles
bytes cannot hold a connection longer than the deadline.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MAX_BYTES",
    "EXPORT_MAX_BUNDLE_BYTES",
    "EXPORT_REPLY_BYTES",
    "MAX_DEPTH",
    "ErrorBody",
    "FrameError",
    "FrameTimeout",
    "FrameTooLarge",
    "Reply",
    "Request",
    "RequestRefused",
    "decode",
    "encode",
    "read_frame",
    "write_frame",
]

DEFAULT_MAX_BYTES = 64 * 1024
# The one large reply: ``audit.export`` carries a bundle of at most this many bytes, base64
# (a third more) in JSON; a client fetching it accepts a frame of EXPORT_REPLY_BYTES.
EXPORT_MAX_BUNDLE_BYTES = 8 * 1024 * 1024
EXPORT_REPLY_BYTES = 4 * EXPORT_MAX_BUNDLE_BYTES // 3 + 64 * 1024
MAX_DEPTH = 16  # the deepest request today is 3 levels: {"args": {"templates": [...]}}
_HEADER = struct.Struct(">I")


class FrameError(ConnectionError):
    """The peer closed mid-frame or sent something that is not a frame."""


class FrameTooLarge(FrameError):
    """The announced frame length exceeds the limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class FrameTimeout(TimeoutError):
    """The deadline passed before a whole frame arrived.

    ``started``: some bytes of the frame had arrived (a slow or stalled sender), rather than
    none (an idle connection).
    """

    def __init__(self, started: bool) -> None:
        super().__init__("the request did not arrive in time")
        self.started = started


class RequestRefused(ValueError):
    """JSON that Python parses but the protocol refuses: a number that is not finite, or
    nesting deeper than ``MAX_DEPTH``. The message says which, never the value."""


class Request(BaseModel):
    """One admin request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(default=1, description="Protocol version.")
    id: int | None = Field(default=None, ge=0, le=2**31, description="Echoed in the reply.")
    command: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
    args: dict[str, Any] = Field(default_factory=dict, description="Command arguments.")


class ErrorBody(BaseModel):
    """Why a request failed: a stable ``code`` and a message for a terminal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str


class Reply(BaseModel):
    """One admin reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    id: int | None = None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None


def encode(value: BaseModel | dict[str, Any]) -> bytes:
    """JSON bytes of a model or a dict."""
    if isinstance(value, BaseModel):
        return value.model_dump_json(exclude_none=True).encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _refuse_constant(name: str) -> Any:
    raise RequestRefused(f"{name} is not a number this protocol accepts (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RequestRefused("a number is too large for a float (numbers must be finite)")
    return value


def _check_depth(value: Any, limit: int) -> None:
    """Refuse containers nested deeper than ``limit`` (iteratively: no recursion here)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise RequestRefused(f"the request is nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def decode(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes strictly.

    Raises:
        RequestRefused: ``NaN``, ``Infinity``, a number beyond a float's range, or nesting
            deeper than ``max_depth``.
        ValueError: not UTF-8 or not JSON (``UnicodeDecodeError`` is a ``ValueError``).
    """
    text = data.decode("utf-8")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # deeper than the interpreter's limit: refused the same way
        raise RequestRefused(f"the request is nested deeper than {max_depth} levels") from None
    _check_depth(value, max_depth)
    return value


def _remaining(deadline: float | None, started: bool) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise FrameTimeout(started)
    return left


def _recv(sock: socket.socket, n: int, deadline: float | None, started: bool) -> bytes:
    left = _remaining(deadline, started)
    if left is not None:
        sock.settimeout(left)
    try:
        return sock.recv(n)
    except TimeoutError:
        if deadline is None:
            raise
        raise FrameTimeout(started) from None


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = _recv(sock, min(n, 65_536), deadline, True)
        if not chunk:
            raise FrameError("connection closed mid-frame")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(
    sock: socket.socket, max_bytes: int = DEFAULT_MAX_BYTES, *, deadline: float | None = None
) -> bytes | None:
    """Read one frame; None on a clean end of stream before a header.

    Args:
        deadline: a ``time.monotonic()`` instant by which the whole frame must have arrived
            (None: only the socket's own timeout applies, per ``recv``).

    Raises:
        FrameTooLarge: the header announces more than ``max_bytes``.
        FrameError: the stream ended inside a frame.
        FrameTimeout: the deadline passed.
        TimeoutError: the socket timeout passed (without a deadline).
    """
    first = _recv(sock, _HEADER.size, deadline, False)
    if not first:
        return None
    if len(first) < _HEADER.size:
        first += _recv_exact(sock, _HEADER.size - len(first), deadline)
    (size,) = _HEADER.unpack(first)
    if size > max_bytes:
        raise FrameTooLarge(size, max_bytes)
    return _recv_exact(sock, size, deadline) if size else b""


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)
