"""OpenCV Zoo's SFace embedder and the 5-point ArcFace aligner that feeds it.

SFace 2021dec (``face_recognition_sface_2021dec.onnx``, Apache-2.0 per OpenCV Zoo; its
training data is not documented upstream) is a MobileFaceNet-style network trained with the
"sigmoid-constrained hypersphere loss": a 112×112 RGB chip (raw 0-255 values, NCHW) in, a
128-d feature out. The chip is cut by a least-squares similarity transform from the
detector's own five landmarks (YuNet's) onto the ArcFace 112×112 template — exactly what
``cv2.FaceRecognizerSF.alignCrop`` does — so there is no second landmark pass.

Two runtimes can run it. Measured on the 2-core x86 development machine (median of one
forward pass, two threads): OpenCV DNN 5.1 about 15 ms a chip and 38 ms for a batch of 4;
onnxruntime 1.32 about 20 ms and 75 ms. OpenCV is therefore the default here (``auto``), and
it has aarch64 wheels for the Pi; onnxruntime stays selectable (``runtime: onnxruntime``).
The file declares a batch of one: OpenCV runs a batch anyway, onnxruntime runs chips one
by one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

import numpy as np

from ..config import SFaceEmbedderConfig
from ..errors import ModelError
from ..models.manifest import model_path
from .align import align_similarity
from .embed import AlignedFace, Embedder, EmbedderParts, chip_batch, l2_normalize, probe_network
from .runtime import onnx_session, opencv_net, verify_model_file
from .threshold import impostors_for_space
from .types import Detection

__all__ = [
    "CHIP_SIZE",
    "SFACE_SPACE",
    "FivePointAligner",
    "SFaceEmbedder",
    "SFaceRuntime",
    "build",
]

logger = logging.getLogger(__name__)

SFaceRuntime = Literal["auto", "onnxruntime", "opencv"]
CHIP_SIZE: Final = 112
_DIM: Final = 128
SFACE_SPACE: Final = "sface_2021dec"
"""Embedding-space tag of SFace 2021dec templates (never comparable with dlib's)."""


class FivePointAligner:
    """Cuts the ArcFace 112×112 chip from the detection's own five landmarks (YuNet's).

    Raises (from :meth:`align`):
        ModelError: The detection carries no five landmarks (a BlazeFace detection): the
            ``sface`` embedder needs ``detector.type: yunet``.
    """

    size = CHIP_SIZE

    def align(self, image: np.ndarray, detection: Detection) -> AlignedFace:
        """The aligned chip and its five source points (frame pixels)."""
        if detection.points5 is None or len(detection.points5) != 5:
            raise ModelError(
                "the sface embedder aligns on the detector's five landmarks; this detection "
                "has none (set `detector.type: yunet`)"
            )
        points = np.asarray(detection.points5, dtype=np.float32)
        chip = align_similarity(image, points, CHIP_SIZE)
        return AlignedFace(chip=chip, landmarks=points, detection=detection)


class _OpenCV:
    def __init__(self, path: Path, num_threads: int) -> None:
        import cv2

        self._net = opencv_net(path)
        cv2.setNumThreads(num_threads)

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._net.setInput(batch)
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(len(batch), -1)


class _OnnxRuntime:
    def __init__(self, path: Path, num_threads: int) -> None:
        self._session = onnx_session(path, num_threads)
        self._input = self._session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        rows = [
            self._session.run(None, {self._input: batch[i : i + 1]})[0] for i in range(len(batch))
        ]
        return np.asarray(np.concatenate(rows), dtype=np.float32).reshape(len(batch), -1)


def resolve_runtime(runtime: SFaceRuntime) -> Literal["onnxruntime", "opencv"]:
    """``auto`` is OpenCV DNN (the faster here); ``onnxruntime`` must be installed."""
    if runtime != "onnxruntime":
        return "opencv"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ModelError(
            "embedder runtime onnxruntime is not installed (pip install onnxruntime), "
            "or choose `runtime: opencv`"
        ) from None
    return "onnxruntime"


class SFaceEmbedder(Embedder):
    """SFace 2021dec (128-d) on OpenCV DNN or onnxruntime; unit-length float32 rows.

    Args:
        model: ``face_recognition_sface_2021dec.onnx``.
        sha256: Its pinned hash, checked before a runtime parses it.
        num_threads: CPU threads for one batch.
        runtime: ``auto`` (OpenCV DNN), ``opencv`` or ``onnxruntime``.

    Raises:
        ModelError: The file is missing, has the wrong hash, cannot be loaded, or does not
            give a 128-d feature.
    """

    name = "sface"
    dim = _DIM

    def __init__(
        self,
        model: str | Path,
        *,
        sha256: str | None = None,
        num_threads: int = 2,
        runtime: SFaceRuntime = "auto",
    ) -> None:
        path = verify_model_file(model, sha256)
        self.runtime = resolve_runtime(runtime)
        self._impl: _OpenCV | _OnnxRuntime = (
            _OpenCV(path, num_threads)
            if self.runtime == "opencv"
            else _OnnxRuntime(path, num_threads)
        )
        probe_network(self._impl.run, path, CHIP_SIZE, _DIM, "SFace")
        logger.info("loaded %s on %s (%d thread(s))", path, self.runtime, num_threads)

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Embed 112×112 RGB chips from :class:`FivePointAligner` as one batch."""
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = chip_batch(chips, CHIP_SIZE, "the five-point aligner")
        return l2_normalize(self._impl.run(batch))


def build(cfg: SFaceEmbedderConfig, models_dir: Path | None) -> EmbedderParts:
    """``type: sface``: SFace 2021dec on the detector's five landmarks, in its own space.

    The configuration checks that ``detector.type`` is ``yunet`` (the aligner needs its five
    landmarks); the impostor model is the tail measured on lfw-dev.

    Raises:
        ModelError: The model file is missing, wrong or cannot be loaded.
    """
    path, sha = model_path(cfg.model, models_dir)
    embedder = SFaceEmbedder(path, sha256=sha, num_threads=cfg.num_threads, runtime=cfg.runtime)
    return EmbedderParts(
        FivePointAligner(), embedder, SFACE_SPACE, impostors_for_space(SFACE_SPACE)
    )
