"""An explicit trigger (issue 15 finding 1): with ``face_zone.trigger: request`` no face is
processed, not even detected, until the face key or the face button asks; with the default
``zone`` a face in the zone is processed. Faces outside the zone are never embedded either way.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.config import load_config_text
from facegate.errors import ConfigError
from facegate.policy.snapshot import FaceMatch
from facegate.readers.events import FaceRequested, KeyPress, PinEntered, ReaderEvent
from facegate.readers.face_button import FaceButton
from facegate.readers.pin_entry import PinAssembler, PinCollector
from facegate.readers.registry import reader_kinds
from facegate.recognition import FacePath
from facegate.service.face_way import FaceWay
from facegate.vision.types import Detection
from helpers import MINIMAL_CONFIG
from test_face_path import E1, Stages, frame


def _cfg(tmp_path: Path, zone: str = "", reader: str = ""):  # type: ignore[no-untyped-def]
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace(
        "  - {id: gate-reader, type: wiegand, door: main, d0: 22, d1: 23}\n",
        "  - {id: gate-reader, type: wiegand, door: main, d0: 22, d1: 23" + reader + "}\n",
    )
    return load_config_text(text + zone)


REQUEST = "face_zone: {trigger: request, awake_s: 10}\n"
FACE_KEY = ", pin: {face_key: '*'}"


class CountingStages(Stages):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detected = 0

    def detect(self, image):  # type: ignore[no-untyped-def]
        self.detected += 1
        return super().detect(image)


def test_zone_only_processes_a_face_in_the_zone_at_once(tmp_path: Path) -> None:
    stages = CountingStages(E1)
    face = FacePath(_cfg(tmp_path), "main", stages)  # type: ignore[arg-type]
    event = face.observe(frame(0), 0.0)
    assert event is not None and isinstance(event.outcome, FaceMatch) and stages.embedded == 1


def test_request_mode_processes_nothing_until_asked_then_one_decision(tmp_path: Path) -> None:
    stages = CountingStages(E1)
    face = FacePath(_cfg(tmp_path, REQUEST, FACE_KEY), "main", stages)  # type: ignore[arg-type]
    for i in range(5):  # a resident standing right at the terminal, not asking
        assert face.observe(frame(i), i * 0.1) is None
    assert stages.detected == 0 and stages.embedded == 0  # not even detected
    face.request(1.0 + 10.0)
    event = face.observe(frame(10), 1.0)
    assert event is not None and isinstance(event.outcome, FaceMatch)
    assert stages.embedded == 1
    assert face.observe(frame(11), 1.1) is None  # decided: asleep again until the next request
    face.request(2.0 + 10.0)
    face.reset()
    assert face.observe(frame(12), 12.5) is None  # the awake window ended unanswered


def test_a_request_never_lets_a_face_outside_the_zone_be_searched(tmp_path: Path) -> None:
    passer_by = Detection(box=(0.0, 100.0, 90.0, 190.0), score=0.9, keypoints=((0.0, 0.0),) * 6)
    stages = CountingStages(E1, faces=[passer_by])
    face = FacePath(_cfg(tmp_path, REQUEST, FACE_KEY), "main", stages)  # type: ignore[arg-type]
    face.request(100.0)
    for i in range(5):
        event = face.observe(frame(i), i * 0.1)
        assert event is not None and event.observation.skipped == "outside_zone"
    assert stages.embedded == 0 and not face.tracker.tracks


# -- the face key on a keypad -------------------------------------------------------------------


def _assembler(face_keys: str, clear: str = "*") -> tuple[PinAssembler, list[ReaderEvent]]:
    got: list[ReaderEvent] = []
    collector = PinCollector("t", clear_keys=clear, face_keys=face_keys)
    return PinAssembler(got.append, collector=collector), got


def test_the_face_key_asks_for_face_when_no_pin_is_typed() -> None:
    pins, got = _assembler("A")
    pins(KeyPress("kp", "A", 1.0))
    assert got == [FaceRequested("kp", 1.0)]


def test_the_face_key_mid_pin_is_ignored_and_the_pin_goes_on() -> None:
    pins, got = _assembler("A")
    for i, key in enumerate("12A34#"):
        pins(KeyPress("kp", key, float(i)))
    assert len(got) == 1 and isinstance(got[0], PinEntered) and got[0].pin == "1234"


def test_a_clear_key_doubling_as_face_key_still_clears_a_pin() -> None:
    pins, got = _assembler("*")
    for i, key in enumerate("12*"):
        pins(KeyPress("kp", key, float(i)))
    assert got == [] and not pins.busy()  # cleared, no face request
    pins(KeyPress("kp", "*", 5.0))
    assert got == [FaceRequested("kp", 5.0)]


def test_a_digit_cannot_be_the_face_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        _cfg(tmp_path, "", ", pin: {face_key: '5'}")
    with pytest.raises(ConfigError):
        _cfg(tmp_path, "", ", pin: {face_key: '#'}")  # the end key


def test_request_mode_needs_a_face_key_or_button_at_the_camera_door(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _cfg(tmp_path, REQUEST)
    assert "face_key" in " ".join(info.value.problems) or "face_key" in str(info.value)
    button = "  - {id: face-button, type: button, door: main, gpio: 5}\n"
    text = MINIMAL_CONFIG.format(clip=tmp_path / "clip", state=tmp_path / "state")
    text = text.replace("store:\n", button.join(["", "store:\n"]), 1)
    cfg = load_config_text(text + REQUEST)
    assert cfg.face_zone.trigger == "request"
    assert reader_kinds(cfg.readers[1]) == set()  # a button is no way in by itself


# -- the face button (gpiozero, mock pins) --------------------------------------------------------


def test_the_face_button_reports_a_request_per_press_debounced() -> None:
    factory, clock = MockFactory(), FakeClock(start=50.0)
    got: list[ReaderEvent] = []
    button = FaceButton(5, reader_id="btn", on_event=got.append, clock=clock,
                        pin_factory=factory, bounce_s=0.05)  # fmt: skip
    pin = factory.pin(5)
    try:
        pin.drive_low()  # pressed (to GND, pull-up)
        pin.drive_high()
        clock.advance(0.01)
        pin.drive_low()  # a bounce: the same press
        pin.drive_high()
        clock.advance(1.0)
        pin.drive_low()
        assert got == [FaceRequested("btn", 50.0), FaceRequested("btn", 51.01)]
    finally:
        button.close()


# -- FaceWay: readers wake or pause the face path ------------------------------------------------


def test_face_way_wakes_the_path_on_a_request_and_pauses_it_on_a_pin(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, REQUEST, FACE_KEY)
    clock = FakeClock(start=10.0)
    emitted: list[Any] = []
    actuator = SimpleNamespace(emit=emitted.append)
    way = FaceWay(cfg, SimpleNamespace(face_door="main"), actuator, clock, None)  # type: ignore[arg-type]
    way.face = FacePath(cfg, "main", CountingStages(E1))  # type: ignore[arg-type]
    assert way.face.asleep(10.0)
    way.reader_event("other", FaceRequested("x", 10.0))  # another door: nothing
    assert way.face.asleep(10.0)
    way.reader_event("main", FaceRequested("gate-reader", 10.0))
    assert not way.face.asleep(10.0) and way.face.asleep(20.0)
    assert [e.kind for e in emitted] == ["face_requested"]
    way.reader_event("main", PinEntered("gate-reader", "1234", 10.0))
    assert way.face.paused(10.0) and [e.kind for e in emitted][-1] == "face_paused"
