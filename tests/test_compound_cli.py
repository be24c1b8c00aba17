"""``facegate compound …`` end to end: init, join, admit, install, send, withdraw, status; and
bad input as one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nacl.signing import SigningKey

from facegate.cli import main
from facegate.compound.broker import BrokerProcess, find_mosquitto, free_port
from facegate.compound.sim import SimGate
from facegate.store import ConsentInput, Store, create_master_key, enroll_person, load_master_key

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto; scripts/dev does)",
)

BASE = """\
site: {{name: {name}, kind: residential_compound, purpose: Open the gate for residents.}}
camera: {{type: replay, path: {root}/clip, fps: 10}}
doors: [{{id: main, relay: {{pin: 17, pulse_s: 1.0}}}}]
readers: [{{id: r1, type: wiegand, door: main, d0: 22, d1: 23}}]
store: {{state_dir: {root}/{name}/state}}
admin: {{socket: {root}/{name}/admin.sock}}
"""
COMPOUND = """\
compound: {{name: estate, device: {name}, broker: 127.0.0.1, port: {port}}}
"""


def config(root: Path, name: str, port: int | None) -> Path:
    text = BASE.format(root=root, name=name)
    if port is not None:
        text += COMPOUND.format(name=name, port=port)
    path = root / f"{name}.yaml"
    path.write_text(text)
    create_master_key(root / name / "state" / "master.key")
    return path


def test_a_compound_set_up_and_run_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    office_dir = tmp_path / "office-compound"
    args = ["compound", "init", "--dir", str(office_dir), "--name", "estate"]
    assert main([*args, "--listen", "0.0.0.0", "--port", str(port)]) == 2
    assert "every interface" in capsys.readouterr().err
    assert main([*args, "--listen", "127.0.0.1", "--port", str(port)]) == 0

    gates = {}
    for name in ("gate-a", "gate-b"):
        cfg = config(tmp_path, name, port)
        request = tmp_path / f"{name}.join.json"
        assert main(["compound", "join", "-c", str(cfg), "--out", str(request)]) == 0
        grant = tmp_path / f"{name}.grant.json"
        assert (
            main(["compound", "admit", str(request), "--dir", str(office_dir), "--out", str(grant)])
            == 0
        )
        assert main(["compound", "install", str(grant), "-c", str(cfg)]) == 0
        state = tmp_path / name / "state"
        gates[name] = SimGate(
            name, state.parent / "state" / "compound", state, load_master_key(state / "master.key")
        )
    # A request whose device was renamed is refused: the certificate request names gate-a.
    forged = json.loads((tmp_path / "gate-a.join.json").read_text()) | {"device": "gate-z"}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    capsys.readouterr()
    assert (
        main(
            [
                "compound",
                "admit",
                str(tmp_path / "forged.json"),
                "--dir",
                str(office_dir),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "does not name device 'gate-z'" in capsys.readouterr().err
    no_section = config(tmp_path, "lonely", None)
    assert main(["compound", "join", "-c", str(no_section), "--out", str(tmp_path / "y")]) == 2

    # The office node's own store holds the person; the consent's scope names the gates.
    office_cfg = config(tmp_path, "office", None)
    office_state = tmp_path / "office" / "state"
    with Store(office_state, load_master_key(office_state / "master.key")) as store:
        rows = np.random.default_rng(5).normal(size=(2, 128)).astype(np.float32)
        consent = ConsentInput("paper form", "v1", "office", "gate-a, gate-b")
        person = enroll_person(
            store,
            consent=consent,
            templates=rows,
            space="dlib_resnet_v1",
            expires_at=store.clock.time() + 86_400,
        ).pseudonym

    broker = BrokerProcess(office_dir / "broker" / "mosquitto.conf", "127.0.0.1", port)
    broker.start()
    try:
        for gate in gates.values():
            gate.start("estate", port)
        capsys.readouterr()
        assert (
            main(["compound", "send", person, "-c", str(office_cfg), "--dir", str(office_dir)]) == 0
        )
        assert "applied at 2 of 2" in capsys.readouterr().out
        for gate in gates.values():
            assert gate.store is not None and gate.store.count_people_with_face() == 1
        receipts = tmp_path / "receipts"
        withdraw = [
            "compound",
            "withdraw",
            person,
            "--dir",
            str(office_dir),
            "--receipts",
            str(receipts),
        ]
        assert main(withdraw) == 0
        assert f"{person}: deleted at 2 of 2 gates" in capsys.readouterr().out
        for name, gate in gates.items():
            assert gate.store is not None and gate.store.count_people_with_face() == 0
            pub = tmp_path / f"{name}.pub"
            audit_key = SigningKey(gate.store.device_key("audit-signing")).verify_key
            pub.write_text(bytes(audit_key).hex() + "\n")
            receipt = receipts / f"{person}-{name}.json"
            assert (
                main(["receipt", "verify", str(receipt), "--pub", str(pub), "-c", str(office_cfg)])
                == 0
            )
            other = tmp_path / "other.pub"
            other.write_text(bytes(SigningKey.generate().verify_key).hex() + "\n")
            assert (
                main(
                    ["receipt", "verify", str(receipt), "--pub", str(other), "-c", str(office_cfg)]
                )
                != 0
            )
        capsys.readouterr()
        assert main(["compound", "status", "--dir", str(office_dir)]) == 0
        out = capsys.readouterr().out
        assert "gate-a: applied up to change 2, 0 unanswered" in out
        assert main(["compound", "status", person, "--dir", str(office_dir)]) == 0
        assert "deleted at 2 of 2 gates" in capsys.readouterr().out
    finally:
        for gate in gates.values():
            gate.stop()
        broker.stop()
