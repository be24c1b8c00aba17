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
from facegate.service.app import App, AppEvent, RefusedToStart
from facegate.store import Store, create_master_key, load_master_key
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
    assert app.pipeline is not None and app.store is not None
    found = app.pipeline.template_for_photo(photo)
    assert found.template is not None
    pseudonym = app.store.add_person()
    consent = app.store.record_consent(
        pseudonym, method="test form", notice_version="v1", taken_by="test", scope="main"
    )
    app.store.add_templates(pseudonym, consent.consent_id, found.template, space=app.pipeline.space)
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
    assert len(app.pipeline.gallery) == 1  # type: ignore[union-attr]
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


def test_relay_released_when_the_loop_crashes(gate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg, key, faces = gate
    factory = MockFactory()
    clock = FakeClock()
    # Paced on the fake clock, so tracks end when the face leaves and the next face is new.
    camera = ReplayCamera(cfg.camera.path, fps=10, loop=True, realtime=True, clock=clock)
    app = App(cfg, pin_factory=factory, clock=clock, master_key=key, camera=camera)
    app.start()
    enroll(app, load_rgb(faces / "barack_obama" / "obama.jpg"))
    real_embed = app.pipeline.embed  # type: ignore[union-attr]
    calls = {"n": 0}

    def flaky(image: np.ndarray, detection):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if not app.doors["main"].lock.locked:
            raise RuntimeError("simulated bug in the pipeline while the lock is open")
        return real_embed(image, detection)

    monkeypatch.setattr(app.pipeline, "embed", flaky)
    with pytest.raises(RuntimeError, match="simulated bug"):
        try:
            app.run()
        finally:
            app.close()
    assert factory.pin(17).state is False


def test_camera_failure_stops_the_loop_with_the_relay_safe(gate) -> None:  # type: ignore[no-untyped-def]
    cfg, key, _ = gate

    class DyingCamera(ReplayCamera):
        def read(self):  # type: ignore[no-untyped-def]
            if self._index >= 3:
                raise CameraError("camera unplugged")
            return super().read()

    factory = MockFactory()
    camera = DyingCamera(cfg.camera.path, realtime=False)
    app = App(cfg, pin_factory=factory, master_key=key, camera=camera)
    app.start()
    app.doors["main"].grant()
    with pytest.raises(CameraError, match="unplugged"):
        try:
            app.run()
        finally:
            app.close()
    assert factory.pin(17).state is False


def test_private_space_refused_before_any_hardware_is_touched(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = cfg.model_copy(update={"site": cfg.site.model_copy(update={"kind": SiteKind.BATHHOUSE})})
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32)
    with pytest.raises(RefusedToStart, match=r"Art\. 13"):
        app.start()
    assert not factory.pins  # no GPIO was ever reserved or driven
    assert not (tmp_path / "state").exists()


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
    assert main(["run", "-c", str(private), "--pin-factory", "mock"]) == 3
    assert not (tmp_path / "state").exists()
    typo = tmp_path / "typo.yaml"
    typo.write_text(private.read_text().replace("kind:", "knd:"))
    assert main(["run", "-c", str(typo), "--pin-factory", "mock"]) == 2
    face_only = tmp_path / "face_only.yaml"
    face_only.write_text(private.read_text().replace("hotel_room", "office_building"))
    assert main(["run", "-c", str(face_only), "--pin-factory", "mock"]) == 3  # Art. 10
    assert not (tmp_path / "state").exists()
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        face_only.read_text()
        + "readers: [{id: r1, type: wiegand, door: room, d0: 22, d1: 23}]\n"
    )
    # A reader, but no notice sign, no stated retention, no master key: the checklist refuses.
    assert main(["run", "-c", str(ok), "--pin-factory", "mock"]) == 3
    assert not (tmp_path / "state").exists()


def test_face_only_door_refused_before_any_hardware_is_touched(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = cfg.model_copy(update={"readers": []})
    factory = MockFactory()
    with pytest.raises(RefusedToStart, match=r"Art\. 10"):
        App(cfg, pin_factory=factory, master_key=b"k" * 32).start()
    assert not factory.pins


def test_checklist_fail_refuses_before_any_hardware_is_touched(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)  # no notice section: Art. 5 fails
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32, run_checklist=True)
    with pytest.raises(RefusedToStart, match="notice"):
        app.start()
    assert not factory.pins and not (tmp_path / "state").exists()
