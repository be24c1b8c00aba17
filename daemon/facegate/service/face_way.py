"""The face way in, supervised on its own: it goes down and comes back without the others.

:class:`FaceWay` owns the camera and the face path of the camera's door. Whatever goes wrong
there — a rule of the Measures, a model that will not load, a camera that fails, goes dark,
freezes or stops sending frames, an exception inside the face path — takes face down at that
door (:class:`~.ways.WaysIn`, one cause each), reports it once through the actuator (audit,
event row, ``STATUS=``, timeline) and schedules a retry with a growing delay
(:class:`~.ways.FaceBackoff`). Nothing here ever stops the daemon or touches a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from ..capture import Camera, Frame, make_camera
from ..clock import Clock
from ..config import FacegateConfig
from ..readers.events import CardRead, FaceRequested, PinEntered
from ..recognition import FaceEvent, FacePath, build_face_path
from .actuator import Actuator, AppEvent
from .health import Health, HealthAlarm
from .ways import FaceBackoff, WaysIn

if TYPE_CHECKING:
    from .camera_enrol import FaceCapture

__all__ = ["FaceWay"]

logger = logging.getLogger(__name__)

CAMERA_ALARMS = {"camera_lost": "camera lost", "camera_frozen": "camera frozen",
                 "camera_dark": "camera dark"}  # fmt: skip
CAPTURE_REST_S = 10.0  # recognition's time back between two enrolments from the camera
RESTART_ON = ("camera_lost", "camera_frozen")  # a dark lens is not helped by a restart

Templates = Callable[[str], Iterable[tuple[str, np.ndarray]]]


class FaceWay:
    """Camera + face path for one door, with their faults contained.

    Args:
        cfg: the configuration.
        ways: the ways-in state this face way reports into.
        actuator: reports face going down and coming back.
        clock: the daemon's clock.
        health: camera and loop health (told when a camera is reopened).
        camera: a camera to use instead of the configured one (demo, tests, bench).
    """

    def __init__(
        self,
        cfg: FacegateConfig,
        ways: WaysIn,
        actuator: Actuator,
        clock: Clock,
        health: Health,
        camera: Camera | None = None,
    ) -> None:
        self.cfg = cfg
        self.ways = ways
        self.actuator = actuator
        self.clock = clock
        self.health_rules = health
        self.door = ways.face_door
        self._camera_override = camera
        self.camera: Camera | None = None
        self.face: FacePath | None = None
        self.restart_requested = False
        self._camera_alarms: set[str] = set()
        self.camera_retry = FaceBackoff()
        self.path_retry = FaceBackoff()
        self.capture: FaceCapture | None = None  # an enrolment from the camera, in progress
        self._capture_lock = threading.Lock()
        self._capture_ended = -CAPTURE_REST_S  # monotonic time the last capture ended

    # -- going down and coming back --------------------------------------------------------

    def down(self, cause: str, reason: str) -> None:
        """Face down for ``cause``; reported when face was up until now."""
        was_up = self.ways.set_down(cause, reason)
        logger.warning("face down at door %s: %s", self.door, reason)
        if was_up and self.door is not None:
            self.actuator.way(self.door, "face", False, self.ways.face_reason())

    def up(self, cause: str) -> None:
        """``cause`` has ended; reported when face is up again."""
        if self.ways.clear(cause) and self.door is not None:
            logger.info("face back up at door %s", self.door)
            self.actuator.way(self.door, "face", True, "")

    # -- start-up --------------------------------------------------------------------------

    def block(self, reasons: list[str]) -> None:
        """Rules of the Measures forbid face processing here: face stays down until a reload."""
        if reasons:
            self.down("rules", "; ".join(reasons))

    def build(self) -> None:
        """Load the face path's models; a failure takes face down, nothing else."""
        if self.door is None or "rules" in self.ways.down:
            return
        try:
            self.face = build_face_path(self.cfg, self.door)
        except Exception as exc:  # a model missing, changed or broken: face only
            self.face = None
            self.down("models", f"face models not usable: {_text(exc)}")

    def load_gallery(self, templates: Templates) -> None:
        if self.face is not None:
            self.face.load_gallery(templates(self.face.space))

    def same_face(self, templates: np.ndarray) -> str | None:
        """Who in the loaded gallery these templates match at the daemon's threshold."""
        from ..recognition.enrollment import find_in_gallery

        if self.face is None:
            return None
        found = find_in_gallery(self.face.pipeline, self.face.pipeline.gallery, templates)
        return None if found is None else found[0]

    def open_camera(self) -> None:
        """Open the camera; a failure takes face down and is retried after the back-off."""
        now = self.clock.monotonic()
        try:
            camera = self._camera_override or make_camera(self.cfg.camera, clock=self.clock)
            camera.open()
        except Exception as exc:
            delay = self.camera_retry.failed(now)
            self.down("camera", f"camera failed: {_text(exc)} (next try in {delay:.0f} s)")
            return
        self.camera = camera
        self.camera_retry.succeeded()
        reopened = self.health_rules.camera_opened()
        self.actuator.health(reopened)
        self.health(reopened)
        self.up("camera")

    def pause(self, door: str, seconds: float) -> None:
        """Someone uses a keypad or card reader at ``door``: if it is the camera's door, no
        face is processed there for ``seconds`` (shown on the timeline when a pause starts)."""
        if self.face is None or door != self.door:
            return
        now = self.clock.monotonic()
        if not self.face.paused(now):
            self.actuator.emit(AppEvent("face_paused", now, door))
        self.face.pause(now + seconds)

    def reader_event(self, door: str, event: object) -> None:
        """A reader's event at ``door``: a card or PIN pauses the face path there
        (``face_zone.pause_s``); a face key or button wakes it (``face_zone.awake_s``)."""
        if isinstance(event, CardRead | PinEntered):
            self.pause(door, self.cfg.face_zone.pause_s)
        elif isinstance(event, FaceRequested) and self.face is not None and door == self.door:
            now = self.clock.monotonic()
            self.face.request(now + self.cfg.face_zone.awake_s)
            self.actuator.emit(AppEvent("face_requested", now, door))

    # -- frames and faults -----------------------------------------------------------------

    def start_capture(self, capture: FaceCapture) -> bool:
        """Feed the next frames to ``capture`` instead of recognition (admin thread); false
        when another capture is running."""
        with self._capture_lock:
            if self.capture is not None:
                return False
            self.capture = capture
            return True

    def capture_rest_left(self) -> float:
        """Seconds before another capture may start: after one, recognition gets
        ``CAPTURE_REST_S`` back, so captures asked back to back cannot keep it off."""
        return max(0.0, self._capture_ended + CAPTURE_REST_S - time.monotonic())

    def stop_capture(self, capture: FaceCapture) -> None:
        with self._capture_lock:
            if self.capture is capture:
                self.capture = None
                self._capture_ended = time.monotonic()

    def observe(self, frame: Frame, now: float) -> FaceEvent | None:
        """The face path on one frame, or nothing while face is down. While an enrolment
        from the camera runs, its capture has the frames and nobody is recognised."""
        if self.face is None or not self.ways.face_up:
            return None
        capture = self.capture  # read once: the admin thread may clear it meanwhile
        try:
            if capture is not None:
                if self.face.paused(now) or self.face.asleep(now):
                    # Only faces that asked: a keypad in use pauses a capture too, and with
                    # face_zone.trigger: request the person confirms at the gate (the face
                    # key or button) before any frame of theirs counts.
                    return None
                return capture.feed(self.face, frame, now)
            event = self.face.observe(frame, now)
        except Exception as exc:  # an embedder or model error: face only, retried later
            if capture is not None:
                capture.fail(f"the face path failed: {_text(exc)}")
            delay = self.path_retry.failed(now)
            self.face.reset()
            self.down("face_path", f"face path error: {_text(exc)} (retry in {delay:.0f} s)")
            return None
        self.path_retry.failures = 0
        return event

    def health(self, alarms: list[HealthAlarm]) -> None:
        """Camera alarms take face down (and ask for a camera restart where that can help)."""
        for alarm in alarms:
            what = CAMERA_ALARMS.get(alarm.kind)
            if what is None or self.face is None:
                continue
            if alarm.cleared:
                self._camera_alarms.discard(alarm.kind)
                if not self._camera_alarms and self.camera is not None:
                    self.up("camera")
            else:
                self._camera_alarms.add(alarm.kind)
                self.down("camera", what)
                if alarm.kind in RESTART_ON and self.camera is not None:
                    self.restart_requested = True

    def camera_failed(self, error: BaseException) -> None:
        """The camera raised while capturing: close it and try again later."""
        now = self.clock.monotonic()
        self.close_camera()
        delay = self.camera_retry.failed(now)
        self.down("camera", f"camera failed: {_text(error)} (next try in {delay:.0f} s)")

    def restart_camera(self) -> None:
        """Close a lost or frozen camera; it is reopened after the back-off."""
        self.restart_requested = False
        self.close_camera()
        self.camera_retry.failed(self.clock.monotonic())

    def retry(self, now: float) -> None:
        """Between frames: reopen a camera or re-enable the face path whose delay is over."""
        if self.face is None:
            return
        if self.camera is None and self.camera_retry.due(now):
            self.open_camera()
        if "face_path" in self.ways.down and self.path_retry.due(now):
            self.path_retry.retry_at = None
            self.up("face_path")

    def close_camera(self) -> None:
        if self.camera is not None:
            try:
                self.camera.close()
            except Exception:
                logger.exception("could not close the camera")
            self.camera = None


def _text(exc: BaseException) -> str:
    """One line naming the error (never an image or template: errors carry none)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
