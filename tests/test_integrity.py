"""Intrusion detection: config and model files changed, the database written from outside."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.service.app import App, AppEvent
from facegate.service.integrity import IntegrityMonitor
from facegate.store import ConsentInput, Store, enroll_person
from helpers import make_config


def test_monitor_finds_each_change_once(tmp_path: Path) -> None:
    config = tmp_path / "facegate.yaml"
    model = tmp_path / "m.onnx"
    config.write_text("a: 1\n")
    model.write_bytes(b"weights")
    store = Store(tmp_path / "state", os.urandom(32))
    monitor = IntegrityMonitor(
        {"config": config, "model:m.onnx": model}, store.data_version, every_s=60
    )
    assert monitor.check(0.0) == []
    # The daemon's own writes (its one connection) do not count:
    enroll_person(
        store,
        consent=ConsentInput("f", "v", "a", "s"),
        templates=np.ones((1, 128), np.float32),
        space="s",
        expires_at=2_000_000_000.0,
    )
    assert monitor.check(100.0) == []
    config.write_text("a: 2\n")
    assert monitor.check(120.0) == []  # not due yet
    other = sqlite3.connect(store.path)
    other.execute("DELETE FROM events")
    other.commit()
    other.close()
    model.write_bytes(b"other weights")
    kinds = {(f.kind, f.what) for f in monitor.check(200.0)}
    assert kinds == {
        ("config_changed", "facegate.yaml"),
        ("model_changed", "m.onnx"),
        ("database_changed_outside", "facegate.db"),
    }
    assert monitor.check(300.0) == []  # raised once, not every period
    store.close()


def test_the_daemon_raises_intrusion_alarms(tmp_path: Path, models_dir: Path) -> None:
    cfg = make_config(tmp_path, models_dir)
    config = tmp_path / "gate.yaml"
    config.write_text("# the configuration file\n")
    clock = FakeClock()
    alarms: list[AppEvent] = []
    app = App(
        cfg,
        pin_factory=MockFactory(),
        clock=clock,
        master_key=os.urandom(32),
        config_path=config,
        listener=lambda e: alarms.append(e) if e.kind == "alarm" else None,
    )
    app.check_rules()
    app.init_gate()
    app.init_store()
    app.init_access()
    app.init_readers()
    app.init_integrity()
    try:
        app.tick()
        assert alarms == []
        config.write_text("# edited by hand\n")
        clock.advance(cfg.watchdog.integrity_every_s + 1)
        app.tick()
        files = [a.detail["kind"] for a in alarms if "file" in a.detail]
        assert files == ["config_changed"]  # (camera alarms: no frames in 5 minutes)
    finally:
        app.close()
