"""Three gate daemons (App on mock pins, replay cameras, the compound hook) and one office.

Enrol once at the office → every gate grants that face; the broker killed → the gates keep
deciding and their events reach the office afterwards, none lost; withdraw → three signed
receipts and the face refused everywhere. Needs mosquitto and the installed models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from compound_support import CONFIG, Daemon, gate_daemons, until, write_clip
from facegate.compound.broker import find_mosquitto
from facegate.compound.office import person_bundle
from facegate.compound.sim import SimCompound
from facegate.config import load_config_text
from facegate.service.app import App
from facegate.service.compound_link import CompoundHook
from helpers import load_rgb

pytestmark = pytest.mark.skipif(
    find_mosquitto() is None,
    reason="mosquitto is not installed (apt install mosquitto; scripts/dev does)",
)

GATES = ["gate-a", "gate-b", "gate-c"]
PERSON = "p-7777777777777777"


@pytest.fixture
def daemons(
    tmp_path: Path, models_dir: Path, testdata: Path
) -> Iterator[tuple[SimCompound, dict[str, Daemon]]]:
    compound = SimCompound(tmp_path)
    compound.create(GATES)
    compound.start_broker()
    compound.start_office()
    clip = tmp_path / "clip"
    write_clip(clip, load_rgb(testdata / "faces" / "barack_obama" / "obama2.jpg"))
    try:
        with gate_daemons(compound, clip, models_dir) as daemons:
            yield compound, daemons
    finally:
        compound.close()


def test_three_gate_daemons_enrol_once_withdraw_once_and_survive_the_broker(
    daemons: tuple[SimCompound, dict[str, Daemon]], testdata: Path
) -> None:
    compound, gates = daemons
    office = compound.office
    assert office is not None
    first = gates["gate-a"].app
    assert first.face is not None
    photo = load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg")  # not the clip's
    found = first.face.pipeline.template_for_photo(photo)
    assert found.template is not None
    assert until(
        lambda: all(d.hook.link and d.hook.link.connected.is_set() for d in gates.values())
    )

    enrolled_at = time.monotonic()
    office.enrol(
        PERSON,
        person_bundle(
            found.template,
            first.face.space,
            gates=GATES,
            method="paper form",
            notice_version="v1",
            taken_by="office",
        ),
    )
    assert office.wait(lambda: office.registry.unanswered() == 0, 20)
    # Every gate grants the face it never saw enrolled.
    assert until(
        lambda: all((True, PERSON) in d.face_decisions_since(enrolled_at) for d in gates.values())
    )

    compound.broker.kill()  # type: ignore[union-attr]
    killed_at = time.monotonic()
    assert until(lambda: all(len(d.face_decisions_since(killed_at)) >= 2 for d in gates.values()))
    compound.start_broker()

    office.withdraw(PERSON)
    assert office.wait(
        lambda: office.deletion_status(PERSON).line() == "deleted at 3 of 3 gates", 30
    )
    withdrawn_at = time.monotonic()
    assert until(
        lambda: all((False, None) in d.face_decisions_since(withdrawn_at) for d in gates.values())
    )
    for daemon in gates.values():
        assert (True, PERSON) not in daemon.face_decisions_since(withdrawn_at + 0.5)
        daemon.app.stop()
        daemon.thread.join(timeout=10)
    # Every decision each gate made, the broker's outage included, reached the office once.
    for device, daemon in gates.items():
        link = daemon.hook.link
        assert link is not None and until(lambda link=link: link.pending() == 0)
        sent = [e for e in office.registry.events(device) if e["kind"] == "decision"]
        assert [(e["granted"], e["subject"]) for e in sent] == [
            (g, s) for _, g, s in daemon.decisions
        ]


def test_without_a_broker_or_a_grant_the_gate_works_alone(
    tmp_path: Path, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    compound = SimCompound(tmp_path)
    compound.create(["gate-a"])  # the broker is never started: nothing listens on its port
    gate = compound.gates["gate-a"]
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "0.png"), np.full((120, 160, 3), 90, np.uint8))
    text = CONFIG.format(
        device="gate-a",
        clip=clip,
        models=models_dir,
        state=gate.state,
        port=compound.port,
        folder=gate.folder,
        remote_unlock="false",
    )
    factory = MockFactory()
    app = App(load_config_text(text), pin_factory=factory, master_key=gate.master_key)
    app.start()
    hook = CompoundHook(app)
    try:
        hook.start()
        assert hook.link is not None and not hook.link.connected.is_set()
        started = time.monotonic()
        assert app.remote_open("main", 1.0, uid=0)  # a way in, while the broker is away
        assert factory.pin(17).state is True
        assert time.monotonic() - started < 0.5
        assert until(lambda: hook.link is not None and hook.link.pending() == 1, 5)
    finally:
        hook.stop()
        app.close()
    # No grant installed (a gate configured before `compound install`): logged, gate alone.
    (gate.folder / "office.json").unlink()
    app = App(load_config_text(text), pin_factory=factory, master_key=gate.master_key)
    app.start()
    hook = CompoundHook(app)
    try:
        with caplog.at_level("ERROR"):
            hook.start()
        assert hook.link is None and "the gate works alone" in caplog.text
        assert app.remote_open("main", 1.0, uid=0)
    finally:
        hook.stop()
        app.close()
    assert factory.pin(17).state is False
