"""The ``Frame`` every camera backend produces and the ``Camera`` protocol they implement."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np

__all__ = ["Camera", "Frame"]


@dataclass(slots=True, frozen=True)
class Frame:
    """One camera frame, held in memory only (facegate never writes frames to disk).

    Attributes:
        image: RGB, uint8, H×W×3, C-contiguous.
        index: sequence number from the backend, starting at 0.
        timestamp: the capturing clock's ``monotonic()`` when the frame arrived.
    """

    image: np.ndarray
    index: int
    timestamp: float

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@runtime_checkable
class Camera(Protocol):
    """A source of frames. Backends are context managers; ``close()`` releases the device.

    ``read()`` blocks until the next frame and returns ``None`` only when a finite source is
    exhausted. It raises ``CameraError`` when the device fails.
    """

    name: str

    def open(self) -> None: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
