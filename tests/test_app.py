"""The daemon end to end: replayed real faces, mock pins, every failure leaving the lock safe."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from facegate.capture import ReplayCamera
from facegate.clock import FakeClock
from facegate.config import SiteKind
from facegate.errors import CameraError, MasterKeyError
from facegate.service.app import App, AppEvent
from facegate.store import ConsentInput, Store, create_master_key, enroll_person, load_master_key
from helpers import load_rgb, make_config


def write_clip(folder: Path, person: np.ndarray, stranger: np.ndarray) -> None:
    """Empty scene, the person for 8 frames, empty, a stranger for 8 frames, empty."""
    folder.mkdir(parents=True)
    blank = np.full((480, 640, 3), 90, np.uint8)

    def placed(face: np.ndarray) -> np.ndarray:
        frame = blank.copy()
        scale = 400 / max(face.shape[:2])
        small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame[40 : 40 + small.shape[0], 120 : 120 + small.shape[1]] = small
        return frame

    frames = [blank] * 3 + [placed(person)] * 8 + [blank] * 25 + [placed(stranger)] * 8
    frames += [blank] * 3
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rgb[:, :, ::-1])


@pytest.fixture
def gate(tmp_path: Path, models_dir: Path, testdata: Path):  # type: ignore[no-untyped-def]
    """A configured gate with Obama enrolled (from a different photo than the clip's)."""
    cfg = make_config(tmp_path, models_dir)
    create_master_key(tmp_path / "state" / "master.key")
    key = load_master_key(tmp_path / "state" / "master.key")
    faces = testdata / "faces"
    write_clip(
        tmp_path / "clip",
        load_rgb(faces / "barack_obama" / "obama2.jpg"),
        load_rgb(faces / "jeff_bezos" / "img20.jpg"),
    )
    return cfg, key, faces


def enroll(app: App, photo: np.ndarray) -> str:
    assert app.face is not None and app.store is not None
    found = app.face.pipeline.template_for_photo(photo)
    assert found.template is not None
    consent = ConsentInput(method="test form", notice_version="v1", taken_by="test", scope="main")
    pseudonym = enroll_person(
        app.store,
        consent=consent,
        templates=found.template,
        space=app.face.space,
        expires_at=2_000_000_000.0,
    ).pseudonym
    app.refresh_people()
    return pseudonym


def test_enrolled_face_opens_the_gate_and_a_stranger_does_not(gate) -> None:  # type: ignore[no-untyped-def]
    cfg, key, faces = gate
    factory = MockFactory()
    events: list[AppEvent] = []
    clock = FakeClock()
    camera = ReplayCamera(cfg.camera.path, fps=10, loop=False, realtime=False, clock=clock)
    # First session: enrol. Second session: the daemon loads the gallery from the store.
    with Store(cfg.store.state_dir, key) as _:
        pass
    app = App(cfg, pin_factory=factory, clock=clock, master_key=key, camera=camera)
    app.start()
    pseudonym = enroll(app, load_rgb(faces / "barack_obama" / "obama.jpg"))
    app.close()

    pin = factory.pin(17)
    camera = ReplayCamera(cfg.camera.path, fps=10, loop=False, realtime=False, clock=clock)
    app = App(
        cfg,
        pin_factory=factory,
        clock=clock,
        master_key=key,
        camera=camera,
        listener=lambda e: events.append(e) if e.kind != "face" else None,
    )
    app.start()
    assert len(app.face.pipeline.gallery) == 1  # type: ignore[union-attr]
    try:
        # Lock-step (each frame processed) so the test is deterministic.
        relay_states = []
        while (frame := camera.read()) is not None:
            app.handle_frame(frame)
            relay_states.append(pin.state)
            clock.advance(0.1)
            app.tick()
        decisions = [e.decision for e in events if e.kind == "decision"]
        assert [(d.granted, d.subject) for d in decisions] == [(True, pseudonym), (False, None)]
        assert [e.kind for e in events].count("relay_on") == 1
        assert [e.kind for e in events].count("relay_off") == 1
        assert any(relay_states) and relay_states[-1] is False
        stored = app.store.events()  # type: ignore[union-attr]
        assert [(e.result, e.subject, e.method) for e in stored] == [
            ("granted", pseudonym, "face"),
            ("denied", None, "face"),
        ]
    finally:
        app.close()
    assert pin.state is False


def test_threaded_run_loop_grants_and_ends_safe(gate) -> None:  # type: ignore[no-untyped-def]
    cfg, key, faces = gate
    factory = MockFactory()
    decisions = []
    app = App(
        cfg,
        pin_factory=factory,
        master_key=key,
        listener=lambda e: decisions.append(e.decision) if e.decision else None,
    )
    app.start()
    enroll(app, load_rgb(faces / "barack_obama" / "obama.jpg"))
    try:
        app.run()  # the configured replay camera at 10 fps, real time: ~5 s of clip
    finally:
        app.close()
    assert any(d.granted for d in decisions)
    assert factory.pin(17).state is False


def _run_until(app: App, done, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Run the loop in a thread until ``done()`` holds (or the timeout), then stop it."""
    import threading
    import time

    errors: list[BaseException] = []

    def target() -> None:
        try:
            app.run(frame_timeout_s=0.01)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    app.stop()
    thread.join(timeout=10)
    assert not errors, errors
    assert done(), "the condition was not reached"


def test_relay_released_when_the_loop_crashes(gate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A bug outside the face path (here: in the readers' poll) ends the loop, and the lock
    goes to its safe state even while it was released."""
    cfg, key, _faces = gate
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=key)
    app.start()
    app.doors["main"].grant()

    def broken(now: float) -> list[object]:
        if not app.doors["main"].lock.locked:
            raise RuntimeError("simulated bug in the loop while the lock is open")
        return []

    monkeypatch.setattr(app.readers, "poll", broken)
    with pytest.raises(RuntimeError, match="simulated bug"):
        try:
            app.run()
        finally:
            app.close()
    assert factory.pin(17).state is False


def test_a_face_path_error_takes_only_face_down(gate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An embedder error takes face down, the loop keeps serving the other ways in, and the
    error never opens the relay (issue 14: degraded mode)."""
    cfg, key, faces = gate
    factory = MockFactory()
    clock = FakeClock()
    camera = ReplayCamera(cfg.camera.path, fps=10, loop=True, realtime=True, clock=clock)
    events: list[AppEvent] = []
    app = App(cfg, pin_factory=factory, clock=clock, master_key=key, camera=camera,
              listener=events.append)  # fmt: skip
    app.start()
    enroll(app, load_rgb(faces / "barack_obama" / "obama.jpg"))

    def broken(image: np.ndarray, detection):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated embedder failure")

    monkeypatch.setattr(app.face.pipeline, "embed", broken)  # type: ignore[union-attr]
    try:
        _run_until(app, lambda: not app.ways.face_up)
        face = app.status()["ways_in"]["main"]["face"]
        assert "face path error: RuntimeError: simulated embedder failure" in face
        assert app.status()["ways_in"]["main"]["card"] == "up"
        assert not any(e.kind == "decision" and e.decision and e.decision.granted for e in events)
        assert [e.detail["way"] for e in events if e.kind == "way_down"] == ["face"]
    finally:
        app.close()
    assert factory.pin(17).state is False


def test_a_failing_camera_takes_only_face_down_and_is_retried(gate) -> None:  # type: ignore[no-untyped-def]
    cfg, key, _ = gate
    opened = {"n": 0}

    class DyingCamera(ReplayCamera):
        def open(self) -> None:
            opened["n"] += 1
            super().open()

        def read(self):  # type: ignore[no-untyped-def]
            if self._index >= 3:
                raise CameraError("camera unplugged")
            return super().read()

    factory = MockFactory()
    camera = DyingCamera(cfg.camera.path, realtime=False)
    app = App(cfg, pin_factory=factory, master_key=key, camera=camera)
    app.start()
    app.face_way.camera_retry.first_s = 0.05  # retry soon, for the test
    try:
        _run_until(app, lambda: opened["n"] >= 3)  # failed, reopened, failed, reopened
        assert "camera failed: CameraError: camera unplugged" in app.ways.face_reason() or (
            app.ways.face_up
        )
        assert app.doors["main"].lock.locked
    finally:
        app.close()
    assert factory.pin(17).state is False


def test_private_space_keeps_face_down_and_pin_and_card_up(tmp_path: Path) -> None:
    """Art. 13 forbids face processing in a private space; it does not forbid a PIN or a card
    (issue 14: a rule about faces never takes the other ways in down)."""
    cfg = make_config(tmp_path)
    cfg = cfg.model_copy(update={"site": cfg.site.model_copy(update={"kind": SiteKind.BATHHOUSE})})
    factory = MockFactory()
    events: list[AppEvent] = []
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32, listener=events.append)
    app.start()
    try:
        assert app.face is None and app.camera is None  # no model loaded, no frame ever taken
        ways = app.status()["ways_in"]["main"]
        assert ways["face"].startswith("down: site.kind is bathhouse") and "Art. 13" in ways["face"]
        assert ways["card"] == "up" and ways["pin"] == "up"
        downs = [e for e in events if e.kind == "way_down"]
        assert len(downs) == 1 and "Art. 13" in downs[0].detail["reason"]
        assert factory.pin(17).state is False  # the lock is in its safe state
    finally:
        app.close()


def test_missing_key_fails_closed(tmp_path: Path, models_dir: Path) -> None:
    cfg = make_config(tmp_path, models_dir)
    factory = MockFactory()
    with pytest.raises(MasterKeyError, match="keys init"):
        App(cfg, pin_factory=factory).start()
    assert factory.pin(17).state is False


def test_cli_run_exit_codes(tmp_path: Path) -> None:
    from facegate.cli import main

    private = tmp_path / "private.yaml"
    private.write_text(
        "site: {name: Hotel, kind: hotel_room, purpose: Open the room door for the guest.}\n"
        "camera: {type: replay, path: clip}\n"
        "doors: [{id: room, relay: {pin: 17}}]\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
    )
    typo = tmp_path / "typo.yaml"
    typo.write_text(private.read_text().replace("kind:", "knd:"))
    assert main(["run", "-c", str(typo), "--pin-factory", "mock"]) == 2  # invalid at first start
    # A private space only keeps face down; with no master key the store cannot open, which
    # makes every way in unsafe: exit 1, and the state folder is never created.
    assert main(["run", "-c", str(private), "--pin-factory", "mock"]) == 1
    assert not (tmp_path / "state").exists()


def test_face_only_door_keeps_face_down(tmp_path: Path) -> None:
    """Art. 10: face is never the only way in; the door serves its exit button, face stays
    down (it would be the only way in) and the daemon runs."""
    cfg = make_config(tmp_path)
    cfg = cfg.model_copy(update={"readers": []})
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32)
    app.start()
    try:
        assert app.face is None
        assert "Art. 10" in app.status()["ways_in"]["main"]["face"]
    finally:
        app.close()


def test_checklist_fail_keeps_face_down_and_the_gate_up(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)  # no notice section: Art. 5 fails
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32, run_checklist=True)
    app.start()
    try:
        assert app.face is None
        face = app.status()["ways_in"]["main"]["face"]
        assert face.startswith("down: ") and "notice" in face
        assert "face down" in app.status_line()
    finally:
        app.close()
