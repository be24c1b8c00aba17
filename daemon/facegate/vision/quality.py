"""Is this face good enough to embed? Size, pose (from the detector's keypoints), blur, light.

Embedding a far, turned, blurred or badly lit face wastes ~85 ms and produces a template that
matches the resident worse (and a stranger no worse), so such frames are skipped and the
reason is reported ("come closer", "look at the camera", "hold still").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..config import QualityConfig
from .types import Detection

__all__ = ["QualityReport", "assess"]

_PROBE_PX = 112  # faces are scaled to this size before measuring blur and light


@dataclass(slots=True, frozen=True)
class QualityReport:
    """Measurements of one face and the verdict.

    Attributes:
        ok: every gate passed.
        reason: the first gate that failed, worded for the person at the gate.
        face_px: face width in pixels.
        yaw: nose offset from the eyes' midpoint, in eye distances (0 = frontal).
        roll_deg: angle of the line between the eyes.
        sharpness: variance of the Laplacian of the face at 112 px.
        brightness: mean grey level of the face (0-255).
        score: 0..1 ranking of usable frames (bigger, sharper, more frontal is better).
    """

    ok: bool
    reason: str | None
    face_px: float
    yaw: float
    roll_deg: float
    sharpness: float
    brightness: float
    score: float


def _pose(detection: Detection) -> tuple[float, float]:
    (rx, ry), (lx, ly), (nx, ny) = detection.keypoints[:3]
    ex, ey = lx - rx, ly - ry
    dist = math.hypot(ex, ey)
    if dist < 1e-6:
        return 1.0, 0.0
    mx, my = (rx + lx) / 2.0, (ry + ly) / 2.0
    yaw = abs((nx - mx) * ex + (ny - my) * ey) / (dist * dist)
    roll = math.degrees(math.atan2(ey, ex))
    return yaw, roll


def _texture(image: np.ndarray, detection: Detection) -> tuple[float, float]:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = detection.box
    left, top = max(0, int(x1)), max(0, int(y1))
    right, bottom = min(w, math.ceil(x2)), min(h, math.ceil(y2))
    if right - left < 4 or bottom - top < 4:
        return 0.0, 0.0
    grey = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (_PROBE_PX, _PROBE_PX), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return sharpness, float(grey.mean())


def assess(image: np.ndarray, detection: Detection, cfg: QualityConfig) -> QualityReport:
    """Measure one detected face in an RGB frame and decide whether to embed it."""
    face_px = float(detection.width)
    yaw, roll = _pose(detection)
    sharpness, brightness = _texture(image, detection)
    reason: str | None = None
    if face_px < cfg.min_face_px:
        reason = "too far away: come closer"
    elif yaw > cfg.max_yaw:
        reason = "turned away: look at the camera"
    elif abs(roll) > cfg.max_roll_deg:
        reason = "head tilted: hold your head straight"
    elif brightness < cfg.min_brightness:
        reason = "too dark"
    elif brightness > cfg.max_brightness:
        reason = "too bright (back light or glare)"
    elif sharpness < cfg.min_sharpness:
        reason = "blurred: hold still"
    size_term = min(1.0, face_px / (2.0 * cfg.min_face_px))
    pose_term = max(0.0, 1.0 - yaw / max(cfg.max_yaw, 1e-6))
    sharp_term = min(1.0, sharpness / max(4.0 * cfg.min_sharpness, 1.0))
    score = size_term * (0.5 + 0.5 * pose_term) * (0.5 + 0.5 * sharp_term)
    return QualityReport(
        ok=reason is None,
        reason=reason,
        face_px=face_px,
        yaw=yaw,
        roll_deg=roll,
        sharpness=sharpness,
        brightness=brightness,
        score=score,
    )
