"""Face alignment and embedding: dlib's 5-point aligner and its public-domain ResNet.

The contract every embedder keeps (as uniface states it): ``embed_chips`` returns float32
rows that are L2-normalised, so an inner product is the cosine similarity.

dlib's own preprocessing is used on purpose: the 5-point shape predictor finds eye corners
and the nose, ``get_face_chip`` cuts the 150×150 chip with padding 0.25 that the network was
trained on, and the network scales pixels itself. Any faster runtime for the same network
must reproduce exactly this chip.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageError, ModelError
from .runtime import sha256_file
from .types import Detection

__all__ = ["AlignedFace", "DlibAligner", "DlibEmbedder", "Embedder", "l2_normalize"]

logger = logging.getLogger(__name__)

# BlazeFace boxes are about 8 % larger than the boxes dlib's shape predictor was trained on
# (dlib's HOG detector), with the same centre. Measured on the 32 shared test faces both
# detectors find: median HOG/BlazeFace size ratio 0.925, centre offset under 2 % of the box.
# With this scale the embedding from a BlazeFace box has cosine ≥ 0.998 with the one from the
# HOG box (median 0.9997).
_BOX_SCALE = 0.92


@dataclass(slots=True, frozen=True)
class AlignedFace:
    """A face cut out and aligned for the embedder (held in memory only)."""

    chip: np.ndarray  # RGB uint8, size×size×3
    landmarks: np.ndarray  # (5, 2) float32, frame pixels
    detection: Detection


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError("expected an RGB uint8 image")
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ImageError(f"expected an H×W×3 RGB image, got shape {getattr(image, 'shape', None)}")


def _load_dlib() -> Any:
    try:
        import dlib  # noqa: PLC0415 - heavy import, only when an embedder is built
    except ImportError as exc:
        raise ModelError("dlib is not installed (pip package `dlib-bin`)") from exc
    return dlib


def _check_model(path: Path, sha256: str | None) -> None:
    if not path.is_file():
        raise ModelError(f"model file not found: {path} (run `facegate models install`)")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise ModelError(
                f"{path.name} has sha256 {actual[:12]}… but {sha256[:12]}… is pinned; "
                "reinstall it with `facegate models install`"
            )


class DlibAligner:
    """Finds 5 landmarks inside a detection box and cuts dlib's 150×150 face chip."""

    def __init__(
        self,
        shape_predictor: str | Path,
        *,
        sha256: str | None = None,
        size: int = 150,
        padding: float = 0.25,
    ) -> None:
        self._dlib = _load_dlib()
        path = Path(shape_predictor)
        _check_model(path, sha256)
        try:
            self._predictor = self._dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelError(f"{path}: not a dlib shape predictor ({exc})") from exc
        self.size = size
        self.padding = padding

    def align(self, image: np.ndarray, detection: Detection) -> AlignedFace:
        """Landmarks and chip for one detected face in an RGB frame."""
        _check_image(image)
        x1, y1, x2, y2 = detection.box
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        half = max(x2 - x1, y2 - y1) * _BOX_SCALE / 2.0
        rect = self._dlib.rectangle(
            int(round(cx - half)),
            int(round(cy - half)),
            int(round(cx + half)),
            int(round(cy + half)),
        )
        shape = self._predictor(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        chip = self._dlib.get_face_chip(image, shape, size=self.size, padding=self.padding)
        return AlignedFace(chip=np.ascontiguousarray(chip), landmarks=points, detection=detection)


class Embedder(ABC):
    """Turns aligned face chips into L2-normalised float32 templates."""

    name: str
    dim: int

    @abstractmethod
    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Return a (len(chips), dim) float32 array of unit-length rows."""


class DlibEmbedder(Embedder):
    """dlib's ResNet (``dlib_face_recognition_resnet_model_v1.dat``), 128-d, via dlib-bin.

    Args:
        model: path to the ``.dat`` file.
        sha256: pinned hash, checked before loading.
        num_jitters: extra randomly jittered passes (enrolment only; slow).
    """

    name = "dlib"
    dim = 128

    def __init__(
        self, model: str | Path, *, sha256: str | None = None, num_jitters: int = 0
    ) -> None:
        self._dlib = _load_dlib()
        path = Path(model)
        _check_model(path, sha256)
        try:
            self._net = self._dlib.face_recognition_model_v1(str(path))
        except RuntimeError as exc:
            raise ModelError(f"{path}: not a dlib face recognition model ({exc})") from exc
        self.num_jitters = num_jitters

    def embed_chips(
        self, chips: Sequence[np.ndarray], *, num_jitters: int | None = None
    ) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        for chip in chips:
            _check_image(chip)
        jitters = self.num_jitters if num_jitters is None else num_jitters
        descriptors = self._net.compute_face_descriptor(list(chips), jitters)
        return l2_normalize(np.array([list(d) for d in descriptors], dtype=np.float32))
