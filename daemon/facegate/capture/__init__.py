"""Cameras: the ``Camera`` protocol, ``Frame``, and the replay/opencv/picamera2 backends."""

from __future__ import annotations

from .frame import Camera, Frame
from .latest import LatestFrame
from .opencv import OpenCVCamera
from .picamera2 import Picamera2Camera
from .registry import make_camera
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
