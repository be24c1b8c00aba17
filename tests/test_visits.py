"""One decision per visit: the pure state machine between observations and the relay."""

from __future__ import annotations

from facegate.config import ServiceConfig
from facegate.service.pipeline import FaceObservation
from facegate.service.visits import VisitTracker
from facegate.vision.match import MatchResult
from facegate.vision.types import Detection

FACE = Detection(box=(100, 100, 200, 200), score=0.9, keypoints=((0.0, 0.0),) * 6)
CFG = ServiceConfig(grant_cooldown_s=10, absence_reset_s=1.5, deny_after_frames=3)


def seen(subject: str | None, score: float, threshold: float = 0.9) -> FaceObservation:
    match = MatchResult(subject, score, score >= threshold, threshold)
    return FaceObservation(FACE, match)


def feed(tracker: VisitTracker, frames: list, dt: float = 0.1, t0: float = 0.0) -> list:
    out = []
    for i, obs in enumerate(frames):
        d = tracker.observe(t0 + i * dt, obs)
        if d is not None:
            out.append(d)
    return out


def test_one_grant_per_visit_of_a_resident() -> None:
    tracker = VisitTracker("main", CFG)
    decisions = feed(tracker, [seen("p-1", 0.95)] * 20)
    assert len(decisions) == 1
    d = decisions[0]
    assert d.granted and d.subject == "p-1" and d.door == "main" and d.method == "face"
    assert d.score == 0.95


def test_resident_granted_again_after_leaving() -> None:
    tracker = VisitTracker("main", CFG)
    frames = [seen("p-1", 0.95)] * 5 + [None] * 20 + [seen("p-1", 0.95)] * 5
    assert [d.granted for d in feed(tracker, frames)] == [True, True]


def test_resident_staying_in_view_granted_again_only_after_cooldown() -> None:
    tracker = VisitTracker("main", CFG)
    decisions = feed(tracker, [seen("p-1", 0.95)] * 150)  # 15 s in view
    assert [round(d.at, 1) for d in decisions] == [0.0, 10.0]


def test_short_gap_does_not_end_the_visit() -> None:
    tracker = VisitTracker("main", CFG)
    frames = [seen("p-1", 0.95)] * 3 + [None] * 5 + [seen("p-1", 0.95)] * 3  # 0.5 s gap
    assert len(feed(tracker, frames)) == 1


def test_stranger_denied_once_after_consecutive_frames() -> None:
    tracker = VisitTracker("main", CFG)
    frames = [seen("p-1", 0.5)] * 2
    assert feed(tracker, frames) == []
    decisions = feed(tracker, [seen("p-1", 0.5)] * 10, t0=0.2)
    assert len(decisions) == 1
    d = decisions[0]
    assert not d.granted and d.subject is None and d.reason == "unknown face"


def test_one_bad_frame_then_match_is_a_grant_not_a_denial() -> None:
    tracker = VisitTracker("main", CFG)
    frames = [seen("p-1", 0.5), seen("p-1", 0.5), seen("p-1", 0.95)]
    assert [d.granted for d in feed(tracker, frames)] == [True]


def test_unusable_face_keeps_visit_alive_without_deciding() -> None:
    tracker = VisitTracker("main", CFG)
    small = FaceObservation(FACE, None, skipped="too small")
    frames = [seen("p-1", 0.95)] + [small] * 30 + [seen("p-1", 0.95)]
    assert len(feed(tracker, frames)) == 1


def test_denied_then_recognised_in_same_visit() -> None:
    tracker = VisitTracker("main", CFG)
    frames = [seen("p-1", 0.5)] * 3 + [seen("p-1", 0.95)] * 3
    assert [d.granted for d in feed(tracker, frames)] == [False, True]
