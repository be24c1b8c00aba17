"""Admin commands through a running daemon's socket: one writer, changes active at once."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from facegate.cli import main
from facegate.config import load_config_text
from facegate.service.app import App
from facegate.store import create_master_key
from helpers import CONSENT_ARGS, make_config, post_notice


@pytest.fixture
def daemon(tmp_path: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "000.png"), np.full((240, 320, 3), 90, np.uint8))
    base = make_config(tmp_path, models_dir)
    text = (
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {clip}, fps: 20, loop: true}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
        f"models: {{dir: {models_dir}}}\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
        f"admin: {{socket: {tmp_path / 'admin.sock'}, group: null}}\n"
    )
    (tmp_path / "gate.yaml").write_text(text)
    cfg = load_config_text(text)
    assert cfg.store.state_dir == base.store.state_dir
    create_master_key(tmp_path / "state" / "master.key")
    factory = MockFactory()
    app = App(cfg, pin_factory=factory)
    app.start()
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    yield tmp_path / "gate.yaml", app, factory
    app.stop()
    thread.join(timeout=10)
    app.close()
    assert factory.pin(17).state is False


def test_cli_goes_through_the_daemon(
    daemon,
    testdata: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    cfg_path, app, _factory = daemon
    cfg = str(cfg_path)
    assert main(["status", "-c", cfg]) == 0
    assert "door main: locked" in capsys.readouterr().out
    photo = str(testdata / "faces" / "jeff_bezos" / "img20.jpg")
    consent = CONSENT_ARGS
    post_notice(app.cfg.store.state_dir)
    assert main(["enroll", "-c", cfg, "--photo", photo, "--name", "Jeff Test", *consent]) == 0
    out = capsys.readouterr().out
    assert "through the running daemon" in out and "active now" in out
    assert len(app.face.pipeline.gallery) == 1  # reloaded at once, no restart
    # The same face again, as if it were someone else: refused, unless told it is (issue 17).
    other = str(testdata / "faces" / "jeff_bezos" / "img21.jpg")
    assert main(["enroll", "-c", cfg, "--photo", other, "--name", "Jeff Again", *consent]) != 0
    assert "already enrolled as p-" in capsys.readouterr().err
    assert len(app.face.pipeline.gallery) == 1
    # `enroll --camera` goes through the daemon's own camera: tests/test_camera_enrol.py.
    assert main(["person", "list", "-c", cfg]) == 0
    listing = capsys.readouterr().out
    pseudonym = next(w for w in listing.split() if w.startswith("p-"))
    assert "Jeff Test" not in listing
    assert main(["door", "open", "-c", cfg, "main", "--seconds", "2"]) == 0
    assert "released" in capsys.readouterr().out
    assert main(["person", "withdraw", "-c", cfg, pseudonym]) == 0
    assert "1 face templates" in capsys.readouterr().out
    assert len(app.face.pipeline.gallery) == 0
    assert main(["events", "-c", cfg]) == 0
    events = capsys.readouterr().out
    assert "remote" in events and "REMOTE" not in events.split("reason")[0]
    assert main(["audit", "verify", "-c", cfg]) == 0, capsys.readouterr().out


def test_refused_admin_request_is_an_alarm(tmp_path: Path, models_dir: Path) -> None:
    import time

    from facegate.admin import AdminClient, AdminError
    from facegate.service.app import AppEvent

    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "000.png"), np.full((240, 320, 3), 90, np.uint8))
    text = (
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {clip}, fps: 20, loop: true}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        "readers: [{id: r1, type: wiegand, door: main, d0: 22, d1: 23}]\n"
        f"models: {{dir: {models_dir}}}\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
        f"admin: {{socket: {tmp_path / 'admin.sock'}, group: null, root_is_admin: false,"
        " groups: {}}\n"  # nobody has a role: every request is refused
    )
    create_master_key(tmp_path / "state" / "master.key")
    alarms: list[AppEvent] = []
    app = App(
        load_config_text(text),
        pin_factory=MockFactory(),
        listener=lambda e: alarms.append(e) if e.kind == "alarm" else None,
    )
    app.start()
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        with pytest.raises(AdminError, match="role"):
            AdminClient(tmp_path / "admin.sock").call("status")
        end = time.monotonic() + 5
        while not any(a.detail.get("kind") == "admin_unauthorized" for a in alarms):
            assert time.monotonic() < end, "no alarm for the refused request"
            time.sleep(0.02)
    finally:
        app.stop()
        thread.join(timeout=10)
        app.close()


def test_hostile_enrol_requests_store_nothing_and_the_daemon_restarts(daemon) -> None:  # type: ignore[no-untyped-def]
    """Issue 14, items 1 and 9, against the running daemon: ``valid_until: Infinity`` used to
    answer "internal error", commit the person and make every later start die."""
    from facegate.admin import AdminClient, AdminError

    cfg_path, app, _factory = daemon
    socket_path = cfg_path.parent / "admin.sock"
    depth = 10_000
    refused = {
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":Infinity}}': "bad_request",
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":NaN}}': "bad_request",
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":1e300}}': "bad_args",
        b'{"v":1,"command":"enroll","args":{"card":"4242","valid_until":253402300800}}': "bad_args",
        b'{"v":1,"command":"enroll","args":{"card":"' + b"4" * 64 + b'"}}': "bad_args",
        b'{"v":1,"command":"enroll","args":{"templates":["not base64!"]}}': "bad_args",
        b'{"v":1,"command":"enroll","args":' + b"[" * depth + b"]" * depth + b"}": "bad_request",
    }
    with AdminClient(socket_path) as client:
        for body, code in refused.items():
            with pytest.raises(AdminError) as err:
                client.call_raw(body)
            assert err.value.code == code, (body[:60], err.value)
            assert "internal error" not in str(err.value) and "\n" not in str(err.value)
        assert client.call("person.list")["people"] == []
        assert client.call("status")
    assert app.store.access_rows() == ([], [])
    # And the state it leaves starts again: stop, start a second daemon on the same files.
    app.stop()
    app.close()
    second = App(load_config_text(cfg_path.read_text()), pin_factory=MockFactory())
    second.start()
    thread = threading.Thread(target=second.run, daemon=True)
    thread.start()
    try:
        with AdminClient(socket_path) as client:
            assert client.call("person.list")["people"] == []
    finally:
        second.stop()
        thread.join(timeout=10)
        second.close()


def test_mock_card_takes_the_whole_card_path_on_mock_pins_only(daemon) -> None:  # type: ignore[no-untyped-def]
    """``mock.card`` pulses the reader's mock D0/D1: decoder, keyed hash, policy, relay, event."""
    import time

    from facegate.admin import AdminClient, AdminError

    cfg_path, _app, factory = daemon
    sock = cfg_path.parent / "admin.sock"
    with AdminClient(sock) as c:
        assert "mock.card" in c.call("commands")["commands"]
        c.call("enroll", card="12:345")
        with pytest.raises(AdminError, match="no Wiegand reader 'r9'"):
            c.call("mock.card", reader="r9", facility=12, number=345)
        with pytest.raises(AdminError):
            c.call("mock.card", reader="r1", facility=12, number=70000)  # not an H10301 number
        c.call("mock.card", reader="r1", facility=12, number=999)  # not enrolled
        time.sleep(0.3)
        assert factory.pin(17).state is False  # an unknown card opens nothing
        reply = c.call("mock.card", reader="r1", facility=12, number=345)
        assert reply == {"reader": "r1", "door": "main", "sent": "h10301"}
        end = time.monotonic() + 5
        while factory.pin(17).state is False and time.monotonic() < end:
            time.sleep(0.02)
        assert factory.pin(17).state is True  # the enrolled card released the relay
        results = [(e["method"], e["result"]) for e in c.call("events")["events"]]
    assert ("card", "granted") in results and ("card", "denied") in results


def test_mock_card_does_not_exist_on_real_pins() -> None:
    from types import SimpleNamespace

    from facegate.service.mock_inputs import mock_input_handlers

    for factory in (None, object()):
        fake = SimpleNamespace(pin_factory=factory, on_loop=lambda f: f, cfg=None)
        assert mock_input_handlers(fake) == {}  # type: ignore[arg-type]
