"""The byte-level reader for dlib's serialization format (see ``dlib_dnn`` for the format).

A cursor over a file's bytes that decodes dlib's integers, floats, bools, strings and tensors
and, on any error, names the file, the record being read and the byte offset.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from facegate.errors import ModelError

__all__ = ["ByteReader"]

_MAX_STRING: Final = 64  # no record name in the format is longer
_MAX_TENSOR_FLOATS: Final = 1 << 26  # 256 MB of floats: far above any layer of this network
_FLOAT_INF: Final = 32000
_FLOAT_NINF: Final = 32001
_FLOAT_NAN: Final = 32002


class ByteReader:
    """A cursor over the file's bytes that names the file, the layer and the offset on error."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.view = memoryview(data)
        self.pos = 0
        self.source = source
        self.context = "file header"

    def error(self, problem: str, at: int | None = None) -> ModelError:
        offset = self.pos if at is None else at
        return ModelError(
            f"{self.source}: {self.context}: {problem} at byte {offset:,}; the file is "
            "truncated, corrupted or not dlib's face recognition ResNet v1 (run `facegate "
            "models install` to fetch it again)"
        )

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.error(
                f"the file ends while reading {what} ({n:,} bytes needed, "
                f"{len(self.data) - self.pos:,} left)"
            )
        chunk = self.view[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def integer(self, what: str, max_bytes: int = 8, signed: bool = True) -> int:
        start = self.pos
        control = self.take(1, what)[0]
        size = control & 0x0F
        if control & 0x70:
            raise self.error(f"invalid integer control byte 0x{control:02x} in {what}", start)
        if size > max_bytes:
            raise self.error(f"{what} is {size} bytes long, more than {max_bytes}", start)
        negative = bool(control & 0x80)
        if negative and not signed:
            raise self.error(f"{what} is negative", start)
        value = int.from_bytes(self.take(size, what), "little") if size else 0
        return -value if negative else value

    def real(self, what: str) -> float:
        start = self.pos
        mantissa = self.integer(f"{what} (mantissa)", 8)
        exponent = self.integer(f"{what} (exponent)", 2)
        if exponent == _FLOAT_INF:
            return math.inf
        if exponent == _FLOAT_NINF:
            return -math.inf
        if exponent == _FLOAT_NAN:
            return math.nan
        if exponent > _FLOAT_INF:
            raise self.error(f"{what} has an invalid exponent {exponent}", start)
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError:
            return math.inf if mantissa > 0 else -math.inf

    def finite(self, what: str) -> float:
        start = self.pos
        value = self.real(what)
        if not math.isfinite(value):
            raise self.error(f"{what} is {value}, not a finite number", start)
        return value

    def flag(self, what: str) -> bool:
        start = self.pos
        byte = self.take(1, what)[0]
        if byte not in (0x30, 0x31):
            raise self.error(f"{what} is the byte 0x{byte:02x}, not '0' or '1'", start)
        return byte == 0x31

    def string(self, what: str) -> str:
        start = self.pos
        length = self.integer(f"the length of {what}", signed=False)
        if length > _MAX_STRING:
            raise self.error(f"{what} claims {length:,} bytes", start)
        raw = bytes(self.take(length, what))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.error(f"{what} is not ASCII text ({raw[:20]!r})", start) from None

    def record_name(self, allowed: tuple[str, ...]) -> str:
        start = self.pos
        name = self.string("the record name")
        if name not in allowed:
            wanted = " or ".join(repr(a) for a in allowed)
            raise self.error(f"expected the record {wanted} but found {name!r}", start)
        return name

    def version(self, what: str, allowed: tuple[int, ...]) -> int:
        start = self.pos
        value = self.integer(f"the {what} version", 4)
        if value not in allowed:
            wanted = " or ".join(str(a) for a in allowed)
            raise self.error(f"the {what} version is {value}, expected {wanted}", start)
        return value

    def dims(self, what: str) -> tuple[int, int, int, int]:
        start = self.pos
        values = tuple(self.integer(f"{what} {name}") for name in ("num_samples", "k", "nr", "nc"))
        if any(v < 0 for v in values):
            raise self.error(f"{what} has a negative dimension {values}", start)
        return values  # type: ignore[return-value]

    def tensor(self, what: str) -> np.ndarray:
        """A ``resizable_tensor``: float32 of shape ``(num_samples, k, nr, nc)``."""
        self.version(f"{what} tensor", (2,))
        start = self.pos
        shape = self.dims(what)
        count = math.prod(shape)
        if count > _MAX_TENSOR_FLOATS:
            raise self.error(f"{what} claims {count:,} values", start)
        raw = self.take(4 * count, f"the {count:,} values of {what}")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only its dimensions."""
        self.version(f"{what} alias_tensor", (1,))
        return self.dims(what)
