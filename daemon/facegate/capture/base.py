"""Shared behaviour of the camera backends."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

import cv2
import numpy as np

from ..errors import CameraError
from .frame import Frame

__all__ = ["CameraBase", "to_rgb"]


def to_rgb(image: np.ndarray, *, source: str) -> np.ndarray:
    """Convert an OpenCV image (grey, BGR or BGRA, 8 or 16 bit) to contiguous RGB uint8."""
    if image is None or image.size == 0:
        raise CameraError(f"{source}: empty frame")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise CameraError(f"{source}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise CameraError(f"{source}: unsupported frame shape {image.shape}")


class CameraBase(ABC):
    """Context-manager plumbing and frame numbering for backends."""

    name = "camera"

    def __init__(self) -> None:
        self._index = 0
        self._opened = False

    @abstractmethod
    def open(self) -> None:
        """Open the device; raise ``CameraError`` with a clear message when it cannot."""

    @abstractmethod
    def read(self) -> Frame | None:
        """Return the next frame, or ``None`` when a finite source is exhausted."""

    def close(self) -> None:
        self._opened = False

    def _next_index(self) -> int:
        index = self._index
        self._index += 1
        return index

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
