"""Degraded mode's bookkeeping: face goes down by cause and comes back only when all clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.service.app import App, AppEvent
from facegate.service.ways import FaceBackoff, WaysIn
from helpers import make_config


def test_face_is_up_only_when_every_cause_has_cleared() -> None:
    ways = WaysIn({"main": {"camera", "card", "keypad"}, "side": {"card"}}, "main")
    assert ways.face_up and ways.summary() == "all ways in up"
    assert ways.set_down("camera", "camera lost") is True
    assert ways.set_down("face_path", "face path error") is False  # already down
    assert ways.face_reason() == "camera lost; face path error"
    assert ways.clear("camera") is False  # still down for the face path
    assert ways.status()["main"] == {
        "face": "down: face path error", "card": "up", "pin": "up", "exit button": "up"
    }  # fmt: skip
    assert ways.status()["side"] == {"card": "up", "exit button": "up"}
    assert ways.clear("face_path") is True and ways.face_up
    assert ways.clear("face_path") is False  # nothing to clear
    with pytest.raises(ValueError, match="unknown cause"):
        ways.set_down("weather", "rain")


def test_backoff_grows_and_is_bounded() -> None:
    backoff = FaceBackoff(first_s=2.0, max_s=30.0)
    delays = [backoff.failed(100.0) for _ in range(6)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert not backoff.due(129.0) and backoff.due(130.0)
    backoff.succeeded()
    assert backoff.failed(0.0) == 2.0


def test_a_missing_model_takes_only_face_down(tmp_path: Path) -> None:
    """No model files at all: the daemon starts, face is down naming the model, and PIN and
    card are up (issue 14: a model missing never stops the gate)."""
    cfg = make_config(tmp_path)
    cfg = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"dir": tmp_path / "no-models"})}
    )
    events: list[AppEvent] = []
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32, listener=events.append)
    app.start()
    try:
        assert app.face is None and app.camera is None
        face = app.status()["ways_in"]["main"]["face"]
        assert face.startswith("down: face models not usable: ModelError")
        assert [e.kind for e in events].count("way_down") == 1
        app.tick()  # the loop serves the readers and doors without a face path
    finally:
        app.close()
    assert factory.pin(17).state is False


def test_face_down_sounds_the_siren_where_siren_on_lists_it(tmp_path: Path) -> None:
    """Issue 14: face down raises an alarm "(audit, STATUS=, siren if configured)"."""
    from facegate.config import load_config_text

    cfg = load_config_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17},"
        " gate: {alarm_relay: {pin: 19, active_high: true}, siren_on: [face_down]}}]\n"
        "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
        f"models: {{dir: {tmp_path / 'no-models'}}}\n"  # no models: face goes down at start
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
    )
    factory = MockFactory()
    app = App(cfg, pin_factory=factory, master_key=b"k" * 32)
    app.start()
    try:
        assert not app.ways.face_up
        assert factory.pin(19).state is True  # the siren sounds while face is down
        app.face_way.up("models")
        assert app.ways.face_up and factory.pin(19).state is False
    finally:
        app.close()
