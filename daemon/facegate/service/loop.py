"""The daemon's loop: every way in is served each turn; the camera's frames come in between.

:func:`serve` drives an :class:`~.app.App`: the newest camera frame goes through the face path
between turns of the loop that polls the readers, the doors and the admin calls. A camera
that fails, or is lost or frozen, is closed and reopened after a growing delay
(``service/face_way.py``) while the loop keeps serving PIN, card and the doors' inputs.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import closing
from typing import Protocol

from ..capture import Camera, Frame
from ..capture.latest import CaptureThread, LatestFrame
from ..errors import CameraError
from .face_way import FaceWay

__all__ = ["Served", "serve"]


class Served(Protocol):
    """What the loop needs of the daemon (``App``)."""

    face_way: FaceWay

    @property
    def camera(self) -> Camera | None: ...

    def handle_frame(self, frame: Frame) -> object: ...

    def tick(self) -> None: ...


def serve(app: Served, stop: threading.Event, frame_timeout_s: float) -> None:
    """Run ``app`` until ``stop`` is set (or a replayed camera source ends)."""
    while not stop.is_set():
        camera = app.camera
        if camera is None:  # no face path, or the camera is down: serve the other ways in
            stop.wait(frame_timeout_s)
            app.tick()
            continue
        try:
            # closing(): the capture thread stops at once, even when handling a frame raises.
            with closing(_newest_frames(camera, stop, frame_timeout_s)) as frames:
                for frame in frames:
                    if frame is not None:
                        app.handle_frame(frame)
                    app.tick()
                    if app.face_way.restart_requested:
                        break  # the camera is lost or frozen: reopen it after a delay
                else:
                    return  # stopped, or a replayed source ended
        except CameraError as exc:
            app.face_way.camera_failed(exc)
            continue
        app.face_way.restart_camera()


def _newest_frames(
    camera: Camera, stop: threading.Event, timeout_s: float
) -> Generator[Frame | None, None, None]:
    """Capture in a thread; yield the newest frame (or ``None`` after ``timeout_s`` without
    one) until ``stop`` is set or the source ends.

    Raises:
        CameraError: the camera failed.
    """
    slot = LatestFrame()
    capture = CaptureThread(camera, slot)
    capture.start()
    try:
        while not stop.is_set():
            frame = slot.get(timeout_s)
            yield frame
            if frame is None and slot.closed:
                if slot.error is not None:
                    raise slot.error
                return
    finally:
        capture.stop()
        capture.join(timeout=2.0)
