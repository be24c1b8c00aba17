"""``picamera2`` camera: a Raspberry Pi camera module through libcamera.

``picamera2`` is imported when the camera opens, not when this module is imported, so the
package imports (and every test runs) on machines without libcamera. On Raspberry Pi OS it
comes from apt (``python3-picamera2``) and the venv needs ``--system-site-packages``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..clock import Clock, SystemClock
from ..config.camera import Picamera2CameraConfig
from ..errors import CameraError
from .base import CameraBase
from .frame import Frame

__all__ = ["Picamera2Camera"]

logger = logging.getLogger(__name__)


_NUMPY_ABI_HINTS = ("numpy.dtype size changed", "numpy.ndarray size changed", "numpy.core")


def _import_picamera2() -> Any:
    """``picamera2.Picamera2``, or one ``CameraError`` naming the cause and the fix.

    Importing picamera2 also imports libcamera's bindings and C extensions built by Raspberry
    Pi OS against Bookworm's numpy 1.24 (``python3-simplejpeg``, …): a numpy 2 in the venv
    makes them fail with ``ValueError: numpy.dtype size changed``, a libcamera mismatch with
    ``RuntimeError`` or ``AttributeError``. Any of these is a camera error, not a traceback.
    """
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        if getattr(exc, "name", None) in ("picamera2", "libcamera") or "picamera2" in str(exc):
            raise CameraError(
                f"picamera2 is not installed ({exc}): on Raspberry Pi OS run "
                "`sudo apt install python3-picamera2 python3-libcamera` (or "
                "`sudo scripts/install.sh --camera picamera2`) and create the venv with "
                "--system-site-packages"
            ) from exc
        raise CameraError(f"picamera2 cannot be imported: {exc}") from exc
    except Exception as exc:  # ValueError (numpy ABI), RuntimeError, AttributeError, …
        import numpy

        text = f"{type(exc).__name__}: {exc}"
        if any(hint in text for hint in _NUMPY_ABI_HINTS):
            raise CameraError(
                f"picamera2 cannot be imported ({text}): Raspberry Pi OS builds it against "
                f"numpy 1.x and this venv has numpy {numpy.__version__}; install facegate "
                "with its `picamera` extra (numpy<2), as `sudo scripts/install.sh --camera "
                "picamera2` does"
            ) from exc
        raise CameraError(f"picamera2 cannot be imported ({text})") from exc
    return Picamera2


class Picamera2Camera(CameraBase):
    """Reads frames from a Pi camera module as RGB arrays."""

    name = "picamera2"

    def __init__(
        self,
        *,
        camera_num: int = 0,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        hflip: bool = False,
        vflip: bool = False,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.camera_num = camera_num
        self.width, self.height, self.fps = width, height, fps
        self.hflip, self.vflip = hflip, vflip
        self.clock = clock or SystemClock()
        self._cam: Any = None

    def open(self) -> None:
        Picamera2 = _import_picamera2()
        try:
            cam = Picamera2(self.camera_num)
            # "RGB888" in libcamera is BGR byte order in memory; ask for XBGR8888, which is
            # R, G, B, X in memory, and drop the padding channel.
            controls: dict[str, Any] = {"FrameRate": float(self.fps)}
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "XBGR8888"},
                controls=controls,
                buffer_count=2,
            )
            try:
                from libcamera import Transform

                config["transform"] = Transform(hflip=int(self.hflip), vflip=int(self.vflip))
            except ImportError:
                if self.hflip or self.vflip:
                    logger.warning("libcamera Transform unavailable; flip settings ignored")
            cam.configure(config)
            cam.start()
        except Exception as exc:  # libcamera raises plain RuntimeError/IndexError
            raise CameraError(f"picamera2: cannot start camera {self.camera_num}: {exc}") from exc
        self._cam = cam
        self._opened = True
        logger.info("pi camera %d started at %dx%d", self.camera_num, self.width, self.height)

    def read(self) -> Frame | None:
        if self._cam is None:
            raise CameraError("picamera2: read() before open()")
        try:
            array = self._cam.capture_array("main")
        except Exception as exc:
            raise CameraError(f"picamera2: capture failed: {exc}") from exc
        rgb = np.ascontiguousarray(array[:, :, :3])
        return Frame(image=rgb, index=self._next_index(), timestamp=self.clock.monotonic())

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            except Exception:  # closing a failed camera must not mask the original error
                logger.debug("picamera2: error while closing", exc_info=True)
            self._cam = None
        super().close()


def build(cfg: Picamera2CameraConfig, *, clock: Clock | None = None) -> Picamera2Camera:
    """The ``type: picamera2`` camera (not opened yet)."""
    return Picamera2Camera(
        camera_num=cfg.camera_num,
        width=cfg.width,
        height=cfg.height,
        fps=cfg.fps,
        hflip=cfg.hflip,
        vflip=cfg.vflip,
        clock=clock,
    )
