"""``camera:`` — where frames come from; ``type:`` picks both the schema and the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from .base import Section

__all__ = ["CameraConfig", "OpenCVCameraConfig", "Picamera2CameraConfig", "ReplayCameraConfig"]


class ReplayCameraConfig(Section):
    """Replays a video file or a folder of images as if it were a camera."""

    type: Literal["replay"] = Field(description="Replay a recording (for demos, tests, benches).")
    path: Path = Field(description="A video file (mp4, avi, …) or a folder of JPEG/PNG frames.")
    fps: float = Field(default=15.0, gt=0.0, le=120.0, description="Frames per second to play at.")
    loop: bool = Field(default=True, description="Start again from the first frame at the end.")
    realtime: bool = Field(
        default=True,
        description="Pace frames at `fps` in real time; false replays as fast as they are read.",
    )


class OpenCVCameraConfig(Section):
    """A USB/V4L2 camera read through OpenCV."""

    type: Literal["opencv"] = Field(description="A V4L2 device read through OpenCV.")
    device: int | str = Field(
        default=0,
        description="Device index (0 for /dev/video0) or a device path such as /dev/video2.",
    )
    width: int = Field(default=640, ge=160, le=3840, description="Requested frame width, pixels.")
    height: int = Field(default=480, ge=120, le=2160, description="Requested frame height, pixels.")
    fps: float = Field(default=15.0, gt=0.0, le=120.0, description="Requested frame rate.")


class Picamera2CameraConfig(Section):
    """A Raspberry Pi camera module read through picamera2/libcamera."""

    type: Literal["picamera2"] = Field(description="A Raspberry Pi camera module (libcamera).")
    camera_num: int = Field(default=0, ge=0, le=7, description="Which camera, for boards with two.")
    width: int = Field(default=640, ge=160, le=4608, description="Frame width, pixels.")
    height: int = Field(default=480, ge=120, le=2592, description="Frame height, pixels.")
    fps: float = Field(default=15.0, gt=0.0, le=120.0, description="Frame rate.")
    hflip: bool = Field(default=False, description="Mirror the image horizontally.")
    vflip: bool = Field(default=False, description="Flip the image vertically.")


CameraConfig = Annotated[
    ReplayCameraConfig | OpenCVCameraConfig | Picamera2CameraConfig,
    Field(discriminator="type", description="The camera backend; `type` selects it."),
]
