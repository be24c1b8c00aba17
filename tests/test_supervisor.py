"""SIGHUP reloads the configuration (validated first, old kept on error); SIGTERM stops safely."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from facegate.config import FacegateConfig
from facegate.service.app import App
from facegate.service.supervisor import Supervisor
from facegate.store import create_master_key

CONFIG = """\
site: {{name: T, kind: residential_compound, purpose: Open the gate for residents.}}
camera: {{type: replay, path: {clip}, fps: 20, loop: true}}
doors: [{{id: main, relay: {{pin: 17, pulse_s: {pulse}}}}}]
readers: [{{id: r1, type: wiegand, door: main, d0: 22, d1: 23}}]
models: {{dir: {models}}}
store: {{state_dir: {state}}}
"""


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_reload_keeps_old_config_on_error_and_applies_a_valid_one(
    tmp_path: Path, models_dir: Path
) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "0.png"), np.full((120, 160, 3), 90, np.uint8))
    path = tmp_path / "gate.yaml"

    def write(pulse: float, extra: str = "") -> None:
        path.write_text(
            CONFIG.format(clip=clip, pulse=pulse, models=models_dir, state=tmp_path / "state")
            + extra
        )

    write(3.0)
    create_master_key(tmp_path / "state" / "master.key")
    factory = MockFactory()
    built: list[FacegateConfig] = []

    def build(cfg: FacegateConfig, config_path: Path) -> App:
        built.append(cfg)
        return App(cfg, pin_factory=factory, config_path=config_path)

    sup = Supervisor(path, build)
    sup.install_signal_handlers()
    thread = threading.Thread(target=sup.run, daemon=True)
    try:
        thread.start()
        wait_for(lambda: sup.app is not None and sup.app.frames_processed > 2)
        first = sup.app
        write(3.0, "typo_section: 1\n")  # invalid: reported, old config kept, same App
        os.kill(os.getpid(), signal.SIGHUP)
        wait_for(lambda: not sup._reload.is_set())
        frames = first.frames_processed  # type: ignore[union-attr]
        wait_for(lambda: first.frames_processed > frames + 2)  # type: ignore[union-attr]
        assert sup.app is first and sup.reloads == 0 and len(built) == 1
        write(5.0)  # valid: the App restarts with the new pulse time
        os.kill(os.getpid(), signal.SIGHUP)
        wait_for(lambda: sup.reloads == 1 and sup.app is not None and sup.app is not first)
        assert built[-1].doors[0].relay.pulse_s == 5.0
        wait_for(lambda: sup.app.frames_processed > 2)  # type: ignore[union-attr]
        os.kill(os.getpid(), signal.SIGTERM)
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert factory.pin(17).state is False  # the lock is safe after stopping
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if thread.is_alive():
            sup.request_stop()
            thread.join(timeout=10)


def test_a_config_that_cannot_start_falls_back_to_the_old_one(
    tmp_path: Path, models_dir: Path
) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "0.png"), np.full((120, 160, 3), 90, np.uint8))
    path = tmp_path / "gate.yaml"
    path.write_text(
        CONFIG.format(clip=clip, pulse=3.0, models=models_dir, state=tmp_path / "state")
    )
    create_master_key(tmp_path / "state" / "master.key")
    factory = MockFactory()
    sup = Supervisor(path, lambda cfg, _path: App(cfg, pin_factory=factory))
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: sup.app is not None and sup.app.frames_processed > 1)
        first = sup.app
        # Valid YAML, but a master key that is not there: the store cannot open, so the new
        # App cannot start (a private-space site would only keep face down, see test_app).
        missing = tmp_path / "missing.key"
        path.write_text(path.read_text().replace("store: {", f"store: {{key_file: {missing}, "))
        sup.request_reload()
        wait_for(lambda: sup.app is not None and sup.app is not first)  # restarted…
        wait_for(lambda: sup.app.frames_processed > 1)  # type: ignore[union-attr]
        assert sup.reloads == 0  # …with the old configuration
        assert sup.cfg.site.kind.value == "residential_compound"
    finally:
        sup.request_stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert factory.pin(17).state is False


@pytest.mark.parametrize(
    "bad",
    [
        "notice: {effective_date: 2026-02-30}\n",  # issue 14 item 2: ValueError from PyYAML
        "typo: [" + "[" * 500 + "\n",  # nesting past the limit
        "calendar: {holidays: [2027-13-01]}\n",
    ],
)
def test_a_reload_survives_any_broken_file(tmp_path: Path, models_dir: Path, bad: str) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "0.png"), np.full((120, 160, 3), 90, np.uint8))
    path = tmp_path / "gate.yaml"
    good = CONFIG.format(clip=clip, pulse=3.0, models=models_dir, state=tmp_path / "state")
    path.write_text(good)
    create_master_key(tmp_path / "state" / "master.key")
    factory = MockFactory()
    sup = Supervisor(path, lambda cfg, _path: App(cfg, pin_factory=factory))
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: sup.app is not None and sup.app.frames_processed > 1)
        first = sup.app
        path.write_text(good + bad)
        sup.request_reload()
        wait_for(lambda: not sup._reload.is_set())
        frames = first.frames_processed  # type: ignore[union-attr]
        wait_for(lambda: first.frames_processed > frames + 2)  # type: ignore[union-attr]
        assert sup.app is first and sup.reloads == 0 and thread.is_alive()
    finally:
        sup.request_stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert factory.pin(17).state is False
