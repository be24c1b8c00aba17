"""Enrolment from the gate camera while the daemon runs (``enroll.camera``, issue 18), against
a real daemon on mock pins with a replay camera: the console's button enrols the one face in
view with the consent form and the gate then grants it; two faces in view, or none, are
refused with a clear message and nothing is stored; a bad consent form fails before the
camera is used. ``facegate enroll --camera`` goes through the same command while the daemon
runs: the CLI's enrolment is granted at the gate, and each refusal is one line."""

from __future__ import annotations

import json
import logging
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
from helpers import CONSENT_ARGS, NOTICE_VERSION, load_rgb, post_notice

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
    """Start a daemon whose replay camera shows the given photos (side by side); its
    configuration is also written to ``gate.yaml`` for the CLI."""
    from gpiozero.pins.mock import MockFactory

    from facegate.config import load_config_text
    from facegate.service.app import App
    from facegate.store import create_master_key

    started: list[tuple[Any, threading.Thread]] = []

    def start(
        photos: list[str],
        liveness: str = 'liveness: {mode: "off"}\n',
        roles: str = "",
        timeout_s: float = 60.0,
        reader: str = "",
    ) -> Any:
        _clip(tmp_path / "clip", [load_rgb(testdata / "faces" / p) for p in photos])
        text = (
            "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
            f"camera: {{type: replay, path: {tmp_path / 'clip'}, fps: 10, loop: true}}\n"
            "doors: [{id: main, relay: {pin: 17}}]\n"
            f"readers: [{{id: r1, type: wiegand, door: main, d0: 22, d1: 23{reader}}}]\n"
            f"models: {{dir: {models_dir}}}\n"
            f"store: {{state_dir: {tmp_path / 'state'}}}\n"
            f"admin: {{socket: {tmp_path / 'admin.sock'}, group: null{roles}}}\n"
            f"{liveness}"
            f"enrollment: {{frames: 3, min_interval_s: 0.2, timeout_s: {timeout_s}}}\n"
        )
        (tmp_path / "gate.yaml").write_text(text)  # for the CLI (`enroll -c`)
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


def _granted_by_face(app: Any) -> bool:
    """The gate grants a face within 30 s (it is back on recognition after the capture)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.3)
        with AdminClient(app.cfg.admin.socket) as client:
            events = client.call("events", limit=50)["events"]
        if any(e["result"] == "granted" and e["method"] == "face" for e in events):
            return True
    return False


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
        assert _granted_by_face(app), "the enrolled face was not granted at the gate"
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


def test_a_requester_who_hangs_up_cancels_the_capture(gate) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C on `facegate enroll --camera` closes its socket: the daemon stops looking at
    once, so nobody who walks up later is enrolled under the consent of the one who left."""
    import socket as sockets
    import struct

    app = gate([])
    body = json.dumps(
        {"v": 1, "id": 1, "command": "enroll.camera", "args": {**CONSENT, "timeout_s": 60}}
    ).encode()
    conn = sockets.socket(sockets.AF_UNIX)
    conn.connect(str(app.cfg.admin.socket))
    conn.sendall(struct.pack(">I", len(body)) + body)
    deadline = time.monotonic() + 10
    while app.face_way.capture is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.face_way.capture is not None  # the daemon is looking at the camera
    conn.close()  # the client went away
    deadline = time.monotonic() + 5
    while app.face_way.capture is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.face_way.capture is None, "the capture went on for a requester who left"
    assert _stored(app) == 0


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


# `facegate enroll --camera` while the daemon runs: the CLI asks the daemon (issue 18).


def test_the_cli_enrols_from_the_gate_camera_through_the_daemon(  # type: ignore[no-untyped-def]
    gate, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from facegate.cli import main

    caplog.set_level(logging.DEBUG)
    app = gate(["barack_obama/obama2.jpg"])
    cfg = str(tmp_path / "gate.yaml")
    args = ["enroll", "-c", cfg, "--camera", "--name", "Camera Person", *CONSENT_ARGS]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "look at the gate camera" in out and "waiting up to 60 s" in out
    assert "through the running daemon from the gate camera: 3 template(s)" in out
    assert len(app.face.pipeline.gallery) == 1  # active at once
    assert _granted_by_face(app), "the face enrolled from the CLI was not granted at the gate"
    assert "Camera Person" not in caplog.text  # no name in any log
    assert not [
        p
        for p in tmp_path.rglob("*")
        if p.suffix in (".png", ".jpg", ".npy") and "clip" not in p.parts
    ]  # no frame written anywhere


def test_cli_camera_refusals_are_one_line_and_store_nothing(  # type: ignore[no-untyped-def]
    gate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facegate.cli import main

    app = gate(["barack_obama/obama2.jpg", "jeff_bezos/img20.jpg"])
    cfg = str(tmp_path / "gate.yaml")
    assert main(["enroll", "-c", cfg, "--camera", *CONSENT_ARGS]) == 3
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refused: 2 faces are in view"), lines
    assert lines[0].endswith("nothing was stored") and "Traceback" not in captured.out
    # A consent form that fails is refused before the camera is used.
    started = time.monotonic()
    stale = [a if a != NOTICE_VERSION else "v0" for a in CONSENT_ARGS]
    assert main(["enroll", "-c", cfg, "--camera", *stale]) == 2  # bad input: usage
    captured = capsys.readouterr()
    assert "never recorded as posted" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "look at the gate camera" not in captured.out
    assert time.monotonic() - started < 5
    assert _stored(app) == 0 and len(app.face.pipeline.gallery) == 0
    assert app.face_way.capture is None  # the gate is back on recognition


@pytest.mark.parametrize(
    ("photos", "liveness", "refusal"),
    [
        (
            [],
            'liveness: {mode: "off"}\n',
            r"refused: only 0 of 3 good frames in time \(no face came into view\)",
        ),
        (["barack_obama/obama2.jpg"], "", r"refused: .*liveness check"),
    ],
    ids=["no-face", "still-picture"],
)
def test_cli_camera_time_limit_and_liveness_refusals(  # type: ignore[no-untyped-def]
    gate, tmp_path: Path, capsys: pytest.CaptureFixture[str], photos, liveness, refusal
) -> None:
    """enrollment.timeout_s is the CLI's shown limit and the daemon's; a face that never
    comes, or never proves live, is one line and nothing is stored."""
    from facegate.cli import main

    app = gate(photos, liveness=liveness, timeout_s=6)
    started = time.monotonic()
    assert main(["enroll", "-c", str(tmp_path / "gate.yaml"), "--camera", *CONSENT_ARGS]) == 3
    captured = capsys.readouterr()
    assert "waiting up to 6 s" in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and re.match(refusal, lines[0]), lines
    assert lines[0].endswith("; nothing was stored")
    assert 5 <= time.monotonic() - started < 20
    assert _stored(app) == 0 and app.face_way.capture is None


def test_cli_camera_needs_the_operator_role(  # type: ignore[no-untyped-def]
    gate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from facegate.cli import main

    roles = f", root_is_admin: false, uids: {{{os.getuid()}: auditor}}"
    app = gate(["barack_obama/obama2.jpg"], roles=roles)
    cfg = str(tmp_path / "gate.yaml")
    assert main(["enroll", "-c", cfg, "--camera", *CONSENT_ARGS]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "needs the operator role" in lines[0], lines
    assert len(app.face.pipeline.gallery) == 0 and app.face_way.capture is None


def test_enroll_help_says_how_the_camera_works_with_and_without_the_daemon(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from facegate.cli import main

    with pytest.raises(SystemExit):
        main(["enroll", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Daemon stopped: this command opens the configured camera" in text
    assert "Daemon running: it holds the camera" in text and "enroll.camera" in text


def test_with_trigger_request_the_person_confirms_at_the_gate(gate) -> None:  # type: ignore[no-untyped-def]
    """face_zone.trigger: request: a capture counts no frame (nothing is even detected) until
    the person at the gate presses the face key or button; then they are enrolled."""
    from facegate.readers.events import FaceRequested

    app = gate(
        ["barack_obama/obama2.jpg"],
        liveness='liveness: {mode: "off"}\nface_zone: {trigger: request, awake_s: 10}\n',
        reader=", pin: {face_key: '*'}",
    )
    result: dict[str, Any] = {}

    def enrol() -> None:
        with AdminClient(app.cfg.admin.socket, timeout_s=60) as client:
            try:
                result["reply"] = client.call("enroll.camera", **CONSENT, timeout_s=30)
            except AdminError as exc:
                result["error"] = exc

    worker = threading.Thread(target=enrol)
    worker.start()
    time.sleep(3.0)  # a face in view all along, but nobody pressed anything
    capture = app.face_way.capture
    assert capture is not None and not capture.done.is_set() and _stored(app) == 0
    app.face_way.reader_event("main", FaceRequested("r1", time.monotonic()))
    worker.join(30)
    assert "reply" in result, result
    assert result["reply"]["templates"] == 3 and _stored(app) == 1


def test_captures_back_to_back_leave_the_gate_time_to_recognise(gate) -> None:  # type: ignore[no-untyped-def]
    """An operator who asks again and again cannot keep recognition off: after a capture the
    gate recognises for CAPTURE_REST_S before the next one may start."""
    from facegate.service.face_way import CAPTURE_REST_S

    app = gate([])
    with AdminClient(app.cfg.admin.socket, timeout_s=60) as client:
        with pytest.raises(AdminError, match="no face came into view"):
            client.call("enroll.camera", **CONSENT, timeout_s=5)
        with pytest.raises(AdminError, match=r"busy.*back on recognition for \d+ s more"):
            client.call("enroll.camera", **CONSENT, timeout_s=5)
    assert app.face_way.capture is None
    assert 0 < app.face_way.capture_rest_left() <= CAPTURE_REST_S


def test_a_closed_browser_tab_cancels_the_consoles_camera_enrolment(gate) -> None:  # type: ignore[no-untyped-def]
    """The console watches its browser: when the page goes away it hangs up its own daemon
    connection, and the daemon stops looking (it would otherwise run to its time limit)."""
    import asyncio

    pytest.importorskip("starlette", reason="the console needs starlette (pip install -e .)")
    from starlette.concurrency import run_in_threadpool

    from facegate.web.gateway import Daemon, DaemonDown
    from facegate.web.pages_people import until_gone

    app = gate([])
    daemon = Daemon(app.cfg.admin.socket)

    class Browser:
        """A request whose client leaves after 1 s."""

        def __init__(self) -> None:
            self.left_at = time.monotonic() + 1.0

        async def is_disconnected(self) -> bool:
            return time.monotonic() >= self.left_at

    async def enrol() -> Any:
        cancel = threading.Event()
        work = run_in_threadpool(
            daemon.fetch,
            "enroll.camera",
            {**CONSENT, "timeout_s": 60},
            max_bytes=1 << 20,
            timeout_s=75.0,
            cancel=cancel,
        )
        try:
            return await until_gone(Browser(), work, cancel)
        finally:
            assert cancel.is_set()

    started = time.monotonic()
    with pytest.raises(DaemonDown, match="cancelled"):
        asyncio.run(enrol())
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while app.face_way.capture is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.face_way.capture is None, "the daemon went on looking for a closed page"
    assert daemon.last_down is None  # a hang-up of ours is not the daemon being down
    assert _stored(app) == 0
