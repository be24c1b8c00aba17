"""Issue 17 item 6: the frictions a newcomer met, each behaviour pinned so it cannot drift back.

Enrolment sources are exclusive, a missing photo fails before any model loads, the same face
is not enrolled twice as two people, receipts are one JSON object that `receipt verify` checks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from facegate.cli import main
from helpers import CONSENT_ARGS, post_notice
from test_enroll import write_config

CONSENT = CONSENT_ARGS


def test_enroll_photo_and_camera_are_mutually_exclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    with pytest.raises(SystemExit) as exc:
        main(["enroll", "--photo", str(photo), "--camera", *CONSENT])
    assert exc.value.code == 2
    assert "--camera: not allowed with argument --photo" in capsys.readouterr().err


def test_enroll_help_names_the_sources_and_duplicate_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["enroll", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "one of: --photo or --camera" in text and "--allow-duplicate" in text


@pytest.mark.parametrize("kind", ["missing", "folder", "unreadable"])
def test_a_bad_photo_path_fails_before_any_model_loads(
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import facegate.recognition as recognition

    def no_models(*_a: object, **_k: object) -> None:
        raise AssertionError("a model was loaded before the photo paths were checked")

    monkeypatch.setattr(recognition, "FacePipeline", no_models)
    photo = tmp_path / "photo.jpg"
    if kind == "folder":
        photo.mkdir()
    elif kind == "unreadable":
        import os

        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        photo.write_bytes(b"x")
        photo.chmod(0)
    cfg = write_config(tmp_path, tmp_path / "models")
    start = time.monotonic()
    assert main(["enroll", "-c", str(cfg), "--photo", str(photo), *CONSENT]) == 2
    assert time.monotonic() - start < 1.0
    err = capsys.readouterr().err
    assert str(photo) in err
    assert {"missing": "no such photo", "folder": "not a regular file"}.get(
        kind, "permission denied"
    ) in err


def test_same_face_twice_is_refused_unless_allowed_and_receipts_verify(
    models_dir: Path, testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path, models_dir))
    photo = str(testdata / "faces" / "jeff_bezos" / "img20.jpg")
    other = str(sorted((testdata / "faces" / "barack_obama").glob("*.jpg"))[0])
    assert main(["keys", "init", "-c", cfg]) == 0
    post_notice(tmp_path / "state")
    assert main(["enroll", "-c", cfg, "--photo", photo, *CONSENT]) == 0
    out = capsys.readouterr().out
    assert "restart" not in out.lower() and "loads the new person when it starts" in out
    first = next(w for w in out.split() if w.startswith("p-")).rstrip(":")
    assert main(["enroll", "-c", cfg, "--photo", photo, *CONSENT]) == 3
    err = capsys.readouterr().err
    assert f"matches {first}" in err and "--allow-duplicate" in err
    assert main(["enroll", "-c", cfg, "--photo", other, *CONSENT]) == 0  # someone else: fine
    capsys.readouterr()
    assert main(["enroll", "-c", cfg, "--photo", photo, "--allow-duplicate", *CONSENT]) == 0
    capsys.readouterr()
    assert main(["person", "list", "-c", cfg]) == 0
    assert "3 people, 3 with a stored face" in capsys.readouterr().out

    receipt = tmp_path / "receipt.json"
    assert main(["person", "delete", "-c", cfg, first, "--receipt", str(receipt)]) == 0
    capsys.readouterr()
    document = json.loads(receipt.read_text())
    assert isinstance(document["receipt"], dict)  # one object, not JSON inside a string
    assert document["receipt"]["pseudonym"] == first
    assert main(["receipt", "verify", "-c", cfg, str(receipt)]) == 0
    out = capsys.readouterr().out
    assert "VALID" in out and first in out and "deletion" in out
    # A receipt in the first format (the signed JSON as a string) still verifies.
    old = dict(document, receipt=json.dumps(document["receipt"], sort_keys=True))
    legacy = tmp_path / "old.json"
    legacy.write_text(json.dumps(old))
    assert main(["receipt", "verify", "-c", cfg, str(legacy)]) == 0
    capsys.readouterr()
    # An edited receipt does not.
    document["receipt"]["deleted"] = {"face templates": 0}
    receipt.write_text(json.dumps(document))
    assert main(["receipt", "verify", "-c", cfg, str(receipt)]) == 1
    assert "NOT VALID" in capsys.readouterr().err


def _gate_config(tmp_path: Path) -> str:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"store: {{state_dir: {tmp_path / 'state'}}}\n"
        f"admin: {{socket: {tmp_path / 'admin.sock'}}}\n"
    )
    return str(cfg)


def test_audit_verify_on_a_missing_trail_says_so_not_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _gate_config(tmp_path)
    assert main(["audit", "verify", "-c", cfg]) == 1
    err = capsys.readouterr().err
    assert "BROKEN" not in err
    assert f"no audit trail at {tmp_path / 'state' / 'audit'}" in err and "first start" in err


def test_a_torn_last_line_is_reported_then_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from facegate.audit import open_audit_log
    from facegate.audit.log import audit_files
    from facegate.cli.common import load, open_configured_store

    cfg = _gate_config(tmp_path)
    assert main(["keys", "init", "-c", cfg]) == 0
    config = load(Path(cfg))
    with open_configured_store(config) as store:
        log = open_audit_log(store, config.store.state_dir)
        log.append("admin", action="test")
        log.close()
    last = audit_files(tmp_path / "state" / "audit")[-1]
    with last.open("ab") as f:
        f.write(b'{"seq": 9, "ha')  # a crash in the middle of a write
    capsys.readouterr()
    assert main(["audit", "verify", "-c", cfg]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "intact; the last line is an incomplete write of 14 bytes (a crash)" in out
    assert "`facegate audit repair` removes it" in out

    # Refused while something answers on the admin socket (the daemon).
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(tmp_path / "admin.sock"))
        server.listen()
        assert main(["audit", "repair", "-c", cfg]) == 1
        assert "the daemon is running" in capsys.readouterr().err
    # A stale socket file left by a crash does not count as a running daemon.
    assert main(["audit", "repair", "-c", cfg]) == 0
    assert "dropped an incomplete last line of 14 bytes" in capsys.readouterr().out
    assert main(["audit", "verify", "-c", cfg]) == 0
    out = capsys.readouterr().out
    assert "incomplete" not in out
    records = [json.loads(line) for line in last.read_text().splitlines()]
    assert any(r["kind"] == "audit_repair" and r.get("dropped_bytes") == 14 for r in records)


def test_a_stopped_daemon_is_not_an_admin_socket_missing_from_the_build() -> None:
    from facegate.compliance.checks import _admin_socket
    from facegate.compliance.facts import ComplianceFacts

    row = _admin_socket(None, None, None, ComplianceFacts(admin_socket_mode=None))
    assert row.status.name == "WARN"
    assert "not in this build" not in row.reason
    assert "creates the socket when it starts, mode 0660" in row.reason
    from facegate.compliance.checks import _audit

    row = _audit(None, None, None, ComplianceFacts(audit_verified=None))
    assert row.status.name == "WARN" and "in this build" not in row.reason
    assert "first start" in row.reason


def _mock_gate(tmp_path: Path, models_dir: Path) -> Path:
    """The demo's configuration as a real daemon on mock pins, with a tamper switch and a
    siren wired (both normally closed / idle), its notice recorded so face comes up."""
    import cv2
    import numpy as np

    clip = tmp_path / "clip"
    clip.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):  # a few different frames: a single still picture is "frozen"
        cv2.imwrite(str(clip / f"{i:03d}.png"), rng.integers(60, 200, (240, 320, 3), np.uint8))
    text = (Path(__file__).parents[1] / "config" / "demo.yaml").read_text()
    text = (
        text.replace("path: clip", f"path: {clip}")
        .replace("loop: false", "loop: true")
        .replace("state_dir: state", f"state_dir: {tmp_path / 'state'}")
        .replace(
            "      buzzer: {pin: 26}",
            "      buzzer: {pin: 26}\n      tamper: {pin: 13}\n      alarm_relay: {pin: 19}",
        )
    )
    text += f"models: {{dir: {models_dir}}}\n"
    text += f"admin: {{socket: {tmp_path / 'a.sock'}, group: null}}\n"
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(text)
    assert main(["keys", "init", "-c", str(cfg)]) == 0
    sign = tmp_path / "sign.html"  # rendered and recorded (a version only hashed is not posted)
    assert main(["notice", "render", "-c", str(cfg), "--out", str(sign)]) == 0
    return cfg


@pytest.mark.slow
def test_run_on_mock_pins_starts_quiet_and_exits_130_on_sigint_0_on_sigterm(
    tmp_path: Path, models_dir: Path
) -> None:
    """No tamper alarm, siren or loop_stalled at start on mock pins, no runtime INFO line;
    SIGINT (Ctrl-C) exits 130 as the README says, SIGTERM (systemctl stop) exits 0."""
    import os
    import signal
    import subprocess
    import sys

    cfg = _mock_gate(tmp_path, models_dir)
    daemon = Path(__file__).parents[1] / "daemon"
    env = dict(os.environ, PYTHONPATH=f"{daemon}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 0)):
        log = tmp_path / f"run-{sig.name}.log"
        with log.open("wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-m", "facegate", "run", "-c", str(cfg), "--pin-factory", "mock"],
                stdout=subprocess.DEVNULL, stderr=err, env=env,
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while b"admin socket listening" not in log.read_bytes():
                assert child.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            time.sleep(3.0)  # a few loop turns after the slow start
            child.send_signal(sig)
            assert child.wait(timeout=60) == code, log.read_text()
        text = log.read_text()
        for bad in ("tamper", "siren", "loop_stalled", "XNNPACK", "Traceback"):
            assert bad not in text, f"{bad!r} in:\n{text}"
        assert "gallery loaded" in text  # face came up: the models were really loaded


def test_scripts_dev_shows_progress_during_the_long_install() -> None:
    """Issue 17: the pip install ran 1.5 minutes with --quiet; a newcomer thought it hung."""
    text = (Path(__file__).parents[1] / "scripts" / "dev").read_text()
    line = next(x for x in text.splitlines() if "pip install" in x and '".[dev,demo,dlib]"' in x)
    assert "--quiet" not in line
    assert "about 1.5 minutes" in text


def test_bench_without_the_demo_extra_says_what_to_install_before_loading_models(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    import facegate.recognition as recognition

    real = importlib.util.find_spec

    def without_skimage(name: str, *a: object, **k: object) -> object:
        return None if name == "skimage" else real(name, *a, **k)  # type: ignore[arg-type]

    def no_models(*_a: object, **_k: object) -> None:
        raise AssertionError("a model was loaded before the extra was checked")

    monkeypatch.setattr(importlib.util, "find_spec", without_skimage)
    monkeypatch.setattr(recognition, "FacePipeline", no_models)
    assert main(["bench", "--gallery", "10"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install 'facegate[demo]'" in err and "--source" in err and "skimage" in err


def test_a_way_down_reason_quoting_a_hash_does_not_stop_the_daemon(tmp_path: Path) -> None:
    """Issue 17: with the notice not recorded, face went down with a reason quoting its
    version (`bf848726645fc092`); the audit refused the digit run and the daemon exited 1."""
    from facegate.audit import AuditLog
    from facegate.clock import FakeClock
    from facegate.service.actuator import Actuator

    actuator = Actuator(FakeClock(), "main")
    from nacl.signing import SigningKey

    actuator.audit = AuditLog(tmp_path / "audit", SigningKey(bytes(32)), bytes(32))
    actuator.way("main", "face", False, "notice version bf848726645fc092 not recorded")
    actuator.audit.close()
    text = "".join(p.read_text() for p in sorted((tmp_path / "audit").glob("audit-*.jsonl")))
    assert "face_down" in text and "848726645" not in text


def test_run_help_names_the_exit_codes_it_has(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "SIGTERM (the service manager's stop) exits 0; SIGINT (Ctrl-C) exits 130" in text


def test_eval_and_models_help_name_the_real_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """Help that drifted from the code (issue 17): eval called dlib the default; the models
    install help counted packages and files that have changed since."""
    from facegate.models.manifest import MODEL_FILES

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # issue 20: new installations default to SFace with YuNet
    assert "`sface` for OpenCV Zoo's SFace with the yunet detector (the default)" in text
    assert "the built-in defaults: sface with yunet" in text
    from facegate.cli.common import config_or_builtin

    builtin = config_or_builtin(None)
    assert (builtin.embedder.type, builtin.detector.type) == ("sface", "yunet")
    with pytest.raises(SystemExit):
        main(["models", "install", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "README's Models table" in text  # no counts that drift
    assert not any(w in text for w in ("two packages", "four files", "three packages"))
    assert len(MODEL_FILES) >= 6


def test_mock_pins_rest_where_the_wired_switches_hold_them(tmp_path: Path) -> None:
    from gpiozero import DigitalInputDevice

    from facegate.config import load_config_text
    from facegate.gate import idle_levels, make_pin_factory

    cfg = load_config_text(
        "site: {name: T, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors:\n"
        "  - id: main\n"
        "    relay: {pin: 17}\n"
        "    gate:\n"
        "      door_contact: {pin: 5}\n"
        "      exit_button: {pin: 6}\n"
        "      tamper: {pin: 13, pull_up: false}\n"
    )
    levels = idle_levels(cfg.doors)
    # NC with pull-up: closed pulls it low; NO: at its pull; NC with pull-down: high.
    assert levels == {5: False, 6: True, 13: True}
    factory = make_pin_factory("mock", levels)
    contact = DigitalInputDevice(5, pull_up=True, pin_factory=factory)
    tamper = DigitalInputDevice(13, pull_up=False, pin_factory=factory)
    assert contact.is_active and tamper.is_active  # both switches closed: no alarm
    factory.pin(13).drive_low()  # the enclosure opened: a mock test can still trip it
    assert not tamper.is_active
