"""Face detection with MediaPipe's BlazeFace short-range model, run directly on LiteRT.

The model (``face_detection_short_range.tflite``) takes a 128×128 RGB image scaled to
[-1, 1] and returns, for each of 896 fixed SSD anchors, 16 regressors (box centre and size,
then six keypoints as x, y pairs) and one face logit. Everything around ``invoke()`` is done
here, following the options MediaPipe's face-detection graph gives its calculators:

1. letterbox the frame to 128×128 keeping the aspect ratio (:func:`letterbox`);
2. generate the anchors once (:func:`ssd_anchors`, as ``SsdAnchorsCalculator``);
3. decode boxes, keypoints and sigmoid scores (:func:`decode`, as
   ``TensorsToDetectionsCalculator``);
4. merge overlapping candidates (:func:`weighted_nms`, MediaPipe's ``WEIGHTED`` suppression);
5. undo the letterbox and return :class:`~facegate.vision.types.Detection` in frame pixels.

Steps 2-4 are pure functions of arrays so they can be tested without the model. The
short-range model is meant for faces within about 2 m of the camera (reliable when a face is
at least ~15-20 % of the frame's longer side), which is what a gate camera sees.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from facegate.config.vision import DetectorConfig
from facegate.errors import ModelError
from facegate.models.manifest import model_path
from facegate.vision.runtime import load_interpreter
from facegate.vision.types import Detection, check_rgb_image

__all__ = [
    "INPUT_SIZE",
    "NUM_KEYPOINTS",
    "BlazeFaceDetector",
    "Letterbox",
    "build",
    "check_detector_args",
    "decode",
    "largest",
    "letterbox",
    "ssd_anchors",
    "weighted_nms",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

INPUT_SIZE = 128
"""Side of the square model input, in pixels."""
NUM_KEYPOINTS = 6
"""BlazeFace keypoints: right eye, left eye, nose tip, mouth centre, right/left ear tragion."""
_NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
_SCORE_CLIP = 100.0  # MediaPipe clips logits to ±100 before the sigmoid


def ssd_anchors(
    *,
    input_size: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
    strides: Sequence[int] = (8, 16, 16, 16),
    min_scale: float = 0.1484375,
    max_scale: float = 0.75,
    anchor_offset: float = 0.5,
    aspect_ratios: Sequence[float] = (1.0,),
    interpolated_scale_aspect_ratio: float = 1.0,
    fixed_anchor_size: bool = True,
) -> FloatArray:
    """Generate SSD anchors the way MediaPipe's ``SsdAnchorsCalculator`` does.

    The defaults are the options of the BlazeFace short-range graph and give 896 anchors:
    2 per cell on the 16×16 stride-8 grid, then 6 per cell on the 8×8 stride-16 grid (the
    three stride-16 layers share one grid). Within a grid the order is row, column, anchor,
    which is the order of the model's outputs.

    Args:
        input_size: Model input ``(height, width)`` in pixels.
        strides: One stride per layer; consecutive layers with the same stride share a grid.
        min_scale: Anchor scale of the first layer.
        max_scale: Anchor scale of the last layer.
        anchor_offset: Position of the anchor centre within its cell (0.5 = middle).
        aspect_ratios: Aspect ratios generated per layer.
        interpolated_scale_aspect_ratio: If > 0, one extra anchor per layer with this aspect
            ratio and the geometric mean of this and the next layer's scale.
        fixed_anchor_size: If true every anchor has width = height = 1, as for BlazeFace.

    Returns:
        A ``(N, 4)`` float32 array of ``(x_center, y_center, width, height)``, normalized
        to the input size.
    """
    num_layers = len(strides)

    def layer_scale(index: int) -> float:
        if num_layers == 1:
            return (min_scale + max_scale) / 2.0
        return min_scale + (max_scale - min_scale) * index / (num_layers - 1)

    groups: list[FloatArray] = []
    layer = 0
    while layer < num_layers:
        # Collect the (scale, aspect ratio) pairs of every layer sharing this stride.
        sizes: list[tuple[float, float]] = []  # (width, height)
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            scale = layer_scale(last)
            ratios = [(scale, ratio) for ratio in aspect_ratios]
            if interpolated_scale_aspect_ratio > 0.0:
                next_scale = 1.0 if last == num_layers - 1 else layer_scale(last + 1)
                ratios.append((math.sqrt(scale * next_scale), interpolated_scale_aspect_ratio))
            for s, r in ratios:
                sizes.append((s * math.sqrt(r), s / math.sqrt(r)))
            last += 1

        stride = strides[layer]
        rows = math.ceil(input_size[0] / stride)
        cols = math.ceil(input_size[1] / stride)
        ys, xs = np.meshgrid(
            (np.arange(rows) + anchor_offset) / rows,
            (np.arange(cols) + anchor_offset) / cols,
            indexing="ij",
        )
        k = len(sizes)
        centres = np.stack([xs, ys], axis=-1).reshape(rows * cols, 1, 2)
        centres = np.broadcast_to(centres, (rows * cols, k, 2))
        wh = np.ones((k, 2)) if fixed_anchor_size else np.asarray(sizes, dtype=np.float64)
        wh = np.broadcast_to(wh, (rows * cols, k, 2))
        groups.append(np.concatenate([centres, wh], axis=-1).reshape(-1, 4).astype(np.float32))
        layer = last
    return np.concatenate(groups, axis=0)


def decode(
    raw_boxes: npt.ArrayLike,
    raw_scores: npt.ArrayLike,
    anchors: npt.ArrayLike,
    *,
    scale: float = float(INPUT_SIZE),
    score_threshold: float = 0.6,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Decode BlazeFace regressors and logits into boxes, keypoints and scores.

    Follows ``TensorsToDetectionsCalculator`` with the face graph's options: coordinates are
    ``(x_center, y_center, w, h, kx0, ky0, …)``; centres and keypoints are offsets in units of
    ``scale`` pixels times the anchor size from the anchor centre; sizes are ``scale``-pixel
    units times the anchor size; logits are clipped to ±100 and passed through a sigmoid.

    Args:
        raw_boxes: ``(N, 16)`` (or ``(1, N, 16)``) regressors.
        raw_scores: ``(N,)``, ``(N, 1)`` or ``(1, N, 1)`` face logits.
        anchors: ``(N, 4)`` anchors from :func:`ssd_anchors`.
        scale: The x/y/w/h scale, i.e. the model input size in pixels.
        score_threshold: Candidates scoring below this are dropped.

    Returns:
        ``(boxes, keypoints, scores)`` of the kept candidates: ``(M, 4)`` boxes
        ``(x1, y1, x2, y2)`` and ``(M, 6, 2)`` keypoints, both normalized to the model input,
        and ``(M,)`` scores in 0..1. Not sorted.
    """
    anchors = np.asarray(anchors, dtype=np.float32).reshape(-1, 4)
    n = anchors.shape[0]
    raw_boxes = np.asarray(raw_boxes, dtype=np.float32).reshape(n, -1)
    raw_scores = np.asarray(raw_scores, dtype=np.float32).reshape(n)

    # float64: exp(100) overflows float32 (harmless, but it warns).
    logits = np.clip(raw_scores.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= score_threshold)
    if keep.size == 0:
        return (
            np.empty((0, 4), np.float32),
            np.empty((0, NUM_KEYPOINTS, 2), np.float32),
            np.empty((0,), np.float32),
        )

    raw = raw_boxes[keep]
    anchor = anchors[keep]
    centre = anchor[:, None, 0:2]  # (M, 1, 2)
    size = anchor[:, None, 2:4]
    # Box centre, then keypoints, share one formula: offset / scale * anchor size + centre.
    points = raw[:, [0, 1, *range(4, raw.shape[1])]].reshape(len(keep), -1, 2)
    points = points / scale * size + centre
    half = raw[:, 2:4] / scale * anchor[:, 2:4] / 2.0
    box_centre = points[:, 0]
    boxes = np.concatenate([box_centre - half, box_centre + half], axis=1)
    return (
        boxes.astype(np.float32),
        points[:, 1:].astype(np.float32),
        scores[keep].astype(np.float32),
    )


def _pairwise_iou(boxes: FloatArray) -> FloatArray:
    """IoU between every pair of ``(x1, y1, x2, y2)`` boxes, as an ``(M, M)`` matrix."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    iw = np.clip(np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1), 0, None)
    inter = iw * ih
    union = area[:, None] + area - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0).astype(np.float32)


def weighted_nms(
    boxes: npt.ArrayLike,
    keypoints: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    iou_threshold: float = 0.3,
    max_detections: int | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Merge overlapping candidates like MediaPipe's ``WEIGHTED`` non-max suppression.

    Repeatedly take the best remaining candidate; its cluster is every remaining candidate
    (itself included) whose IoU with it exceeds ``iou_threshold``. The output box and
    keypoints are the score-weighted mean over the cluster, the score is the best one's, and
    the whole cluster is removed. Averaging the many anchors that fire on one face gives a
    steadier box than keeping only the best one.

    Args:
        boxes: ``(M, 4)`` boxes ``(x1, y1, x2, y2)``.
        keypoints: ``(M, K, 2)`` keypoints.
        scores: ``(M,)`` scores.
        iou_threshold: Candidates overlapping the best one by more than this are merged.
        max_detections: Stop after this many outputs (``None``: no limit).

    Returns:
        ``(boxes, keypoints, scores)`` of the merged detections, best score first.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3:
        keypoints = keypoints.reshape(len(scores), -1, 2)
    if scores.size == 0:
        return boxes, keypoints, scores
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    overlap = _pairwise_iou(boxes)
    flat = np.concatenate([boxes, keypoints.reshape(len(scores), -1)], axis=1)

    remaining = np.ones(len(scores), dtype=bool)
    out: list[FloatArray] = []
    out_scores: list[float] = []
    limit = len(scores) if max_detections is None else max_detections
    for top in range(len(scores)):  # sorted, so the first remaining one is the best
        if len(out) >= limit:
            break
        if not remaining[top]:
            continue
        cluster = remaining & (overlap[top] > iou_threshold)
        cluster[top] = True  # always in its own cluster, even for a degenerate box
        weights = scores[cluster]
        out.append((weights @ flat[cluster]) / weights.sum())
        out_scores.append(float(scores[top]))
        remaining &= ~cluster

    if not out:  # only when max_detections == 0
        return boxes[:0], keypoints[:0], scores[:0]
    merged = np.stack(out).astype(np.float32)
    return (
        merged[:, :4],
        merged[:, 4:].reshape(len(out), -1, 2),
        np.asarray(out_scores, dtype=np.float32),
    )


@dataclass(slots=True, frozen=True)
class Letterbox:
    """How a frame was placed in the square model input.

    Attributes:
        scale_x: Model-input pixels per frame pixel, horizontally.
        scale_y: Model-input pixels per frame pixel, vertically.
        pad_x: Black columns left of the resized frame, in model-input pixels.
        pad_y: Black rows above the resized frame, in model-input pixels.
        size: Side of the square model input.
    """

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    size: int

    def to_frame(self, points: FloatArray) -> FloatArray:
        """Map ``(..., 2)`` points normalized to the model input back to frame pixels."""
        pad = np.array([self.pad_x, self.pad_y], dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y], dtype=np.float32)
        return (points * self.size - pad) / scale


def letterbox(
    image: npt.NDArray[np.uint8],
    size: int = INPUT_SIZE,
    out: FloatArray | None = None,
) -> tuple[FloatArray, Letterbox]:
    """Fit an RGB frame into a ``size``×``size`` input, keep the aspect ratio, pad with black.

    The padding is split equally between the two sides (the odd pixel goes right/bottom).

    Args:
        image: An ``H×W×3`` uint8 RGB frame.
        size: Side of the square output.
        out: Optional ``(1, size, size, 3)`` float32 buffer to fill instead of allocating.

    Returns:
        ``(tensor, placement)``: the ``(1, size, size, 3)`` float32 tensor scaled to [-1, 1]
        (padding is black, i.e. -1) and the :class:`Letterbox` needed to map results back.
    """
    h, w = image.shape[:2]
    image = np.ascontiguousarray(image)  # e.g. a BGR→RGB view with a negative stride
    ratio = size / max(h, w)
    new_w = min(size, max(1, round(w * ratio)))
    new_h = min(size, max(1, round(h * ratio)))
    pad_x = (size - new_w) // 2
    pad_y = (size - new_h) // 2
    # INTER_AREA averages when shrinking (no aliasing); it is bilinear-like when enlarging.
    interpolation = cv2.INTER_AREA if ratio < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)

    if out is None:
        out = np.empty((1, size, size, 3), dtype=np.float32)
    out.fill(-1.0)
    region = out[0, pad_y : pad_y + new_h, pad_x : pad_x + new_w]
    np.multiply(resized, np.float32(2.0 / 255.0), out=region, casting="unsafe")
    region -= np.float32(1.0)
    return out, Letterbox(new_w / w, new_h / h, pad_x, pad_y, size)


def largest(detections: Iterable[Detection]) -> Detection | None:
    """Return the detection with the largest box area, or ``None`` if there is none."""
    return max(detections, key=lambda d: d.area, default=None)


def check_detector_args(score_threshold: float, nms_iou: float, max_faces: int) -> None:
    """Raise :class:`ValueError` for a detector setting out of range (every backend's)."""
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must be in 0..1, got {score_threshold}")
    if not 0.0 <= nms_iou <= 1.0:
        raise ValueError(f"nms_iou must be in 0..1, got {nms_iou}")
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")


class BlazeFaceDetector:
    """BlazeFace short-range face detector on a TFLite interpreter.

    One instance owns one interpreter and reusable buffers, so it is not thread-safe: use
    one detector per thread.

    Args:
        model_path: ``face_detection_short_range.tflite``.
        sha256: Expected SHA-256 of the model file, or ``None`` to skip the check.
        score_threshold: Minimum face score (0..1) of a candidate.
        nms_iou: IoU above which candidates are merged into one face.
        max_faces: Return at most this many faces.
        num_threads: CPU threads for the interpreter.

    Raises:
        ModelError: The model cannot be loaded or does not have BlazeFace's inputs/outputs.
        ValueError: An argument is out of range.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        sha256: str | None = None,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        max_faces: int = 10,
        num_threads: int = 2,
    ) -> None:
        check_detector_args(score_threshold, nms_iou, max_faces)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_faces = max_faces

        self._interpreter = load_interpreter(model_path, sha256=sha256, num_threads=num_threads)
        self.anchors = ssd_anchors()
        self._input_index, self._boxes_index, self._scores_index = self._bind(
            Path(model_path), len(self.anchors)
        )
        self._input = np.empty((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)

    def _bind(self, path: Path, num_anchors: int) -> tuple[int, int, int]:
        """Find the input and the two output tensors, checking their shapes."""
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        want_input = [1, INPUT_SIZE, INPUT_SIZE, 3]
        if len(inputs) != 1 or list(inputs[0]["shape"]) != want_input:
            shapes = [list(d["shape"]) for d in inputs]
            raise ModelError(
                f"model file {path} is not BlazeFace short range: "
                f"inputs {shapes}, expected one {want_input}"
            )

        def find(name: str, last_dim: int) -> int:
            shape_ok = [d for d in outputs if list(d["shape"]) == [1, num_anchors, last_dim]]
            named = [d for d in shape_ok if d["name"] == name]
            # Prefer the name; fall back to the shape for re-exported copies that renamed it.
            chosen = named or shape_ok
            if len(chosen) != 1:
                shapes = {d["name"]: list(d["shape"]) for d in outputs}
                raise ModelError(
                    f"model file {path} is not BlazeFace short range: no unique output "
                    f"{name!r} of shape [1, {num_anchors}, {last_dim}] (outputs: {shapes})"
                )
            return int(chosen[0]["index"])

        return (
            int(inputs[0]["index"]),
            find("regressors", _NUM_COORDS),
            find("classificators", 1),
        )

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Detection]:
        """Find faces in one RGB frame.

        Args:
            image: ``H×W×3`` uint8 RGB array of any size and aspect ratio.

        Returns:
            Faces in frame pixels, best score first, at most ``max_faces``.

        Raises:
            ImageError: The array is not a non-empty ``H×W×3`` uint8 image.
        """
        check_rgb_image(image)
        tensor, placement = letterbox(image, INPUT_SIZE, out=self._input)
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_index)
        raw_scores = self._interpreter.get_tensor(self._scores_index)

        boxes, keypoints, scores = decode(
            raw_boxes,
            raw_scores,
            self.anchors,
            scale=float(INPUT_SIZE),
            score_threshold=self.score_threshold,
        )
        if scores.size == 0:
            return []
        boxes, keypoints, scores = weighted_nms(
            boxes, keypoints, scores, iou_threshold=self.nms_iou, max_detections=self.max_faces
        )

        h, w = image.shape[:2]
        boxes = placement.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        boxes = np.clip(boxes, 0.0, [w, h, w, h])
        keypoints = placement.to_frame(keypoints)
        return [
            Detection(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(s),
                keypoints=tuple((float(x), float(y)) for x, y in k),
            )
            for b, k, s in zip(boxes, keypoints, scores, strict=True)
            if b[2] > b[0] and b[3] > b[1]  # a box entirely in the padding clips to nothing
        ]


def build(cfg: DetectorConfig, models_dir: Path | None) -> BlazeFaceDetector:
    """``type: blazeface``: MediaPipe's short-range face detector."""
    path, sha = model_path(cfg.model, models_dir)
    return BlazeFaceDetector(
        path,
        sha256=sha,
        score_threshold=cfg.score_threshold,
        nms_iou=cfg.nms_iou,
        max_faces=cfg.max_faces,
        num_threads=cfg.num_threads,
    )
