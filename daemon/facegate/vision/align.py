"""Five-point similarity alignment onto the ArcFace template, and a FaceMesh-based aligner.

ArcFace-family embedders (InsightFace's MobileFaceNet, ResNets, …) were trained on 112×112
chips cut so that the eyes, nose tip and mouth corners land on one fixed template. The chip
is cut with the least-squares similarity transform (rotation, uniform scale, translation;
Umeyama's closed form) from the five detected points onto that template, so small errors in
any one point are spread over all five instead of skewing the face.
"""

from __future__ import annotations

import logging
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from facegate.vision.embed import AlignedFace
from facegate.vision.landmarks import FaceLandmarks, FaceMesh, arcface_points
from facegate.vision.types import Detection, check_rgb_image

__all__ = [
    "ARCFACE_112",
    "FaceMeshAligner",
    "align_similarity",
    "arcface_template",
    "similarity_matrix",
    "warp_onto",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

ARCFACE_112: Final[FloatArray] = np.array(
    [
        [38.2946, 51.6963],  # subject's right eye (image left)
        [73.5318, 51.5014],  # left eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # right mouth corner (image left)
        [70.7299, 92.2041],  # left mouth corner
    ],
    dtype=np.float32,
)
"""The standard ArcFace 5-point template for a 112×112 chip, in pixel coordinates."""
ARCFACE_112.setflags(write=False)

_TEMPLATE_SIZE = 112


def arcface_template(size: int = _TEMPLATE_SIZE) -> FloatArray:
    """The ArcFace template for a ``size``×``size`` chip (the 112 one scaled uniformly).

    Raises:
        ValueError: ``size`` is not positive.
    """
    if size <= 0:
        raise ValueError(f"chip size must be positive, got {size}")
    if size == _TEMPLATE_SIZE:
        return ARCFACE_112.copy()
    return (ARCFACE_112 * np.float32(size / _TEMPLATE_SIZE)).astype(np.float32)


def similarity_matrix(src: npt.ArrayLike, dst: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The least-squares similarity transform taking ``src`` points onto ``dst`` points.

    Umeyama's closed form (no reflection): minimises ``Σ |s R p_i + t - q_i|²`` over the
    rotation ``R``, scale ``s`` and translation ``t``.

    Args:
        src: ``(N, 2)`` points, N ≥ 2.
        dst: ``(N, 2)`` target points.

    Returns:
        A ``(2, 3)`` float64 matrix ``[s R | t]`` for ``cv2.warpAffine``.

    Raises:
        ValueError: The shapes differ, there are fewer than two points, or all the source
            points coincide.
    """
    p = np.asarray(src, dtype=np.float64)
    q = np.asarray(dst, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape != q.shape or p.shape[0] < 2:
        raise ValueError(f"expected two (N, 2) point sets with N >= 2, got {p.shape}, {q.shape}")
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError("points must be finite")
    p_mean, q_mean = p.mean(axis=0), q.mean(axis=0)
    pc, qc = p - p_mean, q - q_mean
    variance = float((pc**2).sum()) / len(p)
    if variance <= 1e-12:
        raise ValueError("source points coincide; no similarity transform exists")
    covariance = qc.T @ pc / len(p)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0  # the best fit would be a mirror image: take the best rotation instead
    rotation = u @ np.diag(sign) @ vt
    scale = float(singular @ sign) / variance
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = q_mean - scale * rotation @ p_mean
    return matrix


def align_similarity(
    image_rgb: npt.NDArray[np.uint8], points5: npt.ArrayLike, size: int = _TEMPLATE_SIZE
) -> npt.NDArray[np.uint8]:
    """Cut an ArcFace-aligned face chip.

    Args:
        image_rgb: The ``H×W×3`` uint8 RGB frame.
        points5: ``(5, 2)`` frame pixels in the template's order (see :data:`ARCFACE_112`).
        size: Chip side; the 112 template is scaled when it differs.

    Returns:
        The ``size``×``size``×3 uint8 RGB chip; outside the frame is black, as in InsightFace.

    Raises:
        ImageError: ``image_rgb`` is not a non-empty ``H×W×3`` uint8 array.
        ValueError: ``points5`` is not five finite, distinct points.
    """
    check_rgb_image(image_rgb)
    points = np.asarray(points5, dtype=np.float64)
    if points.shape != (5, 2):
        raise ValueError(f"expected (5, 2) points, got {points.shape}")
    return warp_onto(image_rgb, points, arcface_template(size), size)


def warp_onto(
    image_rgb: npt.NDArray[np.uint8], points5: npt.ArrayLike, target: npt.ArrayLike, size: int
) -> npt.NDArray[np.uint8]:
    """The ``size``² chip whose five points land on ``target`` (a moved template, say)."""
    matrix = similarity_matrix(points5, target)
    chip = cv2.warpAffine(
        image_rgb,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(chip)


class FaceMeshAligner:
    """Aligns faces for ArcFace-family embedders with FaceMesh landmarks.

    Mirrors :class:`~facegate.vision.embed.DlibAligner`: ``align(image, detection)`` returns
    an :class:`~facegate.vision.embed.AlignedFace` whose ``landmarks`` are the five ArcFace
    points in frame pixels. Callers that already ran FaceMesh on the face (for liveness, say)
    use :meth:`align_landmarks` to avoid a second invoke.

    Args:
        facemesh: The landmark model.
        size: Chip side in pixels.
    """

    def __init__(self, facemesh: FaceMesh, size: int = _TEMPLATE_SIZE) -> None:
        arcface_template(size)  # validates size
        self.facemesh = facemesh
        self.size = size

    def align(self, image: npt.NDArray[np.uint8], detection: Detection) -> AlignedFace:
        """Landmarks and chip for one detected face in an RGB frame.

        Raises:
            ImageError: ``image`` is not a non-empty ``H×W×3`` uint8 array.
        """
        return self.align_landmarks(image, self.facemesh.landmarks(image, detection), detection)

    def align_landmarks(
        self, image: npt.NDArray[np.uint8], landmarks: FaceLandmarks, detection: Detection
    ) -> AlignedFace:
        """The chip for a face whose FaceMesh landmarks are already known.

        Raises:
            ImageError: ``image`` is not a non-empty ``H×W×3`` uint8 array.
        """
        points = arcface_points(landmarks)
        chip = align_similarity(image, points, self.size)
        return AlignedFace(chip=chip, landmarks=points, detection=detection)
