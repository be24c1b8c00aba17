"""The face path as one collaborator: frames in, FaceEvents out, no door, store or audit.

Stand-in stages (no models) so that each outcome is exercised with values: nobody in view,
a resident matched, a stranger fused and turned away, a photo refused by liveness (with the
intrusion text once refusals reach the limit), a challenge asked for.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from facegate.capture import Frame
from facegate.policy.snapshot import FaceMatch, LivenessRefused
from facegate.recognition import ChallengeRequested, FacePath
from facegate.vision.liveness import LivenessVerdict
from facegate.vision.liveness.challenge import ChallengePrompt
from facegate.vision.match import Gallery, MatchResult
from facegate.vision.quality import QualityReport
from facegate.vision.types import Detection
from helpers import make_config

FACE = Detection(box=(100.0, 100.0, 220.0, 220.0), score=0.9, keypoints=((0.0, 0.0),) * 6)
GOOD = QualityReport(True, None, 120.0, 0.0, 0.0, 200.0, 120.0, 1.0)
E1 = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
E2 = np.array([0.0, 1.0, 0.0, 0.0], np.float32)


class Stages:
    """What FacePath needs of a FacePipeline, with a fixed face and a fixed template."""

    space = "test-space"

    embedder = SimpleNamespace(dim=4)

    def __init__(self, template: np.ndarray, faces: list[Detection] | None = None) -> None:
        self.template = template
        self.faces = [FACE] if faces is None else faces
        self.gallery = Gallery(4)
        self.gallery.add("p-1", E1)
        self.threshold = 0.9
        self.embedded = 0

    def detect(self, _image: np.ndarray) -> list[Detection]:
        return self.faces

    def assess(self, _image: np.ndarray, _face: Detection) -> QualityReport:
        return GOOD

    def embed(self, _image: np.ndarray, _face: Detection) -> tuple[np.ndarray, dict[str, float]]:
        self.embedded += 1
        return self.template, {"embed": 1.0}

    def search(self, template: np.ndarray) -> MatchResult:
        return self.gallery.search(template, self.threshold)

    def check_threshold(self) -> None:
        pass


class Judge:
    """A liveness judge that answers the verdicts it is given, in turn."""

    def __init__(self, *verdicts: LivenessVerdict) -> None:
        self.verdicts = list(verdicts)
        self.forgotten: list[int] = []

    def observe(self, _track: int, _image: Any, _face: Detection, _now: float) -> LivenessVerdict:
        return self.verdicts.pop(0) if len(self.verdicts) > 1 else self.verdicts[0]

    def forget(self, track: int) -> None:
        self.forgotten.append(track)


def frame(i: int = 0) -> Frame:
    """A 640×480 frame; FACE (120 px, centred at x 160) is in the default face zone."""
    return Frame(np.zeros((480, 640, 3), np.uint8), i, float(i))


def path(tmp_path: Path, stages: Stages, judge: Judge | None = None, **live: Any) -> FacePath:
    cfg = make_config(tmp_path)
    if live:
        cfg = cfg.model_copy(update={"liveness": cfg.liveness.model_copy(update=live)})
    return FacePath(cfg, "main", stages, judge)  # type: ignore[arg-type]


def test_nobody_in_view_is_no_event(tmp_path: Path) -> None:
    face = path(tmp_path, Stages(E1, faces=[]))
    assert face.observe(frame(), 0.0) is None


def test_a_resident_is_a_face_match_for_decide(tmp_path: Path) -> None:
    stages = Stages(E1)
    face = path(tmp_path, stages)
    event = face.observe(frame(), 0.0)
    assert event is not None and event.door == "main" and event.challenge is None
    assert event.outcome == FaceMatch("main", "p-1", event.outcome.score)  # type: ignore[union-attr]
    assert event.observation.match is not None and event.observation.match.matched
    again = face.observe(frame(1), 0.1)  # decided: followed, not embedded again
    assert again is not None and again.outcome is None and again.observation.quality is None
    assert stages.embedded == 1


def test_a_stranger_is_an_unknown_face_after_fusing(tmp_path: Path) -> None:
    face = path(tmp_path, Stages(E2))
    outcomes = [face.observe(frame(i), i * 0.1) for i in range(3)]
    assert [e.outcome for e in outcomes[:2] if e is not None] == [None, None]
    last = outcomes[2]
    assert last is not None and isinstance(last.outcome, FaceMatch)
    assert last.outcome.subject is None and last.outcome.door == "main"


def test_a_photo_is_refused_without_a_template_and_repeats_are_an_attack(tmp_path: Path) -> None:
    stages = Stages(E1)
    judge = Judge(LivenessVerdict("spoof", "flat"))
    face = path(tmp_path, stages, judge, max_failures=2, failure_window_s=60.0)
    first = face.observe(frame(), 0.0)
    assert first is not None and first.outcome == LivenessRefused("main", "flat", None)
    assert first.observation.liveness == "spoof" and stages.embedded == 0
    face.reset()  # a new approach (a new track)
    second = face.observe(frame(1), 1.0)
    assert second is not None and isinstance(second.outcome, LivenessRefused)
    assert second.outcome.attack == "2 faces failed liveness within 60 s"


def test_a_challenge_is_asked_for_and_no_template_made_meanwhile(tmp_path: Path) -> None:
    prompt = ChallengePrompt("blink", "Please blink", "blink", 5.0)
    stages = Stages(E1)
    judge = Judge(LivenessVerdict("challenge", "challenge_started", prompt=prompt))
    event = path(tmp_path, stages, judge).observe(frame(), 0.0)
    assert event is not None and event.outcome is None
    assert event.challenge == ChallengeRequested("blink", "Please blink", 5.0)
    assert event.observation.liveness == "challenge" and stages.embedded == 0


# -- only faces that asked (issue 15): the zone and the keypad pause ----------------------------


def test_a_face_outside_the_zone_is_seen_but_never_tracked_or_searched(tmp_path: Path) -> None:
    at_the_edge = Detection(box=(0.0, 100.0, 90.0, 190.0), score=0.9, keypoints=((0.0, 0.0),) * 6)
    far_away = Detection(box=(300.0, 100.0, 360.0, 160.0), score=0.9, keypoints=((0.0, 0.0),) * 6)
    for face_box in (at_the_edge, far_away):  # centre at x 0.07; 60 px wide
        stages = Stages(E1, faces=[face_box])
        face = path(tmp_path, stages)
        for i in range(5):
            event = face.observe(frame(i), i * 0.1)
            assert event is not None and event.outcome is None
            assert event.observation.skipped == "outside_zone" and event.observation.track == -1
        assert stages.embedded == 0 and not face.tracker.tracks


def test_the_face_path_pauses_while_a_keypad_is_in_use(tmp_path: Path) -> None:
    stages = Stages(E1)
    face = path(tmp_path, stages)
    face.pause(2.0)
    assert face.observe(frame(0), 0.0) is None and face.observe(frame(1), 1.9) is None
    assert stages.embedded == 0
    event = face.observe(frame(2), 2.0)
    assert event is not None and isinstance(event.outcome, FaceMatch)
    assert stages.embedded == 1
