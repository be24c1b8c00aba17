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

A template is more than one forward pass (issue 20, measured on ``../shared/testdata/lfw-dev``
with ``facegate eval``): each chip is embedded with its mirror image and the two unit features
are added (test-time flip: a face and its mirror are the same person, and the sum averages
out what the network sees differently in each), then the **mean SFace template** is
subtracted and the result scaled to unit length. Every SFace template shares that mean
direction (length 0.30; impostor cosines averaged 0.086 because of it), so it carries no
identity; without it impostor scores centre on 0 and their tail is lighter. The mean is a
population statistic of the 1,753 lfw-dev photos with a usable face (the same gain with the
mean of half the people, evaluated on all). Both change the templates, so they are their
own embedding space, :data:`SFACE_SPACE`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

import numpy as np

from ..config import SFaceEmbedderConfig
from ..errors import ModelError
from ..models.manifest import model_path
from .align import ARCFACE_112, align_similarity, warp_onto
from .embed import AlignedFace, Embedder, EmbedderParts, chip_batch, l2_normalize, probe_network
from .runtime import onnx_session, opencv_net, verify_model_file
from .threshold import impostors_for_space
from .types import Detection, check_rgb_image

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
SFACE_SPACE: Final = "sface_2021dec+flip+centre1"
"""Embedding-space tag of SFace 2021dec templates made as described above (never comparable
with dlib's, nor with plain single-pass SFace features)."""

# fmt: off
SFACE_MEAN: Final = np.array(
    [
        -0.06150, -0.01582, 0.03156, 0.01860, 0.04259, 0.02712, 0.01513, 0.01331,
        -0.04354, 0.01084, -0.02022, 0.03899, -0.00579, 0.00247, 0.01358, -0.01127,
        -0.04996, -0.01166, -0.07729, 0.00381, 0.00227, 0.01245, 0.01925, -0.02479,
        0.00050, -0.02689, -0.01422, -0.01266, -0.00933, -0.01503, -0.00227, 0.04181,
        0.00757, -0.00964, 0.00807, 0.00728, -0.02924, 0.03035, 0.01977, -0.00394,
        0.03008, -0.02748, -0.01401, 0.00096, 0.01635, -0.00583, -0.02239, 0.03032,
        -0.00957, 0.00358, -0.02865, 0.01810, 0.00445, 0.01633, -0.01066, -0.02922,
        0.03548, -0.02022, -0.00988, -0.00016, -0.00622, 0.04406, -0.08154, 0.00886,
        0.01446, -0.02427, 0.00739, -0.00919, 0.01193, -0.01745, 0.04525, -0.01875,
        0.00348, -0.02643, 0.03527, -0.02799, -0.01763, -0.00315, -0.05133, 0.00324,
        -0.02342, -0.00000, -0.02099, 0.00743, -0.03808, -0.00227, 0.03054, -0.01802,
        -0.01059, -0.00325, 0.00001, 0.03146, 0.05534, 0.02794, -0.02622, -0.02803,
        0.00267, 0.03370, -0.01434, 0.00291, 0.00408, -0.02178, -0.01720, -0.05371,
        -0.00778, -0.03239, -0.01024, 0.01316, 0.04529, -0.02306, 0.04561, -0.02079,
        -0.02843, 0.00079, 0.04234, 0.03295, -0.02730, -0.00984, 0.01637, -0.00084,
        -0.02870, -0.03737, 0.04929, -0.01166, 0.03837, -0.03237, -0.01927, 0.02210,
    ],
    dtype=np.float32,
)
# fmt: on
"""The mean flip-fused SFace template of lfw-dev's 1,753 usable photos (not unit length)."""
SFACE_MEAN.setflags(write=False)


def _moved(dx: float = 0.0, dy: float = 0.0, scale: float = 1.0, deg: float = 0.0) -> np.ndarray:
    """The ArcFace template turned by ``deg`` and scaled about the chip centre, then moved."""
    a = np.deg2rad(deg)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = CHIP_SIZE / 2.0
    return (ARCFACE_112 - centre) @ turn.T * scale + centre + np.array([dx, dy])


def _points5(detection: Detection) -> np.ndarray:
    if detection.points5 is None or len(detection.points5) != 5:
        raise ModelError(
            "the sface embedder aligns on the detector's five landmarks; this detection "
            "has none (set `detector.type: yunet`)"
        )
    return np.asarray(detection.points5, dtype=np.float32)


_JITTER_TARGETS: Final = tuple(
    _moved(**kw)
    for kw in (
        {},
        {"dx": -2.0},
        {"dx": 2.0},
        {"dy": -2.0},
        {"dy": 2.0},
        {"scale": 0.95},
        {"scale": 1.05},
        {"deg": -5.0},
        {"deg": 5.0},
    )
)


class FivePointAligner:
    """Cuts the ArcFace 112×112 chip from the detection's own five landmarks (YuNet's).

    Raises (from :meth:`align`):
        ModelError: The detection carries no five landmarks (a BlazeFace detection): the
            ``sface`` embedder needs ``detector.type: yunet``.
    """

    size = CHIP_SIZE

    def align(self, image: np.ndarray, detection: Detection) -> AlignedFace:
        """The aligned chip and its five source points (frame pixels)."""
        points = _points5(detection)
        chip = align_similarity(image, points, CHIP_SIZE)
        return AlignedFace(chip=chip, landmarks=points, detection=detection)

    def jittered(self, image: np.ndarray, detection: Detection) -> list[np.ndarray]:
        """Nine chips of one enrolment sample: the aligned one, then the template moved by
        ±2 px across and down, scaled by 0.95 and 1.05 and turned by ±5° (what a few
        frames of the same face at the gate differ by). :meth:`SFaceEmbedder.embed_fused`
        makes one template of them, as dlib's ``num_jitters`` does."""
        check_rgb_image(image)
        points = _points5(detection).astype(np.float64)
        return [warp_onto(image, points, target, CHIP_SIZE) for target in _JITTER_TARGETS]


class _OpenCV:
    def __init__(self, path: Path, num_threads: int) -> None:
        import cv2

        self._net = opencv_net(path)
        self._lock = threading.Lock()  # setInput + forward: one caller at a time
        cv2.setNumThreads(num_threads)

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self._net.setInput(batch)
            out = self._net.forward()
        return np.asarray(out, dtype=np.float32).reshape(len(batch), -1)


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
        n = len(chips)
        both = self._impl.run(np.concatenate([batch, batch[:, :, :, ::-1]]))  # chips, mirrors
        fused = l2_normalize(l2_normalize(both[:n]) + l2_normalize(both[n:]))
        return l2_normalize(fused - SFACE_MEAN)

    def embed_fused(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """One template from several chips of one face (:meth:`FivePointAligner.jittered`):
        every chip and its mirror, unit features added, then centred like any template."""
        batch = chip_batch(chips, CHIP_SIZE, "the five-point aligner")
        both = self._impl.run(np.concatenate([batch, batch[:, :, :, ::-1]]))
        fused = l2_normalize(l2_normalize(both).sum(axis=0))
        return l2_normalize(fused - SFACE_MEAN)


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
