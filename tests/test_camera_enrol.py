"""Enrolment from the gate camera while the daemon runs (``enroll.camera``, issue 18), against
a real daemon on mock pins with a replay camera: the console's button enrols the one face in
view with the consent form and the gate then grants it; two faces in view, or none, are
refused with a clear message and nothing is stored; a bad consent form fails before the
camera is used."""

from __future__ import annotations

import json
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.admin import AdminClient, AdminError
from facegate.audit.log import audit_files
from facegate.audit.signing import audit_folder
from helpers import NOTICE_VERSION, load_rgb, post_notice

PASSWORD = "correct horse battery"
CONSENT = {
    "consent_method": "paper-form",
    "notice_version": NOTICE_VERSION,
    "taken_by": "admin",
    "consent_ref": "F-2027-0009",
    "adult": True,
}


def _clip(folder: Path, faces: list[np.ndarray]) -> None:
    """Frames of a 640x480 scene holding ``faces`` side by side (none: an empty scene)."""
    folder.mkdir()
    frame = np.full((480, 640, 3), 90, np.uint8)
    width = 640 // max(1, len(faces))
    for i, face in enumerate(faces):
        scale = min((width - 20) / face.shape[1], 400 / face.shape[0])
        small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x = i * width + (width - small.shape[1]) // 2
        frame[40 : 40 + small.shape[0], x : x + small.shape[1]] = small
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame[:, :, ::-1])


@pytest.fixture
def gate(tmp_path: Path, models_dir: Path, testdata: Path) -> Iterator[Callable[[list[str]], Any]]:
    """Start a daemon whose replay camera shows the given photos (side by side)."""
    from gpiozero.pins.mock import MockFactory

    from facegate.config import load_config_text
    from facegate.service.app import App
    from facegate.store import create_master_key

    started: list[tuple[Any, threading.Thread]] = []

    def start(photos: list[str], liveness: str = 'liveness: {mode: "off"}\n') -> Any:
        _clip(tmp_path / "clip", [load_rgb(testdata / "faces" / p) for p in photos])
        text = (
            "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
            f"camera: {{type: replay, path: {tmp_path / 'clip'}, fps: 10, loop: true}}\n"
            "doors: [{id: main, relay: {pin: 17}}]\n"
            "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
            f"models: {{dir: {models_dir}}}\n"
            f"store: {{state_dir: {tmp_path / 'state'}}}\n"
            f"admin: {{socket: {tmp_path / 'admin.sock'}, group: null}}\n"
            f"{liveness}"
            "enrollment: {frames: 3, min_interval_s: 0.2}\n"
        )
        create_master_key(tmp_path / "state" / "master.key")
        post_notice(tmp_path / "state")
        app = App(load_config_text(text), pin_factory=MockFactory())
        app.start()
        thread = threading.Thread(target=app.run, daemon=True)
        thread.start()
        started.append((app, thread))
        return app

    yield start
    for app, thread in started:
        app.stop()
        thread.join(timeout=10)
        app.close()


def _stored(app: Any) -> int:
    with AdminClient(app.cfg.admin.socket) as client:
        return len(client.call("person.list")["people"])


def test_the_console_enrols_the_face_at_the_gate_camera(gate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
    from argon2 import PasswordHasher

    from facegate.web import WebSettings, create_app
    from facegate.web.accounts import Accounts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    app = gate(["barack_obama/obama2.jpg"])
    socket = app.cfg.admin.socket
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(tmp_path / "web" / "accounts.json", hasher=fast)
    accounts.add("oscar", "operator", PASSWORD)
    accounts.add("audrey", "auditor", PASSWORD)
    web = create_app(WebSettings(socket=socket, accounts=accounts.path, lang="en"), hasher=fast)

    def login(user: str) -> tuple[TestClient, str]:
        c = TestClient(web, base_url="https://testserver", follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert token
        form = {"csrf": token.group(1), "username": user, "password": PASSWORD}
        assert c.post("/login", data=form).status_code == 303
        page = c.get("/people/new")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found
        return c, found.group(1)

    try:
        c, csrf = login("oscar")
        page = c.get("/people/new").text
        assert 'id="enrol-camera"' in page
        form = {
            "csrf": csrf,
            "source": "camera",
            "consent_method": "paper-form",
            "consent_ref": "F-2027-0010",
            "notice_version": NOTICE_VERSION,
            "taken_by": "oscar",
            "age": "adult",
            "ack": "yes",
            "name": "Camera Person",
        }
        # A form without the consent acknowledgement is refused before the camera is used.
        refused = c.post("/people/new", data={k: v for k, v in form.items() if k != "ack"})
        assert refused.status_code == 400 and _stored(app) == 0
        assert c.post("/people/new", data=form | {"csrf": "forged"}).status_code == 403
        started = time.monotonic()
        reply = c.post("/people/new", data=form)
        assert reply.status_code == 303, reply.text
        assert time.monotonic() - started < 30
        pseudonym = reply.headers["location"].rsplit("/", 1)[-1]
        detail = c.get(reply.headers["location"]).text
        assert f"Enrolled {pseudonym}" in detail
        assert re.search(r'id="templates">3<', detail)  # enrollment.frames good frames
        # The gate now recognises the face in view: it is back on recognition, and grants.
        deadline = time.monotonic() + 30
        granted: list[dict[str, Any]] = []
        while not granted and time.monotonic() < deadline:
            time.sleep(0.3)
            with AdminClient(socket) as client:
                events = client.call("events", limit=50)["events"]
            granted = [e for e in events if e["result"] == "granted" and e["method"] == "face"]
        assert granted, "the enrolled face was not granted at the gate"
        # An auditor has no camera button and cannot use it.
        au, au_csrf = login("audrey")
        assert au.get("/people/new").status_code == 403
        assert au.post("/people/new", data=form | {"csrf": au_csrf}).status_code == 403
    finally:
        web.state.console.daemon.close()
    records = [
        json.loads(line)
        for path in audit_files(audit_folder(app.cfg.store.state_dir))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    web_records = [(r["action"], r["outcome"]) for r in records if r.get("kind") == "web"]
    assert ("enroll.camera", "ok") in web_records
    assert not list((tmp_path / "state").rglob("*.png")) and not list(
        (tmp_path / "state").rglob("*.jpg")
    )  # no frame was written anywhere in the daemon's state


def test_two_faces_in_view_are_refused_and_nothing_is_stored(gate) -> None:  # type: ignore[no-untyped-def]
    app = gate(["barack_obama/obama2.jpg", "jeff_bezos/img20.jpg"])
    with AdminClient(app.cfg.admin.socket, timeout_s=60) as client:
        with pytest.raises(AdminError, match=r"2 faces are in view.*nothing was stored"):
            client.call("enroll.camera", **CONSENT, timeout_s=10)
        # A bad consent form: refused at once, the camera untouched.
        started = time.monotonic()
        with pytest.raises(AdminError, match="notice"):
            client.call("enroll.camera", **(CONSENT | {"notice_version": "v0"}), timeout_s=10)
        assert time.monotonic() - started < 3
        with pytest.raises(AdminError, match="bad_args"):
            client.call("enroll.camera", **CONSENT, templates=["AAAAAA=="])
    assert _stored(app) == 0
    assert app.face_way.capture is None  # the gate is back on recognition


def test_no_face_in_view_times_out_clearly(gate) -> None:  # type: ignore[no-untyped-def]
    app = gate([])
    started = time.monotonic()
    with (
        AdminClient(app.cfg.admin.socket, timeout_s=60) as client,
        pytest.raises(AdminError, match=r"no face came into view.*nothing was stored"),
    ):
        client.call("enroll.camera", **CONSENT, timeout_s=5)
    assert 5 <= time.monotonic() - started < 15
    assert _stored(app) == 0 and app.face_way.capture is None


def test_a_still_picture_fails_the_liveness_check_and_nothing_is_stored(gate) -> None:  # type: ignore[no-untyped-def]
    """With the door's liveness check on, the frames must come from a live face: a clip of
    one still photo (a photo held up to the camera) never gives a template."""
    app = gate(["barack_obama/obama2.jpg"], liveness="")
    assert app.face is not None and app.face.liveness is not None
    with (
        AdminClient(app.cfg.admin.socket, timeout_s=60) as client,
        pytest.raises(AdminError, match=r"liveness.*nothing was stored"),
    ):
        client.call("enroll.camera", **CONSENT, timeout_s=8)
    assert _stored(app) == 0 and app.face_way.capture is None
