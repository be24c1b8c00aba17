"""Enrolment from the gate camera while the daemon runs (``enroll.camera``, operator role).

The daemon holds the camera, so a camera enrolment cannot open it the way ``facegate enroll
--camera`` does with the daemon stopped. Instead the admin handler checks the consent form
first (as ``enroll`` does, so a bad form fails before anyone stands at the camera), then hands
a :class:`FaceCapture` to the face way (:class:`~.face_way.FaceWay`), which feeds it the
camera's next frames on the loop thread in place of recognition: the face must be the only
one in view, in the capture zone, pass the door's liveness check (its prompts are shown as
for an entry) and the quality gate; ``enrollment.frames`` such frames, at least
``enrollment.min_interval_s`` apart, become the templates (the same stages as
``capture_templates``). The handler waits on the admin thread, never on the loop, and then
enrols through the ``enroll`` command itself (same checks, duplicate refusal, consent record,
audit). Frames and chips stay in memory and are dropped; only templates reach the store, and
nothing but the pseudonym leaves the daemon.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import Field, model_validator

from ..admin import AdminCommandError, Handler, PeerCred, Role
from ..admin.server import HandlerFunc, requester_gone
from ..capture import Frame
from ..recognition import FaceEvent
from ..recognition.events import ChallengeRequested, FaceObservation
from ..vision.types import Box, iou
from .admin_commands import EnrollArgs

_POLL_S = 0.2  # how often a waiting capture checks that its requester is still there

if TYPE_CHECKING:
    from ..recognition import FacePath
    from .control import Control
    from .ways import WaysIn

__all__ = ["EnrollCameraArgs", "FaceCapture", "camera_handlers"]

ENROL_TRACK = -7  # the liveness judge's track id for a capture (the tracker's ids are >= 0)
SEVERAL = 0.5  # a second face at least half the size of the largest: someone else in view


class Faces(Protocol):
    """What a capture needs of the face way (``FaceWay``, which feeds it frames)."""

    face: FacePath | None
    ways: WaysIn

    def start_capture(self, capture: FaceCapture) -> bool: ...

    def capture_rest_left(self) -> float: ...

    def stop_capture(self, capture: FaceCapture) -> None: ...


class EnrollCameraArgs(EnrollArgs):
    """The consent form of ``enroll`` (a face, so no templates: the camera gives them) and
    how long to wait for the face (also bounded by ``enrollment.timeout_s``)."""

    timeout_s: float = Field(default=30.0, ge=5.0, le=120.0)

    @model_validator(mode="after")
    def _camera_gives_the_face(self) -> EnrollCameraArgs:
        if self.templates or self.space is not None or self.kind != "face":
            raise ValueError("enroll.camera takes the face from the camera: no templates")
        return self


class FaceCapture:
    """One camera enrolment in progress: fed on the loop thread, awaited on the admin thread.

    ``frames`` good frames (each one face alone, live, good quality, ``min_interval_s``
    after the last kept) become ``templates``; ``error`` says why there are none.
    """

    def __init__(self, frames: int, min_interval_s: float, deadline: float) -> None:
        self.frames = frames
        self.min_interval_s = min_interval_s
        self.deadline = deadline
        self.done = threading.Event()
        self.templates: np.ndarray | None = None
        self.error: str | None = None
        self.seen_face = False
        self.guidance = "step in front of the camera and look at it"
        self._rows: list[Any] = []  # per good frame: its aligned chips (memory only)
        self._last_kept = -float("inf")
        self._live = False
        self._started = False
        self._box: Box | None = None  # the face followed (the first to come): its last box
        self._seen_at = 0.0  # and when it was last seen

    def fail(self, message: str) -> None:
        if not self.done.is_set():
            self._rows.clear()
            self.error = f"{message}; nothing was stored"
            self.done.set()

    def feed(self, path: FacePath, frame: Frame, now: float) -> FaceEvent | None:
        """One frame on the loop thread; a liveness prompt to show, if one started."""
        if self.done.is_set():
            return None
        if not self._started:  # no evidence from before this capture counts
            self._started = True
            self.end(path)
        if now > self.deadline:
            why = self.guidance if self.seen_face else "no face came into view"
            self.fail(f"only {len(self._rows)} of {self.frames} good frames in time ({why})")
            return None
        image, pipeline = frame.image, path.pipeline
        height, width = image.shape[:2]
        faces = [d for d in pipeline.detect(image) if path.in_zone(d, width, height)]
        if not faces:  # a face followed and unseen as long as a track's: it left
            if self._box is not None and now - self._seen_at > path.tracker.lost_after_s:
                self.end(path)
                self.fail("the face left the camera")
            return None
        self.seen_face = True
        face = max(faces, key=lambda d: d.area)
        if len(faces) > 1 and sorted(d.area for d in faces)[-2] >= SEVERAL * face.area:
            self.fail(f"{len(faces)} faces are in view: only the person enrolling may be there")
            return None
        if self._box is not None and iou(self._box, face.box) < path.tracker.iou_threshold:
            self.end(path)  # not the face followed (as a track would say): someone else
            self.fail("another face took the place of the one being enrolled")
            return None
        self._box, self._seen_at = face.box, now
        event = None
        if path.liveness is not None and not self._live:
            verdict = path.liveness.observe(ENROL_TRACK, image, face, now)
            if verdict.status == "spoof":
                path.liveness.forget(ENROL_TRACK)
                self.fail(f"the face failed the liveness check ({verdict.reason})")
                return None
            self._live = verdict.status == "live"
            if not self._live:
                self.guidance = "look at the camera (liveness check)"
                prompt = verdict.prompt
                if verdict.reason == "challenge_started" and prompt is not None:
                    challenge = ChallengeRequested(prompt.kind, prompt.text, prompt.deadline)
                    seen = FaceObservation(face, ENROL_TRACK, None, None, {}, verdict.status)
                    event = FaceEvent(path.door, now, seen, None, challenge)
                return event
        quality = pipeline.assess(image, face)
        if not quality.ok:
            self.guidance = quality.reason or "adjust your position"
            return None
        if frame.timestamp - self._last_kept < self.min_interval_s:
            return None
        self._rows.append(pipeline.enrol_chips(image, face))
        self._last_kept = frame.timestamp
        if len(self._rows) >= self.frames:
            self.templates = pipeline.enrol_templates(self._rows)
            self._rows.clear()
            self.end(path)
            self.done.set()
        return None

    def end(self, path: FacePath) -> None:
        """Drop the liveness judge's state of the capture (on the loop thread)."""
        if path.liveness is not None:
            path.liveness.forget(ENROL_TRACK)


def camera_handlers(app: Control, faces: Faces | None, enroll: HandlerFunc) -> dict[str, Handler]:
    """``enroll.camera``; ``enroll``: the daemon's ``enroll`` handler (already on the loop)."""

    def enroll_camera(args: EnrollCameraArgs, peer: PeerCred) -> dict[str, Any]:
        from ..errors import ConfigError
        from .enrol_request import EnrolmentForm, EnrolmentRefused, assemble_enrolment

        space = app.face_space()
        if faces is None or faces.face is None or space is None:
            raise AdminCommandError("bad_request", "the daemon's face path is not running")
        if not faces.ways.face_up:
            raise AdminCommandError(
                "bad_request", f"face is down at the gate: {faces.ways.face_reason()}"
            )
        fields = args.model_dump(exclude={"timeout_s", "templates", "space", "kind"})
        form = EnrolmentForm.of(
            fields, face=True, credentials=args.pin is not None or args.card is not None
        )
        try:  # the consent form first: nobody waits at the camera for a form that fails
            assemble_enrolment(form, app.cfg, app.clock.time())
        except (ConfigError, EnrolmentRefused) as exc:
            raise AdminCommandError("bad_request", str(exc)) from None
        rest = faces.capture_rest_left()
        if rest > 0:  # back-to-back captures would keep the gate from recognising anyone
            raise AdminCommandError(
                "busy", f"the gate camera is back on recognition for {rest:.0f} s more; try again"
            )
        wait = min(args.timeout_s, app.cfg.enrollment.timeout_s)
        capture = FaceCapture(
            app.cfg.enrollment.frames,
            app.cfg.enrollment.min_interval_s,
            app.clock.monotonic() + wait,
        )
        if not faces.start_capture(capture):
            raise AdminCommandError("bad_request", "another enrolment from the camera is running")
        try:
            _wait_for(capture, wait + 5.0)
        finally:
            faces.stop_capture(capture)
        if requester_gone():  # the last frame came in as the client hung up
            capture.templates = None
            raise AdminCommandError(
                "bad_request",
                "the request was cancelled (its client went away); nothing was stored",
            )
        # An error set first wins: a frame the loop was still embedding does not count.
        if capture.error is not None or capture.templates is None:
            raise AdminCommandError("bad_request", capture.error or "no face was captured")
        encoded = [
            base64.b64encode(np.asarray(t, "<f4").tobytes()).decode("ascii")
            for t in capture.templates
        ]
        capture.templates = None
        request = EnrollArgs(**fields, templates=encoded, space=space.space, kind="face")
        return enroll(request, peer)

    return {
        "enroll.camera": Handler(
            Role.OPERATOR,
            enroll_camera,
            EnrollCameraArgs,
            "enrol a person from the gate camera's next good, live frames",
        )
    }


def _wait_for(capture: FaceCapture, limit_s: float) -> None:
    """Wait (real time) until the capture is done; give up when its requester hangs up (Ctrl-C,
    a killed client) or no frames came in time: no face is enrolled for someone who left."""
    end = time.monotonic() + limit_s
    while not capture.done.wait(_POLL_S):
        if requester_gone():
            capture.fail("the request was cancelled (its client went away)")
            return
        if time.monotonic() > end:
            capture.fail("no frames came from the camera in time")
            return
