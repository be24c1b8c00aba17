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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np

from ..config.vision import DlibEmbedderConfig
from ..errors import ImageError, ModelError
from ..models.manifest import model_path
from .runtime import first_line, verify_model_file
from .threshold import DLIB_IMPOSTORS, ImpostorScores
from .types import Detection

__all__ = [
    "DLIB_SPACE",
    "AlignedFace",
    "Aligner",
    "DlibAligner",
    "DlibEmbedder",
    "Embedder",
    "EmbedderParts",
    "build",
    "chip_batch",
    "dlib_aligner",
    "l2_normalize",
    "probe_network",
]

# Templates are comparable only within one embedding space. dlib's ResNet on any runtime is
# one space, so a faster runtime for the same network can reuse every stored template.
DLIB_SPACE = "dlib_resnet_v1"

logger = logging.getLogger(__name__)

# dlib's 5-point shape predictor is a cascade of regression trees started from the box of the
# detector it was trained with (dlib's HOG detector); started from a box that sits a tenth of a
# face off, its landmarks go wrong and so does the template. BlazeFace's box at gate-camera
# sizes (a 100 px face is 20 px in BlazeFace's 128 px input) is that far off now and then.
# So the aligner re-finds the face with dlib's own HOG detector on a small crop around the
# BlazeFace face, scaled so the face is about 100 px (HOG's sweet spot, no upsampling). Measured
# on every shared face pasted at 70-140 px into a 640×480 frame: cosine with dlib's own
# full-resolution embedding min 0.988 (BlazeFace box: min 0.888), 5 ms per face, HOG found
# the face every time. When HOG does not find it (a turned head), the BlazeFace box is used,
# scaled by the median HOG/BlazeFace size ratio measured on the same faces.
_BOX_SCALE = 0.92
_HOG_CROP_PX = 200  # crop side after scaling: 2 face widths, so the face is ~100 px
_HOG_CONTEXT = 2.0  # crop side in face widths


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
        import dlib
    except ImportError as exc:
        raise ModelError(
            "dlib is not installed: the dlib and dlib-fast embedders need the `facegate[dlib]` "
            "extra (pip install 'facegate[dlib]')"
        ) from exc
    return dlib


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
        path = verify_model_file(shape_predictor, sha256)
        try:
            self._predictor = self._dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelError(f"{path}: not a dlib shape predictor ({exc})") from exc
        self._hog = self._dlib.get_frontal_face_detector()
        self.size = size
        self.padding = padding

    def align(self, image: np.ndarray, detection: Detection) -> AlignedFace:
        """Landmarks and chip for one detected face in an RGB frame."""
        _check_image(image)
        rect = self._hog_rect(image, detection) or self._box_rect(detection)
        shape = self._predictor(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        chip = self._dlib.get_face_chip(image, shape, size=self.size, padding=self.padding)
        return AlignedFace(chip=np.ascontiguousarray(chip), landmarks=points, detection=detection)

    def _box_rect(self, detection: Detection) -> Any:
        x1, y1, x2, y2 = detection.box
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        half = max(x2 - x1, y2 - y1) * _BOX_SCALE / 2.0
        return self._dlib.rectangle(
            round(cx - half), round(cy - half), round(cx + half), round(cy + half)
        )

    def _hog_rect(self, image: np.ndarray, detection: Detection) -> Any | None:
        """dlib's HOG box for this face, found on a small crop around it (or ``None``)."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = detection.box
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        half = max(x2 - x1, y2 - y1) * _HOG_CONTEXT / 2.0
        left, top = int(max(0.0, cx - half)), int(max(0.0, cy - half))
        right, bottom = int(min(float(w), cx + half)), int(min(float(h), cy + half))
        if right - left < 8 or bottom - top < 8:
            return None
        crop = image[top:bottom, left:right]
        k = _HOG_CROP_PX / max(crop.shape[:2])
        interpolation = cv2.INTER_LINEAR if k > 1 else cv2.INTER_AREA
        crop = np.ascontiguousarray(cv2.resize(crop, None, fx=k, fy=k, interpolation=interpolation))
        found = self._hog(crop, 0)
        if not found:
            return None
        # The face nearest the crop's centre is the one BlazeFace found.
        ccx, ccy = crop.shape[1] / 2.0, crop.shape[0] / 2.0
        r = min(found, key=lambda r: (r.center().x - ccx) ** 2 + (r.center().y - ccy) ** 2)
        return self._dlib.rectangle(
            round(r.left() / k + left),
            round(r.top() / k + top),
            round(r.right() / k + left),
            round(r.bottom() / k + top),
        )


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
        path = verify_model_file(model, sha256)
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


class Aligner(Protocol):
    """Cuts the chip an embedder expects from a detected face."""

    def align(self, image: np.ndarray, detection: Detection) -> AlignedFace: ...


def probe_network(
    run: Callable[[np.ndarray], np.ndarray], path: Path, chip_size: int, dim: int, what: str
) -> None:
    """Run one blank chip through a freshly loaded network: it must give a finite ``dim``-d row.

    Raises:
        ModelError: The network fails on it, or gives another shape or non-finite values.
    """
    try:
        probe = run(np.zeros((1, 3, chip_size, chip_size), np.float32))
    except Exception as exc:  # each runtime raises its own error types
        raise ModelError(f"{path} does not run as {what}: {first_line(exc)}") from exc
    if probe.shape != (1, dim) or not np.all(np.isfinite(probe)):
        raise ModelError(
            f"{path} does not give {what}'s {dim}-d output (got shape {probe.shape}); "
            "run `facegate models install`"
        )


def chip_batch(chips: Sequence[np.ndarray], chip_size: int, aligner: str) -> np.ndarray:
    """Check RGB uint8 ``chip_size``² chips from ``aligner`` and stack them as NCHW float32.

    Raises:
        ImageError: A chip is not uint8 or not ``chip_size``×``chip_size``×3.
    """
    for chip in chips:
        if not isinstance(chip, np.ndarray) or chip.dtype != np.uint8:
            raise ImageError("expected an RGB uint8 face chip")
        if chip.shape != (chip_size, chip_size, 3):
            raise ImageError(
                f"expected a {chip_size}×{chip_size}×3 face chip from {aligner}, "
                f"got shape {chip.shape}"
            )
    return np.ascontiguousarray(np.stack(chips).transpose(0, 3, 1, 2).astype(np.float32))


class EmbedderParts(NamedTuple):
    """What an embedder backend's ``build()`` returns; unpacks as a 4-tuple."""

    aligner: Aligner
    embedder: Embedder
    space: str
    """The embedding space templates are tagged with (only same-space templates compare)."""
    impostors: ImpostorScores
    """Impostor-score model that sets the threshold for a target FPIR."""


def dlib_aligner(shape_predictor: str, models_dir: Path | None) -> DlibAligner:
    """dlib's 5-point aligner, shared by both dlib backends (they cut the same chip)."""
    path, sha = model_path(shape_predictor, models_dir)
    return DlibAligner(path, sha256=sha)


def build(cfg: DlibEmbedderConfig, models_dir: Path | None) -> EmbedderParts:
    """``type: dlib``: dlib's ResNet run by dlib itself (the reference)."""
    net_path, net_sha = model_path(cfg.model, models_dir)
    embedder = DlibEmbedder(net_path, sha256=net_sha, num_jitters=cfg.num_jitters)
    return EmbedderParts(
        dlib_aligner(cfg.shape_predictor, models_dir), embedder, DLIB_SPACE, DLIB_IMPOSTORS
    )
