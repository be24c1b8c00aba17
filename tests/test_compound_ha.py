"""Home Assistant's remote unlock over the compound's real broker (TLS, ACL), into gate
daemons on mock pins: only the `homeassistant` identity's command, at a gate that allows it,
pulses the relay; every other command is refused — by the broker's ACL (another device) or
by the gate, which audits it — and the relay never moves for a malformed one. Never a name or
a pseudonym on a Home Assistant topic. Needs mosquitto and the installed models."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509

from compound_support import Daemon, gate_daemons, until, write_clip
from facegate.cli import main
from facegate.compound.apply import GateKeys
from facegate.compound.broker import find_mosquitto
from facegate.compound.mqtt import Endpoint, make_client
from facegate.compound.pki import CompoundPkiError
from facegate.compound.setup import admit, join_request
from facegate.compound.sim import SimCompound
from facegate.store import Store

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto; scripts/dev does)",
)

UNLOCK_A = "facegate/estate/gate-a/ha/main/unlock"
UNLOCK_B = "facegate/estate/gate-b/ha/main/unlock"


class Client:
    """A raw MQTT client with one of the compound's identities; records what it hears."""

    def __init__(self, compound: SimCompound, who: str, folder: Path, names: tuple[str, str]):
        endpoint = Endpoint(
            who,
            "127.0.0.1",
            compound.port,
            folder / "ca.crt",
            folder / names[0],
            folder / names[1],
            client_id=f"probe-{who}",
            clean=True,
        )
        self.client = make_client(endpoint)
        self.heard: dict[str, list[bytes]] = {}
        self.ready = threading.Event()
        self.client.on_connect = lambda c, *_a: self._connected(c)
        self.client.on_message = lambda _c, _u, m: self.heard.setdefault(m.topic, []).append(
            bytes(m.payload)
        )
        self.client.connect_async("127.0.0.1", compound.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _connected(self, client: mqtt.Client) -> None:
        client.subscribe("homeassistant/#", qos=1)
        client.subscribe("facegate/estate/+/ha/#", qos=1)
        self.ready.set()

    def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def compound(tmp_path: Path, models_dir: Path) -> Iterator[tuple[SimCompound, dict[str, Daemon]]]:
    c = SimCompound(tmp_path)
    c.create(["gate-a", "gate-b"])
    c.start_broker()
    clip = tmp_path / "clip"
    write_clip(clip, None)  # nobody in front of the cameras: the relay moves only by command
    try:
        with gate_daemons(c, clip, models_dir, remote_unlock={"gate-a"}) as daemons:
            assert until(lambda: all(d.connected() for d in daemons.values()))
            yield c, daemons
    finally:
        c.close()


def remote(daemon: Daemon) -> list[tuple[bool, str]]:
    return [
        (e.decision.granted, e.decision.reason)
        for e in daemon.events
        if e.kind == "decision" and e.decision is not None and e.decision.method == "remote"
    ]


def relay_ons(daemon: Daemon) -> int:
    return sum(1 for e in daemon.events if e.kind == "relay_on")


def audited(daemon: Daemon) -> list[dict[str, Any]]:
    folder = daemon.app.cfg.store.state_dir / "audit"
    lines = [ln for p in sorted(folder.glob("*.jsonl")) for ln in p.read_text().splitlines()]
    return [json.loads(ln) for ln in lines if ln.strip()]


def test_home_assistant_unlocks_a_door_and_nobody_else_does(
    compound: tuple[SimCompound, dict[str, Daemon]],
) -> None:
    c, gates = compound
    a, b = gates["gate-a"], gates["gate-b"]
    relay_a, relay_b = a.factory.pin(17), b.factory.pin(17)
    # The identity `compound init --home-assistant` issued (the ACL's homeassistant user).
    ha = Client(c, "homeassistant", c.office_dir / "homeassistant", ("client.crt", "client.key"))
    gate_b = Client(c, "gate-b", c.gates["gate-b"].folder, ("device.crt", "device.key"))
    office = Client(c, "office", c.office_dir, ("office.crt", "office.key"))
    try:
        ha.send(UNLOCK_A, b"UNLOCK")
        assert until(lambda: relay_a.state is True, 10)  # the relay pulsed...
        assert remote(a) == [(True, "remote_unlock")]
        assert until(lambda: relay_a.state is False, 5)  # ...and closed by itself
        state = "facegate/estate/gate-a/ha/main/state"
        assert until(lambda: ha.heard.get(state, [])[-2:] == [b"UNLOCKED", b"LOCKED"], 5)

        # Devices the ACL gives no right to unlock: the broker drops their commands.
        gate_b.send(UNLOCK_A, b"UNLOCK")
        office.send(UNLOCK_A, b"UNLOCK")
        gate_b.send(UNLOCK_B, b"UNLOCK")  # not even its own door
        # A gate that gave Home Assistant no right (remote_unlock off) refuses and audits.
        ha.send(UNLOCK_B, b"UNLOCK")
        assert until(lambda: remote(b) == [(False, "remote_unlock_off")], 10)
        # Malformed or doubtful commands at the gate that allows unlocking: refused, audited.
        for payload in (b"unlock", b"UNLOCK ", b"", b'{"cmd":"UNLOCK"}', b"LOCK", b"U" * 70_000):
            ha.send(UNLOCK_A, payload)
        ha.send("facegate/estate/gate-a/ha/side/unlock", b"UNLOCK")  # no such door
        refusals = [(False, "malformed_command")] * 6
        assert until(lambda: remote(a)[1:] == refusals, 10)
        assert until(lambda: any(r["kind"] == "remote_refused" for r in audited(a)), 5)
        # A retained command opens once, as sent (MQTT 3.1.1 forwards it live without the
        # retain flag); the copy the broker keeps is refused when the gate subscribes again.
        ha.send(UNLOCK_A, b"UNLOCK", retain=True)
        assert until(lambda: remote(a)[7:] == [(True, "remote_unlock")], 10)
        assert c.broker is not None
        c.broker.stop()  # a broker restart (its retained messages persist)
        c.start_broker()
        assert until(lambda: remote(a)[8:] == [(False, "retained_command")], 20)
        assert until(lambda: ha.client.is_connected(), 10)
        ha.send(UNLOCK_A, b"", retain=True)  # Home Assistant's operator clears it
        refusals += [(True, "remote_unlock"), (False, "retained_command")]
        refusals += [(False, "malformed_command")]
        assert until(lambda: remote(a)[1:] == refusals, 10)
        time.sleep(1.0)  # anything the broker let through would have arrived by now
        assert remote(a) == [(True, "remote_unlock"), *refusals]
        assert until(lambda: relay_a.state is False, 5)
        assert relay_ons(a) == 2
        assert relay_b.state is False and relay_ons(b) == 0
        assert remote(b) == [(False, "remote_unlock_off")]
        # A command sent while the gate is away is never carried out late, when it is back.
        a.hook.stop()
        ha.send(UNLOCK_A, b"UNLOCK")
        a.hook.start()
        assert until(a.connected, 10)
        time.sleep(1.5)
        assert remote(a) == [(True, "remote_unlock"), *refusals] and relay_ons(a) == 2
        ha.send(UNLOCK_A, b"UNLOCK")  # and the link that came back obeys a new one
        assert until(lambda: relay_ons(a) == 3, 10)
        refusals.append((True, "remote_unlock"))
    finally:
        for client in (ha, gate_b, office):
            client.close()
    # The signed audit trail holds the grant and every refusal the gate saw.
    decisions_a = [(r["result"], r["reason"]) for r in audited(a) if r.get("kind") == "decision"]
    assert decisions_a == [
        ("granted" if ok else "denied", reason)
        for ok, reason in [(True, "remote_unlock"), *refusals]
    ]
    assert [r["reason"] for r in audited(a) if r["kind"] == "remote_refused"] == ["unknown_door"]
    assert ("denied", "remote_unlock_off") in [
        (r.get("result"), r.get("reason")) for r in audited(b)
    ]
    # Never a name or a pseudonym on a Home Assistant topic.
    assert not any(b"p-" in p for ps in ha.heard.values() for p in ps)


def test_a_gate_cannot_take_home_assistants_or_the_offices_identity(tmp_path: Path) -> None:
    """A gate named `homeassistant` would get Home Assistant's right to unlock every door."""
    c = SimCompound(tmp_path)
    c.create([])
    store = Store(tmp_path / "state", bytes(32))
    try:
        keys = GateKeys.from_store(store)
        for reserved in ("homeassistant", "office"):
            with pytest.raises(CompoundPkiError, match="reserved"):
                join_request(tmp_path / reserved, reserved, "estate", keys)
            request = join_request(tmp_path / "x", "gate-x", "estate", keys) | {"device": reserved}
            with pytest.raises(CompoundPkiError):
                admit(c.office_dir, request)
    finally:
        store.close()


def test_init_with_home_assistant_issues_its_client_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "office"
    args = ["compound", "init", "--dir", str(folder), "--name", "estate", "--listen", "127.0.0.1"]
    assert main([*args, "--home-assistant"]) == 0
    assert "Home Assistant's client certificate" in capsys.readouterr().out
    ha = folder / "homeassistant"
    assert (ha / "client.key").stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate((ha / "client.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        "homeassistant"
    )
    plain = tmp_path / "plain"
    assert (
        main(["compound", "init", "--dir", str(plain), "--name", "estate", "--listen", "127.0.0.1"])
        == 0
    )
    assert not (plain / "homeassistant").exists()


def test_refused_unlocks_are_recorded_within_a_budget(caplog: pytest.LogCaptureFixture) -> None:
    """A Home Assistant that sends refused commands in a loop cannot fill the gate's disk:
    ten are recorded a minute, the rest only counted in one log line a minute."""
    import logging

    from facegate.compound.link import RefusalBudget

    budget = RefusalBudget(limit=10, window_s=60.0)
    with caplog.at_level(logging.WARNING, logger="facegate.compound.link"):
        recorded = [budget.allow(100.0 + i * 0.1) for i in range(500)]
    assert sum(recorded) == 10 and recorded[:10] == [True] * 10
    assert budget.suppressed == 490
    assert caplog.text.count("not recorded") == 1  # once a window, not once a command
    assert budget.allow(170.0)  # a minute later the budget is back
