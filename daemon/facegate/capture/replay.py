"""``replay`` camera: a video file or a folder of images, looping, paced at a set fps."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ..clock import Clock, SystemClock
from ..config.camera import ReplayCameraConfig
from ..errors import CameraError
from .base import CameraBase, to_rgb
from .frame import Frame

__all__ = ["IMAGE_SUFFIXES", "ReplayCamera"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


class ReplayCamera(CameraBase):
    """Plays a recording as a camera.

    Args:
        path: a video file OpenCV can decode, or a folder of images (played in name order).
        fps: frames per second.
        loop: start over at the end instead of returning ``None``.
        realtime: sleep between frames so they arrive at ``fps`` (on ``clock``).
        clock: time source; the demo and tests pass a ``FakeClock``.
    """

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float = 15.0,
        loop: bool = True,
        realtime: bool = True,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        if fps <= 0:
            raise CameraError(f"replay: fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.loop = loop
        self.realtime = realtime
        self.clock = clock or SystemClock()
        self._video: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._pos = 0
        self._next_due: float | None = None

    def open(self) -> None:
        if not self.path.exists():
            raise CameraError(f"replay: {self.path} does not exist")
        if self.path.is_file() and self.path.suffix.lower() in IMAGE_SUFFIXES:
            self._images = [self.path]  # one still image, shown at fps
        elif self.path.is_dir():
            self._images = sorted(
                p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self._images:
                raise CameraError(f"replay: no JPEG/PNG images in folder {self.path}")
        else:
            video = cv2.VideoCapture(str(self.path))
            if not video.isOpened():
                raise CameraError(f"replay: cannot decode {self.path} as a video")
            self._video = video
        self._pos = 0
        self._next_due = None
        self._opened = True
        logger.info("replay camera opened: %s at %.1f fps", self.path, self.fps)

    def read(self) -> Frame | None:
        if not self._opened:
            raise CameraError("replay: read() before open()")
        image = self._read_raw()
        if image is None:
            return None
        self._pace()
        return Frame(image=image, index=self._next_index(), timestamp=self.clock.monotonic())

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
        super().close()

    def _pace(self) -> None:
        if not self.realtime:
            return
        now = self.clock.monotonic()
        if self._next_due is None:
            self._next_due = now
        delay = self._next_due - now
        if delay > 0:
            self.clock.sleep(delay)
        # If the reader fell behind, resynchronise instead of bursting to catch up.
        self._next_due = max(self._next_due, now) + 1.0 / self.fps

    def _read_raw(self) -> np.ndarray | None:
        if self._video is not None:
            ok, image = self._video.read()
            if not ok:
                if self._pos == 0:
                    raise CameraError(f"replay: {self.path} has no decodable frames")
                if not self.loop:
                    return None
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._pos = 0
                ok, image = self._video.read()
                if not ok:
                    raise CameraError(f"replay: {self.path} cannot be rewound")
            self._pos += 1
            return to_rgb(image, source=f"replay {self.path}")
        # Folder of images: skip unreadable files with a warning instead of stopping the camera.
        for _ in range(len(self._images)):
            if self._pos >= len(self._images):
                if not self.loop:
                    return None
                self._pos = 0
            path = self._images[self._pos]
            self._pos += 1
            raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if raw is None:
                logger.warning("replay: skipping unreadable image %s", path.name)
                continue
            return to_rgb(raw, source=f"replay {path.name}")
        raise CameraError(f"replay: none of the images in {self.path} can be read")


def build(cfg: ReplayCameraConfig, *, clock: Clock | None = None) -> ReplayCamera:
    """The ``type: replay`` camera (not opened yet)."""
    return ReplayCamera(cfg.path, fps=cfg.fps, loop=cfg.loop, realtime=cfg.realtime, clock=clock)
