"""Face detection with OpenCV Zoo's YuNet (``cv2.FaceDetectorYN``): box, score, 5 landmarks.

YuNet 2023mar (MIT licence, 232 kB, ``face_detection_yunet_2023mar.onnx``) runs on OpenCV's
DNN module at the frame's own resolution (any size; no letterbox to 128 px as BlazeFace
needs), so a gate-sized face of 60-100 px keeps its detail. Each face comes with five
landmarks in the ArcFace template's order: the subject's right eye (image left), left eye,
nose tip, right and left mouth corners. They are what the ``sface`` aligner cuts the
112×112 chip from, so no second landmark model runs.

The :class:`~facegate.vision.types.Detection` it returns keeps the project's contract:
``keypoints`` start with right eye, left eye and nose tip like BlazeFace's (the quality gate
and FaceMesh's crop use only those), then the mouth centre; ``points5`` holds the five
ArcFace-order points.

Boxes follow BlazeFace's convention. YuNet's own box is a taller, narrower rectangle from the
brow to the chin; BlazeFace's, on which every face-size limit was set (``face_zone.min_face_px``,
``quality.min_face_px``) and every liveness crop was tuned (the screen and frame rings, the
anti-spoofing crop), is near square and sits lower. Measured on 343 faces both detectors found
(the shared faces and lfw-dev), BlazeFace's box is 1.122 times YuNet's width (p10-p90
1.02-1.22), 0.852 times its height (0.78-0.92) and its centre 0.084 of YuNet's height lower
(0.04-0.11); the box is mapped by those medians, so a face at the terminal is the same size
to the gate whichever detector found it. The landmarks are YuNet's own.

Frames larger than ``max_side`` are scaled down for detection and the results scaled back:
YuNet's cost grows with the pixel count, and a face at the gate is large enough at 640 px.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ..config import DetectorConfig
from ..errors import ModelError
from ..models.manifest import model_path
from .detect import check_detector_args
from .runtime import verify_model_file
from .types import Detection, check_rgb_image

__all__ = ["YuNetDetector", "build", "detections_from_yunet"]

logger = logging.getLogger(__name__)

_ROW = 15  # x, y, w, h, 5 × (x, y), score
# YuNet's box → BlazeFace's convention (medians measured on 343 faces, see the module text).
_WIDTH_TO_BLAZEFACE = 1.122
_HEIGHT_TO_BLAZEFACE = 0.852
_CENTRE_DOWN = 0.084  # of YuNet's height


def detections_from_yunet(
    rows: npt.ArrayLike | None, width: int, height: int, scale: float = 1.0
) -> list[Detection]:
    """Turn ``FaceDetectorYN.detect`` rows into detections in frame pixels, best score first.

    Args:
        rows: ``(N, 15)`` rows ``x, y, w, h, re_x, re_y, le_x, le_y, n_x, n_y, rm_x, rm_y,
            lm_x, lm_y, score`` (``None`` when YuNet found nothing).
        width: Frame width in pixels (boxes are clipped to it).
        height: Frame height in pixels.
        scale: Factor from the detector's input back to the frame (frame px / input px).

    Returns:
        One :class:`Detection` per row with a non-empty clipped box.
    """
    if rows is None:
        return []
    faces = np.asarray(rows, dtype=np.float64).reshape(-1, _ROW)
    out: list[Detection] = []
    for row in faces[np.argsort(-faces[:, 14], kind="stable")]:
        x, y, w, h = (float(v) * scale for v in row[:4])
        cx, cy = x + w / 2.0, y + h / 2.0 + _CENTRE_DOWN * h
        w, h = w * _WIDTH_TO_BLAZEFACE, h * _HEIGHT_TO_BLAZEFACE
        x, y = cx - w / 2.0, cy - h / 2.0
        x1, y1 = min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))
        x2, y2 = min(max(x + w, 0.0), float(width)), min(max(y + h, 0.0), float(height))
        if x2 <= x1 or y2 <= y1:
            continue
        pts = [(float(row[4 + 2 * i]) * scale, float(row[5 + 2 * i]) * scale) for i in range(5)]
        mouth = ((pts[3][0] + pts[4][0]) / 2.0, (pts[3][1] + pts[4][1]) / 2.0)
        out.append(
            Detection(
                box=(x1, y1, x2, y2),
                score=float(min(max(row[14], 0.0), 1.0)),
                keypoints=(pts[0], pts[1], pts[2], mouth),
                points5=tuple(pts),
            )
        )
    return out


class YuNetDetector:
    """YuNet on ``cv2.FaceDetectorYN``. Calls are serialised by a lock: the network keeps one
    input size, and an enrolment photo (another size) may be detected on the admin thread
    while the loop detects camera frames.

    Args:
        model_path: ``face_detection_yunet_2023mar.onnx``.
        sha256: Expected SHA-256 of the model file, or ``None`` to skip the check.
        score_threshold: Minimum face score (0..1).
        nms_iou: IoU above which two boxes are one face.
        max_faces: Return at most this many faces.
        num_threads: CPU threads OpenCV may use (process-wide ``cv2.setNumThreads``).
        max_side: Frames with a longer side are scaled down to it before detection.

    Raises:
        ModelError: The file is missing, has the wrong hash, or OpenCV cannot load it.
        ValueError: An argument is out of range.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        sha256: str | None = None,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        max_faces: int = 5,
        num_threads: int = 2,
        max_side: int = 640,
    ) -> None:
        check_detector_args(score_threshold, nms_iou, max_faces)
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32, got {max_side}")
        path = verify_model_file(model_path, sha256)
        if not hasattr(cv2, "FaceDetectorYN"):
            raise ModelError("this OpenCV has no FaceDetectorYN (OpenCV ≥ 4.5.4 needed for YuNet)")
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_faces = max_faces
        self.max_side = max_side
        cv2.setNumThreads(num_threads)
        log = cv2.utils.logging
        level = log.getLogLevel()
        # FaceDetectorYN asks its new graph engine for a target it then ignores, with a
        # "[ WARN:0] ... Targets are not supported" line on the console: noise, not news.
        log.setLogLevel(log.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), score_threshold, nms_iou, 5000
            )
        except cv2.error as exc:
            text = str(exc).strip().splitlines()
            raise ModelError(
                f"cannot load model file {path}: {text[0] if text else 'OpenCV error'}"
            ) from exc
        finally:
            log.setLogLevel(level)
        self._size = (320, 320)
        self._lock = threading.Lock()
        logger.info("loaded YuNet %s", path)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Detection]:
        """Find faces in one RGB frame: best score first, at most ``max_faces``.

        Raises:
            ImageError: The array is not a non-empty ``H×W×3`` uint8 image.
        """
        check_rgb_image(image)
        h, w = image.shape[:2]
        scale = 1.0
        bgr: np.ndarray = np.ascontiguousarray(image[:, :, ::-1])
        if max(h, w) > self.max_side:
            k = self.max_side / max(h, w)
            bgr = cv2.resize(
                bgr, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA
            )
            scale = 1.0 / k
        size = (bgr.shape[1], bgr.shape[0])
        with self._lock:
            if size != self._size:
                self._net.setInputSize(size)
                self._size = size
            _, rows = self._net.detect(bgr)
        return detections_from_yunet(rows, w, h, scale)[: self.max_faces]


def build(cfg: DetectorConfig, models_dir: Path | None) -> YuNetDetector:
    """``type: yunet``: OpenCV Zoo's YuNet, with the five landmarks ``sface`` aligns on.

    Raises:
        ModelError: The model file is missing, wrong or cannot be loaded.
    """
    path, sha = model_path(cfg.model, models_dir)
    return YuNetDetector(
        path,
        sha256=sha,
        score_threshold=cfg.score_threshold,
        nms_iou=cfg.nms_iou,
        max_faces=cfg.max_faces,
        num_threads=cfg.num_threads,
        max_side=cfg.max_side,
    )
