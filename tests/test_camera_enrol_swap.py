"""A camera enrolment follows one face, the first to come, as a track does: when another takes
its place (a second face that was small in the back, a photo, comes forward as the first one
steps aside, with no empty frame in between), or the face is unseen for longer than a track
lives, the capture is refused and nothing is enrolled, so nobody is enrolled on someone
else's liveness or under someone else's consent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from facegate.capture import Frame
from facegate.recognition.tracking import Tracker
from facegate.service.camera_enrol import FaceCapture
from facegate.vision.types import Detection


def _face(x: float, size: float) -> Detection:
    return Detection((x, 100.0, x + size, 100.0 + size), 0.9, ())


class _Liveness:
    """Live on the second frame a face is observed; counts the faces it judged."""

    def __init__(self) -> None:
        self.seen: list[Detection] = []  # since the last forget
        self.judged: list[Detection] = []  # every face judged

    def observe(self, track: int, image: Any, face: Detection, now: float) -> Any:
        self.seen.append(face)
        self.judged.append(face)
        live = len(self.seen) >= 2
        return SimpleNamespace(status="live" if live else "inconclusive", reason="", prompt=None)

    def forget(self, track: int) -> None:
        self.seen.clear()


class _Path:
    def __init__(self, frames: list[list[Detection]]) -> None:
        self.frames = frames
        self.liveness = _Liveness()
        self.tracker = Tracker(0.3, 1.0)
        self.door = "main"
        self.enrolled: list[Detection] = []  # the frames the templates were made of
        outer = self

        class _Pipeline:
            def detect(self, image: Any) -> list[Detection]:
                return outer.frames.pop(0)

            def assess(self, image: Any, face: Detection) -> Any:
                return SimpleNamespace(ok=True, reason=None)

            def enrol_chips(self, image: Any, face: Detection) -> Any:
                return face

            def enrol_templates(self, rows: list[Any]) -> np.ndarray:
                outer.enrolled = list(rows)
                return np.zeros((len(rows), 4), np.float32)

        self.pipeline = _Pipeline()

    def in_zone(self, face: Detection, width: int, height: int) -> bool:
        return True


def test_a_face_that_replaces_the_live_one_is_refused() -> None:
    a, b = _face(50.0, 200.0), _face(400.0, 120.0)  # b: under half a's area, far from it
    frames = [[a], [a, b], [b], [b], [b], [b]]
    path = _Path(frames)
    capture = FaceCapture(frames=3, min_interval_s=0.0, deadline=100.0)
    image = np.zeros((480, 640, 3), np.uint8)
    for i in range(6):
        capture.feed(path, Frame(image, i, float(i) / 10), float(i) / 10)  # type: ignore[arg-type]
    assert capture.done.is_set() and capture.templates is None
    assert capture.error is not None and "another face" in capture.error
    assert path.enrolled == [], "b was enrolled on a's liveness"


def test_a_face_that_leaves_is_refused_and_a_brief_miss_is_not() -> None:
    a = _face(50.0, 200.0)
    image = np.zeros((480, 640, 3), np.uint8)
    path = _Path([[a], [], [a], [a], []])  # 0.5 s apart: one miss, then gone for good
    capture = FaceCapture(frames=9, min_interval_s=0.0, deadline=100.0)
    for i, at in enumerate((0.0, 0.5, 1.0, 1.5, 2.6)):
        capture.feed(path, Frame(image, i, at), at)  # type: ignore[arg-type]
        if i < 4:
            assert not capture.done.is_set()
    assert capture.error is not None and "left the camera" in capture.error


def test_a_face_that_moves_a_little_is_followed() -> None:
    a, moved = _face(50.0, 200.0), _face(70.0, 200.0)
    path = _Path([[a], [a], [moved], [a]])
    capture = FaceCapture(frames=3, min_interval_s=0.0, deadline=100.0)
    image = np.zeros((480, 640, 3), np.uint8)
    for i in range(4):
        capture.feed(path, Frame(image, i, float(i)), float(i))  # type: ignore[arg-type]
    assert capture.done.is_set() and path.enrolled == [a, moved, a]


def test_a_requester_who_left_as_the_last_frame_came_in_is_not_enrolled(
    monkeypatch: Any,
) -> None:
    """The capture can complete between two looks at the requester's socket: the handler
    looks once more before it enrols, so nobody is enrolled for a requester who left."""
    import pytest

    from facegate.admin import AdminCommandError
    from facegate.clock import FakeClock
    from facegate.service import camera_enrol, enrol_request

    monkeypatch.setattr(enrol_request, "assemble_enrolment", lambda *a: None)
    monkeypatch.setattr(camera_enrol, "requester_gone", lambda: gone[0])
    gone = [False]

    class _Faces:
        face = object()
        ways = SimpleNamespace(face_up=True)

        def start_capture(self, capture: FaceCapture) -> bool:
            capture.templates = np.ones((3, 4), np.float32)  # the last frame came in
            capture.done.set()
            gone[0] = True  # and the client hung up at the same moment
            return True

        def stop_capture(self, capture: FaceCapture) -> None:
            pass

        def capture_rest_left(self) -> float:
            return 0.0

    enrolled: list[Any] = []
    enrollment = SimpleNamespace(timeout_s=60.0, frames=3, min_interval_s=0.0)
    app = SimpleNamespace(
        face_space=lambda: SimpleNamespace(space="s"),
        cfg=SimpleNamespace(enrollment=enrollment),
        clock=FakeClock(),
    )
    handlers = camera_enrol.camera_handlers(
        app,  # type: ignore[arg-type]
        _Faces(),  # type: ignore[arg-type]
        lambda args, peer: enrolled.append(args) or {"person": "p"},
    )
    args = camera_enrol.EnrollCameraArgs.model_validate(
        {"consent_method": "paper-form", "notice_version": "v1", "taken_by": "admin"}
    )
    with pytest.raises(AdminCommandError, match="cancelled"):
        handlers["enroll.camera"].func(args, None)  # type: ignore[arg-type]
    assert enrolled == []


def test_requester_gone_neither_blocks_nor_mistakes_a_quiet_client() -> None:
    """The handler's connection keeps the time-out its request was read with: looking at it
    must not wait that long and then take the time-out for a hang-up."""
    import socket
    import time

    from facegate.admin import server

    ours, client = socket.socketpair()
    ours.settimeout(2.0)  # what read_frame leaves: the rest of the request's deadline
    server._connection.conn = ours
    try:
        started = time.monotonic()
        assert not server.requester_gone()
        assert time.monotonic() - started < 0.5
        client.sendall(b"x")  # a next request already sent: still there
        assert not server.requester_gone()
        client.close()
        ours.recv(1)
        assert server.requester_gone()
    finally:
        server._connection.conn = None
        ours.close()
