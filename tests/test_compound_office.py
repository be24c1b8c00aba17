"""The office node's own enrolment reaching the gates: `facegate enroll -c office.yaml --scope`
then `facegate compound send`, with gate daemons on mock pins and a real Mosquitto (TLS, ACL).

The consent record's scope names the gates it covers; the person goes only to those, and only
those grant the face; a scope narrowed later takes the face off the gates it no longer names,
each returning a signed receipt. Needs mosquitto, the installed models and the shared photos."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from compound_support import gate_daemons, until, write_clip
from facegate.cli import main
from facegate.compound.broker import find_mosquitto
from facegate.compound.registry import Registry
from facegate.compound.sim import SimCompound
from facegate.store import create_master_key
from helpers import CONSENT_ARGS, load_rgb, post_notice

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto; scripts/dev does)",
)


def office_config(root: Path, models_dir: Path) -> Path:
    """The office node's facegate configuration: its store and embedder (no door is driven)."""
    state = root / "office-node" / "state"
    path = root / "office.yaml"
    path.write_text(
        "site: {name: Office, kind: residential_compound, purpose: Open the gate for residents.}\n"
        f"camera: {{type: replay, path: {root}}}\n"
        "doors: [{id: main, relay: {pin: 17}}]\n"
        f"models: {{dir: {models_dir}}}\n"
        f"store: {{state_dir: {state}}}\n"
        f"admin: {{socket: {root / 'office-node' / 'admin.sock'}}}\n"
    )
    create_master_key(state / "master.key")
    post_notice(state)
    return path


def enrol_at_office(cfg: Path, photo: Path, scope: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert (
        main(["enroll", "-c", str(cfg), "--photo", str(photo), "--scope", scope, *CONSENT_ARGS])
        == 0
    )
    out = capsys.readouterr().out
    return next(w.rstrip(":") for w in out.split() if w.startswith("p-"))


def test_an_office_enrolment_goes_only_to_the_gates_its_consent_names(
    tmp_path: Path, models_dir: Path, testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compound = SimCompound(tmp_path / "compound")
    compound.create(["gate-a", "gate-b"])
    compound.start_broker()
    office = office_config(tmp_path, models_dir)
    clip = tmp_path / "clip"
    obama = testdata / "faces" / "barack_obama"
    write_clip(clip, load_rgb(obama / "obama2.jpg"))
    try:
        with gate_daemons(compound, clip, models_dir) as gates:
            assert until(lambda: all(d.connected() for d in gates.values()))
            person = enrol_at_office(office, obama / "obama.jpg", "gate-a", capsys)
            sent_at = time.monotonic()
            send = ["compound", "send", person, "-c", str(office)]
            assert main([*send, "--dir", str(compound.office_dir), "--wait", "30"]) == 0
            assert "sent to 1 gates (gate-a); applied at 1 of 1" in capsys.readouterr().out
            # gate-a grants the face it never saw enrolled; gate-b sees it and refuses it.
            a, b = gates["gate-a"], gates["gate-b"]
            assert until(lambda: (True, person) in a.face_decisions_since(sent_at))
            assert until(lambda: (False, None) in b.face_decisions_since(sent_at))
            assert until(lambda: len(b.face_decisions_since(sent_at)) >= 3)
            assert all(not granted for granted, _ in b.face_decisions_since(0))
            assert b.app.loop_calls.call(lambda: b.app.store.count_people_with_face()) == 0
    finally:
        compound.close()
    registry = Registry(compound.office_dir / "registry.db")
    try:
        assert registry.holders(person) == ["gate-a"]
        assert dict((g, seq) for g, seq, _o, _e in registry.overview()) == {
            "gate-a": 1,
            "gate-b": 0,
        }
    finally:
        registry.close()


def test_a_scope_naming_a_gate_outside_the_compound_is_refused_before_sending(
    tmp_path: Path, models_dir: Path, testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compound = SimCompound(tmp_path / "compound")
    compound.create(["gate-a"])
    compound.start_broker()
    office = office_config(tmp_path, models_dir)
    photo = testdata / "faces" / "barack_obama" / "obama.jpg"
    try:
        person = enrol_at_office(office, photo, "gate-a, gate-x", capsys)
        send = ["compound", "send", person, "-c", str(office), "--dir", str(compound.office_dir)]
        assert main(send) == 2
        err = capsys.readouterr().err
        assert "gate-x" in err and "Traceback" not in err
    finally:
        compound.close()
    registry = Registry(compound.office_dir / "registry.db")
    try:
        assert registry.holders(person) == [] and registry.unanswered() == 0
    finally:
        registry.close()


def test_new_photos_at_the_office_replace_the_face_at_the_gate(
    tmp_path: Path, models_dir: Path, testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person enrolled with the wrong photo is refused at the gate; `enroll --replace` with
    the right one at the office and `compound send` again: the gate now grants them, under the
    same pseudonym, holding only the new templates."""
    compound = SimCompound(tmp_path / "compound")
    compound.create(["gate-a"])
    compound.start_broker()
    office = office_config(tmp_path, models_dir)
    clip = tmp_path / "clip"
    obama = testdata / "faces" / "barack_obama"
    write_clip(clip, load_rgb(obama / "obama2.jpg"))
    wrong = testdata / "faces" / "jeff_bezos" / "img20.jpg"
    send = ["compound", "send", "-c", str(office), "--dir", str(compound.office_dir)]
    try:
        with gate_daemons(compound, clip, models_dir) as gates:
            gate = gates["gate-a"]
            assert until(gate.connected)
            person = enrol_at_office(office, wrong, "gate-a", capsys)
            assert main([*send, person, "--wait", "30"]) == 0
            sent_at = time.monotonic()
            assert until(lambda: len(gate.face_decisions_since(sent_at)) >= 2)
            assert (True, person) not in gate.face_decisions_since(0)
            # Bad input for --replace: one line, exit 2 (1: no such person), nothing changed.
            capsys.readouterr()
            replace = ["enroll", "-c", str(office), "--replace", person, *CONSENT_ARGS]
            assert main([*replace, "--scope", "gate-a"]) == 2  # no photo
            assert main([*replace, "--photo", str(obama / "obama.jpg"), "--name", "X"]) == 2
            other = ["--photo", str(obama / "obama.jpg"), "--scope", "gate-a"]
            assert main(["enroll", "-c", str(office), "--replace", "p-0000000000000000",
                         *CONSENT_ARGS, *other]) == 1  # fmt: skip
            err = capsys.readouterr().err
            assert "Traceback" not in err and "no person p-0000000000000000" in err
            assert main([*replace, *other]) == 0
            assert f"{person}: face replaced (1 old template(s) deleted" in capsys.readouterr().out
            assert main([*send, person, "--wait", "30"]) == 0
            assert "applied at 1 of 1" in capsys.readouterr().out
            resent_at = time.monotonic()
            assert until(lambda: (True, person) in gate.face_decisions_since(resent_at))
            rows = gate.app.loop_calls.call(
                lambda: gate.app.store.query(
                    "SELECT COUNT(*) FROM templates WHERE pseudonym = ?", (person,)
                ).fetchone()[0]
            )
            assert rows == 1  # replaced, not added to
    finally:
        compound.close()


def test_a_narrower_scope_at_the_office_deletes_the_face_at_the_dropped_gate(
    tmp_path: Path, models_dir: Path, testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Enrolled for gate-a and gate-b, both grant; the consent renewed at the office for gate-a
    only (`person reconsent --scope gate-a`) and `compound send` again: gate-b withdraws the
    person and answers with its signed deletion receipt (a file `receipt verify` checks), and
    refuses the face from then on; gate-a still grants it."""
    compound = SimCompound(tmp_path / "compound")
    compound.create(["gate-a", "gate-b"])
    compound.start_broker()
    office = office_config(tmp_path, models_dir)
    clip = tmp_path / "clip"
    obama = testdata / "faces" / "barack_obama"
    write_clip(clip, load_rgb(obama / "obama2.jpg"))
    office_dir = str(compound.office_dir)
    send = ["compound", "send", "-c", str(office), "--dir", office_dir, "--wait", "30"]
    receipts = tmp_path / "receipts"
    try:
        with gate_daemons(compound, clip, models_dir) as gates:
            a, b = gates["gate-a"], gates["gate-b"]
            assert until(lambda: a.connected() and b.connected())
            person = enrol_at_office(office, obama / "obama.jpg", "gate-a,gate-b", capsys)
            assert main([*send, person]) == 0
            assert "applied at 2 of 2" in capsys.readouterr().out
            sent_at = time.monotonic()
            assert until(lambda: (True, person) in b.face_decisions_since(sent_at))
            reconsent = ["person", "reconsent", person, "-c", str(office), "--scope", "gate-a"]
            assert main([*reconsent, *CONSENT_ARGS[:-1]]) == 0  # without --adult
            assert f"`facegate compound send {person}` now takes" in capsys.readouterr().out
            assert main([*send, person, "--receipts", str(receipts)]) == 0
            out = capsys.readouterr().out
            assert "sent to 1 gates (gate-a); applied at 1 of 1" in out
            assert f"{person}: no longer in the consent's scope at gate-b; withdrawn there" in out
            assert f"{person}: deleted at 1 of 1 dropped gates" in out
            assert "gate-b: receipt (signed)" in out
            dropped_at = time.monotonic()
            assert until(lambda: (False, None) in b.face_decisions_since(dropped_at))
            assert until(lambda: (True, person) in a.face_decisions_since(dropped_at))
            assert until(lambda: len(b.face_decisions_since(dropped_at)) >= 3)
            assert all(not granted for granted, _ in b.face_decisions_since(dropped_at))
            assert b.app.loop_calls.call(lambda: b.app.store.count_people_with_face()) == 0
            assert a.app.loop_calls.call(lambda: a.app.store.count_people_with_face()) == 1
            audit_key = b.app.loop_calls.call(lambda: b.app.store.device_key("audit-signing"))
        pub = tmp_path / "gate-b.pub"
        pub.write_text(bytes(SigningKey(audit_key).verify_key).hex() + "\n")
        receipt = receipts / f"{person}-gate-b.json"
        assert json.loads(receipt.read_text())["receipt"]["deleted"] == {"face templates": 1}
        verify = ["receipt", "verify", str(receipt), "--pub", str(pub), "-c", str(office)]
        assert main(verify) == 0
        capsys.readouterr()
        assert main(["compound", "status", person, "--dir", office_dir]) == 0
        out = capsys.readouterr().out
        assert f"{person}: sent to gate-a (applied)" in out
        assert f"{person}: deleted at 1 of 1 dropped gates" in out and "gate-b: receipt" in out
        assert "of 2 gates" not in out  # a narrower scope is not a withdrawal of the person
        assert main(["compound", "status", "p-0000000000000000", "--dir", office_dir]) == 1
        err = capsys.readouterr().err
        assert "never sent to a gate" in err and "Traceback" not in err
    finally:
        compound.close()
