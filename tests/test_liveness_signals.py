"""Liveness (presentation-attack detection): the signals, the judge and their configuration.

Everything runs on synthetic landmarks built from geometry, so each expectation follows from
the scene rather than from a recorded run:

* a synthetic head whose outline points (eye corners, forehead, temples, cheekbones) lie on
  the plane ``z = 0`` and whose nose sticks out ``0.6`` inter-ocular distances towards the
  camera, with eyelid and upper-lip points where the eye aspect ratio and the pose proxies
  read them;
* its *flat* twin (every point on ``z = 0``): a photo of that face held up as a card;
* both seen through a pinhole camera (focal length = distance, so a frontal face has exactly
  ``IOD`` pixels between the eyes), turned, nodded and tilted with real perspective.

One test also builds the head from the real MediaPipe mesh of a shared test photo (skipped
when the models or photos are absent), which checks the vertex indices against the real mesh
topology.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from facegate.config.liveness import (
    BlinkConfig,
    ChallengeConfig,
    ExpressionConfig,
    LivenessConfig,
    PadModelConfig,
    ScreenConfig,
    StructureConfig,
)
from facegate.errors import ModelError
from facegate.recognition.liveness import FailureCounter, build_judge
from facegate.vision.landmarks import (
    LEFT_EYE_EAR,
    RIGHT_EYE_EAR,
    FaceLandmarks,
    eye_aspect_ratios,
)
from facegate.vision.liveness.blink import BlinkSignal, face_aspect
from facegate.vision.liveness.challenge import ChallengeState, pose_proxy, yaw_proxy
from facegate.vision.liveness.expression import ExpressionSignal, mouth_opening
from facegate.vision.liveness.judge import LivenessJudge, LivenessVerdict
from facegate.vision.liveness.model import ModelSamples, sharpness
from facegate.vision.liveness.screen import ScreenSignal, moire_score
from facegate.vision.liveness.structure import (
    NOSE_POINTS,
    OUTLINE_POINTS,
    StructureSignal,
    inter_ocular,
    planar_residuals,
)
from facegate.vision.types import Detection
from helpers import load_rgb, make_config

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

Points = npt.NDArray[np.float64]
_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------------
# The synthetic scene
# ---------------------------------------------------------------------------------------------

IOD = 63.0  # inter-ocular distance of the head model (mm), and in pixels when frontal
DISTANCE = 500.0  # camera to the head's outline plane (mm)
FOCAL = 500.0  # pixels: FOCAL / DISTANCE = 1, so a frontal face keeps its model size
CENTRE = np.array([320.0, 240.0])
NOSE_DEPTH = -0.6 * IOD  # towards the camera

# Eyelid vertices: upper lid points above the lower lid points below them (p2/p6, p3/p5).
RIGHT_UPPER = (RIGHT_EYE_EAR[1], RIGHT_EYE_EAR[2])
RIGHT_LOWER = (RIGHT_EYE_EAR[5], RIGHT_EYE_EAR[4])
LEFT_UPPER = (LEFT_EYE_EAR[1], LEFT_EYE_EAR[2])
LEFT_LOWER = (LEFT_EYE_EAR[5], LEFT_EYE_EAR[4])
LID_HALF_OPENING = 4.0  # mm above/below the eye line: EAR = 8 / 27 ≈ 0.30 when open
UPPER_LIP = (0, 13)
NON_EYE_OUTLINE = tuple(i for i in OUTLINE_POINTS if i not in (33, 133, 362, 263))

IMAGE = np.zeros((480, 640, 3), dtype=np.uint8)
DETECTION = Detection(
    box=(250.0, 170.0, 390.0, 330.0),
    score=0.9,
    keypoints=((288.0, 240.0), (352.0, 240.0), (320.0, 280.0), (320.0, 300.0), (250.0, 240.0),
               (390.0, 240.0)),
)  # fmt: skip


def synthetic_head(*, flat: bool = False, right_eye: float = 1.0, left_eye: float = 1.0) -> Points:
    """``(468, 3)`` model points (mm, x right, y down, z away from the camera).

    ``right_eye``/``left_eye`` scale how far each eye's lids are open (1 = open).
    """
    rng = np.random.default_rng(7)
    p = np.zeros((468, 3))
    # Every vertex the signals do not read lies somewhere on the face plane.
    p[:, 0] = rng.uniform(-60.0, 60.0, 468)
    p[:, 1] = rng.uniform(-60.0, 70.0, 468)
    half = IOD / 2.0
    # Eye corners: eye centres at ±IOD/2, each eye 27 mm wide.
    p[33] = (-half - 13.5, 0.0, 0.0)  # subject's right eye, outer corner (image left)
    p[133] = (-half + 13.5, 0.0, 0.0)
    p[362] = (half - 13.5, 0.0, 0.0)
    p[263] = (half + 13.5, 0.0, 0.0)
    # Forehead, temples, sides of the face and cheekbones, all on z = 0.
    for i, x, y in (
        (10, 0.0, -70.0), (151, 0.0, -55.0), (109, -25.0, -52.0), (338, 25.0, -52.0),
        (67, -45.0, -48.0), (297, 45.0, -48.0),
        (234, -70.0, 5.0), (454, 70.0, 5.0), (127, -70.0, -15.0), (356, 70.0, -15.0),
        (162, -68.0, -35.0), (389, 68.0, -35.0), (93, -68.0, 25.0), (323, 68.0, 25.0),
        (123, -40.0, 30.0), (352, 40.0, 30.0),
    ):  # fmt: skip
        p[i] = (x, y, 0.0)
    # The nose: tip (1) and dorsum/alae, all in front of the face plane.
    for i, x, y in zip(
        NOSE_POINTS,
        (0.0, 0.0, 0.0, 0.0, -12.0, 12.0),
        (40.0, 35.0, 28.0, 15.0, 40.0, 40.0),
        strict=True,
    ):
        p[i] = (x, y, NOSE_DEPTH)
    # Eyelids above/below the eye line, a third and two thirds across each eye.
    for upper, lower, xs, opening in (
        (RIGHT_UPPER, RIGHT_LOWER, (-half - 4.5, -half + 4.5), right_eye),
        (LEFT_UPPER, LEFT_LOWER, (half - 4.5, half + 4.5), left_eye),
    ):
        for up, lo, x in zip(upper, lower, xs, strict=True):
            p[up] = (x, -LID_HALF_OPENING * opening, 0.0)
            p[lo] = (x, LID_HALF_OPENING * opening, 0.0)
    p[UPPER_LIP[0]] = (0.0, 62.0, 0.0)
    p[UPPER_LIP[1]] = (0.0, 66.0, 0.0)
    if flat:
        p[:, 2] = 0.0
    return p


def rotation(yaw: float, pitch: float, roll: float = 0.0) -> Points:
    """Rotation (radians) about the vertical, horizontal and viewing axes."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def project(
    model: Points,
    *,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    distance: float = DISTANCE,
    shift: tuple[float, float] = (0.0, 0.0),
) -> Points:
    """The model posed in front of a pinhole camera: ``(468, 3)`` pixels (z: depth offset)."""
    rot = rotation(math.radians(yaw_deg), math.radians(pitch_deg), math.radians(roll_deg))
    cam = model @ rot.T + np.array([shift[0], shift[1], distance])
    out = np.empty_like(model)
    out[:, :2] = FOCAL * cam[:, :2] / cam[:, 2:3] + CENTRE
    out[:, 2] = cam[:, 2] - distance
    return out


def still(model: Points, rng: np.random.Generator, noise_px: float = 0.1) -> Points:
    """A frontal view with sub-pixel landmark noise."""
    return project(model) + rng.normal(0.0, noise_px, (468, 3))


def moving_views(
    model: Points,
    n: int,
    fps: float,
    rng: np.random.Generator,
    *,
    yaw_amp: float = 18.0,
    pitch_amp: float = 8.0,
    roll_amp: float = 0.0,
    distance: float = DISTANCE,
    noise_px: float = 0.2,
    t0: float = 0.0,
) -> list[tuple[float, Points]]:
    """``n`` frames of the model turning and nodding (and, for a card, tilting and sliding)."""
    frames = []
    for k in range(n):
        t = k / fps
        pts = project(
            model,
            yaw_deg=yaw_amp * math.sin(2.0 * math.pi * t / 2.0),
            pitch_deg=pitch_amp * math.sin(2.0 * math.pi * t / 1.3),
            roll_deg=roll_amp * math.sin(2.0 * math.pi * t / 1.7),
            distance=distance,
            shift=(10.0 * math.sin(t), 5.0 * math.cos(t)),
        )
        frames.append((t0 + t, pts + rng.normal(0.0, noise_px, pts.shape)))
    return frames


def pose_range(frames: Sequence[tuple[float, Points]]) -> tuple[float, float]:
    poses = np.array([pose_proxy(p) for _, p in frames])
    spread = poses.max(axis=0) - poses.min(axis=0)
    return float(spread[0]), float(spread[1])


# ---------------------------------------------------------------------------------------------
# The scene itself (so that the tests below rest on the geometry they claim)
# ---------------------------------------------------------------------------------------------


def test_synthetic_head_has_the_intended_geometry() -> None:
    frontal = project(synthetic_head())
    assert inter_ocular(frontal) == pytest.approx(IOD)
    right, left = eye_aspect_ratios(frontal)
    assert right == pytest.approx(2 * LID_HALF_OPENING / 27.0)
    assert left == pytest.approx(right)
    assert face_aspect(frontal) == pytest.approx(64.0 / IOD)  # eye line to the lip midpoint
    # Frontal: the nose tip is on the face's midline, 40 mm below the eyes (magnified by its
    # nearness to the camera); the upper lip is 64 mm below them.
    yaw, pitch = pose_proxy(frontal)
    assert yaw == pytest.approx(0.0, abs=1e-9)
    assert pitch == pytest.approx(40.0 * DISTANCE / (DISTANCE + NOSE_DEPTH) / 64.0)
    # The photo of it has no depth: the nose tip sits exactly 40/64 of the way down.
    assert pose_proxy(project(synthetic_head(flat=True)))[1] == pytest.approx(40.0 / 64.0)


# ---------------------------------------------------------------------------------------------
# planar_residuals and StructureSignal
# ---------------------------------------------------------------------------------------------


def test_planar_residuals_of_identical_frames_are_zero() -> None:
    frame = project(synthetic_head())
    result = planar_residuals(frame, frame)
    assert result is not None
    assert result == pytest.approx((0.0, 0.0), abs=1e-6)


def test_planar_residuals_ignore_an_image_plane_similarity() -> None:
    """Moving, rotating and scaling the *image* of a 3-D head is neither motion nor parallax."""
    frame = project(synthetic_head(), yaw_deg=10.0)
    angle = math.radians(12.0)
    sim = 1.3 * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = frame.copy()
    moved[:, :2] = frame[:, :2] @ sim.T + np.array([40.0, -25.0])
    result = planar_residuals(frame, moved)
    assert result is not None
    assert result == pytest.approx((0.0, 0.0), abs=1e-4)


def test_planar_residuals_see_the_nose_leave_the_plane_of_a_turning_head() -> None:
    before = project(synthetic_head())
    after = project(synthetic_head(), yaw_deg=15.0)
    result = planar_residuals(before, after)
    assert result is not None
    parallax, motion = result
    # The outline is exactly planar, so its homography leaves only the nose's own shift:
    # NOSE_DEPTH * sin(15°) sideways, less a little foreshortening, over the IOD.
    expected = abs(NOSE_DEPTH) * math.sin(math.radians(15.0)) / IOD
    assert parallax == pytest.approx(expected, rel=0.15)
    assert parallax > 3 * motion


def test_planar_residuals_of_a_tilted_card_have_no_parallax() -> None:
    card = synthetic_head(flat=True)
    before = project(card, distance=350.0)
    after = project(card, yaw_deg=25.0, pitch_deg=10.0, distance=350.0)
    result = planar_residuals(before, after)
    assert result is not None
    parallax, motion = result
    assert motion > StructureConfig().pair_motion  # perspective does change the outline
    assert parallax < 1e-3  # but a homography explains the whole picture


def test_planar_residuals_refuse_a_degenerate_face() -> None:
    collapsed = np.full((468, 3), 100.0)
    assert planar_residuals(collapsed, project(synthetic_head())) is None


def test_structure_of_a_turning_head_is_live_and_turns_the_pose() -> None:
    cfg = StructureConfig()
    signal = StructureSignal(cfg)
    frames = moving_views(synthetic_head(), 40, 15.0, np.random.default_rng(1))
    results = []
    for t, pts in frames:
        signal.add(pts, t)
        results.append(signal.result())
    assert all(r.status == "inconclusive" for r in results[: cfg.min_frames - 1])
    assert results[-1].status == "live", results[-1]
    assert results[-1].score >= cfg.solid_ratio
    assert max(pose_range(frames)) > cfg.min_turn


def test_structure_of_a_flat_card_is_flat_and_never_live() -> None:
    cfg = StructureConfig()
    signal = StructureSignal(cfg)
    # The photo turned, nodded and tilted as a whole, close to the lens (strong perspective).
    frames = moving_views(
        synthetic_head(flat=True), 40, 15.0, np.random.default_rng(2), roll_amp=10.0,
        distance=350.0,
    )  # fmt: skip
    statuses = []
    for t, pts in frames:
        signal.add(pts, t)
        statuses.append(signal.result().status)
    assert "live" not in statuses
    assert statuses[-1] == "spoof"
    assert signal.result().detail == "flat"
    assert signal.result().score < cfg.flat_ratio
    # Turned and nodded about its own axes, a card barely moves the nose along the eye line
    # or the midline: no head turn to be read from it.
    yaw_range, pitch_range = pose_range(frames)
    yaws = [yaw_proxy(p) for _, p in frames]
    assert max(yaws) - min(yaws) == pytest.approx(yaw_range)
    assert yaw_range < cfg.min_turn
    assert pitch_range < cfg.min_turn


def test_structure_of_a_still_face_is_inconclusive() -> None:
    signal = StructureSignal(StructureConfig())
    rng = np.random.default_rng(3)
    model = synthetic_head()
    for k in range(45):
        signal.add(still(model, rng, noise_px=0.3), k / 15.0)
    result = signal.result()
    assert result.status == "inconclusive"
    assert signal.measures()[2] == 0  # no pair moved enough to count


def test_structure_forgets_old_motion() -> None:
    cfg = StructureConfig(window_s=1.0)
    signal = StructureSignal(cfg)
    rng = np.random.default_rng(4)
    for t, pts in moving_views(synthetic_head(), 30, 15.0, rng):
        signal.add(pts, t)
    assert signal.result().status == "live"
    last = 29 / 15.0
    model = synthetic_head()
    # The head then stays still for more than twice the window: no frame of the turn is
    # within a window of any frame seen since, so the old turn no longer counts.
    for k in range(1, 36):
        signal.add(still(model, rng), last + k / 15.0)
    assert signal.result().status == "inconclusive"


def test_structure_needs_min_frames() -> None:
    cfg = StructureConfig(min_frames=30)
    signal = StructureSignal(cfg)
    frames = moving_views(synthetic_head(), 40, 15.0, np.random.default_rng(5))
    for t, pts in frames[:29]:
        signal.add(pts, t)
    assert signal.result().status == "inconclusive"
    for t, pts in frames[29:]:
        signal.add(pts, t)
    assert signal.result().status == "live"


@pytest.mark.parametrize(
    ("override", "reason"),
    [({"solid_ratio": 40.0}, "ratio"), ({"solid_parallax": 4.0}, "parallax")],
)
def test_structure_needs_both_ratio_and_parallax_for_live(
    override: dict[str, float], reason: str
) -> None:
    """A turning head that misses either live threshold stays between the thresholds."""
    frames = moving_views(synthetic_head(), 40, 15.0, np.random.default_rng(1))
    default = StructureSignal(StructureConfig())
    strict = StructureSignal(StructureConfig.model_validate(override))
    for t, pts in frames:
        default.add(pts, t)
        strict.add(pts, t)
    assert default.result().status == "live"
    parallax, ratio, _ = strict.measures()
    assert (ratio if reason == "ratio" else parallax) < next(iter(override.values()))
    assert strict.result().status == "inconclusive"


@pytest.fixture(scope="module")
def real_mesh_head(models_dir: Path, testdata: Path) -> Points:
    """A head from MediaPipe's own mesh of a real photo, centred and scaled to ``IOD``."""
    from facegate.vision.detect import BlazeFaceDetector
    from facegate.vision.landmarks import FaceMesh

    photo = testdata / "faces" / "barack_obama" / "obama.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    image = load_rgb(photo)
    detections = BlazeFaceDetector(models_dir / "face_detection_short_range.tflite").detect(image)
    if not detections:
        pytest.skip(f"no face found in {photo.name}")
    detection = max(detections, key=lambda d: d.area)
    found = FaceMesh(models_dir / "face_mesh_mediapipe.tflite").landmarks(image, detection)
    assert found.presence > 0.5
    points = found.points.astype(np.float64)
    points -= points[list(OUTLINE_POINTS)].mean(axis=0)
    return np.asarray(points * (IOD / inter_ocular(points)), dtype=np.float64)


def test_structure_on_the_real_mesh_geometry(real_mesh_head: Points) -> None:
    """The vertex indices pick a near-planar outline and a protruding nose on the real mesh."""
    cfg = StructureConfig()
    nose_depth = real_mesh_head[list(NOSE_POINTS), 2].mean()
    outline_depth = real_mesh_head[list(OUTLINE_POINTS), 2]
    assert nose_depth < outline_depth.min()  # z is negative towards the camera
    live = StructureSignal(cfg)
    head_frames = moving_views(real_mesh_head, 40, 15.0, np.random.default_rng(6))
    for t, pts in head_frames:
        live.add(pts, t)
    assert live.result().status == "live"
    assert max(pose_range(head_frames)) > cfg.min_turn
    flat = real_mesh_head.copy()
    flat[:, 2] = 0.0
    photo = StructureSignal(cfg)
    photo_frames = moving_views(flat, 40, 15.0, np.random.default_rng(6))
    for t, pts in photo_frames:
        photo.add(pts, t)
    assert photo.result().status == "spoof"
    assert max(pose_range(photo_frames)) < cfg.min_turn


# ---------------------------------------------------------------------------------------------
# BlinkSignal
# ---------------------------------------------------------------------------------------------

BLINK_FPS = 25.0
OPEN = (1.0, 1.0)
CLOSING = (0.65, 0.65)  # the eye aspect ratio falls by 35 %


def run_blinks(
    eyes: Sequence[tuple[float, float]],
    cfg: BlinkConfig | None = None,
    *,
    transform: Callable[[int, Points], Points] | None = None,
    seed: int = 11,
) -> BlinkSignal:
    """Feed a still face whose lids open as ``eyes[k] = (right, left)`` in frame ``k``."""
    signal = BlinkSignal(cfg or BlinkConfig())
    rng = np.random.default_rng(seed)
    for k, (right, left) in enumerate(eyes):
        pts = still(synthetic_head(right_eye=right, left_eye=left), rng, noise_px=0.05)
        if transform is not None:
            pts = transform(k, pts)
        signal.add(pts, k / BLINK_FPS)
    return signal


def test_one_blink_is_counted_once() -> None:
    sequence = [OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 20
    signal = run_blinks(sequence)
    assert len(signal.blinks) == 1
    # It ends when the eyes reopen: the first open frame after the dip.
    assert signal.blinks[0] == pytest.approx(23 / BLINK_FPS)
    assert signal.result().status == "live"
    assert signal.count_since(23 / BLINK_FPS) == 1
    assert signal.count_since(23.5 / BLINK_FPS) == 0


def test_closed_eyes_stay_out_of_the_baseline() -> None:
    """A blink that fills most of the baseline window is still measured against open eyes, so
    it ends when the eyes reopen (not when the closed frames take over the median)."""
    cfg = BlinkConfig(baseline_s=0.6)
    closed = 10  # 0.4 s: two thirds of the baseline window, within max_duration_s
    assert closed / BLINK_FPS <= cfg.max_duration_s
    signal = run_blinks([OPEN] * 20 + [CLOSING] * closed + [OPEN] * 20, cfg)
    assert signal.blinks == [pytest.approx((20 + closed) / BLINK_FPS)]


def run_segments(
    segments: Sequence[tuple[tuple[float, float] | None, float]], cfg: BlinkConfig
) -> BlinkSignal:
    """``(eyes, frames)`` runs at BLINK_FPS, or ``(None, seconds)``: no frame (face lost)."""
    signal = BlinkSignal(cfg)
    rng = np.random.default_rng(13)
    t = 0.0
    for eyes, amount in segments:
        if eyes is None:
            t += amount
            continue
        for _ in range(round(amount)):
            signal.add(still(synthetic_head(right_eye=eyes[0], left_eye=eyes[1]), rng, 0.05), t)
            t += 1.0 / BLINK_FPS
    return signal


@pytest.mark.parametrize(
    ("segments", "cfg"),
    [
        # Default settings: the eyes close, the face is lost for 2 s, then comes back.
        ([(OPEN, 25), (CLOSING, 5), (None, 2.0), (OPEN, 40)], BlinkConfig()),
        # A valid short baseline: eyes closed for 0.72 s (looking down).
        ([(OPEN, 25), (CLOSING, 18), (OPEN, 40)], BlinkConfig(baseline_s=0.5)),
    ],
    ids=["face-lost-during-dip", "dip-longer-than-baseline"],
)
def test_a_long_dip_does_not_disable_blink_detection(
    segments: list[tuple[tuple[float, float] | None, float]], cfg: BlinkConfig
) -> None:
    signal = run_segments([*segments, (CLOSING, 3), (OPEN, 20)], cfg)
    assert len(signal.blinks) == 1  # the later, ordinary blink


def test_a_blink_after_the_face_was_lost_with_open_eyes_counts() -> None:
    """Control for the test above: a gap with open eyes does not disturb the signal."""
    segments = [(OPEN, 25), (OPEN, 5), (None, 2.0), (OPEN, 40), (CLOSING, 3), (OPEN, 20)]
    assert len(run_segments(segments, BlinkConfig()).blinks) == 1


def test_two_blinks_are_counted_separately() -> None:
    sequence = [OPEN] * 20 + [CLOSING] * 4 + [OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 10
    signal = run_blinks(sequence)
    assert len(signal.blinks) == 2
    assert signal.count_since(signal.blinks[0] + 1e-6) == 1


def test_no_blink_without_eyes_closing() -> None:
    signal = run_blinks([OPEN] * 60)
    assert signal.blinks == []
    assert signal.result().status == "inconclusive"


def test_one_frame_dip_is_noise_when_min_frames_asks_for_more() -> None:
    cfg = BlinkConfig(min_frames=2)
    signal = run_blinks([OPEN] * 20 + [CLOSING] + [OPEN] * 20, cfg)
    assert signal.blinks == []


def test_a_one_frame_blink_counts_by_default() -> None:
    """At 15 fps a blink lasts 1-3 frames: one closed frame between open ones is a blink."""
    assert BlinkConfig().min_frames == 1
    signal = run_blinks([OPEN] * 20 + [CLOSING] + [OPEN] * 20)
    assert len(signal.blinks) == 1


def test_min_frames_is_honoured() -> None:
    signal = run_blinks([OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 20, BlinkConfig(min_frames=4))
    assert signal.blinks == []


@pytest.mark.parametrize("closed_s", [0.7, 1.6])
def test_a_long_dip_is_not_a_blink(closed_s: float) -> None:
    cfg = BlinkConfig()
    assert closed_s > cfg.max_duration_s
    closed = round(closed_s * BLINK_FPS)
    signal = run_blinks([OPEN] * 20 + [CLOSING] * closed + [OPEN] * 40, cfg)
    assert signal.blinks == []


def test_one_eye_closing_is_not_a_blink() -> None:
    # Closing one eye fully drops the two-eye mean by half: a dip, but not of both eyes.
    signal = run_blinks([OPEN] * 20 + [(0.0, 1.0)] * 3 + [OPEN] * 20)
    assert signal.blinks == []
    signal = run_blinks([OPEN] * 20 + [(1.0, 0.0)] * 3 + [OPEN] * 20)
    assert signal.blinks == []


def test_one_eye_closing_is_not_a_blink_on_an_asymmetric_face() -> None:
    # The left eye is naturally 25 % less open than the right; only the right eye closes.
    signal = run_blinks([(1.0, 0.75)] * 20 + [(0.0, 0.75)] * 3 + [(1.0, 0.75)] * 20)
    assert signal.blinks == []


def squash_about_centre(factor: float) -> Callable[[Points], Points]:
    def squash(points: Points) -> Points:
        out = points.copy()
        centre_y = points[list(OUTLINE_POINTS), 1].mean()
        out[:, 1] = centre_y + (points[:, 1] - centre_y) * factor
        return out

    return squash


@pytest.mark.parametrize("factor", [0.8, 0.7])
def test_a_picture_tilted_back_is_not_a_blink(factor: float) -> None:
    """The whole face foreshortened vertically for a blink's length shortens the eyes too."""
    # Outline jitter would reject the squash on its own: allow any jitter, so only the face
    # aspect normalisation stands between this squash and a blink. The dip threshold is pinned
    # below 1 - 0.8 so that the raw eye aspect ratios would read as a blink.
    cfg = BlinkConfig(max_jitter=1.0, dip=0.18)
    squash = squash_about_centre(factor)
    frontal = project(synthetic_head())
    raw_right, raw_left = eye_aspect_ratios(squash(frontal))
    assert 1.0 - raw_left / eye_aspect_ratios(frontal)[1] >= cfg.dip - 1e-9  # looks like a dip
    assert raw_right == pytest.approx(raw_left)

    def tilt(k: int, pts: Points) -> Points:
        return squash(pts) if 20 <= k < 24 else pts

    signal = run_blinks([OPEN] * 44, cfg, transform=tilt)
    assert signal.blinks == []
    # Control: with the same settings, lids closing for the same frames are a blink.
    assert len(run_blinks([OPEN] * 20 + [CLOSING] * 4 + [OPEN] * 20, cfg).blinks) == 1


def test_a_blink_during_outline_jitter_is_noise() -> None:
    cfg = BlinkConfig()
    jitter_rng = np.random.default_rng(12)

    def jitter(k: int, pts: Points) -> Points:
        if 20 <= k < 23:
            out = pts.copy()
            idx = list(NON_EYE_OUTLINE)
            out[idx, :2] += jitter_rng.uniform(-6.0, 6.0, (len(idx), 2))
            return out
        return pts

    sequence = [OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 20
    assert run_blinks(sequence, cfg, transform=jitter).blinks == []
    assert len(run_blinks(sequence, cfg).blinks) == 1  # the same dip without jitter counts


def test_a_blink_while_the_face_moves_in_the_image_counts() -> None:
    """Sliding, scaling and rolling the face in the image is not jitter."""

    def glide(k: int, pts: Points) -> Points:
        angle = math.radians(0.3 * k)
        scale = 1.0 + 0.004 * k
        rot = scale * np.array(
            [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
        )
        out = pts.copy()
        out[:, :2] = (pts[:, :2] - CENTRE) @ rot.T + CENTRE + np.array([2.0 * k, 1.0 * k])
        return out

    signal = run_blinks([OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 20, transform=glide)
    assert len(signal.blinks) == 1


# ---------------------------------------------------------------------------------------------
# Pose proxies and ChallengeState
# ---------------------------------------------------------------------------------------------


def test_yaw_proxy_reads_the_nose_offset_along_the_eye_line() -> None:
    pts = project(synthetic_head(flat=True))
    pts[1, 0] += 0.1 * IOD  # nose tip towards the subject's left eye (image right)
    assert yaw_proxy(pts) == pytest.approx(0.1)
    pts[1, 0] -= 0.3 * IOD
    assert yaw_proxy(pts) == pytest.approx(-0.2)


def test_pose_proxies_are_unchanged_by_an_image_similarity() -> None:
    pts = project(synthetic_head(), yaw_deg=12.0, pitch_deg=-6.0)
    before = pose_proxy(pts)
    angle = math.radians(-25.0)
    sim = 0.7 * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = pts.copy()
    moved[:, :2] = pts[:, :2] @ sim.T + np.array([31.0, -17.0])
    assert pose_proxy(moved) == pytest.approx(before, abs=1e-9)


def test_pose_proxies_of_a_picture_foreshortened_along_its_axes() -> None:
    """Foreshortening along the eye line or the midline keeps both proxies of a photo."""
    pts = project(synthetic_head(flat=True))
    before = pose_proxy(pts)
    for affine in (np.diag([0.6, 1.0]), np.diag([1.0, 0.6]), np.diag([0.8, 0.7])):
        warped = pts.copy()
        warped[:, :2] = (pts[:, :2] - CENTRE) @ affine.T + CENTRE
        assert pose_proxy(warped) == pytest.approx(before, abs=1e-9)


def diagonal_foreshortening(tilt_deg: float, axis_deg: float) -> Points:
    """The 2-D affine view of a plane tilted by ``tilt_deg`` about an in-plane axis."""
    a = math.radians(axis_deg)
    along = np.array([math.cos(a), math.sin(a)])
    across = np.array([-math.sin(a), math.cos(a)])
    c = math.cos(math.radians(tilt_deg))
    return np.asarray(np.outer(along, along) + c * np.outer(across, across), dtype=np.float64)


def test_pose_proxies_are_unchanged_by_any_affine_view_of_a_picture() -> None:
    """pose_proxy's docstring: 'unchanged by any affine view of a flat picture'."""
    pts = project(synthetic_head(flat=True))
    yaws = []
    for axis in (45.0, -45.0):
        warped = pts.copy()
        warped[:, :2] = (pts[:, :2] - CENTRE) @ diagonal_foreshortening(40.0, axis).T + CENTRE
        yaws.append(yaw_proxy(warped))
    # A photo rocked 40° about one diagonal and then the other (seen from afar: affine).
    assert max(yaws) - min(yaws) < StructureConfig().min_turn


def test_pose_proxy_follows_a_real_turn_and_nod() -> None:
    frontal = pose_proxy(project(synthetic_head()))
    turned = pose_proxy(project(synthetic_head(), yaw_deg=20.0))
    nodded = pose_proxy(project(synthetic_head(), pitch_deg=20.0))
    # Yawing by 20° brings the nose 0.6 IOD·sin(20°) ≈ 0.21 IOD sideways; perspective
    # magnifies the nearer nose and foreshortens the eye line by cos(20°), so up to ≈ 0.25.
    turn = abs(turned[0] - frontal[0])
    assert 0.6 * math.sin(math.radians(20)) <= turn <= 0.26
    assert abs(nodded[1] - frontal[1]) > 0.1
    assert abs(nodded[0] - frontal[0]) < 1e-6


def make_challenge(kind: Any, started: float = 10.0) -> ChallengeState:
    return ChallengeState(ChallengeConfig(timeout_s=3.0), kind, started, (0.1, 0.6), 0.25)


def test_blink_challenge_passes_on_a_blink_only() -> None:
    ch = make_challenge("blink")
    assert not ch.passed(0, solid=True)
    ch.observe_pose((0.9, 0.9))  # a big turn is not the response asked for
    assert not ch.passed(0, solid=True)
    assert ch.passed(1, solid=False)


def test_turn_challenge_needs_a_solid_turn_or_nod() -> None:
    ch = make_challenge("turn")
    assert not ch.passed(3, solid=True)  # blinks are not the response asked for
    ch.observe_pose((0.25, 0.6))  # yaw moved 0.15
    assert ch.max_pose_change == pytest.approx(0.15)
    assert not ch.passed(0, solid=True)
    ch.observe_pose((0.12, 0.6))  # back: the largest change is kept
    assert ch.max_pose_change == pytest.approx(0.15)
    ch.observe_pose((0.1, 0.31))  # a nod: pitch moved 0.29
    assert not ch.passed(0, solid=False)  # without 3-D structure it may be a picture
    assert ch.passed(0, solid=True)


def test_turn_challenge_counts_a_turn_to_either_side() -> None:
    ch = make_challenge("turn")
    ch.observe_pose((-0.16, 0.6))
    assert ch.passed(0, solid=True)


def test_challenge_prompt_and_expiry() -> None:
    cfg = ChallengeConfig(timeout_s=3.0, text_blink="Blink now", text_turn="Turn now")
    blink = ChallengeState(cfg, "blink", 10.0, (0.0, 0.5), 0.25)
    turn = ChallengeState(cfg, "turn", 20.0, (0.0, 0.5), 0.25)
    assert (blink.prompt.kind, blink.prompt.text, blink.prompt.deadline) == (
        "blink", "Blink now", 13.0,
    )  # fmt: skip
    assert (turn.prompt.kind, turn.prompt.text, turn.prompt.deadline) == ("turn", "Turn now", 23.0)
    assert blink.prompt.pattern != turn.prompt.pattern
    assert not blink.expired(10.0)
    assert not blink.expired(13.0)
    assert blink.expired(13.01)


# ---------------------------------------------------------------------------------------------
# ModelSamples
# ---------------------------------------------------------------------------------------------


def pad_config(**kw: Any) -> PadModelConfig:
    return PadModelConfig(path=Path("pad.tflite"), sha256="ab" * 32, **kw)


def test_model_runs_every_nth_frame_up_to_max_samples() -> None:
    samples = ModelSamples(pad_config(every_n_frames=3, min_samples=2, max_samples=4))
    due = []
    for frame in range(1, 31):
        if samples.due():
            due.append(frame)
            samples.add(0.1)
    assert due == [1, 4, 7, 10]
    assert samples.frames == 30


@pytest.mark.parametrize(
    ("scores", "status"),
    [
        ([0.9], "inconclusive"),  # below min_samples, whatever the score
        ([0.9, 0.9], "spoof"),
        ([0.1, 0.9, 0.95], "spoof"),  # median 0.9
        ([0.1, 0.2, 0.95], "live"),  # median 0.2: one high run is not enough
        ([0.1, 0.6, 0.95], "live"),  # median at the threshold: not above it
        ([0.1, 0.2], "live"),
    ],
)
def test_model_result_is_the_median_against_the_threshold(scores: list[float], status: str) -> None:
    samples = ModelSamples(pad_config(min_samples=2, max_samples=6, threshold=0.6))
    for s in scores:
        samples.add(s)
    result = samples.result()
    assert result.status == status
    if status != "inconclusive":
        assert result.score == pytest.approx(float(np.median(scores)))


# ---------------------------------------------------------------------------------------------
# LivenessJudge
# ---------------------------------------------------------------------------------------------

FPS = 15.0
T0 = 1000.0  # a monotonic clock does not start at zero


class FakeModel:
    """Stands in for PadModel: a fixed score, and a record of what it was given."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls: list[tuple[int, ...]] = []

    def score(self, image_rgb: npt.NDArray[np.uint8], points: npt.ArrayLike) -> float:
        assert image_rgb is IMAGE
        self.calls.append(np.asarray(points).shape)
        return self.value


class CountingRandom(random.Random):
    """A seeded source that counts the challenges chosen from it."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.chosen = 0

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        self.chosen += 1
        return super().choice(seq)


def still_frames(
    n: int, t0: float, rng: np.random.Generator, fps: float = FPS
) -> Iterator[tuple[float, Points]]:
    model = synthetic_head()
    for k in range(n):
        yield t0 + k / fps, still(model, rng)


def blink_frames(
    t0: float, rng: np.random.Generator, fps: float = 25.0
) -> list[tuple[float, Points]]:
    """A still face that blinks once (3 frames closed) after 20 open frames, then 12 open."""
    eyes = [OPEN] * 20 + [CLOSING] * 3 + [OPEN] * 12
    return [
        (t0 + k / fps, still(synthetic_head(right_eye=r, left_eye=le), rng, noise_px=0.05))
        for k, (r, le) in enumerate(eyes)
    ]


def feed(
    judge: LivenessJudge,
    frames: Iterator[tuple[float, Points]] | Sequence[tuple[float, Points]],
    *,
    track: int = 1,
    presence: float = 1.0,
) -> list[tuple[float, LivenessVerdict]]:
    out = []
    for t, pts in frames:
        landmarks = FaceLandmarks(points=pts.astype(np.float32), presence=presence)
        out.append((t, judge.observe(track, IMAGE, DETECTION, t, landmarks=landmarks)))
    return out


def test_mode_off_is_live_at_once_without_landmarks() -> None:
    judge = LivenessJudge(LivenessConfig(mode="off"), None)
    verdict = judge.observe(1, IMAGE, DETECTION, T0)
    assert (verdict.status, verdict.reason) == ("live", "off")
    assert verdict.final


def test_judge_without_mesh_or_landmarks_refuses() -> None:
    judge = LivenessJudge(LivenessConfig(mode="passive"), None)
    with pytest.raises(ValueError):
        judge.observe(1, IMAGE, DETECTION, T0)


def test_judge_runs_the_mesh_when_no_landmarks_are_passed() -> None:
    seen: list[Detection] = []
    rng = np.random.default_rng(20)

    class Mesh:
        def landmarks(
            self, image_rgb: npt.NDArray[np.uint8], detection: Detection
        ) -> FaceLandmarks:
            seen.append(detection)
            return FaceLandmarks(still(synthetic_head(), rng).astype(np.float32), 0.99)

    judge = LivenessJudge(LivenessConfig(mode="passive"), Mesh())
    verdict = judge.observe(1, IMAGE, DETECTION, T0)
    assert seen == [DETECTION]
    assert (verdict.status, verdict.reason) == ("inconclusive", "waiting")


def test_passive_still_face_is_refused_after_decide_within() -> None:
    cfg = LivenessConfig(mode="passive")
    judge = LivenessJudge(cfg, None)
    verdicts = feed(judge, still_frames(60, T0, np.random.default_rng(21)))
    for t, v in verdicts:
        if t - T0 < cfg.decide_within_s:
            assert (v.status, v.reason) == ("inconclusive", "waiting")
            assert not v.final
        else:
            assert (v.status, v.reason) == ("spoof", "no_liveness_evidence")
            assert v.final and not v.challenged
    assert verdicts[-1][1].status == "spoof"


def test_passive_flat_moving_picture_is_spoof_flat() -> None:
    cfg = LivenessConfig(mode="passive")
    judge = LivenessJudge(cfg, None)
    frames = moving_views(
        synthetic_head(flat=True), 40, FPS, np.random.default_rng(22), roll_amp=10.0,
        distance=350.0, t0=T0,
    )  # fmt: skip
    verdicts = feed(judge, frames)
    assert all(v.status != "live" for _, v in verdicts)
    last = verdicts[-1][1]
    assert (last.status, last.reason) == ("spoof", "flat")
    first_spoof = next(t for t, v in verdicts if v.status == "spoof")
    assert first_spoof - T0 < cfg.decide_within_s  # evidence, not the deadline


def test_passive_turning_head_is_live_3d_turn() -> None:
    cfg = LivenessConfig(mode="passive", min_evidence=1)
    judge = LivenessJudge(cfg, None)
    frames = moving_views(synthetic_head(), 40, FPS, np.random.default_rng(23), t0=T0)
    verdicts = feed(judge, frames)
    first_live = next((t, v) for t, v in verdicts if v.status == "live")
    assert first_live[1].reason == "3d_turn"
    assert first_live[0] - T0 < cfg.decide_within_s
    assert verdicts[-1][1] == first_live[1]  # final: later frames keep it


def test_3d_structure_without_a_turn_is_not_live() -> None:
    """A nose that shows parallax but a pose that moves less than min_turn is no proof."""
    structure = StructureConfig(pair_motion=0.002, solid_parallax=0.05, min_turn=0.25)
    cfg = LivenessConfig(mode="passive", structure=structure)
    judge = LivenessJudge(cfg, None)
    frames = moving_views(
        synthetic_head(), 60, FPS, np.random.default_rng(24), yaw_amp=7.0, pitch_amp=3.0,
        noise_px=0.02, t0=T0,
    )  # fmt: skip
    assert max(pose_range(frames)) < structure.min_turn
    signal = StructureSignal(structure)
    for t, pts in frames:
        signal.add(pts, t)
    assert signal.result().status == "live"  # the structure alone would vouch for it
    verdicts = feed(judge, frames)
    assert all(v.status != "live" for _, v in verdicts)
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "no_liveness_evidence")


def test_passive_blink_is_live_when_one_piece_of_evidence_is_enough() -> None:
    judge = LivenessJudge(LivenessConfig(mode="passive", min_evidence=1), None)
    verdicts = feed(judge, blink_frames(T0, np.random.default_rng(25)))
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("live", "blink")
    assert verdicts[-1][1].evidence == ("blink",)


def test_a_blink_alone_is_not_enough_by_default() -> None:
    """Evidence, not absence of evidence: one signal can be faked or misread, so a blink alone
    leaves the attempt waiting, and passive mode refuses it at the deadline."""
    cfg = LivenessConfig(mode="passive")
    assert cfg.min_evidence == 2
    judge = LivenessJudge(cfg, None)
    noise = np.random.default_rng(25)
    verdicts = feed(judge, blink_frames(T0, noise))
    assert all(v.status != "live" for _, v in verdicts)
    assert verdicts[-1][1].evidence == ("blink",)
    more = feed(judge, still_frames(60, verdicts[-1][0] + 1 / FPS, noise))
    assert (more[-1][1].status, more[-1][1].reason) == ("spoof", "no_liveness_evidence")


def talking_blink_frames(t0: float, rng: np.random.Generator) -> list[tuple[float, Points]]:
    """:func:`blink_frames` with a mouth that opens and closes (speech) meanwhile."""
    out = []
    for k, (t, pts) in enumerate(blink_frames(t0, rng)):
        pts = pts.copy()
        pts[14, 1] += 12.0 * (0.5 + 0.5 * math.sin(2.0 * math.pi * k / 8.0))  # the lower lip
        out.append((t, pts))
    return out


def test_a_blink_and_a_moving_mouth_are_live() -> None:
    judge = LivenessJudge(LivenessConfig(mode="passive"), None)
    verdicts = feed(judge, talking_blink_frames(T0, np.random.default_rng(25)))
    last = verdicts[-1][1]
    assert (last.status, last.reason) == ("live", "blink+expression")
    assert last.evidence == ("blink", "expression") and not last.challenged


def test_a_moving_mouth_then_a_blink_challenge_answered_is_live() -> None:
    cfg = challenge_config(kinds=("blink",))
    judge = LivenessJudge(cfg, None, rng=random.Random(1))
    noise = np.random.default_rng(27)
    talk = [(T0 + k / FPS, _with_mouth(still(synthetic_head(), noise), k)) for k in range(60)]
    verdicts = feed(judge, talk)
    started = next((t, v) for t, v in verdicts if v.reason == "challenge_started")
    assert started[1].evidence == ("expression",)
    answer = feed(judge, blink_frames(verdicts[-1][0] + 0.04, noise))
    assert (answer[-1][1].status, answer[-1][1].reason) == ("live", "challenge_passed")
    assert answer[-1][1].evidence == ("expression", "challenge")


def _with_mouth(pts: Points, k: int) -> Points:
    pts = pts.copy()
    pts[14, 1] += 12.0 * (0.5 + 0.5 * math.sin(2.0 * math.pi * k / 8.0))
    return pts


def challenge_config(**challenge: Any) -> LivenessConfig:
    return LivenessConfig(mode="passive+challenge", challenge=ChallengeConfig(**challenge))


def run_until_challenge(
    judge: LivenessJudge, rng: np.random.Generator, track: int = 1
) -> tuple[float, LivenessVerdict]:
    """Feed a still face until the judge challenges it; returns that frame's time and verdict."""
    for frame in still_frames(200, T0, rng):
        ((t, v),) = feed(judge, [frame], track=track)
        if v.status != "inconclusive":
            return t, v
    raise AssertionError("the judge never challenged a still face")


def test_challenge_is_asked_once_and_fails_for_good() -> None:
    cfg = challenge_config(
        timeout_s=2.0, text_blink="Blink!", text_turn="Turn!", text_mouth="Mouth!", retries=0
    )
    rng = CountingRandom(5)
    judge = LivenessJudge(cfg, None, rng=rng)
    noise = np.random.default_rng(26)
    started, verdict = run_until_challenge(judge, noise)
    assert started - T0 >= cfg.decide_within_s
    assert started - T0 < cfg.decide_within_s + 1.5 / FPS
    assert verdict.status == "challenge" and verdict.challenged and not verdict.final
    prompt = verdict.prompt
    assert prompt is not None
    assert prompt.kind in cfg.challenge.kinds
    assert prompt.text == {"blink": "Blink!", "turn": "Turn!", "mouth": "Mouth!"}[prompt.kind]
    assert prompt.deadline == pytest.approx(started + cfg.challenge.timeout_s)
    # Still face: the challenge runs to its deadline, then fails.
    later = feed(judge, still_frames(60, started + 1 / FPS, noise))
    for t, v in later:
        if t <= prompt.deadline:
            assert (v.status, v.reason) == ("challenge", "challenge_running")
            assert v.prompt == prompt  # the same challenge, not a new one
        else:
            assert (v.status, v.reason) == ("spoof", "challenge_failed")
            assert v.final and v.challenged
    # Final: a blink and a real turn now change nothing, and no second challenge is asked.
    after = later[-1][0] + 1 / FPS
    more = feed(judge, blink_frames(after, noise)) + feed(
        judge, moving_views(synthetic_head(), 30, FPS, noise, t0=after + 2.0)
    )
    assert all((v.status, v.reason) == ("spoof", "challenge_failed") for _, v in more)
    assert rng.chosen == 1


def test_blink_challenge_passed_by_a_blink() -> None:
    cfg = challenge_config(kinds=("blink",))
    judge = LivenessJudge(cfg, None, rng=random.Random(1))
    noise = np.random.default_rng(27)
    started, verdict = run_until_challenge(judge, noise)
    assert verdict.prompt is not None and verdict.prompt.kind == "blink"
    assert verdict.prompt.text == cfg.challenge.text_blink
    verdicts = feed(judge, blink_frames(started + 0.04, noise))
    statuses = [v.status for _, v in verdicts]
    assert statuses[-1] == "live"
    assert verdicts[-1][1].reason == "challenge_passed"
    assert verdicts[-1][1].challenged
    assert set(statuses) <= {"challenge", "live"}


@pytest.mark.parametrize("spoken", [0.0, 2.5])
def test_the_answer_window_starts_when_the_spoken_prompt_ends(spoken: float) -> None:
    """A blink 1 s after the end of a 2.5-s spoken prompt answers it; without speech the 3 s
    to answer have run out by then and the retry has been asked."""
    cfg = challenge_config(kinds=("blink",), timeout_s=3.0)
    judge = LivenessJudge(cfg, None, rng=random.Random(1), spoken_s=spoken)
    noise = np.random.default_rng(31)
    started, verdict = run_until_challenge(judge, noise)
    assert verdict.prompt is not None
    assert verdict.prompt.deadline == pytest.approx(started + spoken + 3.0)
    late = started + 3.5  # after timeout_s from the prompt, within it after 2.5 s of speech
    waiting = feed(judge, still_frames(round(3.5 * FPS) - 1, started + 1 / FPS, noise))
    retried = [v for _, v in waiting if v.reason == "challenge_started"]
    answer = feed(judge, blink_frames(late, noise))
    if spoken:
        assert not retried and all(v.prompt == verdict.prompt for _, v in waiting)
        assert "challenge" in answer[-1][1].evidence  # the first prompt was answered
    else:
        assert len(retried) == 1 and retried[0].prompt != verdict.prompt


def test_turn_challenge_passed_by_a_real_turn() -> None:
    cfg = challenge_config(kinds=("turn",))
    judge = LivenessJudge(cfg, None, rng=random.Random(2))
    noise = np.random.default_rng(28)
    started, verdict = run_until_challenge(judge, noise)
    assert verdict.prompt is not None and verdict.prompt.kind == "turn"
    # Turning 25° each way: the nose moves ≈ 0.3 IOD from where it was at the prompt.
    frames = moving_views(synthetic_head(), 40, FPS, noise, yaw_amp=25.0, t0=started + 1 / FPS)
    verdicts = feed(judge, frames)
    passed = [(t, v) for t, v in verdicts if v.status == "live"]
    assert passed and passed[0][1].reason == "challenge_passed"
    assert passed[0][0] <= verdict.prompt.deadline


def test_turn_challenge_is_not_passed_by_a_blink() -> None:
    cfg = challenge_config(kinds=("turn",), retries=0)
    judge = LivenessJudge(cfg, None, rng=random.Random(3))
    noise = np.random.default_rng(29)
    started, _ = run_until_challenge(judge, noise)
    blink = blink_frames(started + 0.04, noise)
    rest = still_frames(50, blink[-1][0] + 1 / FPS, noise)
    verdicts = feed(judge, blink) + feed(judge, rest)
    assert all(v.status != "live" for _, v in verdicts)
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "challenge_failed")


def test_flat_picture_turned_during_a_turn_challenge_is_spoof() -> None:
    cfg = challenge_config(kinds=("turn",), timeout_s=6.0)
    judge = LivenessJudge(cfg, None, rng=random.Random(4))
    noise = np.random.default_rng(30)
    started, _ = run_until_challenge(judge, noise)
    frames = moving_views(
        synthetic_head(flat=True), 60, FPS, noise, roll_amp=10.0, distance=350.0,
        t0=started + 1 / FPS,
    )  # fmt: skip
    verdicts = feed(judge, frames)
    assert all(v.status != "live" for _, v in verdicts)
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "flat")


def test_model_attack_score_wins_over_a_blink() -> None:
    pad = pad_config(every_n_frames=5, min_samples=3, max_samples=6, threshold=0.6)
    cfg = LivenessConfig(mode="passive", model=pad)
    model = FakeModel(0.95)
    judge = LivenessJudge(cfg, None, model)
    # The blink ends on frame 24, before the model's third run (frame 11) ... and after it.
    frames = blink_frames(T0, np.random.default_rng(31))
    verdicts = feed(judge, frames)
    assert all(v.status != "live" for _, v in verdicts)
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "model")
    assert verdicts[-1][1].scores["model"] == pytest.approx(0.95)
    # Runs on frames 1, 6 and 11; the verdict is final after the third.
    assert len(model.calls) == pad.min_samples
    assert model.calls[0] == (468, 3)


def test_model_must_conclude_before_a_blink_counts() -> None:
    pad = pad_config(every_n_frames=15, min_samples=3, max_samples=3, threshold=0.6)
    cfg = LivenessConfig(mode="passive", model=pad, min_evidence=1)
    model = FakeModel(0.1)
    judge = LivenessJudge(cfg, None, model)
    frames = blink_frames(T0, np.random.default_rng(32)) + list(
        still_frames(10, T0 + 35 / 25.0, np.random.default_rng(33), fps=25.0)
    )
    verdicts = feed(judge, frames)
    # The blink ends on frame 24 (index 23); the model's third run is on frame 31 (index 30):
    # the blink counts only from there.
    live = [i for i, (_, v) in enumerate(verdicts) if v.status == "live"]
    assert live and live[0] == 30
    assert verdicts[30][1].reason == "blink"
    assert len(model.calls) == 3


def test_a_blink_before_the_prompt_does_not_answer_the_challenge() -> None:
    """A blink seen while the model was still undecided is not a response to a later prompt."""
    pad = pad_config(every_n_frames=70, min_samples=2, max_samples=2, threshold=0.6)
    cfg = LivenessConfig(
        mode="passive+challenge",
        model=pad,
        challenge=ChallengeConfig(kinds=("blink",), retries=0),
    )
    judge = LivenessJudge(cfg, None, FakeModel(0.1), rng=random.Random(7))
    noise = np.random.default_rng(41)
    blink = blink_frames(T0, noise)  # 35 frames: the blink is over at T0 + 0.92 s
    rest = list(still_frames(80, T0 + 35 / 25.0, noise))  # the model concludes on frame 71
    verdicts = feed(judge, blink) + feed(judge, rest)
    statuses = [(v.status, v.reason) for _, v in verdicts]
    started = next(t for t, v in verdicts if v.status == "challenge")
    # One piece of evidence (the blink) asks for the second after after_evidence_s.
    assert cfg.challenge.after_evidence_s is not None
    assert started - T0 >= cfg.challenge.after_evidence_s > 0.92
    assert ("live", "challenge_passed") not in statuses
    assert verdicts[70][1].scores["model"] == pytest.approx(0.1)  # the model did agree
    assert statuses[-1] == ("spoof", "challenge_failed")


def test_model_alone_is_no_proof_of_life() -> None:
    pad = pad_config(every_n_frames=2, min_samples=2, max_samples=10)
    cfg = LivenessConfig(mode="passive", model=pad)
    judge = LivenessJudge(cfg, None, FakeModel(0.05))
    verdicts = feed(judge, still_frames(60, T0, np.random.default_rng(34)))
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "no_liveness_evidence")


def test_model_is_not_run_unless_configured() -> None:
    model = FakeModel(0.99)
    judge = LivenessJudge(LivenessConfig(mode="passive", min_evidence=1), None, model)
    verdicts = feed(judge, blink_frames(T0, np.random.default_rng(35)))
    assert model.calls == []
    assert verdicts[-1][1].status == "live"
    assert "model" not in verdicts[-1][1].scores


def test_low_presence_frames_give_no_evidence() -> None:
    cfg = LivenessConfig(mode="passive", min_evidence=1)
    judge = LivenessJudge(cfg, None)
    noise = np.random.default_rng(36)
    blink = feed(judge, blink_frames(T0, noise), presence=0.3)
    turn = feed(
        judge, moving_views(synthetic_head(), 40, FPS, noise, t0=blink[-1][0] + 0.04), presence=0.3
    )
    verdicts = blink + turn
    assert all(v.status != "live" for _, v in verdicts)
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("spoof", "no_liveness_evidence")
    # The same frames from a face the mesh follows are live.
    assert feed(LivenessJudge(cfg, None), blink_frames(T0, noise))[-1][1].status == "live"


def test_challenge_starts_only_on_a_frame_with_a_face() -> None:
    cfg = challenge_config(kinds=("blink",))
    judge = LivenessJudge(cfg, None, rng=random.Random(6))
    noise = np.random.default_rng(37)
    verdicts = feed(judge, still_frames(60, T0, noise), presence=0.2)
    assert all((v.status, v.reason) == ("inconclusive", "waiting") for _, v in verdicts)
    t = verdicts[-1][0] + 1 / FPS
    ((_, verdict),) = feed(judge, still_frames(1, t, noise))
    assert verdict.status == "challenge"
    assert verdict.prompt is not None and verdict.prompt.deadline == pytest.approx(
        t + cfg.challenge.timeout_s
    )


def test_forget_resets_a_track_and_tracks_are_separate() -> None:
    cfg = LivenessConfig(mode="passive", min_evidence=1)
    judge = LivenessJudge(cfg, None)
    noise = np.random.default_rng(38)
    verdicts = feed(judge, still_frames(50, T0, noise), track=1)
    assert verdicts[-1][1].status == "spoof"
    t = verdicts[-1][0] + 1 / FPS
    # Another track seen now starts its own clock.
    ((_, other),) = feed(judge, still_frames(1, t, noise), track=2)
    assert (other.status, other.reason) == ("inconclusive", "waiting")
    ((_, same),) = feed(judge, still_frames(1, t, noise), track=1)
    assert same.status == "spoof"
    judge.forget(1)
    judge.forget(99)  # unknown tracks are fine
    after = feed(judge, still_frames(50, t + 1 / FPS, noise), track=1)
    restart = after[0][0]
    for at, v in after:
        expected = "inconclusive" if at - restart < cfg.decide_within_s else "spoof"
        assert v.status == expected
    # A fresh track can now prove life, which the old (final) verdict would have prevented.
    judge.forget(1)
    start = after[-1][0] + 1.0
    assert feed(judge, blink_frames(start, noise))[-1][1].status == "live"


def test_live_is_final() -> None:
    judge = LivenessJudge(LivenessConfig(mode="passive", min_evidence=1), None)
    noise = np.random.default_rng(39)
    verdicts = feed(judge, blink_frames(T0, noise))
    live = verdicts[-1][1]
    assert live.status == "live"
    t = verdicts[-1][0] + 1 / FPS
    card = moving_views(synthetic_head(flat=True), 40, FPS, noise, distance=350.0, t0=t)
    assert all(v == live for _, v in feed(judge, card))


def test_spoof_is_final() -> None:
    judge = LivenessJudge(LivenessConfig(mode="passive"), None)
    noise = np.random.default_rng(40)
    card = moving_views(
        synthetic_head(flat=True), 40, FPS, noise, roll_amp=10.0, distance=350.0, t0=T0
    )
    verdicts = feed(judge, card)
    spoof = verdicts[-1][1]
    assert (spoof.status, spoof.reason) == ("spoof", "flat")
    t = verdicts[-1][0] + 1 / FPS
    later = feed(judge, blink_frames(t, noise)) + feed(
        judge, moving_views(synthetic_head(), 40, FPS, noise, t0=t + 2.0)
    )
    assert all(v == spoof for _, v in later)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_structure_config_orders_its_ratios() -> None:
    with pytest.raises(ValidationError, match="solid_ratio"):
        StructureConfig(solid_ratio=1.4, flat_ratio=1.5)
    assert StructureConfig(solid_ratio=1.5, flat_ratio=1.5).solid_ratio == 1.5


@pytest.mark.parametrize("recover", [0.2, 0.3])
def test_blink_config_recover_must_be_below_dip(recover: float) -> None:
    with pytest.raises(ValidationError, match="recover"):
        BlinkConfig(dip=0.2, recover=recover)


def test_blink_config_accepts_recover_below_dip() -> None:
    assert BlinkConfig(dip=0.2, recover=0.19).recover == 0.19


def test_pad_model_config_orders_its_sample_counts() -> None:
    with pytest.raises(ValidationError, match="max_samples"):
        pad_config(min_samples=4, max_samples=3)
    assert pad_config(min_samples=4, max_samples=4).max_samples == 4


@pytest.mark.parametrize(
    "sha256",
    ["AB" * 32, "ab" * 31, "ab" * 32 + "a", "g" * 64, " " + "ab" * 32, ""],
    ids=["uppercase", "63-digits", "65-digits", "not-hex", "leading-space", "empty"],
)
def test_pad_model_config_requires_a_lowercase_sha256(sha256: str) -> None:
    with pytest.raises(ValidationError):
        PadModelConfig(path=Path("pad.tflite"), sha256=sha256)


def test_pad_model_config_requires_path_and_sha256() -> None:
    with pytest.raises(ValidationError):
        PadModelConfig.model_validate({"path": "pad.tflite"})
    with pytest.raises(ValidationError):
        PadModelConfig.model_validate({"sha256": "0" * 64})
    assert PadModelConfig.model_validate({"path": "pad.tflite", "sha256": "0" * 64}).path == Path(
        "pad.tflite"
    )


@pytest.mark.parametrize(
    "data",
    [
        {"mode": "passive", "decide_within": 3.0},
        {"structure": {"min_turns": 0.3}},
        {"blink": {"dips": 0.3}},
        {"challenge": {"kinds": ["blink"], "text": "Blink"}},
        {"model": {"path": "pad.tflite", "sha256": "0" * 64, "threshhold": 0.5}},
    ],
)
def test_liveness_config_rejects_unknown_keys(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"[Ee]xtra"):
        LivenessConfig.model_validate(data)


@pytest.mark.parametrize(
    "data",
    [
        {"mode": "active"},
        {"challenge": {"kinds": []}},
        {"challenge": {"kinds": ["smile"]}},
        {"challenge": {"timeout_s": 0.5}},
    ],
)
def test_liveness_config_rejects_bad_values(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LivenessConfig.model_validate(data)


def test_liveness_config_from_yaml_like_data() -> None:
    cfg = LivenessConfig.model_validate(
        {
            "mode": "passive",
            "challenge": {"kinds": ["turn"]},
            "model": {"path": "pad.tflite", "sha256": "0" * 64},
        }
    )
    assert cfg.mode == "passive"
    assert cfg.challenge.kinds == ("turn",)
    assert cfg.model is not None and cfg.model.every_n_frames >= 1
    assert LivenessConfig().model is None


# ---------------------------------------------------------------------------------------------
# FailureCounter
# ---------------------------------------------------------------------------------------------


def test_failure_counter_alarms_at_the_limit_then_restarts() -> None:
    counter = FailureCounter(limit=3, window_s=300.0)
    assert [counter.add("main", t) for t in (0.0, 10.0, 20.0)] == [False, False, True]
    # Restarted: it takes another `limit` failures to alarm again.
    assert [counter.add("main", t) for t in (30.0, 40.0, 50.0)] == [False, False, True]


def test_failure_counter_forgets_failures_outside_the_window() -> None:
    counter = FailureCounter(limit=3, window_s=300.0)
    assert not counter.add("main", 0.0)
    assert not counter.add("main", 200.0)
    assert not counter.add("main", 350.0)  # the one at 0 s is 350 s old: two in the window
    assert counter.add("main", 360.0)


def test_failure_counter_counts_doors_separately() -> None:
    counter = FailureCounter(limit=2, window_s=60.0)
    assert not counter.add("main", 0.0)
    assert not counter.add("side", 1.0)
    assert not counter.add("garage", 2.0)
    assert counter.add("side", 3.0)
    assert counter.add("main", 4.0)
    assert not counter.add("side", 5.0)  # side restarted after its alarm


# ---------------------------------------------------------------------------------------------
# build_judge (needs the installed models)
# ---------------------------------------------------------------------------------------------


def test_build_judge_uses_the_configured_mode(tmp_path: Path, models_dir: Path) -> None:
    from facegate.vision.landmarks import FaceMesh

    if not (models_dir / "face_mesh_mediapipe.tflite").is_file():
        pytest.skip("face_mesh_mediapipe.tflite not installed")
    cfg = make_config(tmp_path, models_dir)
    cfg = cfg.model_copy(update={"liveness": cfg.liveness.model_copy(update={"mode": "passive"})})
    judge = build_judge(cfg)
    assert judge.cfg.mode == "passive"
    assert isinstance(judge.facemesh, FaceMesh)
    assert judge.model is None
    assert build_judge(cfg, mode="passive+challenge").cfg.mode == "passive+challenge"


@pytest.mark.parametrize("absolute", [True, False])
def test_build_judge_refuses_a_model_with_the_wrong_hash(
    tmp_path: Path, models_dir: Path, absolute: bool
) -> None:
    name = "face_detection_short_range.tflite"
    for needed in (name, "face_mesh_mediapipe.tflite"):
        if not (models_dir / needed).is_file():
            pytest.skip(f"{needed} not installed")
    cfg = make_config(tmp_path, models_dir)
    pad = PadModelConfig(path=models_dir / name if absolute else Path(name), sha256="0" * 64)
    cfg = cfg.model_copy(
        update={"liveness": cfg.liveness.model_copy(update={"mode": "passive", "model": pad})}
    )
    with pytest.raises(ModelError, match="sha256"):
        build_judge(cfg)


# ---------------------------------------------------------------------------------------------
# Screen detector, expression, the retry and the flat hand-over
# ---------------------------------------------------------------------------------------------


def _skin(rng: np.random.Generator, size: int = 160) -> npt.NDArray[np.uint8]:
    """A face-sized patch of skin: smooth colour, fine detail in brightness only."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    base = 150.0 + 30.0 * np.sin(xx / 40.0) * np.cos(yy / 55.0)
    grain = rng.normal(0.0, 6.0, (size, size))
    rgb = np.stack([base * 1.1 + grain, base * 0.85 + grain, base * 0.7 + grain], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _on_a_screen(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The same patch seen on a display: R, G, B sub-pixel columns beating with the camera's."""
    out = image.astype(np.float64)
    cols = np.arange(image.shape[1])
    for channel in range(3):
        stripe = 0.55 + 0.45 * np.cos(2.0 * np.pi * (cols / 2.7 - channel / 3.0))
        out[:, :, channel] *= stripe[None, :]
    return np.clip(out, 0, 255).astype(np.uint8)


FACE_BOX = Detection((20.0, 20.0, 140.0, 140.0), 0.9, ())


def test_moire_score_separates_skin_from_a_screen() -> None:
    skin = _skin(np.random.default_rng(50))
    live = moire_score(skin, FACE_BOX)
    screen = moire_score(_on_a_screen(skin), FACE_BOX)
    assert live is not None and screen is not None
    assert live < 0.3 < ScreenConfig().moire_spoof < screen
    assert moire_score(skin, Detection((0.0, 0.0, 10.0, 10.0), 0.9, ())) is None  # too small


def test_screen_signal_concludes_on_a_quantile_of_its_samples() -> None:
    cfg = ScreenConfig(every_n_frames=2, min_samples=3)
    skin = _skin(np.random.default_rng(51))
    screen = ScreenSignal(cfg)
    for _ in range(4):  # frames 1 and 3 are measured: too few
        screen.add(_on_a_screen(skin), FACE_BOX)
    assert screen.result().status == "inconclusive"
    for _ in range(2):
        screen.add(_on_a_screen(skin), FACE_BOX)
    assert screen.result().status == "spoof"
    live = ScreenSignal(cfg)
    for _ in range(20):
        live.add(skin, FACE_BOX)
    assert live.result().status == "inconclusive"  # never live evidence


def test_a_screen_is_refused_even_when_it_blinks_and_talks() -> None:
    """A replayed video blinks and talks: the moiré of the display is what gives it away."""
    judge = LivenessJudge(LivenessConfig(mode="passive"), None)
    screen = _on_a_screen(
        np.full((480, 640, 3), 140, np.uint8) + _skin(np.random.default_rng(52), 640)[:480]
    )
    verdicts = []
    for t, pts in talking_blink_frames(T0, np.random.default_rng(53)):
        landmarks = FaceLandmarks(points=pts.astype(np.float32), presence=1.0)
        verdicts.append(judge.observe(1, screen, DETECTION, t, landmarks=landmarks))
    assert (verdicts[-1].status, verdicts[-1].reason) == ("spoof", "screen")
    assert all(v.status != "live" for v in verdicts)


def test_mouth_opening_is_kept_by_a_tilted_picture_and_moved_by_speech() -> None:
    head = synthetic_head(flat=True)
    head[14] = (0.0, 72.0, 0.0)
    frontal = mouth_opening(project(head))
    tilted = mouth_opening(project(head, pitch_deg=30.0, yaw_deg=20.0))
    assert tilted == pytest.approx(frontal, rel=0.08)
    signal = ExpressionSignal(ExpressionConfig())
    noise = np.random.default_rng(54)
    for k in range(30):
        signal.add(_with_mouth(still(synthetic_head(), noise), k), T0 + k / FPS)
    assert signal.result().status == "live"
    quiet = ExpressionSignal(ExpressionConfig())
    for k in range(30):
        quiet.add(still(synthetic_head(), noise), T0 + k / FPS)
    assert quiet.result().status == "inconclusive"


def _with_jitter(pts: Points, k: int) -> Points:
    """Landmark jitter on the lips: every 5th frame the lower inner lip jumps for one frame."""
    pts = pts.copy()
    if k % 5 == 2:
        pts[14, 1] += 12.0
    return pts


@pytest.mark.parametrize(("smooth", "status"), [(3, "inconclusive"), (1, "live")])
def test_one_frame_lip_jumps_are_not_a_moving_mouth_once_smoothed(smooth: int, status: str) -> None:
    """The median of 3 frames keeps single-frame jitter out (without it, it counts) while a
    talking mouth, which moves over several frames, still counts."""
    noise = np.random.default_rng(55)
    jitter = ExpressionSignal(ExpressionConfig(smooth_frames=smooth))
    for k in range(45):
        jitter.add(_with_jitter(still(synthetic_head(), noise), k), T0 + k / FPS)
    assert jitter.result().status == status
    talk = ExpressionSignal(ExpressionConfig(smooth_frames=smooth))
    for k in range(45):
        talk.add(_with_mouth(still(synthetic_head(), noise), k), T0 + k / FPS)
    assert talk.result().status == "live"


@pytest.mark.parametrize("first", [0, 1])
def test_a_lip_jump_on_the_first_frames_of_a_track_is_smoothed_too(first: int) -> None:
    """The first frames of a track have no earlier ones to take a median with: a lip jump
    there (a face entering, blurred) must not pass unsmoothed into the window, where with few
    frames in it one value moves the 95th percentile (one piece of live evidence for a print)."""
    noise = np.random.default_rng(55)
    signal = ExpressionSignal(ExpressionConfig(smooth_frames=3))
    for k in range(45):
        pts = still(synthetic_head(), noise)
        if k == first:
            pts = pts.copy()
            pts[14, 1] += 12.0
        signal.add(pts, T0 + k / FPS)
    assert signal.result().status == "inconclusive", signal.spread()


def test_an_unanswered_challenge_is_retried_once_with_the_other_kind() -> None:
    cfg = challenge_config(timeout_s=2.0)
    rng = CountingRandom(8)
    judge = LivenessJudge(cfg, None, rng=rng)
    noise = np.random.default_rng(55)
    started, first = run_until_challenge(judge, noise)
    later = feed(judge, still_frames(100, started + 1 / FPS, noise))
    restarts = [(t, v) for t, v in later if v.reason == "challenge_started"]
    assert len(restarts) == 1
    t2, second = restarts[0]
    assert first.prompt is not None and second.prompt is not None
    assert second.prompt.kind != first.prompt.kind
    assert t2 > first.prompt.deadline
    assert (later[-1][1].status, later[-1][1].reason) == ("spoof", "challenge_failed")
    assert rng.chosen == 2


def test_a_challenge_answered_without_other_evidence_asks_again() -> None:
    """One answered challenge is one piece of evidence: a still face that blinks on request
    gets the retry (a turn), and passes when it answers that too."""
    cfg = challenge_config(kinds=("blink", "turn"))
    judge = LivenessJudge(cfg, None, rng=random.Random(1))
    noise = np.random.default_rng(56)
    started, verdict = run_until_challenge(judge, noise)
    assert verdict.prompt is not None
    if verdict.prompt.kind == "blink":
        answer = feed(judge, blink_frames(started + 0.04, noise))
        follow = "turn"
    else:
        answer = feed(
            judge, moving_views(synthetic_head(), 40, FPS, noise, yaw_amp=25.0, t0=started + 0.07)
        )
        follow = "blink"
    assert all(v.status != "live" for _, v in answer)
    asked = [v for _, v in answer if v.reason == "challenge_started"]
    assert asked and asked[0].prompt is not None and asked[0].prompt.kind == follow


def test_a_flat_look_hands_over_to_the_challenge_at_once() -> None:
    """Real heads whose motion is mostly expression can look flat: the challenge decides,
    unless the flatness is overwhelming."""
    structure = StructureConfig(final_flat_ratio=0.0)  # never final
    cfg = LivenessConfig(mode="passive+challenge", structure=structure)
    judge = LivenessJudge(cfg, None, rng=random.Random(3))
    frames = moving_views(
        synthetic_head(flat=True), 40, FPS, np.random.default_rng(57), roll_amp=10.0,
        distance=350.0, t0=T0,
    )  # fmt: skip
    verdicts = feed(judge, frames)
    started = next(t for t, v in verdicts if v.reason == "challenge_started")
    assert started - T0 < cfg.decide_within_s
    assert all(v.status != "spoof" for _, v in verdicts)


def test_a_model_that_abstains_on_every_crop_holds_nothing_up() -> None:
    """The sharpness gate: blurry crops are not judged, and a model that could judge none of
    an attempt's crops neither refuses the face nor blocks its acceptance."""

    class Blurry:
        calls = 0

        def score(self, image_rgb: npt.NDArray[np.uint8], points: npt.ArrayLike) -> None:
            Blurry.calls += 1
            return None

    pad = pad_config(every_n_frames=2, min_samples=2, max_samples=3)
    samples = ModelSamples(pad)
    for _ in range(3):
        samples.add(None)
    assert samples.abstained and samples.result().status == "inconclusive"
    judge = LivenessJudge(LivenessConfig(mode="passive", model=pad), None, Blurry())
    verdicts = feed(judge, talking_blink_frames(T0, np.random.default_rng(58)))
    assert (verdicts[-1][1].status, verdicts[-1][1].reason) == ("live", "blink+expression")
    assert Blurry.calls == pad.max_samples


def test_sharpness_counts_laplacian_edges() -> None:
    flat = np.full((256, 256, 3), 128, np.uint8)
    checker = ((np.indices((256, 256)).sum(axis=0) % 2) * 255).astype(np.uint8)
    assert sharpness(flat) == 0
    assert sharpness(np.stack([checker] * 3, axis=-1)) > 1000


def _first_challenge(cfg: LivenessConfig, frames: list) -> float | None:
    judge = LivenessJudge(cfg, None, rng=random.Random(3))
    verdicts = feed(judge, frames)
    return next((t for t, v in verdicts if v.status == "challenge"), None)


def test_one_piece_of_evidence_is_asked_for_the_second_early() -> None:
    """A blink, then nothing: the prompt comes at after_evidence_s, not at decide_within_s."""
    noise = np.random.default_rng(77)
    frames = blink_frames(T0, noise) + list(still_frames(60, T0 + 35 / 25.0, noise))
    cfg = LivenessConfig(
        mode="passive+challenge",
        decide_within_s=5.0,
        challenge=ChallengeConfig(after_evidence_s=1.5),
    )
    started = _first_challenge(cfg, frames)
    assert started is not None
    assert 1.5 <= started - T0 < 1.5 + 2.5 / FPS
    # Without the rule (null) the same attempt waits for decide_within_s.
    waiting = cfg.model_copy(update={"challenge": ChallengeConfig(after_evidence_s=None)})
    started = _first_challenge(waiting, frames)
    assert started is not None and started - T0 >= 5.0


def test_no_evidence_is_not_challenged_early() -> None:
    """A still face has no evidence: it waits for decide_within_s whatever after_evidence_s."""
    cfg = LivenessConfig(
        mode="passive+challenge",
        decide_within_s=3.0,
        challenge=ChallengeConfig(after_evidence_s=0.5),
    )
    started = _first_challenge(cfg, list(still_frames(100, T0, np.random.default_rng(78))))
    assert started is not None and started - T0 >= 3.0


def test_evidence_is_not_challenged_before_the_screen_detector_has_its_samples() -> None:
    """The early prompt waits for the screen detector: a replay must show its moire first."""
    noise = np.random.default_rng(79)
    frames = blink_frames(T0, noise) + list(still_frames(60, T0 + 35 / 25.0, noise))
    cfg = LivenessConfig(
        mode="passive+challenge",
        decide_within_s=5.0,
        screen=ScreenConfig(min_samples=40),  # measured on every 2nd frame: frame 78 is the 40th
        challenge=ChallengeConfig(after_evidence_s=0.5),
    )
    started = _first_challenge(cfg, frames)
    assert started is not None and started >= frames[78][0] > T0 + 4.0
