"""dlib's face recognition ResNet on an optimised runtime: the ``dlib-fast`` embedder.

The model is the ONNX file ``facegate models install`` converts from
``dlib_face_recognition_resnet_model_v1.dat`` (see :mod:`facegate.models.convert`): the same
network, weights and input scaling, so its templates live in the same embedding space as
dlib's own (cosine ≥ 0.9999 with ``compute_face_descriptor`` on every shared test face) and
stored templates stay valid when a gate switches between ``dlib`` and ``dlib-fast``.

Chips come from :class:`~facegate.vision.embed.DlibAligner` unchanged (dlib's 150×150
``get_face_chip``, padding 0.25, RGB); the graph itself subtracts dlib's mean colour and
divides by 256. Several chips (the good frames of one track) run as one batch.

Two runtimes can run it: onnxruntime (the fastest measured: about 3.4 ms a chip with two
threads on the 2-core x86 development machine, against 88 ms for dlib) and OpenCV's DNN
module (about 6 ms; already a dependency, the fallback where onnxruntime has no wheel).
``runtime="auto"`` picks onnxruntime when it is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

import numpy as np

from ..config.vision import DlibFastEmbedderConfig
from ..errors import ModelError
from ..models.manifest import model_path
from .embed import (
    DLIB_SPACE,
    Embedder,
    EmbedderParts,
    chip_batch,
    dlib_aligner,
    l2_normalize,
    probe_network,
)
from .runtime import onnx_session, opencv_net, verify_model_file
from .threshold import DLIB_IMPOSTORS

__all__ = ["CHIP_SIZE", "DlibFastEmbedder", "Runtime", "available_runtime", "build"]

logger = logging.getLogger(__name__)

Runtime = Literal["auto", "onnxruntime", "opencv"]
CHIP_SIZE: Final = 150
_INPUT: Final = "chips"
_OUTPUT: Final = "descriptor"
_DIM: Final = 128


def available_runtime(runtime: Runtime = "auto") -> Literal["onnxruntime", "opencv"]:
    """The runtime ``runtime`` resolves to on this machine (``auto``: onnxruntime if installed).

    Raises:
        ModelError: ``onnxruntime`` was asked for but is not installed.
    """
    if runtime == "opencv":
        return "opencv"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if runtime == "onnxruntime":
            raise ModelError(
                "embedder runtime onnxruntime is not installed (pip install onnxruntime), "
                "or choose `runtime: opencv`"
            ) from None
        return "opencv"
    return "onnxruntime"


class _OnnxRuntime:
    def __init__(self, path: Path, num_threads: int) -> None:
        self._session = onnx_session(path, num_threads)
        inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        if inputs != [_INPUT] or outputs != [_OUTPUT]:
            raise ModelError(
                f"{path} is not facegate's converted dlib ResNet (inputs {inputs}, "
                f"outputs {outputs}); run `facegate models install`"
            )

    def run(self, batch: np.ndarray) -> np.ndarray:
        result = self._session.run([_OUTPUT], {_INPUT: batch})[0]
        return np.asarray(result, dtype=np.float32)


class _OpenCVRuntime:
    def __init__(self, path: Path) -> None:
        import cv2

        self._net = opencv_net(path)
        self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._net.setInput(batch)
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(len(batch), -1)


class DlibFastEmbedder(Embedder):
    """dlib's ResNet (128-d) from its converted ONNX model, on onnxruntime or OpenCV DNN.

    Args:
        model: The converted ``.onnx`` file.
        sha256: Its pinned hash, checked before the runtime parses it.
        num_threads: CPU threads onnxruntime may use for one batch (OpenCV uses its own pool).
        runtime: ``auto`` (onnxruntime when installed, else OpenCV), ``onnxruntime`` or
            ``opencv``.

    Raises:
        ModelError: The file is missing, has the wrong hash, the runtime cannot load it, or it
            is not the converted network.
    """

    name = "dlib-fast"
    dim = _DIM

    def __init__(
        self,
        model: str | Path,
        *,
        sha256: str | None = None,
        num_threads: int = 2,
        runtime: Runtime = "auto",
    ) -> None:
        path = verify_model_file(model, sha256)
        self.runtime = available_runtime(runtime)
        self._impl: _OnnxRuntime | _OpenCVRuntime = (
            _OnnxRuntime(path, num_threads)
            if self.runtime == "onnxruntime"
            else _OpenCVRuntime(path)
        )
        probe_network(self._impl.run, path, CHIP_SIZE, _DIM, "the converted dlib ResNet")
        logger.info("loaded %s on %s (%d thread(s))", path, self.runtime, num_threads)

    def descriptors(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """dlib's raw descriptors (not unit length), ``(len(chips), 128)`` float32, one batch."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._impl.run(chip_batch(chips, CHIP_SIZE, "DlibAligner"))

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        return l2_normalize(self.descriptors(chips))


def build(cfg: DlibFastEmbedderConfig, models_dir: Path | None) -> EmbedderParts:
    """``type: dlib-fast``: dlib's ResNet converted to ONNX; the same space as ``dlib``."""
    net_path, net_sha = model_path(cfg.model, models_dir)
    embedder = DlibFastEmbedder(
        net_path, sha256=net_sha, num_threads=cfg.num_threads, runtime=cfg.runtime
    )
    return EmbedderParts(
        dlib_aligner(cfg.shape_predictor, models_dir), embedder, DLIB_SPACE, DLIB_IMPOSTORS
    )
