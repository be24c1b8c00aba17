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
