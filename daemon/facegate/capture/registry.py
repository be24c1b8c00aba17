"""Camera backends by ``type``: the one place that maps a configured camera to its builder.

Each backend module holds its camera class and ``build(cfg, *, clock)``. Adding a camera type
is its config class (``config/camera.py``), its module in ``capture/`` and one line below.
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import Clock
from ..config.camera import CameraConfig
from . import opencv, picamera2, replay
from .frame import Camera

__all__ = ["CAMERAS", "make_camera"]

CAMERAS: dict[str, Callable[..., Camera]] = {
    "replay": replay.build,
    "opencv": opencv.build,
    "picamera2": picamera2.build,
}


def make_camera(cfg: CameraConfig, *, clock: Clock | None = None) -> Camera:
    """Build the backend the configuration's ``type`` names (not opened yet)."""
    return CAMERAS[cfg.type](cfg, clock=clock)
