"""The capture thread and the one-frame mailbox between it and the main loop.

The main loop must always work on the newest frame: a gate that decides on a frame from two
seconds ago opens for someone who already walked away. So the capture thread overwrites a
single slot, and frames the loop did not get to are dropped (and counted), never queued.
"""

from __future__ import annotations

import logging
import threading

from ..errors import CameraError
from .frame import Camera, Frame

__all__ = ["CaptureThread", "LatestFrame"]

logger = logging.getLogger(__name__)


class LatestFrame:
    """A one-slot mailbox holding only the most recent frame."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.error: CameraError | None = None
        self.received = 0
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.received += 1
            self._cond.notify_all()

    def fail(self, error: CameraError) -> None:
        """Record a camera failure and wake the reader."""
        with self._cond:
            self.error = error
            self._closed = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed and self._frame is None

    def get(self, timeout: float) -> Frame | None:
        """Take the newest frame, waiting up to ``timeout`` seconds; ``None`` if none came."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame


class CaptureThread(threading.Thread):
    """Reads ``camera`` continuously into ``slot`` until stopped or the source ends."""

    def __init__(self, camera: Camera, slot: LatestFrame) -> None:
        super().__init__(name="facegate-capture", daemon=True)
        self.camera = camera
        self.slot = slot
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                frame = self.camera.read()
                if frame is None:
                    logger.info("camera source ended")
                    break
                self.slot.put(frame)
        except CameraError as exc:
            logger.error("camera failed: %s", exc)
            self.slot.fail(exc)
        except Exception as exc:  # a backend bug must still wake the loop, which fails safe
            logger.exception("camera thread crashed")
            self.slot.fail(CameraError(f"camera thread crashed: {exc}"))
        finally:
            self.slot.close()
