"""Tracking and per-approach decisions: pure state machines, exercised with values."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.recognition.attempts import AttemptJudge
from facegate.recognition.tracking import Tracker
from facegate.vision.match import Gallery, MatchResult
from facegate.vision.types import Detection


def det(x: float, y: float = 100.0, size: float = 100.0) -> Detection:
    return Detection(box=(x, y, x + size, y + size), score=0.9, keypoints=((0.0, 0.0),) * 6)


def test_tracker_follows_a_moving_face_and_starts_new_tracks() -> None:
    tracker = Tracker(iou_threshold=0.3, lost_after_s=1.0)
    ids = [tracker.update(i * 0.1, [det(100 + 10 * i)])[0][0].id for i in range(10)]
    assert ids == [1] * 10
    ((track, _),) = tracker.update(1.0, [det(400)])  # jumped across the frame: someone else
    assert track.id == 2
    assert {t.id for t in tracker.tracks} == {1, 2}


def test_tracker_drops_tracks_not_seen_for_a_while() -> None:
    tracker = Tracker(iou_threshold=0.3, lost_after_s=1.0)
    tracker.update(0.0, [det(100)])
    tracker.update(0.5, [])
    assert [t.id for t in tracker.tracks] == [1]
    ((track, _),) = tracker.update(1.2, [det(100)])  # same place, but the person had left
    assert track.id == 2 and [t.id for t in tracker.tracks] == [2]


def test_tracker_two_faces_keep_their_identities() -> None:
    tracker = Tracker()
    first = tracker.update(0.0, [det(50), det(400)])
    second = tracker.update(0.1, [det(405), det(55)])  # reported in the other order
    assert [t.id for t, _ in first] == [1, 2]
    assert [t.id for t, _ in second] == [2, 1]
    assert all(t.hits == 2 for t in tracker.tracks)


def gallery_with(subject: str, template: np.ndarray) -> Gallery:
    g = Gallery(4)
    g.add(subject, template)
    return g


E1 = np.array([1.0, 0.0, 0.0, 0.0], np.float32)


def test_resident_granted_on_first_good_frame() -> None:
    g = gallery_with("p-1", E1)
    judge = AttemptJudge("main", fuse_frames=3, redecide_after_s=10)
    track = Tracker().update(0.0, [det(100)])[0][0]
    assert judge.wants_template(track, 0.0)
    result, decision = judge.add(track, E1 + 0.05, 0.0, lambda e: g.search(e, 0.9))
    assert result.matched and decision is not None
    assert decision.granted and decision.subject == "p-1" and decision.track == track.id
    assert not judge.wants_template(track, 5.0)  # decided: no more embedding
    assert judge.wants_template(track, 10.0)  # still there 10 s later: a fresh attempt
    assert track.templates == []


def test_stranger_denied_only_after_fusing_enough_frames() -> None:
    g = gallery_with("p-1", E1)
    judge = AttemptJudge("main", fuse_frames=3)
    track = Tracker().update(0.0, [det(100)])[0][0]
    stranger = np.array([0.0, 1.0, 0.0, 0.0], np.float32)
    decisions = [judge.add(track, stranger, t, lambda e: g.search(e, 0.9))[1] for t in (0, 1, 2)]
    assert decisions[:2] == [None, None]
    assert decisions[2] is not None and not decisions[2].granted
    assert decisions[2].subject is None and decisions[2].reason == "unknown face"


def test_fusion_lets_a_resident_in_whose_single_frames_are_each_too_weak() -> None:
    # Two noisy frames, each below the threshold alone; their average is closer to the truth.
    g = gallery_with("p-1", E1)
    judge = AttemptJudge("main", fuse_frames=3)
    track = Tracker().update(0.0, [det(100)])[0][0]
    a = np.array([1.0, 0.6, 0.0, 0.0], np.float32)
    b = np.array([1.0, -0.6, 0.0, 0.0], np.float32)
    search = lambda e: g.search(e, 0.9)  # noqa: E731
    assert search(a).score < 0.9 and search(b).score < 0.9
    _, d1 = judge.add(track, a, 0.0, search)
    second, d2 = judge.add(track, b, 0.1, search)
    assert d1 is None and d2 is not None and d2.granted
    assert second.score == pytest.approx(1.0)


def test_empty_gallery_never_grants() -> None:
    judge = AttemptJudge("main", fuse_frames=1)
    track = Tracker().update(0.0, [det(100)])[0][0]
    result, decision = judge.add(track, E1, 0.0, lambda e: Gallery(4).search(e, 0.5))
    assert result == MatchResult(None, -1.0, False, 0.5)
    assert decision is not None and not decision.granted
