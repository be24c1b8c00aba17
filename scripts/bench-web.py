#!/usr/bin/env python3
"""Page times of the web console with N people enrolled (issue 18: under 300 ms with 1,000).

Starts the real daemon (mock pins, a replay camera showing an empty scene, a throwaway state
folder) with N people enrolled directly in its store (random unit-length templates, a name,
a unit and a consent record each) and E access events, serves the console over HTTPS on
localhost with uvicorn, logs in as an admin (names are decrypted for the admin role), and
times every page R times with one client. Prints median, 95th percentile and maximum per page.

Usage: .venv/bin/python scripts/bench-web.py [--people 1000] [--events 1000] [--rounds 20]
A measurement, not a test: numbers depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

PASSWORD = "bench password 1"
PAGES = [
    "/",
    "/api/live",
    "/events",
    "/people",
    "/people?q=Name 5",
    "/compliance",
    "/audit",
    "/requests",
    "/reconsent",
]
# The console caches these daemon reads for a moment (web/gateway.py CACHED): "cold" waits
# past that, so every call asks the daemon; "warm" is the next view within it.
COLD_WAIT = {
    "/": 1.05,
    "/api/live": 1.05,
    "/events": 1.05,
    "/people": 5.05,
    "/people?q=Name 5": 5.05,
    "/compliance": 10.05,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--models-dir", type=Path, default=None)
    args = ap.parse_args()

    import httpx
    import uvicorn
    from gpiozero.pins.mock import MockFactory

    from facegate.config import load_config_text
    from facegate.service.app import App
    from facegate.store import (
        ConsentInput,
        Event,
        Identity,
        Store,
        create_master_key,
        enroll_person,
        load_master_key,
    )
    from facegate.web import WebSettings, create_app
    from facegate.web.accounts import Accounts
    from facegate.web.tls import make_self_signed

    with tempfile.TemporaryDirectory(prefix="facegate-bench-web-") as name:
        tmp = Path(name)
        (tmp / "clip").mkdir()
        cv2.imwrite(str(tmp / "clip" / "000.png"), np.full((240, 320, 3), 90, np.uint8))
        models = f"models: {{dir: {args.models_dir}}}\n" if args.models_dir else ""
        text = (
            "site: {name: T, kind: residential_compound, purpose: Open the gate.}\n"
            f"camera: {{type: replay, path: {tmp / 'clip'}, fps: 10, loop: true}}\n"
            "doors: [{id: main, relay: {pin: 17}}]\n"
            "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
            f"store: {{state_dir: {tmp / 'state'}}}\n"
            f"admin: {{socket: {tmp / 'admin.sock'}, group: null}}\n" + models
        )
        cfg = load_config_text(text)
        create_master_key(tmp / "state" / "master.key")
        key = load_master_key(tmp / "state" / "master.key")
        # The face path's space and size, from a first start.
        app = App(cfg, pin_factory=MockFactory(), master_key=key)
        app.start()
        space, dim = app.face.space, app.face.dim  # type: ignore[union-attr]
        app.close()
        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        with Store(cfg.store.state_dir, key) as store:
            for i in range(args.people):
                template = rng.normal(size=(1, dim)).astype(np.float32)
                template /= np.linalg.norm(template)
                enroll_person(
                    store,
                    identity=Identity(f"Name {i}", f"{i // 100}-{i % 100:02d}"),
                    consent=ConsentInput("bench form", "v1", "bench", "main"),
                    templates=template,
                    space=space,
                    expires_at=time.time() + 365 * 86400,  # a face needs one (retention)
                    age="adult",
                )
            now = time.time()
            for i in range(args.events):
                store.record_event(
                    Event(
                        now - i * 30,
                        "main",
                        ("face", "pin", "card")[i % 3],
                        ("granted", "denied")[i % 4 == 0],
                        None,
                        None,
                        "bench",
                    )
                )
        print(
            f"enrolled {args.people} people and {args.events} events "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        app = App(cfg, pin_factory=MockFactory(), master_key=key)
        app.start()
        loop = threading.Thread(target=app.run, daemon=True)
        loop.start()
        accounts = Accounts(tmp / "web" / "accounts.json")
        accounts.add("bench", "admin", PASSWORD)
        cert, pem_key = make_self_signed(
            tmp / "web" / "c.pem", tmp / "web" / "k.pem", ["127.0.0.1"]
        )
        web = create_app(WebSettings(socket=tmp / "admin.sock", accounts=accounts.path, lang="en"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                web,
                host="127.0.0.1",
                port=port,
                ssl_certfile=str(cert),
                ssl_keyfile=str(pem_key),
                lifespan="off",
                log_level="warning",
                access_log=False,
            )
        )
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        while not server.started:
            time.sleep(0.05)
        try:
            url = f"https://127.0.0.1:{port}"
            with httpx.Client(base_url=url, verify=False, follow_redirects=False) as c:
                token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
                assert token
                c.post(
                    "/login",
                    data={"csrf": token.group(1), "username": "bench", "password": PASSWORD},
                )
                print(
                    f"{'page':<18} {'cold median':>11} {'p95':>7} {'max':>7} "
                    f"{'warm median':>11} {'max':>7}  ms, n={args.rounds} each"
                )
                for page in PAGES:
                    cold: list[float] = []
                    warm: list[float] = []
                    for _ in range(args.rounds):
                        time.sleep(COLD_WAIT.get(page, 0.0))  # past the console's cache
                        for times in (cold, warm):
                            t = time.perf_counter()
                            reply = c.get(page)
                            times.append((time.perf_counter() - t) * 1000)
                            assert reply.status_code == 200, (page, reply.status_code)
                    cold.sort()
                    warm.sort()
                    p95 = cold[min(len(cold) - 1, int(0.95 * len(cold)))]
                    print(
                        f"{page:<18} {statistics.median(cold):>11.1f} {p95:>7.1f} "
                        f"{cold[-1]:>7.1f} {statistics.median(warm):>11.1f} {warm[-1]:>7.1f}"
                    )
        finally:
            server.should_exit = True
            serving.join(timeout=10)
            web.state.console.daemon.close()
            app.stop()
            loop.join(timeout=10)
            app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
