"""Liveness in the daemon: a live resident gets in, their photo does not, and nothing leaks.

End to end with the real models: a replayed real video of a live person (who blinks) is let in
with liveness on; a still photo and a synthesized moving print of the same kind are refused
with reason ``liveness`` before any template is made; a challenge is announced, and retried once
with the other kind; repeated
refusals raise the ``presentation_attack`` alarm; a door may turn liveness off for itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from facegate.capture import ReplayCamera
from facegate.clock import FakeClock
from facegate.config import FacegateConfig
from facegate.config.gate import DisplayConfig
from facegate.measure.pad_synth import synth_print_clip, write_frames
from facegate.service.app import App, AppEvent
from facegate.store import ConsentInput, create_master_key, enroll_person, load_master_key
from helpers import load_rgb, make_config

LIVE_CLIP = "video/WDA_AlexandriaOcasioCortez_000.mp4"  # 25 fps, blinks at frames 10-12, 25-27


def with_liveness(cfg: FacegateConfig, door: str | None = None, **changes: Any) -> FacegateConfig:
    """``cfg`` with ``liveness`` fields changed, and optionally the first door's own mode."""
    live = cfg.liveness.model_copy(update=changes)
    cfg = cfg.model_copy(update={"liveness": live})
    if door is not None:
        doors = [cfg.doors[0].model_copy(update={"liveness": door}), *cfg.doors[1:]]
        cfg = cfg.model_copy(update={"doors": doors})
    return cfg


def video_frames(path: Path, count: int) -> list[np.ndarray]:
    video = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, bgr = video.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    video.release()
    return frames


def still_photo_clip(folder: Path, photo: np.ndarray, count: int) -> None:
    """A photo held still in front of the camera for ``count`` frames."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    scale = 400 / max(photo.shape[:2])
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame[40 : 40 + small.shape[0], 120 : 120 + small.shape[1]] = small
    write_frames([frame] * count, folder)


class Gate:
    """One App on mock pins and a fake clock, fed frame by frame (deterministic)."""

    def __init__(
        self, cfg: FacegateConfig, key: bytes, fps: float, lcd_factory: Any = None
    ) -> None:
        self.factory = MockFactory()
        self.clock = FakeClock()
        self.events: list[AppEvent] = []
        self.fps = fps
        self.camera = ReplayCamera(
            cfg.camera.path, fps=fps, loop=False, realtime=False, clock=self.clock
        )
        self.app = App(
            cfg,
            pin_factory=self.factory,
            clock=self.clock,
            master_key=key,
            camera=self.camera,
            listener=self.events.append,
            lcd_factory=lcd_factory,
        )
        self.app.start()

    def enroll(self, photo: np.ndarray) -> str:
        app = self.app
        assert app.face is not None and app.store is not None
        found = app.face.pipeline.template_for_photo(photo)
        assert found.template is not None
        consent = ConsentInput(
            method="test form", notice_version="v1", taken_by="test", scope="main"
        )
        pseudonym = enroll_person(
            app.store,
            consent=consent,
            templates=found.template,
            space=app.face.space,
            expires_at=2_000_000_000.0,
        ).pseudonym
        app.refresh_people()
        return pseudonym

    def play(self) -> list[bool]:
        """Run every frame; returns the relay state after each."""
        relay = self.factory.pin(17)
        states = []
        while (frame := self.camera.read()) is not None:
            self.app.handle_frame(frame)
            states.append(bool(relay.state))
            self.clock.advance(1.0 / self.fps)
            self.app.tick()
        return states

    def decisions(self) -> list[Any]:
        return [e.decision for e in self.events if e.kind == "decision"]

    def kinds(self, kind: str) -> list[AppEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def key(tmp_path: Path) -> bytes:
    create_master_key(tmp_path / "state" / "master.key")
    return load_master_key(tmp_path / "state" / "master.key")


def test_a_live_resident_gets_in_with_liveness_on(
    tmp_path: Path, models_dir: Path, testdata: Path, key: bytes
) -> None:
    frames = video_frames(testdata / LIVE_CLIP, 75)
    assert len(frames) == 75
    write_frames(frames[1:], tmp_path / "clip")
    cfg = with_liveness(make_config(tmp_path, models_dir), mode="passive")
    gate = Gate(cfg, key, fps=25.0)
    try:
        assert gate.app.face is not None and gate.app.face.liveness is not None
        assert gate.app.face.liveness.cfg.mode == "passive"
        pseudonym = gate.enroll(frames[0])
        relay = gate.play()
        decisions = gate.decisions()
        assert [(d.granted, d.subject, d.reason) for d in decisions] == [
            (True, pseudonym, "granted")
        ]
        # Not on the first frames: liveness had to see a blink (frames 10-12) first.
        assert not any(relay[:8]) and any(relay)
        faces = [e.observation for e in gate.kinds("face") if e.observation is not None]
        assert all("liveness" in o.timings_ms for o in faces if o.match is not None)
    finally:
        gate.app.close()


def test_a_still_photo_of_a_resident_is_refused_without_a_template(
    tmp_path: Path, models_dir: Path, testdata: Path, key: bytes
) -> None:
    photo = load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg")
    still_photo_clip(tmp_path / "clip", photo, 40)  # 4 s at 10 fps
    cfg = with_liveness(make_config(tmp_path, models_dir), mode="passive", max_failures=1)
    gate = Gate(cfg, key, fps=10.0)
    embedded: list[int] = []
    try:
        gate.enroll(load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg"))
        assert gate.app.face is not None
        real_embed = gate.app.face.pipeline.embed
        gate.app.face.pipeline.embed = lambda *a, **k: (embedded.append(1), real_embed(*a, **k))[1]  # type: ignore[method-assign]
        relay = gate.play()
        decisions = gate.decisions()
        assert [(d.granted, d.method, d.reason, d.subject) for d in decisions] == [
            (False, "face", "liveness", None)
        ]
        assert not any(relay)
        assert embedded == []  # no template of the photo was ever computed
        alarms = [e.detail["kind"] for e in gate.kinds("alarm")]
        assert alarms == ["presentation_attack"]
        assert gate.app.store is not None
        stored = gate.app.store.events()
        assert sorted((e.result, e.method, e.reason) for e in stored) == [
            ("alarm", "alarm", "presentation_attack"),
            ("denied", "face", "liveness"),
        ]
    finally:
        gate.app.close()


def test_passive_plus_challenge_asks_twice_then_refuses(
    tmp_path: Path, models_dir: Path, testdata: Path, key: bytes
) -> None:
    photo = load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg")
    # 11 s: 3 s passive, 3 s challenge, 3 s for the one retry (the other kind), then more.
    still_photo_clip(tmp_path / "clip", photo, 110)
    cfg = with_liveness(make_config(tmp_path, models_dir), mode="passive+challenge")
    door = cfg.doors[0]
    gate_hw = door.gate.model_copy(update={"display": DisplayConfig(hold_s=2.0)})
    cfg = cfg.model_copy(update={"doors": [door.model_copy(update={"gate": gate_hw})]})
    shown: list[str] = []

    class Lcd:  # what RPLCD's CharLCD would show
        cursor_pos = (0, 0)

        def __init__(self, **_kwargs: Any) -> None:
            pass

        def clear(self) -> None:
            shown.append("")

        def write_string(self, text: str) -> None:
            shown[-1] = f"{shown[-1]} {text}".strip()

        def close(self, clear: bool = False) -> None:
            pass

    gate = Gate(cfg, key, fps=10.0, lcd_factory=Lcd)
    try:
        gate.enroll(load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg"))
        relay = gate.play()
        challenges = gate.kinds("challenge")
        assert len(challenges) == 2
        first, asked = challenges
        assert {first.detail["kind"], asked.detail["kind"]} == {"blink", "turn"}
        assert asked.at >= first.at + cfg.liveness.challenge.timeout_s - 1e-6
        texts = {
            "blink": cfg.liveness.challenge.text_blink,
            "turn": cfg.liveness.challenge.text_turn,
        }
        assert asked.detail["text"] == texts[asked.detail["kind"]]
        assert texts[asked.detail["kind"]] in shown  # on the door's display
        decisions = gate.decisions()
        assert [(d.granted, d.reason) for d in decisions] == [(False, "liveness")]
        refused = decisions[0]
        # Refused when the challenge timed out, not before.
        assert refused.at >= asked.at + cfg.liveness.challenge.timeout_s - 1e-6
        assert not any(relay)
    finally:
        gate.app.close()


def test_a_moving_print_is_refused(
    tmp_path: Path, models_dir: Path, testdata: Path, key: bytes
) -> None:
    photo = load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg")
    rng = np.random.default_rng(3)
    frames = synth_print_clip(photo, rng=rng, seconds=4.0, fps=10.0)
    write_frames(frames, tmp_path / "clip")
    cfg = with_liveness(make_config(tmp_path, models_dir), mode="passive")
    gate = Gate(cfg, key, fps=10.0)
    try:
        gate.enroll(load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg"))
        relay = gate.play()
        assert [(d.granted, d.reason) for d in gate.decisions()] == [(False, "liveness")]
        assert not any(relay)
    finally:
        gate.app.close()


def test_a_door_may_turn_liveness_off_for_itself(
    tmp_path: Path, models_dir: Path, testdata: Path, key: bytes
) -> None:
    photo = load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg")
    still_photo_clip(tmp_path / "clip", photo, 10)
    cfg = with_liveness(make_config(tmp_path, models_dir), door="off", mode="passive")
    assert cfg.liveness_mode("main") == "off"
    gate = Gate(cfg, key, fps=10.0)
    try:
        assert gate.app.face is not None and gate.app.face.liveness is None
        pseudonym = gate.enroll(load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg"))
        gate.play()
        assert [(d.granted, d.subject) for d in gate.decisions()] == [(True, pseudonym)]
    finally:
        gate.app.close()
