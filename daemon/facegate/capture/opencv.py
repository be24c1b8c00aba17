"""``opencv`` camera: a V4L2 device (USB webcam, HDMI grabber) read through OpenCV."""

from __future__ import annotations

import logging

import cv2

from ..clock import Clock, SystemClock
from ..config.camera import OpenCVCameraConfig
from ..errors import CameraError
from .base import CameraBase, to_rgb
from .frame import Frame

__all__ = ["OpenCVCamera"]

logger = logging.getLogger(__name__)


class OpenCVCamera(CameraBase):
    """Reads a V4L2 camera by index (``0`` = ``/dev/video0``) or by device path.

    Args:
        device: index or path.
        width, height, fps: requested mode; the driver may pick the nearest it supports.
        read_timeout_failures: consecutive failed reads before the camera is declared gone.
    """

    name = "opencv"

    def __init__(
        self,
        device: int | str = 0,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        clock: Clock | None = None,
        read_failures_allowed: int = 10,
    ) -> None:
        super().__init__()
        self.device = device
        self.width, self.height, self.fps = width, height, fps
        self.clock = clock or SystemClock()
        self.read_failures_allowed = read_failures_allowed
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        target: int | str = self.device
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"opencv: cannot open camera {self.device!r} (is it plugged in, and is the "
                "service user in the 'video' group?)"
            )
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # Keep the driver queue short: the daemon wants the latest frame, not a backlog.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self._opened = True
        logger.info(
            "camera %s opened at %dx%d",
            self.device,
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError("opencv: read() before open()")
        for _ in range(self.read_failures_allowed):
            ok, image = self._cap.read()
            if ok and image is not None:
                rgb = to_rgb(image, source=f"camera {self.device}")
                return Frame(image=rgb, index=self._next_index(), timestamp=self.clock.monotonic())
        raise CameraError(
            f"opencv: camera {self.device!r} returned no frame "
            f"{self.read_failures_allowed} times in a row (unplugged?)"
        )

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()


def build(cfg: OpenCVCameraConfig, *, clock: Clock | None = None) -> OpenCVCamera:
    """The ``type: opencv`` camera (not opened yet)."""
    return OpenCVCamera(cfg.device, width=cfg.width, height=cfg.height, fps=cfg.fps, clock=clock)
