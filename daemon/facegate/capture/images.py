"""Photos from files or bytes, read with bounded memory and never blocking.

``cv2.imread`` follows any path (a FIFO blocks it for ever) and decodes the whole image before
anyone can downscale it: a 20000×20000 PNG of 1.2 MB on disk takes 2.6 GB of memory. Here a
photo is read only from a regular file (opened non-blocking, checked again after opening), at
most :data:`MAX_FILE_BYTES` long; its width and height are read from the header before any
decoding; a JPEG larger than :data:`MAX_DECODE_PIXELS` is decoded at 1/2, 1/4 or 1/8 of its
size by libjpeg's DCT scaling (memory follows the reduced size), and anything else larger than
that is refused. The result is RGB, at most ``max_side`` pixels on its longer side.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageError

__all__ = [
    "MAX_DECODE_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "decode_image",
    "image_size",
    "read_image",
]

MAX_FILE_BYTES = 40 * 1024 * 1024  # a camera original is 5-15 MB
MAX_DECODE_PIXELS = 40_000_000  # decoded at most 40 MP: 120 MB of pixels, fine on a Pi 4
MAX_PIXELS = 8 * 8 * MAX_DECODE_PIXELS  # a JPEG up to 2,560 MP is decoded at 1/8

_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
          4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}  # fmt: skip
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8"
# JPEG start-of-frame markers (baseline, progressive, lossless …), not DHT/JPG/DAC.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` from a JPEG or PNG header, without decoding pixels.

    Raises:
        ImageError: not a JPEG or PNG, or its header is damaged.
    """
    if data.startswith(_PNG):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageError("a damaged PNG (no IHDR header)")
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(_JPEG):
        return ("jpeg", *_jpeg_size(data))
    raise ImageError("not a JPEG or PNG image")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageError("a damaged JPEG (bad marker)")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            raise ImageError("a damaged JPEG (bad segment length)")
        pos += 2 + length
    raise ImageError("a damaged JPEG (no frame header)")


def decode_image(data: bytes, *, max_side: int = 1600) -> np.ndarray:
    """Decode JPEG or PNG bytes to RGB uint8, at most ``max_side`` on the longer side.

    Raises:
        ImageError: not a JPEG/PNG, damaged, or too large to decode within the memory bound.
    """
    fmt, width, height = image_size(data)
    pixels = width * height
    if width == 0 or height == 0:
        raise ImageError("an image with no pixels")
    if pixels > MAX_PIXELS or (fmt != "jpeg" and pixels > MAX_DECODE_PIXELS):
        raise ImageError(
            f"{width}×{height} pixels is too large to read safely "
            f"(at most {MAX_DECODE_PIXELS // 1_000_000} megapixels for PNG, "
            f"{MAX_PIXELS // 1_000_000} for JPEG)"
        )
    factor = 1
    if fmt == "jpeg":  # the least reduction that fits the bound (full size when it fits)
        factor = next(f for f in (1, 2, 4, 8) if f == 8 or pixels / (f * f) <= MAX_DECODE_PIXELS)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), _FLAGS[factor])
    if bgr is None or bgr.size == 0:
        raise ImageError("a damaged image (it does not decode)")
    scale = max_side / max(bgr.shape[:2])
    if scale < 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def read_image(path: str | Path, *, max_side: int = 1600) -> np.ndarray:
    """Read a photo file (see the module's notes) as RGB uint8.

    Raises:
        ImageError: with a one-line reason that names the file.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{p}: is a folder, not a photo") from None
    except OSError as exc:
        raise ImageError(f"{p}: cannot be opened ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{p}: not a regular file (a pipe, device or socket is not read)")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageError(f"{p}: {info.st_size} bytes is larger than a photo can be")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        return decode_image(data, max_side=max_side)
    except ImageError as exc:
        raise ImageError(f"{p}: {exc}") from None
