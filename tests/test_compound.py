"""The compound's pure parts: certificates, sealed and signed changes, applying them in order
exactly once, the outbox's bound, the broker's configuration, Home Assistant's payloads."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nacl.signing import SigningKey, VerifyKey

from facegate.clock import FakeClock
from facegate.compound.apply import GateKeys, apply_change, last_seq
from facegate.compound.broker import acl_text
from facegate.compound.homeassistant import DoorState, discovery, state_messages
from facegate.compound.messages import BadMessage, Change, seal_bundle, sign, verify
from facegate.compound.office import Office, person_bundle
from facegate.compound.pki import CompoundPkiError, new_ca, new_request, sign_request
from facegate.compound.setup import admit, init_office, install_grant, join_request
from facegate.compound.spool import Outbox
from facegate.errors import ConfigError
from facegate.store import Store

SPACE = "dlib_resnet_v1"
P1, P2 = "p-00000000000000a1", "p-00000000000000b2"
HA_FIELDS = {
    "name",
    "unique_id",
    "state_topic",
    "command_topic",
    "payload_unlock",
    "payload_lock",
    "availability_topic",
    "device",
    "device_class",
    "state_class",
}


def templates(seed: int, k: int = 2) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(k, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "state", os.urandom(32), clock=FakeClock(wall=1_800_000_000.0))
    yield s
    s.close()


OFFICE = SigningKey.generate()


def change(
    store: Store,
    seq: int,
    kind: str = "enrol",
    pseudonym: str = P1,
    *,
    gates: tuple[str, ...] = ("gate-a",),
    gate: str = "gate-a",
    key: SigningKey = OFFICE,
    seed: int = 1,
) -> bytes:
    sealed = None
    if kind == "enrol":
        bundle = person_bundle(
            templates(seed),
            SPACE,
            gates=list(gates),
            method="paper form",
            notice_version="v1",
            taken_by="office",
        )
        sealed = seal_bundle(GateKeys.from_store(store).box.public_key, bundle)
    return sign(key, Change(gate, seq, kind, pseudonym, sealed, 1.0).body())  # type: ignore[arg-type]


def apply(store: Store, payload: bytes, **kw: Any) -> Any:
    return apply_change(
        store, GateKeys.from_store(store), "gate-a", OFFICE.verify_key, payload, **kw
    )


def test_changes_apply_in_order_exactly_once(store: Store) -> None:
    first = change(store, 1)
    applied = apply(store, first)
    assert applied.changed and last_seq(store) == 1
    held = dict(store.iter_templates(SPACE))
    assert list(held) == [P1]  # the office's pseudonym, not a new one
    np.testing.assert_allclose(held[P1], templates(1), atol=1e-6)
    again = apply(store, first)  # re-delivered: answered, never applied twice
    assert not again.changed and again.answer is not None
    assert json.loads(again.answer)["body"]["status"] == "duplicate"
    assert store.count_people_with_face() == 1 and len(held[P1]) == 2
    ahead = apply(store, change(store, 3, pseudonym=P2))  # a gap: wait for 2
    assert ahead.answer is None and last_seq(store) == 1
    assert store.count_people_with_face() == 1
    apply(store, change(store, 2, pseudonym=P2, seed=2))
    apply(store, change(store, 3, "withdraw", pseudonym=P1))
    # The same person sent again (new photos): their templates are replaced, not added to.
    body = json.loads(apply(store, change(store, 4, pseudonym=P2, seed=3)).answer)["body"]
    assert body["status"] == "applied" and body["reason"] == "replaced 2 templates"
    held = dict(store.iter_templates(SPACE))
    assert list(held) == [P2]
    np.testing.assert_allclose(held[P2], templates(3), atol=1e-6)
    live = "SELECT COUNT(*) FROM consents WHERE pseudonym = ? AND withdrawn_at IS NULL"
    assert store.query(live, (P2,)).fetchone()[0] == 1  # the old consent ended, kept
    # A person whose consent was withdrawn here is not brought back: refused, and counted.
    body = json.loads(apply(store, change(store, 5, pseudonym=P1, seed=4)).answer)["body"]
    assert body["status"] == "refused" and "withdrawn here" in body["reason"]
    assert last_seq(store) == 5
    assert [p for p, _ in store.iter_templates(SPACE)] == [P2]
    # A replacement that fails (another embedding space) leaves the face as it was.
    wrong = apply(store, change(store, 6, pseudonym=P2, seed=5), face_space=("sface", 128))
    assert json.loads(wrong.answer)["body"]["status"] == "refused" and not wrong.changed
    np.testing.assert_allclose(dict(store.iter_templates(SPACE))[P2], templates(3), atol=1e-6)


def test_an_answer_is_signed_by_the_gate_and_a_receipt_by_its_audit_key(store: Store) -> None:
    apply(store, change(store, 1))
    answer = apply(store, change(store, 2, "withdraw")).answer
    gate_key = GateKeys.from_store(store).signing.verify_key
    body = verify(gate_key, answer)
    with pytest.raises(BadMessage):
        verify(SigningKey.generate().verify_key, answer)  # another key: refused
    signed = body["receipt"]
    receipt = signed["receipt"]
    assert body["status"] == "applied" and receipt["deleted"] == {"face templates": 2}
    VerifyKey(bytes.fromhex(signed["public_key"])).verify(
        json.dumps(receipt, sort_keys=True).encode(), bytes.fromhex(signed["signature"])
    )
    # A re-delivered withdrawal gets the same receipt again (the office may have missed it).
    assert apply(store, change(store, 2, "withdraw")).answer == answer


def test_a_change_not_from_the_office_or_for_another_gate_is_refused(store: Store) -> None:
    with pytest.raises(BadMessage, match="signature"):
        apply(store, change(store, 1, key=SigningKey.generate()))
    with pytest.raises(BadMessage, match="gate-b"):
        apply(store, change(store, 1, gate="gate-b"))
    tampered = json.loads(change(store, 1))
    tampered["body"]["pseudonym"] = P2
    with pytest.raises(BadMessage):
        apply(store, json.dumps(tampered).encode())
    assert last_seq(store) == 0 and store.count_people_with_face() == 0


def test_a_consent_that_does_not_name_the_gate_is_refused_for_good(store: Store) -> None:
    answer = apply(store, change(store, 1, gates=("gate-b",)))
    body = json.loads(answer.answer)["body"]
    assert body["status"] == "refused" and "does not cover gate 'gate-a'" in body["reason"]
    assert last_seq(store) == 1 and store.count_people_with_face() == 0


def test_templates_of_another_embedding_space_are_refused(store: Store) -> None:
    answer = apply(store, change(store, 1), face_space=("sface_2021dec", 128))
    assert json.loads(answer.answer)["body"]["status"] == "refused"
    assert store.count_people_with_face() == 0


def test_a_failure_inside_the_transaction_leaves_neither_person_nor_number(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.record

    def failing(db: sqlite3.Connection, kind: str, *args: Any) -> None:
        if kind == "person_enrolled":
            raise sqlite3.OperationalError("disk I/O error")
        real(db, kind, *args)

    monkeypatch.setattr(store, "record", failing)
    with pytest.raises(sqlite3.OperationalError):
        apply(store, change(store, 1))
    assert last_seq(store) == 0 and store.count_people_with_face() == 0
    monkeypatch.setattr(store, "record", real)
    assert apply(store, change(store, 1)).changed  # the office's resend then applies it
    assert last_seq(store) == 1


def test_a_withdrawal_of_someone_never_held_still_answers(store: Store) -> None:
    body = json.loads(apply(store, change(store, 1, "delete", pseudonym=P2)).answer)["body"]
    assert body["status"] == "applied"
    assert body["receipt"]["receipt"]["kept"] == ["not held at this gate"]


def test_a_request_must_name_its_device(tmp_path: Path) -> None:
    ca = new_ca("estate")
    request = new_request("gate-a", "estate")
    assert b"BEGIN CERTIFICATE" in sign_request(ca, request.cert_pem, "gate-a")
    with pytest.raises(CompoundPkiError, match="does not name device 'gate-b'"):
        sign_request(ca, request.cert_pem, "gate-b")
    with pytest.raises(CompoundPkiError, match="device id"):
        new_request("Gate A/#", "estate")


def test_the_office_folder_the_broker_and_its_acl(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ConfigError, match="every interface"):
        init_office(tmp_path / "office", "estate", "0.0.0.0")
    office = tmp_path / "office"
    init_office(office, "estate", "192.168.1.10", 8883)
    conf = (office / "broker" / "mosquitto.conf").read_text()
    for line in (
        "listener 8883 192.168.1.10",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
    ):
        assert line in conf.splitlines()
    assert not (office / "broker" / "ca.key").exists()  # the broker never sees the CA's key
    assert oct((office / "ca.key").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(CompoundPkiError, match="already holds"):
        init_office(office, "estate", "192.168.1.10")
    acl = acl_text("estate", home_assistant=False)
    assert "pattern write facegate/estate/%u/events" in acl
    assert "pattern read facegate/estate/%u/changes" in acl
    assert "homeassistant" not in acl.split("pattern")[0]

    request = join_request(tmp_path / "gate", "gate-a", "estate", GateKeys.from_store(store))
    assert "PRIVATE" not in json.dumps(request)  # only public material leaves the gate
    grant = admit(office, request)
    install_grant(tmp_path / "gate", grant, "gate-a")
    with pytest.raises(CompoundPkiError, match="not for device"):
        install_grant(tmp_path / "gate", grant, "gate-b")
    other = dict(request, compound="elsewhere")
    with pytest.raises(CompoundPkiError, match="compound 'elsewhere'"):
        admit(office, other)
    # The office sends a person only to gates of this compound.
    office_node = Office(office)
    try:
        bundle = person_bundle(
            templates(1),
            SPACE,
            gates=["gate-a", "gate-z"],
            method="m",
            notice_version="v",
            taken_by="t",
        )
        with pytest.raises(CompoundPkiError, match="gate-z"):
            office_node.enrol(P1, bundle)
        assert office_node.registry.unanswered() == 0
    finally:
        office_node.stop()


def test_the_outbox_keeps_order_and_its_bound(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", limit=5)
    box.put([{"n": i} for i in range(8)])
    assert [e["n"] for _, e in box.peek(10)] == [3, 4, 5, 6, 7] and box.dropped == 3
    seqs = [s for s, _ in box.peek(2)]
    box.remove_through(seqs[-1])
    boot = box.boot
    box.close()
    again = Outbox(tmp_path / "outbox.db", limit=5)  # a restart: same outbox, same numbers
    assert again.boot == boot and again.dropped == 3
    assert [e["n"] for _, e in again.peek(10)] == [5, 6, 7]
    again.put([{"n": 8}])
    assert again.peek(10)[-1][0] == seqs[-1] + 4  # numbers never go back
    again.close()


def test_home_assistant_sees_doors_and_counts_never_a_person() -> None:
    config = discovery("estate", "gate-a", ["main", "car"], remote_unlock=False)
    state = DoorState(locked=False, alarms={"door_forced"})
    state.counts["granted"] = 4
    states = state_messages("estate", "gate-a", "main", state)
    text = json.dumps(config + states)
    assert not re.search(r"p-[0-9a-f]{16}", text)  # no pseudonym, and no name field at all
    assert all(set(json.loads(p)) <= HA_FIELDS for _, p, _ in config)
    assert all("command_topic" not in json.loads(p) for t, p, _ in config if "/lock/" in t)
    assert ("facegate/estate/gate-a/ha/main/state", "UNLOCKED", True) in states
    assert ("facegate/estate/gate-a/ha/main/alarm/door_forced", "ON", True) in states
    assert ("facegate/estate/gate-a/ha/main/counter/granted", "4", True) in states
    unlock = discovery("estate", "gate-a", ["main"], remote_unlock=True)
    lock = json.loads(next(p for t, p, _ in unlock if "/lock/" in t))
    assert lock["command_topic"] == "facegate/estate/gate-a/ha/main/unlock"


def test_a_face_from_the_office_expires_by_this_gates_retention(store: Store) -> None:
    """No path stores a template without an expiry, and no gate keeps one past its own sign."""
    applied = apply(store, change(store, 1), template_days=30)
    assert applied.changed
    (expires,) = store.query("SELECT MAX(expires_at) FROM templates").fetchone()
    assert expires is not None
    assert abs(expires - (store.clock.time() + 30 * 86_400)) < 5


def test_the_office_keeps_gate_events_only_as_long_as_the_gates_do(tmp_path: Path) -> None:
    from facegate.compound.registry import Registry

    registry = Registry(tmp_path / "registry.db")
    try:
        for seq, at in ((1, 1_000.0), (2, 2_000.0), (3, 3_000.0)):
            body = {"gate": "gate-a", "boot": "b1", "seq": seq, "kind": "decision"}
            assert registry.add_event(body, at)
        assert registry.purge_events(before=2_500.0) == 2
        assert [e["seq"] for e in registry.events()] == [3]
        assert registry.purge_events(before=2_500.0) == 0
    finally:
        registry.close()
