"""``facegate demo --compound``: three gates and an office on this machine, with a timeline.

A real Mosquitto on a free 127.0.0.1 port (TLS, client certificates of a compound CA made for
the demo, the ACL), an office and three gates each with its own encrypted store and compound
link. The gates here have no doors or cameras: their decisions are stood in for by events
(``tests/test_compound_daemon.py`` runs three full daemons with replay cameras). The resident's
templates are synthetic. Nothing is kept afterwards.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nacl.signing import VerifyKey

from ..compound.messages import verify
from ..compound.mqtt import Endpoint, make_client
from ..compound.office import Office, person_bundle
from ..compound.pki import new_ca, new_request, sign_request
from ..compound.sim import SimCompound
from .timeline import Say

__all__ = ["run_compound_demo"]

GATES = ["gate-north", "gate-south", "car-gate"]
RESIDENT, NEIGHBOUR = "p-00000000000000d1", "p-00000000000000d2"


def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _bundle(seed: int, gates: list[str] = GATES) -> dict[str, object]:
    rows = np.random.default_rng(seed).normal(size=(5, 128)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return person_bundle(
        rows,
        "dlib_resnet_v1",
        gates=gates,
        method="demo consent",
        notice_version="demo",
        taken_by="office",
    )


def run_compound_demo(say: Say) -> list[str]:
    """Run the scenario; the problems found (none when every step went as expected)."""
    problems: list[str] = []
    start = time.monotonic()

    def line(text: str) -> None:
        say(f"[dim]{time.monotonic() - start:6.2f}s[/] {text}")

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)
            line(f"[red]UNEXPECTED: {what}[/]")

    with tempfile.TemporaryDirectory(prefix="facegate-compound-demo-") as tmp:
        compound = SimCompound(Path(tmp), name="demo-estate")
        compound.create(GATES)
        line(
            f"office: compound CA made; {len(GATES)} gates joined (keys made on each gate, "
            "only public keys sent) and admitted"
        )
        compound.start_broker()
        line(
            f"broker: mosquitto on 127.0.0.1:{compound.port}, TLS only, client certificates "
            "required, each gate kept to its own topics"
        )
        try:
            for gate in compound.gates.values():
                gate.start(compound.name, compound.port)
            office = compound.start_office()
            gates = compound.gates
            expect(
                _until(lambda: all(g.link and g.link.connected.is_set() for g in gates.values())),
                "every gate connects",
            )
            line("gates and office connected")
            _enrol(office, line, expect)
            _catch_up(compound, office, line, expect)
            _narrow(compound, office, line, expect)
            _broker_dies(compound, office, line, expect)
            _rogue(compound, Path(tmp), line, expect)
            _withdraw(office, line, expect)
        finally:
            compound.close()
    return problems


def _enrol(office: Office, line: Say, expect: Callable[[bool, str], None]) -> None:
    sent = office.enrol(RESIDENT, _bundle(1))
    line(
        f"office: resident {RESIDENT} enrolled once, sealed to each gate's key and sent to "
        f"{len(sent)} gates (consent names {', '.join(GATES)})"
    )
    expect(office.wait(lambda: office.registry.unanswered() == 0, 20), "all gates apply")
    for gate in GATES:
        line(f"  {gate}: applied change 1 in one transaction, signed acknowledgement returned")


def _catch_up(
    compound: SimCompound, office: Office, line: Say, expect: Callable[[bool, str], None]
) -> None:
    away = compound.gates["car-gate"]
    away.stop()
    line("car-gate: stopped (power cut)")
    office.enrol(NEIGHBOUR, _bundle(2))
    line(f"office: neighbour {NEIGHBOUR} enrolled; car-gate is away")
    expect(office.wait(lambda: office.registry.unanswered() == 1, 20), "two gates apply")
    away.start(compound.name, compound.port)
    expect(office.wait(lambda: office.registry.unanswered() == 0, 20), "car-gate catches up")
    held = away.store.count_people_with_face() if away.store is not None else 0
    line(f"car-gate: back; caught up in order from its persistent session: holds {held} people")
    expect(held == 2, "car-gate holds both residents")


def _narrow(
    compound: SimCompound, office: Office, line: Say, expect: Callable[[bool, str], None]
) -> None:
    sent = office.send(NEIGHBOUR, _bundle(2, ["gate-north"]))
    line(
        f"office: neighbour {NEIGHBOUR} consents again for gate-north only; sent again, and "
        f"withdrawn from the {len(sent.dropped)} gates the consent no longer names"
    )
    expect(
        office.wait(lambda: len(office.drop_status(NEIGHBOUR).deleted) == 2, 20),
        "two dropped gates' receipts",
    )
    status = office.drop_status(NEIGHBOUR)
    for gate in status.deleted:
        store = compound.gates[gate].store
        held = store.count_people_with_face() if store is not None else -1
        deleted = status.receipts[gate]["receipt"]["deleted"]["face templates"]
        line(f"  {gate}: signed receipt: deleted {deleted} face templates; holds {held} people")
        expect(held == 1, f"{gate} keeps only the resident")
    north = compound.gates["gate-north"].store
    expect(north is not None and north.count_people_with_face() == 2, "gate-north keeps both")
    line(f"office: [bold]{status.line()}[/]; gate-north still holds both residents")


def _broker_dies(
    compound: SimCompound, office: Office, line: Say, expect: Callable[[bool, str], None]
) -> None:
    assert compound.broker is not None
    compound.broker.kill()
    line("broker: killed")
    for gate in compound.gates.values():
        assert gate.link is not None
        for n in range(3):
            gate.link.offer(
                {
                    "kind": "decision",
                    "door": "main",
                    "granted": True,
                    "method": "face",
                    "reason": "granted",
                    "subject": RESIDENT,
                    "score": 0.96,
                    "at": time.time() + n,
                }
            )
    expect(
        _until(lambda: all(g.link and g.link.pending() == 3 for g in compound.gates.values())),
        "events wait in the outboxes",
    )
    line("gates: keep deciding; 3 decisions each wait in the on-disk outbox")
    compound.start_broker()
    expect(_until(lambda: len(office.registry.events()) == 9, 40), "every event arrives")
    line(
        f"broker: back; the office received {len(office.registry.events())} of 9 events, "
        "in order, none twice"
    )


def _rogue(
    compound: SimCompound, tmp: Path, line: Say, expect: Callable[[bool, str], None]
) -> None:
    rogue_ca = new_ca("demo-estate")
    request = new_request("gate-north", "demo-estate")
    (tmp / "rogue.key").write_bytes(request.key_pem)
    (tmp / "rogue.crt").write_bytes(sign_request(rogue_ca, request.cert_pem, "gate-north"))
    client = make_client(
        Endpoint(
            "rogue",
            "127.0.0.1",
            compound.port,
            compound.office_dir / "ca.crt",
            tmp / "rogue.crt",
            tmp / "rogue.key",
        )
    )
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set() if not a[3].is_failure else None
    client.connect_async("127.0.0.1", compound.port)
    client.loop_start()
    try:
        expect(not connected.wait(2.0), "a foreign certificate is refused")
    finally:
        client.loop_stop()
    line("rogue device: certificate from another CA, claiming gate-north: refused by the broker")


def _withdraw(office: Office, line: Say, expect: Callable[[bool, str], None]) -> None:
    office.withdraw(RESIDENT)
    line(f"office: {RESIDENT} withdraws consent once")
    expect(
        office.wait(lambda: len(office.deletion_status(RESIDENT).deleted) == 3, 20),
        "three receipts",
    )
    status = office.deletion_status(RESIDENT)
    keys = office.registry.gates()
    for gate in status.deleted:
        signed = office.registry.answers(RESIDENT, "withdraw")[gate][1]
        body = verify(VerifyKey(base64.b64decode(keys[gate][1])), signed)
        receipt = body["receipt"]["receipt"]
        VerifyKey(bytes.fromhex(body["receipt"]["public_key"])).verify(
            json.dumps(receipt, sort_keys=True).encode(),
            bytes.fromhex(body["receipt"]["signature"]),
        )
        line(
            f"  {gate}: receipt signed by the gate, checked: deleted "
            f"{receipt['deleted']['face templates']} face templates"
        )
    line(f"office: [bold]{status.line()}[/] (receipts kept in the office's registry)")
