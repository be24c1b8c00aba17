"""The frame detector (paper margin, bezel), the mouth challenge and the first challenge's choice.

Synthetic images and landmarks only; the measured numbers come from ``facegate eval-pad``.
"""

from __future__ import annotations

import random
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.config.liveness import ChallengeConfig, FrameConfig, LivenessConfig
from facegate.gate.display import DEFAULT_TEXTS
from facegate.gate.feedback import DEFAULT_PATTERNS, challenge_feedback
from facegate.vision.liveness.challenge import ChallengeState
from facegate.vision.liveness.frame import FrameSignal, frame_sides
from facegate.vision.liveness.judge import LivenessJudge
from facegate.vision.types import Detection
from test_liveness_signals import (
    FPS,
    T0,
    _with_mouth,
    blink_frames,
    feed,
    run_until_challenge,
    still,
    synthetic_head,
)

BOX = (270.0, 190.0, 370.0, 290.0)  # a 100-px face in a 640x480 frame
FACE = Detection(
    box=BOX,
    score=0.9,
    keypoints=((300.0, 230.0), (340.0, 230.0), (320.0, 250.0), (320.0, 270.0), (275.0, 235.0),
               (365.0, 235.0)),
)  # fmt: skip


def scene(*, sides: tuple[str, ...] = (), face: bool = True) -> np.ndarray:
    """A grey scene with a face-like blob and straight edges on the given sides of it."""
    img = np.full((480, 640, 3), 90, np.uint8)
    if face:
        cv2.ellipse(img, (320, 240), (45, 55), 0, 0, 360, (190, 150, 130), -1)
    # A light card about 45 px beyond the face on each side: its edges where asked.
    x1, y1, x2, y2 = 225, 145, 415, 335
    if "left" in sides:
        img[y1:y2, x1 : x1 + 4] = 230
    if "right" in sides:
        img[y1:y2, x2 - 4 : x2] = 230
    if "top" in sides:
        img[y1 : y1 + 4, x1:x2] = 230
    if "bottom" in sides:
        img[y2 - 4 : y2, x1:x2] = 230
    return img


def test_frame_sides_counts_the_edges_around_the_face() -> None:
    assert frame_sides(scene(), FACE) == 0
    assert frame_sides(scene(sides=("left", "right")), FACE) == 2
    assert frame_sides(scene(sides=("left", "right", "top")), FACE) == 3
    assert frame_sides(scene(sides=("left", "right", "top", "bottom")), FACE) == 4


def test_frame_sides_ignores_edges_through_the_face_and_far_away() -> None:
    img = scene()
    img[:, 318:322] = 230  # a vertical line through the face centre: not beside it
    img[10:14, :] = 230  # a horizontal line far above (outside the searched square)
    assert frame_sides(img, FACE) == 0


def test_frame_sides_ignores_the_pictures_own_border() -> None:
    """A face near the image's corner: the edge of the picture itself is no frame."""
    face = Detection(box=(0.0, 0.0, 100.0, 100.0), score=0.9, keypoints=FACE.keypoints)
    img = np.full((480, 640, 3), 90, np.uint8)
    cv2.ellipse(img, (50, 50), (45, 55), 0, 0, 360, (190, 150, 130), -1)
    assert frame_sides(img, face) == 0


def test_frame_sides_of_a_degenerate_box_is_none() -> None:
    tiny = Detection(box=(10.0, 10.0, 12.0, 12.0), score=0.9, keypoints=FACE.keypoints)
    assert frame_sides(scene(), tiny) is None


def test_frame_signal_takes_the_kth_highest_and_refuses_a_closed_frame() -> None:
    cfg = FrameConfig(every_n_frames=1, kth_highest=2, min_sides=4)
    closed, open_ = scene(sides=("left", "right", "top", "bottom")), scene(sides=("left",))
    one_odd = FrameSignal(cfg)
    for img in [closed] + [open_] * 5:
        one_odd.add(img, FACE)
    assert one_odd.result().status == "inconclusive"  # a single odd frame is ignored
    framed = FrameSignal(cfg)
    for img in [closed, open_, closed]:
        framed.add(img, FACE)
    result = framed.result()
    assert (result.status, result.score) == ("spoof", 4.0)


def test_frame_signal_samples_every_nth_frame_and_can_be_switched_off() -> None:
    closed = scene(sides=("left", "right", "top", "bottom"))
    every_third = FrameSignal(FrameConfig(every_n_frames=3))
    for _ in range(7):
        every_third.add(closed, FACE)
    assert len(every_third.scores) == 3
    off = FrameSignal(FrameConfig(enabled=False, every_n_frames=1))
    for _ in range(7):
        off.add(closed, FACE)
    assert off.scores == [] and off.result().status == "inconclusive"


def test_judge_refuses_a_face_in_a_closed_frame() -> None:
    cfg = LivenessConfig(mode="passive+challenge", frame=FrameConfig(every_n_frames=1))
    judge = LivenessJudge(cfg, None, rng=random.Random(0))
    closed = scene(sides=("left", "right", "top", "bottom"))
    noise = np.random.default_rng(3)
    from facegate.vision.landmarks import FaceLandmarks

    verdicts = []
    for k in range(4):
        pts = still(synthetic_head(), noise).astype(np.float32)
        verdicts.append(
            judge.observe(1, closed, FACE, T0 + k / FPS, landmarks=FaceLandmarks(pts, 1.0))
        )
    assert (verdicts[-1].status, verdicts[-1].reason) == ("spoof", "frame")
    assert verdicts[-1].scores["frame"] == 4.0


# -- the mouth challenge -------------------------------------------------------------------------


def mouth_challenge() -> ChallengeState:
    return ChallengeState(ChallengeConfig(), "mouth", 10.0, (0.0, 0.5), 0.15, 0.16)


def test_mouth_challenge_passes_on_a_mouth_that_opens_and_closes() -> None:
    ch = mouth_challenge()
    for v in (0.1, 0.1, 0.4, 0.1):
        ch.observe_mouth(v)
    assert ch.passed(0, solid=False)
    assert ch.prompt.text == ChallengeConfig().text_mouth and ch.prompt.kind == "mouth"


@pytest.mark.parametrize(
    "openings", [[0.1] * 10, [0.1, 0.15, 0.12, 0.1, 0.14], [0.1, 0.5, 0.1]]
)  # still; landmark noise; too few frames to judge
def test_mouth_challenge_fails_without_a_real_opening(openings: list[float]) -> None:
    ch = mouth_challenge()
    for v in openings:
        ch.observe_mouth(v)
    assert not ch.passed(3, solid=True)  # blinks and turns do not answer it


def test_mouth_feedback_pattern_and_display_text_exist() -> None:
    assert challenge_feedback("mouth") == "challenge_mouth"
    assert "challenge_mouth" in DEFAULT_PATTERNS and "challenge_mouth" in DEFAULT_TEXTS


def cfg_with(**challenge: Any) -> LivenessConfig:
    return LivenessConfig(mode="passive+challenge", challenge=ChallengeConfig(**challenge))


def talking(noise: np.random.Generator, n: int, t0: float = T0) -> list[tuple[float, Any]]:
    return [(t0 + k / FPS, _with_mouth(still(synthetic_head(), noise), k)) for k in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_a_talking_face_is_asked_to_open_its_mouth_first(seed: int) -> None:
    judge = LivenessJudge(cfg_with(), None, rng=random.Random(seed))
    verdicts = feed(judge, talking(np.random.default_rng(seed), 60))
    started = next(v for _, v in verdicts if v.reason == "challenge_started")
    assert started.evidence == ("expression",)
    assert started.prompt is not None and started.prompt.kind == "mouth"


def test_talking_on_after_a_mouth_prompt_answers_it() -> None:
    judge = LivenessJudge(cfg_with(), None, rng=random.Random(1))
    noise = np.random.default_rng(4)
    verdicts = feed(judge, talking(noise, 200))
    reasons = [v.reason for _, v in verdicts]
    assert "challenge_started" in reasons
    final = verdicts[-1][1]
    assert (final.status, final.reason) == ("live", "challenge_passed")
    assert final.evidence == ("expression", "challenge")


def test_without_prefer_seen_the_first_challenge_is_drawn_from_every_kind() -> None:
    kinds = set()
    for seed in range(30):
        judge = LivenessJudge(cfg_with(prefer_seen=False), None, rng=random.Random(seed))
        verdicts = feed(judge, talking(np.random.default_rng(seed), 60))
        started = next(v for _, v in verdicts if v.reason == "challenge_started")
        assert started.prompt is not None
        kinds.add(started.prompt.kind)
    assert kinds == {"blink", "turn", "mouth"}


def test_a_face_that_showed_nothing_is_asked_any_kind() -> None:
    kinds = set()
    for seed in range(30):
        judge = LivenessJudge(cfg_with(), None, rng=random.Random(seed))
        _, verdict = run_until_challenge(judge, np.random.default_rng(seed))
        assert verdict.prompt is not None
        kinds.add(verdict.prompt.kind)
    assert kinds == {"blink", "turn", "mouth"}


def test_a_blinking_face_is_asked_to_blink_first() -> None:
    judge = LivenessJudge(cfg_with(), None, rng=random.Random(2))
    noise = np.random.default_rng(5)
    verdicts = feed(judge, blink_frames(T0, noise, fps=FPS))
    t = verdicts[-1][0]
    more = feed(judge, [(t + (k + 1) / FPS, still(synthetic_head(), noise)) for k in range(60)])
    started = next(v for _, v in verdicts + more if v.reason == "challenge_started")
    assert started.evidence == ("blink",)
    assert started.prompt is not None and started.prompt.kind == "blink"


def test_a_mouth_that_answers_a_challenge_is_not_also_passive_expression() -> None:
    """One event is one piece of evidence: a still face asked to open its mouth, which then
    talks on, has the answered challenge but not also a passive moving mouth: it gets the
    retry (a blink) instead of being accepted on one movement counted twice."""
    cfg = cfg_with(kinds=("mouth", "blink"))
    seed = next(k for k in range(50) if random.Random(k).choice(["mouth", "blink"]) == "mouth")
    judge = LivenessJudge(cfg, None, rng=random.Random(seed))
    noise = np.random.default_rng(6)
    started, verdict = run_until_challenge(judge, noise)
    assert verdict.prompt is not None and verdict.prompt.kind == "mouth"
    answer = feed(judge, talking(noise, 30, t0=started + 1 / FPS))
    assert all(v.status != "live" for _, v in answer)
    assert all("expression" not in v.evidence for _, v in answer)
    retry = [v for _, v in answer if v.reason == "challenge_started"]
    assert retry and retry[0].prompt is not None and retry[0].prompt.kind == "blink"
    assert answer[-1][1].evidence == ("challenge",)
