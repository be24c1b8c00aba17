"""Result types shared by the vision modules.

Results are frozen, slotted dataclasses in frame pixels, so they can be passed between the
detector, tracker, aligner and the main loop without anyone mutating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import ImageError

__all__ = ["Box", "Detection", "Detector", "check_rgb_image", "iou"]

Box = tuple[float, float, float, float]
"""An axis-aligned box ``(x1, y1, x2, y2)`` in pixels, x right and y down."""


@dataclass(slots=True, frozen=True)
class Detection:
    """One face found in a frame. Coordinates are frame pixels (x right, y down).

    Attributes:
        box: ``(x1, y1, x2, y2)``, clipped to the frame.
        score: Face confidence in 0..1 (after the sigmoid).
        keypoints: The six BlazeFace points in frame pixels, in BlazeFace order: right eye,
            left eye, nose tip, mouth centre, right ear tragion, left ear tragion. "Right" is
            the subject's right, which is on the image's left. Keypoints are not clipped and
            may lie outside the frame when the face is cut off at the edge. Other detectors
            keep the first three (eyes, nose tip) in this order.
        points5: The five ArcFace-order points (subject's right eye, left eye, nose tip,
            right and left mouth corners) when the detector finds them (YuNet), else
            ``None``. The ``sface`` aligner cuts its chip from these.
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...]
    points5: tuple[tuple[float, float], ...] | None = None

    def shifted(self, dx: float, dy: float) -> Detection:
        """The same face with every coordinate moved by ``(dx, dy)`` (a tile back to its frame)."""
        x1, y1, x2, y2 = self.box
        return Detection(
            box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy),
            score=self.score,
            keypoints=tuple((x + dx, y + dy) for x, y in self.keypoints),
            points5=(
                None if self.points5 is None else tuple((x + dx, y + dy) for x, y in self.points5)
            ),
        )

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        """Box centre ``(x, y)`` in pixels."""
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)


class Detector(Protocol):
    """What every detector backend (``vision/registry.DETECTORS``) gives: faces in an RGB
    frame, best first."""

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes.

    Args:
        a: The first box.
        b: The second box.

    Returns:
        A value in 0..1; 0 when the boxes do not overlap or both are empty.
    """
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0.0 else 0.0


def check_rgb_image(image: object) -> None:
    """Raise :class:`ImageError` unless ``image`` is a non-empty H×W×3 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected an RGB image as a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"expected an H×W×3 RGB image, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"expected a non-empty image, got shape {image.shape}")
