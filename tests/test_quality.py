"""The quality gate: each reason is reachable, and real frontal photos pass."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.config import QualityConfig
from facegate.vision.quality import assess
from facegate.vision.types import Detection
from helpers import load_rgb

CFG = QualityConfig()


def face(box=(100.0, 100.0, 220.0, 220.0), nose_dx: float = 0.0, tilt: float = 0.0) -> Detection:  # type: ignore[no-untyped-def]
    x1, y1, x2, _ = box
    w = x2 - x1
    ry, ly = y1 + 0.35 * w - tilt, y1 + 0.35 * w + tilt
    kp = ((x1 + 0.3 * w, ry), (x1 + 0.7 * w, ly), (x1 + 0.5 * w + nose_dx * 0.4 * w, y1 + 0.55 * w))
    return Detection(box=box, score=0.9, keypoints=(*kp, (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)))


def textured(brightness: float = 128.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.normal(brightness, 30.0, (480, 640, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_a_good_face_passes() -> None:
    report = assess(textured(), face(), CFG)
    assert report.ok and report.reason is None
    assert report.face_px == 120 and report.yaw == pytest.approx(0.0, abs=1e-6)
    assert 0 < report.score <= 1


@pytest.mark.parametrize(
    ("image", "detection", "reason"),
    [
        (textured(), face(box=(100, 100, 140, 140)), "too far away"),
        (textured(), face(nose_dx=1.5), "turned away"),
        (textured(), face(tilt=30.0), "head tilted"),
        (textured(20.0), face(), "too dark"),
        (textured(240.0), face(), "too bright"),
        (np.full((480, 640, 3), 128, np.uint8), face(), "blurred"),
    ],
)
def test_each_gate_says_why(image: np.ndarray, detection: Detection, reason: str) -> None:
    report = assess(image, detection, CFG)
    assert not report.ok and report.reason is not None and report.reason.startswith(reason)


def test_blur_lowers_sharpness_on_a_real_face(testdata: Path) -> None:
    image = load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg")
    h, w = image.shape[:2]
    d = Detection(box=(w * 0.3, h * 0.2, w * 0.7, h * 0.55), score=0.9, keypoints=face().keypoints)
    sharp = assess(image, d, CFG).sharpness
    blurred = assess(cv2.GaussianBlur(image, (0, 0), 6), d, CFG).sharpness
    assert blurred < sharp / 5
