"""The optional anti-spoofing classifier (FaceAntiSpoofing.tflite-style, Deep Tree Learning).

Input: a square RGB crop of the face scaled to ``[0, 1]`` (256×256 for the shared model).
Outputs: ``clss_pred`` and ``leaf_node_mask``, both ``[1, 8]``; the score is
``Σ |clss_pred| · leaf_node_mask`` (higher is more likely an attack). The model is slow on a
CPU (about 40 ms here), so a track runs it only on every n-th frame and at most
``max_samples`` times, and concludes on the median of its scores.

Its authors' app refuses to judge a blurry crop: it counts the pixels of the 256×256 grey crop
whose Laplacian exceeds 50 and gives up below 1000. facegate does the same
(``model.min_sharpness``): a run on a blurry crop abstains instead of scoring. Measured on
``pad-dev`` (talking-head clips of 224-512 px, their darker / 320-px / JPEG variants, and the
synthesized attacks at 640×480), *no* crop passes that gate: faces there are 100-250 px wide,
so the 256-px crop is an upscale. Without the gate the model's median score over the first
3 s of an attempt is spread over 0-0.99 for the 49 live attempts (median 0.46, a fifth at 0.99)
and 0.24-0.99 for the prints, so no threshold refuses prints without refusing about half the
live people; in RGB order as here (BGR puts everything at 0.99). That is why it stays optional
and, when configured, abstains on blurry crops rather than refusing the face.

The score depends on the crop. A crop from the FaceMesh landmarks' extent (forehead to chin,
cheek to cheek) times ``crop_scale`` follows the face's anatomy rather than the detector's box;
on the shared clips, 0.95 separated the live clips (median scores 0.01-0.3) from the screen
replay (0.9).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from ...config.liveness import PadModelConfig
from ...errors import ModelError
from ..runtime import load_interpreter
from .signal import SignalResult

__all__ = ["ModelSamples", "PadModel"]


class PadModel:
    """The interpreter and its buffers (not thread-safe).

    Args:
        path: The ``.tflite`` file.
        sha256: Pinned hash, or ``None``.
        crop_scale: Square crop side over the landmarks' longer extent.
        num_threads: Interpreter threads.
        min_sharpness: Least count of crop pixels with a Laplacian above 50 for the model to
            judge the crop (the authors' gate, 1000); ``0`` judges every crop.

    Raises:
        ModelError: The file is missing, has another hash, or has other inputs/outputs.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sha256: str | None = None,
        crop_scale: float = 0.95,
        num_threads: int = 2,
        min_sharpness: int = 0,
    ) -> None:
        self.path = Path(path)
        self.crop_scale = crop_scale
        self.min_sharpness = min_sharpness
        self._interpreter = load_interpreter(path, sha256=sha256, num_threads=num_threads)
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        shape = [int(v) for v in inputs[0]["shape"]] if len(inputs) == 1 else []
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
            raise ModelError(f"model file {self.path}: expected one [1, S, S, 3] input")
        eights = [o for o in outputs if int(np.prod(o["shape"])) == 8]
        if len(eights) != 2:
            raise ModelError(f"model file {self.path}: expected two outputs of 8 values")
        self.size = shape[1]
        self._input_index = int(inputs[0]["index"])
        # clss_pred comes first in the file's output order (Identity, Identity_1).
        eights.sort(key=lambda o: str(o["name"]))
        self._pred_index, self._mask_index = int(eights[0]["index"]), int(eights[1]["index"])
        self._input = np.empty((1, self.size, self.size, 3), dtype=np.float32)

    def score(self, image_rgb: npt.NDArray[np.uint8], points: npt.ArrayLike) -> float | None:
        """The attack score of one face (higher: more likely an attack), or ``None`` when the
        crop is too blurry for the model to judge (``min_sharpness``).

        Args:
            image_rgb: The frame.
            points: The face's FaceMesh landmarks (``(468, 2|3)`` frame pixels).
        """
        p = np.asarray(points, dtype=np.float64)[:, :2]
        (x1, y1), (x2, y2) = p.min(axis=0), p.max(axis=0)
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        half = max(x2 - x1, y2 - y1, 8.0) * self.crop_scale / 2.0
        k = self.size / (2.0 * half)
        warp = np.array([[k, 0.0, -(cx - half) * k], [0.0, k, -(cy - half) * k]])
        crop = cv2.warpAffine(
            image_rgb, warp, (self.size, self.size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        if self.min_sharpness > 0 and sharpness(np.asarray(crop, np.uint8)) < self.min_sharpness:
            return None
        np.multiply(crop, np.float32(1.0 / 255.0), out=self._input[0], casting="unsafe")
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()
        pred = self._interpreter.get_tensor(self._pred_index).reshape(-1)
        mask = self._interpreter.get_tensor(self._mask_index).reshape(-1)
        return float(np.sum(np.abs(pred) * mask))


def sharpness(crop_rgb: npt.NDArray[np.uint8]) -> int:
    """Pixels of the crop whose 4-neighbour Laplacian (grey levels) exceeds 50."""
    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return int(np.count_nonzero(cv2.filter2D(grey, -1, _LAPLACE) > 50.0))


_LAPLACE = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)


class ModelSamples:
    """Per-track sampling of the model: every n-th frame, at most ``max_samples`` runs.

    A run on a blurry crop abstains (``None``); when every allowed run is spent with fewer
    than ``min_samples`` scores, the model has :attr:`abstained` and holds nothing up.
    """

    def __init__(self, cfg: PadModelConfig) -> None:
        self.cfg = cfg
        self.frames = 0
        self.runs = 0
        self.scores: list[float] = []

    def due(self) -> bool:
        """Count a frame; ``True`` when the model should run on it."""
        self.frames += 1
        return self.runs < self.cfg.max_samples and (self.frames - 1) % self.cfg.every_n_frames == 0

    def add(self, score: float | None) -> None:
        self.runs += 1
        if score is not None:
            self.scores.append(score)

    @property
    def abstained(self) -> bool:
        """Every run was spent and too few crops were sharp enough to judge."""
        return self.runs >= self.cfg.max_samples and len(self.scores) < self.cfg.min_samples

    def result(self) -> SignalResult:
        if len(self.scores) < self.cfg.min_samples:
            return SignalResult("inconclusive", 0.0, "too few model runs")
        median = float(np.median(self.scores))
        if median > self.cfg.threshold:
            return SignalResult("spoof", median, f"model median {median:.2f}")
        return SignalResult("live", median, f"model median {median:.2f}")
