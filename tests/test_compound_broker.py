"""The compound against a real Mosquitto: TLS with the compound's CA, the ACL, three gates and
the office, a gate offline during an enrolment, withdrawal receipts, a broker that dies.

Each test starts its own broker on a free 127.0.0.1 port (``mosquitto`` from Debian; the tests
skip, saying so, where it is not installed)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from nacl.signing import VerifyKey

from facegate.compound.broker import find_mosquitto
from facegate.compound.messages import verify
from facegate.compound.mqtt import Endpoint, make_client
from facegate.compound.office import Office, person_bundle
from facegate.compound.pki import Issued, new_ca, new_request, sign_request
from facegate.compound.sim import SimCompound

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto; scripts/dev does)",
)

GATES = ["gate-a", "gate-b", "gate-c"]
SPACE = "dlib_resnet_v1"
WAIT_S = 15.0


def templates(seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(3, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def bundle(seed: int, gates: list[str] = GATES) -> dict[str, object]:
    return person_bundle(
        templates(seed),
        SPACE,
        gates=gates,
        method="paper form",
        notice_version="v1",
        taken_by="office",
    )


def until(check: object, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def compound(tmp_path: Path) -> Iterator[SimCompound]:
    c = SimCompound(tmp_path)
    c.create(GATES)
    c.start_broker()
    try:
        for gate in c.gates.values():
            gate.start(c.name, c.port)
        office = c.start_office(quiet_s=1.0)
        assert office.connected.is_set()
        assert until(lambda: all(g.link.connected.is_set() for g in c.gates.values()))
        yield c
    finally:
        c.close()


def held(c: SimCompound, device: str) -> dict[str, np.ndarray]:
    store = c.gates[device].store
    assert store is not None
    return dict(store.iter_templates(SPACE))


def answered(office: Office) -> bool:
    return office.registry.unanswered() == 0


def test_enrol_once_every_gate_holds_the_person_and_withdraw_gives_three_receipts(
    compound: SimCompound,
) -> None:
    office = compound.office
    assert office is not None
    person = "p-1111111111111111"
    assert office.enrol(person, bundle(1)) == dict.fromkeys(GATES, 1)
    assert office.wait(lambda: answered(office), WAIT_S)
    for device in GATES:
        np.testing.assert_allclose(held(compound, device)[person], templates(1), atol=1e-6)
    # Sent only to the gates its consent names.
    other = "p-2222222222222222"
    assert set(office.enrol(other, bundle(2, ["gate-a"]))) == {"gate-a"}
    assert office.wait(lambda: answered(office), WAIT_S)
    assert other in held(compound, "gate-a") and other not in held(compound, "gate-b")

    office.withdraw(person)
    assert office.wait(lambda: answered(office), WAIT_S)
    status = office.deletion_status(person)
    assert status.line() == "deleted at 3 of 3 gates"
    gate_keys = office.registry.gates()
    for device in GATES:
        assert person not in held(compound, device)
        signed = office.registry.answers(person, "withdraw")[device][1]
        body = verify(VerifyKey(base64.b64decode(gate_keys[device][1])), signed)
        receipt = body["receipt"]
        assert receipt["receipt"]["deleted"] == {"face templates": 3}
        VerifyKey(bytes.fromhex(receipt["public_key"])).verify(
            json.dumps(receipt["receipt"], sort_keys=True).encode(),
            bytes.fromhex(receipt["signature"]),
        )


def test_a_gate_stopped_during_an_enrolment_catches_up_on_restart(compound: SimCompound) -> None:
    office = compound.office
    assert office is not None
    late = compound.gates["gate-c"]
    late.stop()
    first, second = "p-3333333333333333", "p-4444444444444444"
    office.enrol(first, bundle(3))
    office.enrol(second, bundle(4))
    assert office.wait(lambda: office.registry.unanswered() == 2, WAIT_S)  # gate-c's two
    late.start(compound.name, compound.port)
    assert office.wait(lambda: answered(office), WAIT_S)
    assert set(held(compound, "gate-c")) == {first, second}
    office.withdraw(first)
    assert office.wait(lambda: answered(office), WAIT_S)
    assert office.deletion_status(first).line() == "deleted at 3 of 3 gates"


def test_a_person_sent_again_replaces_their_templates_everywhere_in_order(
    compound: SimCompound,
) -> None:
    """New photos of a person: the same pseudonym sent again replaces the gates' templates,
    acknowledged as usual; a gate that was away catches up on every change in order, the
    withdrawals among them."""
    office = compound.office
    assert office is not None
    late = compound.gates["gate-c"]
    late.stop()
    person, gone = "p-9999999999999999", "p-aaaaaaaaaaaaaaaa"
    office.enrol(person, bundle(9))
    assert office.enrol(person, bundle(10)) == {"gate-a": 2, "gate-b": 2, "gate-c": 2}
    office.enrol(gone, bundle(11))
    office.withdraw(gone)
    office.enrol(gone, bundle(12))  # withdrawn at the gates: not brought back this way
    assert office.wait(lambda: office.registry.unanswered() == 5, WAIT_S)  # gate-c's five
    for device in ("gate-a", "gate-b"):
        np.testing.assert_allclose(held(compound, device)[person], templates(10), atol=1e-6)
        assert gone not in held(compound, device)
    late.start(compound.name, compound.port)
    assert office.wait(lambda: answered(office), WAIT_S)
    got = held(compound, "gate-c")
    assert list(got) == [person] and len(got[person]) == 3  # replaced, not added to
    np.testing.assert_allclose(got[person], templates(10), atol=1e-6)
    gate_keys = office.registry.gates()
    for device in GATES:
        key = VerifyKey(base64.b64decode(gate_keys[device][1]))
        answers = [verify(key, signed) for signed in office.registry.gate_answers(device)]
        assert [(a["seq"], a["status"], a["kind"]) for a in answers] == [
            (1, "applied", "enrol"),
            (2, "applied", "enrol"),
            (3, "applied", "enrol"),
            (4, "applied", "withdraw"),
            (5, "refused", "enrol"),
        ]
        assert answers[1]["reason"] == "replaced 3 templates"
        assert "withdrawn here" in answers[4]["reason"]
    assert office.deletion_status(gone).line() == "deleted at 3 of 3 gates"


def test_a_narrower_consent_withdraws_the_person_from_the_dropped_gates_in_order(
    compound: SimCompound,
) -> None:
    """Sent again with a consent naming fewer gates: each gate no longer named withdraws the
    person with a signed receipt, one that was away in its order among what it missed; the
    gate still named keeps them; it is not a withdrawal of the person."""
    office = compound.office
    assert office is not None
    person, other = "p-bbbbbbbbbbbbbbbb", "p-cccccccccccccccc"
    office.enrol(person, bundle(13))
    assert office.wait(lambda: answered(office), WAIT_S)
    late = compound.gates["gate-c"]
    late.stop()
    office.enrol(other, bundle(14, ["gate-c"]))
    sent = office.send(person, bundle(15, ["gate-a"]))
    assert sent.enrolled == {"gate-a": 2} and sent.dropped == {"gate-b": 2, "gate-c": 3}
    assert office.wait(lambda: office.registry.unanswered() == 2, WAIT_S)  # gate-c's two
    np.testing.assert_allclose(held(compound, "gate-a")[person], templates(15), atol=1e-6)
    assert person not in held(compound, "gate-b")
    assert office.drop_status(person).line() == "deleted at 1 of 2 dropped gates"
    assert office.deletion_status(person).deleted == ()  # not withdrawn everywhere
    late.start(compound.name, compound.port)
    assert office.wait(lambda: answered(office), WAIT_S)
    assert list(held(compound, "gate-c")) == [other]
    status = office.drop_status(person)
    assert status.line() == "deleted at 2 of 2 dropped gates"
    gate_keys = office.registry.gates()
    key = VerifyKey(base64.b64decode(gate_keys["gate-c"][1]))
    answers = [verify(key, signed) for signed in office.registry.gate_answers("gate-c")]
    assert [(a["seq"], a["status"], a["kind"], a["pseudonym"]) for a in answers] == [
        (1, "applied", "enrol", person),
        (2, "applied", "enrol", other),
        (3, "applied", "withdraw", person),
    ]
    receipt = answers[2]["receipt"]
    assert receipt == status.receipts["gate-c"]
    assert receipt["receipt"]["deleted"] == {"face templates": 3}
    VerifyKey(bytes.fromhex(receipt["public_key"])).verify(
        json.dumps(receipt["receipt"], sort_keys=True).encode(), bytes.fromhex(receipt["signature"])
    )
    # The same scope again drops nothing more; a gate dropped is not brought back by widening
    # the scope again (its consent was withdrawn there: a new enrolment is a new pseudonym).
    assert office.send(person, bundle(15, ["gate-a"])).dropped == {}
    wider = office.send(person, bundle(15, ["gate-a", "gate-b"]))
    assert office.wait(lambda: answered(office), WAIT_S)
    refused = office.registry.answer("gate-b", wider.enrolled["gate-b"])
    assert refused is not None and refused[0] == "refused"
    assert person not in held(compound, "gate-b")
    # Withdrawn later: every gate ever sent the person answers again.
    office.withdraw(person)
    assert office.wait(lambda: answered(office), WAIT_S)
    assert office.deletion_status(person).line() == "deleted at 3 of 3 gates"
    assert office.drop_status(person).gates == ()


def test_changes_a_broker_lost_are_sent_again(compound: SimCompound) -> None:
    office, broker = compound.office, compound.broker
    assert office is not None and broker is not None
    away = compound.gates["gate-c"]
    away.stop()
    person = "p-8888888888888888"
    office.enrol(person, bundle(8))
    assert office.wait(lambda: office.registry.unanswered() == 1, WAIT_S)
    broker.kill()  # its queue for gate-c, and gate-c's session, die with it
    compound.start_broker()
    away.start(compound.name, compound.port)
    assert office.wait(lambda: answered(office), WAIT_S)  # the office sent it again
    assert person in held(compound, "gate-c")


def test_the_broker_dies_gates_carry_on_and_no_event_is_lost(compound: SimCompound) -> None:
    office, broker = compound.office, compound.broker
    assert office is not None and broker is not None

    def event(n: int) -> dict[str, object]:
        return {
            "kind": "decision",
            "door": "main",
            "granted": n % 2 == 0,
            "method": "pin",
            "reason": "granted",
            "subject": None,
            "score": None,
            "at": float(n),
        }

    for gate in compound.gates.values():
        for n in range(5):
            gate.link.offer(event(n))
    assert until(lambda: len(office.registry.events()) == 15)
    assert until(lambda: all(g.link.pending() == 0 for g in compound.gates.values()))
    broker.kill()
    assert until(lambda: not any(g.link.connected.is_set() for g in compound.gates.values()))
    started = time.monotonic()
    for gate in compound.gates.values():
        for n in range(5, 25):
            gate.link.offer(event(n))  # the loop's call: never waits for the broker
    assert time.monotonic() - started < 0.5
    assert until(lambda: all(g.link.pending() == 20 for g in compound.gates.values()))
    compound.start_broker()  # the same port, an empty broker
    assert until(lambda: len(office.registry.events()) == 75, 40.0)
    for device in GATES:
        seqs = [e["seq"] for e in office.registry.events(device)]
        assert seqs == list(range(1, 26))  # every one, in order, once
        assert [e["at"] for e in office.registry.events(device)] == [float(n) for n in range(25)]
    assert until(lambda: all(g.link.pending() == 0 for g in compound.gates.values()))


def _raw_client(compound: SimCompound, device: str, cert: Path, key: Path, ca: Path) -> mqtt.Client:
    endpoint = Endpoint(device + "-probe", "127.0.0.1", compound.port, ca, cert, key)
    return make_client(endpoint)


def test_a_certificate_from_another_ca_is_refused(compound: SimCompound, tmp_path: Path) -> None:
    rogue_ca = new_ca("estate")
    request = new_request("gate-a", "estate")
    (tmp_path / "rogue.key").write_bytes(request.key_pem)
    (tmp_path / "rogue.crt").write_bytes(sign_request(rogue_ca, request.cert_pem, "gate-a"))
    ca = compound.office_dir / "ca.crt"
    client = _raw_client(compound, "gate-a", tmp_path / "rogue.crt", tmp_path / "rogue.key", ca)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set() if not a[3].is_failure else None
    client.connect_async("127.0.0.1", compound.port)
    client.loop_start()
    try:
        assert not connected.wait(3.0)
    finally:
        client.loop_stop()
    # The same client with the compound's own certificate does connect (the check can fail).
    folder = compound.gates["gate-a"].folder
    good = _raw_client(compound, "gate-a", folder / "device.crt", folder / "device.key", ca)
    ok = threading.Event()
    good.on_connect = lambda *a: ok.set() if not a[3].is_failure else None
    good.connect_async("127.0.0.1", compound.port)
    good.loop_start()
    try:
        assert ok.wait(5.0)
    finally:
        good.disconnect()
        good.loop_stop()


def test_a_gate_cannot_speak_or_listen_on_another_gates_topics(compound: SimCompound) -> None:
    office = compound.office
    assert office is not None
    folder = compound.gates["gate-b"].folder
    spy = _raw_client(
        compound, "gate-b", folder / "device.crt", folder / "device.key", folder / "ca.crt"
    )
    heard: list[str] = []
    ready = threading.Event()

    def on_connect(client: mqtt.Client, *_a: object) -> None:
        client.subscribe("facegate/estate/gate-a/changes", qos=1)
        client.subscribe("facegate/estate/gate-b/changes", qos=1)
        ready.set()

    spy.on_connect = on_connect
    spy.on_message = lambda _c, _u, m: heard.append(m.topic)
    spy.connect_async("127.0.0.1", compound.port)
    spy.loop_start()
    try:
        assert ready.wait(5.0)
        forged = {"gate": "gate-a", "boot": "forged", "seq": 1, "kind": "alarm", "door": "main"}
        spy.publish("facegate/estate/gate-a/events", json.dumps(forged), qos=1).wait_for_publish(5)
        own = {"gate": "gate-b", "boot": "probe", "seq": 1, "kind": "alarm", "door": "main"}
        spy.publish("facegate/estate/gate-b/events", json.dumps(own), qos=1).wait_for_publish(5)
        office.enrol("p-5555555555555555", bundle(5, ["gate-a", "gate-b"]))
        assert until(lambda: any(e["boot"] == "probe" for e in office.registry.events()))
        assert until(lambda: "facegate/estate/gate-b/changes" in heard)
        assert office.wait(lambda: answered(office), WAIT_S)
        assert not any(e["boot"] == "forged" for e in office.registry.events())
        assert "facegate/estate/gate-a/changes" not in heard
    finally:
        spy.disconnect()
        spy.loop_stop()


def test_home_assistant_sees_each_door_and_never_a_person(
    compound: SimCompound, tmp_path: Path
) -> None:
    ca = Issued(
        (compound.office_dir / "ca.key").read_bytes(), (compound.office_dir / "ca.crt").read_bytes()
    )
    request = new_request("homeassistant", "estate")
    (tmp_path / "ha.key").write_bytes(request.key_pem)
    (tmp_path / "ha.crt").write_bytes(sign_request(ca, request.cert_pem, "homeassistant"))
    ha = _raw_client(
        compound,
        "homeassistant",
        tmp_path / "ha.crt",
        tmp_path / "ha.key",
        compound.office_dir / "ca.crt",
    )
    seen: dict[str, bytes] = {}
    ready = threading.Event()

    def on_connect(client: mqtt.Client, *_a: object) -> None:
        client.subscribe("homeassistant/#", qos=1)
        client.subscribe("facegate/estate/+/ha/#", qos=1)
        client.subscribe("facegate/estate/+/changes", qos=1)  # not granted by the ACL
        ready.set()

    ha.on_connect = on_connect
    ha.on_message = lambda _c, _u, m: seen.__setitem__(m.topic, bytes(m.payload))
    ha.connect_async("127.0.0.1", compound.port)
    ha.loop_start()
    try:
        assert ready.wait(5.0)
        gate = compound.gates["gate-a"]
        assert gate.link is not None
        gate.link.offer(
            {
                "kind": "decision",
                "door": "main",
                "granted": True,
                "method": "face",
                "reason": "granted",
                "subject": "p-1234567890abcdef",
                "at": 1.0,
            }
        )
        gate.link.offer({"kind": "alarm", "door": "main", "alarm": "door_forced", "at": 2.0})
        counter = "facegate/estate/gate-a/ha/main/counter/granted"
        alarm = "facegate/estate/gate-a/ha/main/alarm/door_forced"
        assert until(lambda: seen.get(counter) == b"1" and seen.get(alarm) == b"ON")
        assert "homeassistant/lock/gate-a/main/config" in seen
        assert seen["facegate/estate/gate-a/ha/main/state"] == b"LOCKED"
        compound.office.enrol("p-6666666666666666", bundle(6))  # type: ignore[union-attr]
        time.sleep(0.5)
        assert not any(t.endswith("/changes") for t in seen)
        assert not any(b"p-" in payload for payload in seen.values())
    finally:
        ha.disconnect()
        ha.loop_stop()


def test_the_compound_demo_runs_every_step_as_expected() -> None:
    """`facegate demo --compound`: its own checks (`expect`) find no problem, and its timeline
    shows the narrowed consent's receipts and the withdrawal's."""
    from facegate.demo.compound import run_compound_demo

    said: list[str] = []
    assert run_compound_demo(said.append) == []
    text = "\n".join(said)
    assert "deleted at 2 of 2 dropped gates" in text and "deleted at 3 of 3 gates" in text
