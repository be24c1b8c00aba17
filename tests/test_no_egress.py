"""Nothing leaves the device: commands open no IPv4/IPv6 socket, dependencies included.

onnxruntime, for one, sends telemetry (DNS lookups of a Microsoft events host) unless
``ORT_DISABLE_TELEMETRY`` is set before it is imported; ``facegate/__init__.py`` sets it for
every command. This test runs real commands under ``strace`` and fails on any ``socket()``
call of the AF_INET or AF_INET6 family, in any thread or child process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STRACE = shutil.which("strace")
FACEGATE = Path(sys.executable).with_name("facegate")
INET = re.compile(r"socket\((AF_INET|AF_INET6)\b")

pytestmark = pytest.mark.skipif(
    STRACE is None, reason="strace is not installed (apt install strace; scripts/dev does)"
)


def _traced(tmp_path: Path, models_dir: Path, *argv: str) -> list[str]:
    assert STRACE is not None
    trace = tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "HF_", "DO_NOT"))}
    env["HOME"] = str(tmp_path / "home")  # so a telemetry cache folder would show up here
    env["FACEGATE_MODELS_DIR"] = str(models_dir)
    proc = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=socket", "-o", str(trace), str(FACEGATE), *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if "ptrace" in proc.stderr and "Operation not permitted" in proc.stderr:
        pytest.skip("this sandbox does not allow ptrace")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (tmp_path / "home" / ".cache" / "Microsoft").exists()
    return [line for line in trace.read_text().splitlines() if INET.search(line)]


def test_the_demo_opens_no_network_socket(tmp_path: Path, models_dir: Path) -> None:
    assert _traced(tmp_path, models_dir, "demo") == []


def test_eval_opens_no_network_socket(tmp_path: Path, models_dir: Path, testdata: Path) -> None:
    faces = tmp_path / "faces"
    for person in ("jeff_bezos", "elon_musk"):
        shutil.copytree(testdata / "faces" / person, faces / person)
    assert _traced(tmp_path, models_dir, "eval", "--faces", str(faces)) == []


def test_the_check_catches_a_socket(tmp_path: Path) -> None:
    """The trace and the pattern do see an AF_INET socket when one is opened."""
    assert STRACE is not None
    trace = tmp_path / "t.txt"
    code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()"
    subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=socket", "-o", str(trace), sys.executable, "-c", code],
        check=True,
        timeout=60,
    )
    assert any(INET.search(line) for line in trace.read_text().splitlines())


DAEMON = """
import threading, sys
from pathlib import Path
import cv2, numpy as np
from gpiozero.pins.mock import MockFactory
from facegate.config import load_config_text
from facegate.service.app import App
from facegate.store import create_master_key, load_master_key
tmp, models = Path(sys.argv[1]), sys.argv[2]
clip = tmp / "clip"
clip.mkdir()
cv2.imwrite(str(clip / "0.png"), np.full((240, 320, 3), 90, np.uint8))
cfg = load_config_text(
    "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\\n"
    f"camera: {{type: replay, path: {clip}, fps: 20, loop: true}}\\n"
    "doors: [{id: main, relay: {pin: 17}}]\\n"
    "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\\n"
    f"models: {{dir: {models}}}\\n"
    f"store: {{state_dir: {tmp / 'state'}}}\\n"
)
create_master_key(tmp / "state" / "master.key")
app = App(cfg, pin_factory=MockFactory(), master_key=load_master_key(tmp / "state" / "master.key"))
app.start()
assert app.face is not None, "the face path (onnxruntime, LiteRT) must be loaded for this test"
threading.Timer(4.0, app.stop).start()
try:
    app.run()
finally:
    app.close()
print("frames", app.frames_processed)
"""


def test_the_daemon_opens_no_network_socket(tmp_path: Path, models_dir: Path) -> None:
    """The daemon's own code path, models loaded, serving for a few seconds."""
    assert STRACE is not None
    trace = tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORT_", "HF_", "DO_NOT"))}
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=socket", "-o", str(trace), sys.executable, "-c",
         DAEMON, str(tmp_path), str(models_dir)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "frames" in proc.stdout
    assert [line for line in trace.read_text().splitlines() if INET.search(line)] == []
    assert not (tmp_path / "home" / ".cache" / "Microsoft").exists()
