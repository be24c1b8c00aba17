"""The office's unit, facegate-compound.service: its ExecStart is a command the real CLI
takes (`facegate compound serve`), its folder is the one the CLI uses by default and the only
one it may write, the CA's key is out of its reach, `systemd-analyze security` exposure ≤ 2.5,
`scripts/install.sh --office` installs it (and not the gate's daemon, which the office does not
run: a daily timer applies the retention periods to its store instead), and the command stops
cleanly on the SIGTERM systemd sends."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from facegate.cli import build_parser, main
from facegate.cli.compound import DEFAULT_DIR, cmd_serve
from facegate.compound.broker import BrokerError, BrokerProcess, find_mosquitto, free_port
from facegate.compound.mqtt import Endpoint, make_client
from facegate.compound.setup import init_office
from test_systemd import settings
from test_systemd_install import dry_run
from test_web_unit import _bare_scores_worse, _exposure

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "facegate-compound.service"
MAX_EXPOSURE = 2.5


def exec_start(unit: Path) -> list[str]:
    """ExecStart as systemd runs it: the unit's Environment= substituted."""
    s = settings(unit)
    env = dict(e.split("=", 1) for line in s["Environment"] for e in shlex.split(line))
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], s["ExecStart"][0])
    return shlex.split(line)


def test_the_unit_runs_the_real_compound_serve_command() -> None:
    argv = exec_start(UNIT)
    assert argv[0] == "/opt/facegate/venv/bin/facegate"
    args = build_parser().parse_args(argv[1:])
    assert args.func is cmd_serve
    assert args.dir == DEFAULT_DIR and args.event_days == 90
    s = settings(UNIT)
    assert s["ReadWritePaths"] == [str(DEFAULT_DIR)]
    assert s["ConditionPathExists"] == [str(DEFAULT_DIR / "compound.json")]
    assert s["InaccessiblePaths"] == [f"-{DEFAULT_DIR / 'ca.key'}"]
    assert s["User"] == ["facegate"] and "LoadCredential" not in s
    assert s["IPAddressDeny"] == ["any"] and "192.168.0.0/16" in s["IPAddressAllow"][0]
    # The check can fail: an ExecStart the CLI does not take is refused by its parser.
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv[1:-2], "--event-days", "365"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compound", "serve", "--folder", str(DEFAULT_DIR)])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_office_unit_scores_at_most_2_5(tmp_path: Path) -> None:
    assert _exposure(UNIT) <= MAX_EXPOSURE
    _bare_scores_worse(UNIT, tmp_path)


def test_install_sh_office_installs_mosquitto_and_the_unit() -> None:
    plain = "\n".join(dry_run("--camera", "usb"))
    assert "facegate-compound" not in plain and "mosquitto" not in plain
    office = "\n".join(dry_run("--camera", "usb", "--office"))
    assert re.search(r"apt-get install .* mosquitto\b", office)
    assert (
        "sudo install -D -m 0644 systemd/facegate-compound.service "
        "/etc/systemd/system/facegate-compound.service" in office
    )
    assert "sudo systemctl enable facegate-compound.service" in office
    # The office drives no door: the gate's unit is there (a Pi that is both), not enabled.
    assert "sudo systemctl enable facegate.service" in plain
    assert "sudo systemctl enable facegate.service" not in office
    unit = "systemd/facegate.service /etc/systemd/system/facegate.service"
    assert unit in plain and unit in office
    assert "facegate.service is installed, not enabled" in office
    # Without the daemon, the office's store gets its retention periods from a daily timer.
    assert "facegate-retention" not in plain
    assert "sudo systemctl enable facegate-retention.timer" in office
    for name in ("facegate-retention.service", "facegate-retention.timer"):
        assert f"systemd/{name} /etc/systemd/system/{name}" in office


def next_steps(**flags: int) -> str:
    """What the installer prints when it is done (``next_steps``, the script sourced)."""
    assigned = "; ".join(f"{k}={v}" for k, v in flags.items())
    script = f'source "{ROOT / "scripts" / "install.sh"}"; {assigned}; next_steps'
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_install_sh_next_steps_start_the_gate_only_where_there_is_one() -> None:
    gate = next_steps(OFFICE=0, WEB=0)
    assert "systemctl start facegate && journalctl" in gate and "compound" not in gate
    office = next_steps(OFFICE=1, WEB=1)
    assert re.search(r"systemctl start facegate(?![-\w])", office) is None
    assert "facegate.service is not enabled" in office
    assert "systemctl start facegate-retention.timer" in office
    assert "also a gate: systemctl enable --now facegate" in office
    assert "systemctl start facegate-compound" in office and "compound init" in office
    assert "systemctl disable facegate" not in office  # nothing to undo: never enabled
    assert "admin socket" in office and "admin socket" not in next_steps(OFFICE=0, WEB=1)


def test_compound_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "compound"
    init_office(folder, "estate", "127.0.0.1", 1)  # nothing listens: it keeps retrying
    argv = exec_start(UNIT)[1:]
    argv[argv.index("--dir") + 1] = str(folder)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "daemon"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "facegate", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first line: serving (connecting in the background)
        assert "office serving compound estate" in line, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0  # within the unit's TimeoutStopSec
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")
def test_the_broker_files_load_beside_debians_own_mosquitto_conf(tmp_path: Path) -> None:
    """`compound init --broker-dir` writes facegate.conf for /etc/mosquitto/conf.d/: it must
    load under Debian's mosquitto.conf, which already sets the pid file, persistence and
    logging (a second persistence_location stops Mosquitto: the whole mosquitto.conf did)."""
    port = free_port()
    broker = tmp_path / "etc-mosquitto-facegate"
    args = ["compound", "init", "--dir", str(tmp_path / "compound"), "--name", "estate"]
    args += ["--listen", "127.0.0.1", "--port", str(port), "--broker-dir", str(broker)]
    assert main([*args, "--home-assistant"]) == 0
    assert not (tmp_path / "compound" / "broker").exists()
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "facegate.conf").symlink_to(broker / "facegate.conf")
    (tmp_path / "lib").mkdir()
    debian = tmp_path / "mosquitto.conf"  # Debian 12's, with this test's folders
    debian.write_text(
        f"pid_file {tmp_path / 'mosquitto.pid'}\n"
        "persistence true\n"
        f"persistence_location {tmp_path / 'lib'}/\n"
        "log_dest stderr\n"
        f"include_dir {conf_d}\n"
    )
    process = BrokerProcess(debian, "127.0.0.1", port)
    process.start()
    try:
        ha = tmp_path / "compound" / "homeassistant"
        client = make_client(
            Endpoint("homeassistant", "127.0.0.1", port, ha / "ca.crt", ha / "client.crt",
                     ha / "client.key", clean=True)
        )  # fmt: skip
        connected = threading.Event()
        client.on_connect = lambda *_a: connected.set()
        client.connect_async("127.0.0.1", port)
        client.loop_start()
        try:
            assert connected.wait(10)
        finally:
            client.disconnect()
            client.loop_stop()
    finally:
        process.stop()
    # The check can fail: the whole mosquitto.conf in conf.d stops Mosquitto.
    (conf_d / "facegate.conf").unlink()
    (conf_d / "facegate.conf").symlink_to(broker / "mosquitto.conf")
    with pytest.raises(BrokerError):
        BrokerProcess(debian, "127.0.0.1", port).start()


RETENTION = ROOT / "systemd" / "facegate-retention.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_office_retention_unit_scores_at_most_2_5() -> None:
    assert _exposure(RETENTION) <= MAX_EXPOSURE
    timer = settings(ROOT / "systemd" / "facegate-retention.timer")
    assert timer["OnCalendar"] == ["daily"] and timer["Persistent"] == ["true"]


def test_retention_run_deletes_an_expired_face_on_a_store_no_daemon_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The office node runs no daemon, so nothing else applies its retention periods: the
    timer's command deletes a face past its date, as the daemon's daily purge does."""
    import numpy as np

    from facegate.store import ConsentInput, Store, create_master_key, enroll_person

    state = tmp_path / "state"
    cfg = tmp_path / "office.yaml"
    cfg.write_text(
        "site: {name: Office, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {tmp_path}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"store: {{state_dir: {state}}}\n"
        f"admin: {{socket: {tmp_path / 'admin.sock'}}}\n"
    )
    key = create_master_key(state / "master.key")
    with Store(state, key) as store:
        rows = np.random.default_rng(7).normal(size=(2, 128)).astype(np.float32)
        enroll_person(
            store,
            consent=ConsentInput("paper form", "v1", "office", "gate-a"),
            templates=rows,
            space="dlib_resnet_v1",
            expires_at=store.clock.time() + 86_400,
        )
        with store.transaction() as db:
            db.execute("UPDATE templates SET expires_at = ?", (store.clock.time() - 60,))
        assert store.count_people_with_face() == 1
    argv = shlex.split(settings(RETENTION)["ExecStart"][0])[1:]
    assert argv[:2] == ["retention", "run"]
    argv[argv.index("--config") + 1] = str(cfg)
    capsys.readouterr()
    assert main(argv) == 0
    assert "expired face templates deleted" in capsys.readouterr().out
    with Store(state, key) as store:
        assert store.count_people_with_face() == 0
    assert main(argv) == 0
    assert "no face template was due" in capsys.readouterr().out
