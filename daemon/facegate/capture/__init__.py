"""Cameras: the ``Camera`` protocol, ``Frame``, and the replay/opencv/picamera2 backends."""

from __future__ import annotations

from ..clock import Clock
from ..config.camera import OpenCVCameraConfig, Picamera2CameraConfig, ReplayCameraConfig
from .frame import Camera, Frame
from .latest import LatestFrame
from .opencv import OpenCVCamera
from .picamera2 import Picamera2Camera
from .replay import ReplayCamera

__all__ = [
    "Camera",
    "Frame",
    "LatestFrame",
    "OpenCVCamera",
    "Picamera2Camera",
    "ReplayCamera",
    "make_camera",
]


def make_camera(
    cfg: ReplayCameraConfig | OpenCVCameraConfig | Picamera2CameraConfig,
    *,
    clock: Clock | None = None,
) -> Camera:
    """Build the backend the configuration's ``type`` names (not opened yet)."""
    if isinstance(cfg, ReplayCameraConfig):
        return ReplayCamera(
            cfg.path, fps=cfg.fps, loop=cfg.loop, realtime=cfg.realtime, clock=clock
        )
    if isinstance(cfg, OpenCVCameraConfig):
        return OpenCVCamera(
            cfg.device, width=cfg.width, height=cfg.height, fps=cfg.fps, clock=clock
        )
    return Picamera2Camera(
        camera_num=cfg.camera_num,
        width=cfg.width,
        height=cfg.height,
        fps=cfg.fps,
        hflip=cfg.hflip,
        vflip=cfg.vflip,
        clock=clock,
    )
