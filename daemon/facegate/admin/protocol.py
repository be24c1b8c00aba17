"""The admin wire format: length-prefixed JSON with a strict schema.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. A request is
``{"v": 1, "id": 7, "command": "person.withdraw", "args": {...}}`` (``extra="forbid"``); a
reply is ``{"v": 1, "id": 7, "ok": true, "result": {...}}`` or ``{"ok": false, "error":
{"code": "forbidden", "message": "..."}}``. Frames above ``max_bytes`` are refused unread.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ErrorBody",
    "FrameError",
    "FrameTooLarge",
    "Reply",
    "Request",
    "decode",
    "encode",
    "read_frame",
    "write_frame",
]

DEFAULT_MAX_BYTES = 64 * 1024
_HEADER = struct.Struct(">I")


class FrameError(ConnectionError):
    """The peer closed mid-frame or sent something that is not a frame."""


class FrameTooLarge(FrameError):
    """The announced frame length exceeds the limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


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


def decode(data: bytes) -> Any:
    """Parse JSON bytes (raises ``ValueError``)."""
    return json.loads(data.decode("utf-8"))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 65_536))
        if not chunk:
            raise FrameError("connection closed mid-frame")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes | None:
    """Read one frame; None on a clean end of stream before a header.

    Raises:
        FrameTooLarge: the header announces more than ``max_bytes``.
        FrameError: the stream ended inside a frame.
        TimeoutError: the socket timeout passed.
    """
    first = sock.recv(_HEADER.size)
    if not first:
        return None
    header = first + (_recv_exact(sock, _HEADER.size - len(first)) if len(first) < 4 else b"")
    (size,) = _HEADER.unpack(header)
    if size > max_bytes:
        raise FrameTooLarge(size, max_bytes)
    return _recv_exact(sock, size) if size else b""


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)
