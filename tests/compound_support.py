"""Gate daemons of a compound for the tests (imported as ``from compound_support import …``).

Each gate is a real ``App`` on mock pins with a replay camera and the compound hook, its
store and compound folder made by ``SimCompound`` (the real init, join, admit, install), the
broker a real Mosquitto with TLS and the ACL on a free localhost port."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from gpiozero.pins.mock import MockFactory

from facegate.compound.sim import SimCompound
from facegate.config import load_config_text
from facegate.service.actuator import AppEvent
from facegate.service.app import App
from facegate.service.compound_link import CompoundHook

CONFIG = """\
site: {{name: {device}, kind: residential_compound, purpose: Open the gate for residents.}}
camera: {{type: replay, path: {clip}, fps: 10, loop: true}}
doors: [{{id: main, relay: {{pin: 17, pulse_s: 1.0}}}}]
readers: [{{id: r1, type: wiegand, door: main, d0: 22, d1: 23}}]
models: {{dir: {models}}}
store: {{state_dir: {state}}}
liveness: {{mode: "off"}}
compound:
  name: estate
  device: {device}
  broker: 127.0.0.1
  port: {port}
  dir: {folder}
  home_assistant: true
  remote_unlock: {remote_unlock}
"""


def write_clip(folder: Path, face: np.ndarray | None) -> None:
    """A loop: nobody for 1 s, the resident for 0.8 s, nobody for 1 s (``None``: nobody)."""
    folder.mkdir(parents=True)
    blank = np.full((480, 640, 3), 90, np.uint8)
    frame = blank.copy()
    if face is not None:
        scale = 400 / max(face.shape[:2])
        small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame[40 : 40 + small.shape[0], 120 : 120 + small.shape[1]] = small[:, :, ::-1]
    for i, bgr in enumerate([blank] * 10 + [frame] * 8 + [blank] * 10):
        cv2.imwrite(str(folder / f"{i:03d}.png"), bgr)


def until(check: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


class Daemon:
    """One gate's App on its loop thread, its decisions, its pins and its compound hook."""

    def __init__(self, app: App, factory: MockFactory) -> None:
        self.app = app
        self.factory = factory
        self.decisions: list[tuple[float, bool, str | None]] = []
        self.events: list[AppEvent] = []
        self.hook = CompoundHook(app)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def listen(self, event: AppEvent) -> None:
        self.events.append(event)
        if event.kind == "decision" and event.decision is not None:
            self.decisions.append(
                (time.monotonic(), event.decision.granted, event.decision.subject)
            )

    def _run(self) -> None:
        self.app.run(frame_timeout_s=0.02)

    def face_decisions_since(self, t: float) -> list[tuple[bool, str | None]]:
        return [(g, s) for at, g, s in self.decisions if at > t]

    def connected(self) -> bool:
        return self.hook.link is not None and self.hook.link.connected.is_set()


@contextmanager
def gate_daemons(
    compound: SimCompound,
    clip: Path,
    models_dir: Path,
    *,
    only: list[str] | None = None,
    remote_unlock: Collection[str] = (),
) -> Iterator[dict[str, Daemon]]:
    """Start a daemon for each gate of ``compound`` (or those in ``only``); stop them after.
    ``remote_unlock``: the gates that let Home Assistant's unlock command open their door."""
    daemons: dict[str, Daemon] = {}
    try:
        for device, gate in compound.gates.items():
            if only is not None and device not in only:
                continue
            cfg = load_config_text(
                CONFIG.format(
                    device=device,
                    clip=clip,
                    models=models_dir,
                    state=gate.state,
                    port=compound.port,
                    folder=gate.folder,
                    remote_unlock="true" if device in remote_unlock else "false",
                )
            )
            holder: list[Daemon] = []
            factory = MockFactory()
            app = App(
                cfg,
                pin_factory=factory,
                master_key=gate.master_key,
                listener=lambda e, h=holder: h[0].listen(e),
            )
            daemon = Daemon(app, factory)
            holder.append(daemon)
            app.start()
            daemon.hook.start()
            daemon.thread.start()
            daemons[device] = daemon
        yield daemons
    finally:
        for daemon in daemons.values():
            stop_daemon(daemon)


def stop_daemon(daemon: Daemon) -> None:
    """Stop one gate (idempotent): the loop, then the link, then the store."""
    if daemon.thread.is_alive():
        daemon.app.stop()
        daemon.thread.join(timeout=10)
    daemon.hook.stop()
    if daemon.app.store is not None:
        daemon.app.close()
