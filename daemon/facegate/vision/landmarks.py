"""MediaPipe FaceMesh (468 face landmarks) run directly on LiteRT.

The model (``face_landmark.tflite``) takes a 192×192 RGB crop scaled to [0, 1] and returns
468 points as ``(x, y, z)`` in crop pixels (z on the same scale as x, negative towards the
camera) and one face-presence logit. The crop is cut the way MediaPipe's face-landmark graph
cuts it from a BlazeFace detection:

1. the ROI is a square centred on the detection box, 1.5 × the box's longer side;
2. it is rotated so that the line from the subject's right eye to the left eye (BlazeFace
   keypoints 0 and 1) is horizontal;
3. it is warped to the model input with one affine transform (``cv2.warpAffine``, border
   replicated), and the output points are mapped back with the inverse of that transform.

Coordinates follow :class:`~facegate.vision.types.Detection`: frame pixels with x right and
y down, continuous (the pixel in column ``i`` covers ``[i, i + 1)``).

The helpers :func:`arcface_points` and :func:`eye_aspect_ratios` read fixed vertices of the
canonical MediaPipe mesh topology.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from facegate.errors import ModelError
from facegate.vision.runtime import load_interpreter
from facegate.vision.types import Detection, check_rgb_image

__all__ = [
    "LEFT_EYE_CONTOUR",
    "LEFT_EYE_EAR",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "NOSE_TIP",
    "NUM_LANDMARKS",
    "RIGHT_EYE_CONTOUR",
    "RIGHT_EYE_EAR",
    "ROI_SCALE",
    "FaceLandmarks",
    "FaceMesh",
    "arcface_points",
    "eye_aspect_ratio",
    "eye_aspect_ratios",
    "roi_transform",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

NUM_LANDMARKS = 468
"""Vertices of the canonical MediaPipe face mesh (without the iris points)."""
ROI_SCALE = 1.5
"""Side of the landmark crop in units of the detection box's longer side (MediaPipe's value)."""

# Vertices of the canonical mesh. "Right" is the subject's right, on the image's left.
RIGHT_EYE_CONTOUR: tuple[int, ...] = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
)  # fmt: skip
"""The 16 vertices around the subject's right eye (lid margins, outer corner 33, inner 133)."""
LEFT_EYE_CONTOUR: tuple[int, ...] = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466,
)  # fmt: skip
"""The 16 vertices around the subject's left eye (outer corner 263, inner 362)."""
RIGHT_EYE_EAR: tuple[int, ...] = (33, 160, 158, 133, 153, 144)
"""p1..p6 of the classic eye aspect ratio for the subject's right eye."""
LEFT_EYE_EAR: tuple[int, ...] = (362, 385, 387, 263, 373, 380)
"""p1..p6 of the classic eye aspect ratio for the subject's left eye."""
NOSE_TIP = 1
"""Vertex of the nose tip (pronasale)."""
MOUTH_RIGHT = 61
"""Vertex of the subject's right mouth corner (image left)."""
MOUTH_LEFT = 291
"""Vertex of the subject's left mouth corner (image right)."""

_RIGHT_EYE_KEYPOINT = 0  # BlazeFace keypoint order: right eye, left eye, nose, mouth, ears
_LEFT_EYE_KEYPOINT = 1
_LOGIT_CLIP = 80.0  # keeps exp() finite in float64 and the sigmoid exact to print precision


@dataclass(slots=True, frozen=True)
class FaceLandmarks:
    """The 468 FaceMesh points of one face, in frame pixels.

    Attributes:
        points: ``(468, 3)`` float32 ``(x, y, z)``; x and y in frame pixels, z relative depth
            on the same scale as x (smaller is nearer the camera).
        presence: Probability (0..1) that the crop holds a face, from the model's own
            face-presence output. MediaPipe drops faces below 0.5.
    """

    points: FloatArray
    presence: float


def roi_transform(
    detection: Detection, size: int, *, scale: float = ROI_SCALE
) -> npt.NDArray[np.float64]:
    """The affine transform from frame pixels to the landmark model's crop.

    The crop is a square of ``scale`` × the box's longer side centred on the box, rotated so
    the eyes (BlazeFace keypoints 0 and 1) are level. Both sides use continuous coordinates,
    so the same matrix maps points in either direction (with ``cv2.invertAffineTransform``).

    Args:
        detection: The face, with at least the two eye keypoints.
        size: Side of the square model input, in pixels.
        scale: Crop side over the detection box's longer side.

    Returns:
        A ``(2, 3)`` float64 matrix ``M`` with ``crop = M @ (x, y, 1)``.

    Raises:
        ValueError: The detection has an empty box or fewer than two keypoints.
    """
    side = max(detection.width, detection.height) * scale
    if not side > 0.0:
        raise ValueError(f"detection box {detection.box} is empty")
    if len(detection.keypoints) < 2:
        raise ValueError("detection needs the two eye keypoints to level the crop")
    (rx, ry) = detection.keypoints[_RIGHT_EYE_KEYPOINT]
    (lx, ly) = detection.keypoints[_LEFT_EYE_KEYPOINT]
    # The subject's right eye is on the image's left, so a level face gives angle 0.
    angle = math.atan2(ly - ry, lx - rx)
    k = size / side
    cos, sin = math.cos(angle) * k, math.sin(angle) * k
    cx, cy = detection.center
    # crop = k * R(-angle) @ (p - c) + size / 2
    return np.array(
        [
            [cos, sin, -(cos * cx + sin * cy) + size / 2.0],
            [-sin, cos, -(-sin * cx + cos * cy) + size / 2.0],
        ],
        dtype=np.float64,
    )


class FaceMesh:
    """MediaPipe's face-landmark model on a TFLite interpreter, one invoke per face.

    Works with the ``face_landmark.tflite`` that ``facegate models install`` puts in the
    models folder and with the older MediaPipe copy: the outputs are found by their shapes
    (1404 = 468 × 3 values, and 1 value), not their names. One instance owns one interpreter
    and its input buffer, so it is not thread-safe.

    Args:
        model_path: ``face_landmark.tflite``.
        sha256: Expected SHA-256 of the file, or ``None`` to skip the check.
        num_threads: CPU threads for the interpreter.

    Raises:
        ModelError: The model cannot be loaded or does not have FaceMesh's inputs/outputs.
    """

    def __init__(
        self, model_path: str | Path, *, sha256: str | None = None, num_threads: int = 2
    ) -> None:
        self.path = Path(model_path)
        self._interpreter = load_interpreter(model_path, sha256=sha256, num_threads=num_threads)
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        in_shapes = [[int(v) for v in d["shape"]] for d in inputs]
        out_shapes = {str(d["name"]): [int(v) for v in d["shape"]] for d in outputs}
        if (
            len(inputs) != 1
            or len(in_shapes[0]) != 4
            or in_shapes[0][0] != 1
            or in_shapes[0][3] != 3
            or in_shapes[0][1] != in_shapes[0][2]
            or inputs[0]["dtype"] != np.float32
        ):
            raise ModelError(
                f"model file {self.path} is not a FaceMesh model: inputs {in_shapes}, "
                "expected one float32 [1, S, S, 3]"
            )
        mesh = [d for d in outputs if int(np.prod(d["shape"])) == NUM_LANDMARKS * 3]
        flag = [d for d in outputs if int(np.prod(d["shape"])) == 1]
        if len(mesh) != 1 or len(flag) != 1:
            raise ModelError(
                f"model file {self.path} is not a FaceMesh model: outputs {out_shapes}, "
                f"expected one with {NUM_LANDMARKS * 3} values and one with 1 value"
            )
        self.input_size = in_shapes[0][1]
        self._input_index = int(inputs[0]["index"])
        self._mesh_index = int(mesh[0]["index"])
        self._presence_index = int(flag[0]["index"])
        self._input = np.empty((1, self.input_size, self.input_size, 3), dtype=np.float32)

    def landmarks(self, image_rgb: npt.NDArray[np.uint8], detection: Detection) -> FaceLandmarks:
        """Run the landmark model on one detected face.

        Args:
            image_rgb: The ``H×W×3`` uint8 RGB frame the detection was found in.
            detection: The face, with BlazeFace's keypoints (only the eyes are used).

        Returns:
            The 468 points in frame pixels and the face-presence probability.

        Raises:
            ImageError: ``image_rgb`` is not a non-empty ``H×W×3`` uint8 array.
            ValueError: The detection has an empty box or no eye keypoints.
        """
        check_rgb_image(image_rgb)
        size = self.input_size
        forward = roi_transform(detection, size)
        # warpAffine samples pixel centres: shift both sides from continuous to index
        # coordinates (index = continuous - 0.5).
        warp = forward.copy()
        warp[:, 2] += 0.5 * (forward[:, 0] + forward[:, 1]) - 0.5
        crop = cv2.warpAffine(
            image_rgb,
            warp,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        np.multiply(crop, np.float32(1.0 / 255.0), out=self._input[0], casting="unsafe")

        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._mesh_index).reshape(NUM_LANDMARKS, 3)
        logit = float(self._interpreter.get_tensor(self._presence_index).reshape(()))

        inverse = cv2.invertAffineTransform(forward)
        xy = raw[:, :2].astype(np.float64) @ inverse[:, :2].T + inverse[:, 2]
        z_scale = math.hypot(inverse[0, 0], inverse[1, 0])  # frame pixels per crop pixel
        points = np.empty((NUM_LANDMARKS, 3), dtype=np.float32)
        points[:, :2] = xy
        points[:, 2] = raw[:, 2] * z_scale
        presence = 1.0 / (1.0 + math.exp(-min(max(logit, -_LOGIT_CLIP), _LOGIT_CLIP)))
        return FaceLandmarks(points=points, presence=presence)


def _as_points(landmarks: FaceLandmarks | npt.ArrayLike) -> FloatArray:
    points = landmarks.points if isinstance(landmarks, FaceLandmarks) else landmarks
    array = np.asarray(points, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != NUM_LANDMARKS or array.shape[1] < 2:
        raise ValueError(f"expected ({NUM_LANDMARKS}, 2 or 3) landmarks, got {array.shape}")
    return array


def arcface_points(landmarks: FaceLandmarks | npt.ArrayLike) -> FloatArray:
    """The five points of the ArcFace alignment template, taken from the mesh.

    Args:
        landmarks: A :class:`FaceLandmarks` or a ``(468, 2|3)`` array of mesh points.

    Returns:
        ``(5, 2)`` float32 in the template's order: the subject's right eye centre (image
        left), left eye centre, nose tip, right mouth corner (image left), left mouth corner.
        Each eye centre is the mean of the 16 vertices around that eye.

    Raises:
        ValueError: The array does not hold 468 points.
    """
    points = _as_points(landmarks)[:, :2]
    return np.stack(
        [
            points[list(RIGHT_EYE_CONTOUR)].mean(axis=0),
            points[list(LEFT_EYE_CONTOUR)].mean(axis=0),
            points[NOSE_TIP],
            points[MOUTH_RIGHT],
            points[MOUTH_LEFT],
        ]
    ).astype(np.float32)


def eye_aspect_ratio(eye: npt.ArrayLike) -> float:
    """The classic eye aspect ratio of six eye points ``p1..p6``.

    ``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)``, with p1 and p4 the eye corners, p2 and p3 on
    the upper lid, p6 and p5 the lower-lid points below them. About 0.25-0.35 for an open
    eye, near 0 for a closed one.

    Args:
        eye: ``(6, 2|3)`` points; only x and y are used.

    Returns:
        The ratio, or 0.0 when the two corners coincide.
    """
    p = np.asarray(eye, dtype=np.float64)[:, :2]
    width = float(np.linalg.norm(p[0] - p[3]))
    if width <= 0.0:
        return 0.0
    height = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
    return height / (2.0 * width)


def eye_aspect_ratios(landmarks: FaceLandmarks | npt.ArrayLike) -> tuple[float, float]:
    """The eye aspect ratios of both eyes, from six mesh vertices per eye.

    Args:
        landmarks: A :class:`FaceLandmarks` or a ``(468, 2|3)`` array of mesh points.

    Returns:
        ``(right, left)``: the subject's right eye (image left), then the left eye.

    Raises:
        ValueError: The array does not hold 468 points.
    """
    points = _as_points(landmarks)
    return (
        eye_aspect_ratio(points[list(RIGHT_EYE_EAR)]),
        eye_aspect_ratio(points[list(LEFT_EYE_EAR)]),
    )
