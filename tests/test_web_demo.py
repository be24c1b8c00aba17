"""``facegate demo --console``: the real daemon on a looping clip and the console with a demo
account; the live timeline shows the resident GRANTED (issue 18's Done-when entry point)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("skimage", reason="the demo's portraits ship in scikit-image (demo extra)")
httpx = pytest.importorskip("httpx", reason="the dev extra's httpx")

pytestmark = pytest.mark.slow


def test_demo_console_serves_a_live_timeline(models_dir: Path) -> None:
    from facegate.cli.demo_console import run_console_demo

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()
    ready: list[tuple[str, str, str]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            run_console_demo(
                models_dir=models_dir,
                port=port,
                say=lambda _line: None,
                stop=stop,
                on_ready=lambda *a: ready.append(a),
            )
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 120
        while not ready:
            assert not failed, failed
            assert time.monotonic() < end, "the console demo did not start"
            time.sleep(0.2)
        url, user, password = ready[0]
        with httpx.Client(base_url=url, verify=False, follow_redirects=False, timeout=30) as c:
            token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
            assert token
            reply = c.post(
                "/login", data={"csrf": token.group(1), "username": user, "password": password}
            )
            assert reply.status_code == 303
            end = time.monotonic() + 60
            while True:
                live = c.get("/api/live").json()
                if any(e["result"] == "granted" and e["method"] == "face" for e in live["events"]):
                    break
                assert time.monotonic() < end, f"no face granted on the timeline: {live}"
                time.sleep(1)
            assert live["daemon"] == "up" and live["today"]["granted"] >= 1
            assert not [a for a in live["alarms"] if a.startswith("main:")]  # the door is shut
            assert "main" in c.get("/").text
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive() and not failed
