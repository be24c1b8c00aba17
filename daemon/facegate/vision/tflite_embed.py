"""Any TFLite face-embedding model behind the :class:`~facegate.vision.embed.Embedder` ABC.

The model is described by what it declares: one image input ``[1, H, W, 3]`` (float32, or
uint8/int8 when fully quantized) and one output ``[1, D]``. Everything the file cannot say
is a constructor argument: how pixels are scaled before the graph (``normalization``) and
the channel order (``color``). For the ArcFace MobileFaceNet in ``shared/models`` the right
values are the defaults, ``"raw"`` and ``"rgb"``: its normalisation is inside the graph.

Quantized models get the input quantized with the input tensor's own scale and zero point
after the normalization, and the output dequantized with the output's, so the same
arguments serve a float model and its uint8 conversion.

Batches are run as one invoke when the model accepts a resized batch dimension (checked
once per batch size, on a second interpreter so the single-chip path never reallocates) and
as one invoke per chip otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import cv2
import numpy as np

from facegate.config.vision import TFLiteEmbedderConfig
from facegate.errors import ImageError, ModelError
from facegate.models.manifest import model_path
from facegate.vision.align import FaceMeshAligner
from facegate.vision.embed import Embedder, EmbedderParts, l2_normalize
from facegate.vision.landmarks import FaceMesh
from facegate.vision.runtime import load_interpreter
from facegate.vision.threshold import ImpostorModel

__all__ = ["Color", "Normalization", "TFLiteEmbedder", "build", "tflite_space"]

logger = logging.getLogger(__name__)

Normalization = Literal["raw", "minus_one_one", "zero_one"]
"""How 0-255 pixels are scaled: as they are, to [-1, 1] ((x-127.5)/127.5), or to [0, 1]."""
Color = Literal["rgb", "bgr"]
"""Channel order the model was trained with (chips are always given as RGB)."""

_MIN_DIM = 32
_MAX_DIM = 4096
_MIN_SIDE = 16
_SCALING: dict[str, tuple[float, float]] = {  # x * a + b
    "raw": (1.0, 0.0),
    "minus_one_one": (1.0 / 127.5, -1.0),
    "zero_one": (1.0 / 255.0, 0.0),
}
_INPUT_DTYPES = (np.float32, np.uint8, np.int8)


def _check_chip(chip: object, index: int) -> None:
    if not isinstance(chip, np.ndarray):
        raise ImageError(f"chip {index}: expected a numpy array, got {type(chip).__name__}")
    if chip.dtype != np.uint8:
        raise ImageError(f"chip {index}: expected a uint8 RGB chip, got dtype {chip.dtype}")
    if chip.ndim != 3 or chip.shape[2] != 3 or chip.shape[0] == 0 or chip.shape[1] == 0:
        raise ImageError(f"chip {index}: expected an H×W×3 RGB chip, got shape {chip.shape}")


class TFLiteEmbedder(Embedder):
    """A face-embedding TFLite model; returns L2-normalised float32 rows.

    One instance owns its interpreters and is not thread-safe.

    Args:
        model_path: The ``.tflite`` file.
        sha256: Expected SHA-256 of the file, or ``None`` to skip the check.
        name: Name of the embedder (recorded with templates, so that templates of different
            models are never compared).
        normalization: Pixel scaling before the graph: ``"raw"`` feeds 0-255 floats,
            ``"minus_one_one"`` ``(x - 127.5) / 127.5``, ``"zero_one"`` ``x / 255``.
        color: Channel order the model expects; chips are given as RGB.
        num_threads: CPU threads for the interpreter.

    Attributes:
        dim: Length of the embedding, read from the model.
        input_size: ``(height, width)`` of the model input; other chip sizes are resized.

    Raises:
        ModelError: The file is missing, has the wrong hash, cannot be loaded, or does not
            have one ``[1, H, W, 3]`` image input and one ``[1, D]`` output.
        ValueError: ``normalization`` or ``color`` is not one of the allowed values.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        sha256: str | None,
        name: str = "tflite",
        normalization: Normalization = "raw",
        color: Color = "rgb",
        num_threads: int = 2,
    ) -> None:
        if normalization not in get_args(Normalization):
            raise ValueError(f"normalization must be one of {get_args(Normalization)}")
        if color not in get_args(Color):
            raise ValueError(f"color must be one of {get_args(Color)}")
        self.path = Path(model_path)
        self.name = name
        self.normalization: Normalization = normalization
        self.color: Color = color
        self._sha256 = sha256
        self._num_threads = num_threads
        self._interpreter = load_interpreter(model_path, sha256=sha256, num_threads=num_threads)
        self._bind(self._interpreter)
        self._scale, self._offset = _SCALING[normalization]
        # The batch interpreter is loaded on the first batch of more than one chip.
        self._batch_interpreter: Any | None = None
        self._batch_size = 1  # the batch interpreter's current input batch
        self._refused: set[int] = set()  # batch sizes the model would not run

    def _bind(self, interpreter: Any) -> None:
        """Read and check the input and output tensors."""
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
        in_shapes = [[int(v) for v in d["shape"]] for d in inputs]
        out_shapes = [[int(v) for v in d["shape"]] for d in outputs]
        shapes = f"inputs {in_shapes}, outputs {out_shapes}"
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"model file {self.path} is not a face embedder: {shapes}; expected one "
                "[1, H, W, 3] image input and one [1, D] output"
            )
        shape_in, shape_out = in_shapes[0], out_shapes[0]
        if (
            len(shape_in) != 4
            or shape_in[0] != 1
            or shape_in[3] != 3
            or min(shape_in[1], shape_in[2]) < _MIN_SIDE
        ):
            raise ModelError(
                f"model file {self.path} is not a face embedder: {shapes}; expected the "
                f"input to be an image [1, H, W, 3] with H, W >= {_MIN_SIDE}"
            )
        if len(shape_out) != 2 or shape_out[0] != 1 or not _MIN_DIM <= shape_out[1] <= _MAX_DIM:
            raise ModelError(
                f"model file {self.path} is not a face embedder: {shapes}; expected the "
                f"output to be [1, D] with {_MIN_DIM} <= D <= {_MAX_DIM}"
            )
        dtype = np.dtype(inputs[0]["dtype"])
        if dtype not in [np.dtype(d) for d in _INPUT_DTYPES]:
            raise ModelError(
                f"model file {self.path}: input dtype {dtype} is not supported "
                "(float32, uint8 or int8)"
            )
        self.input_size = (shape_in[1], shape_in[2])
        self.dim = shape_out[1]
        self._input_index = int(inputs[0]["index"])
        self._output_index = int(outputs[0]["index"])
        self._input_dtype = dtype
        in_scale, in_zero = inputs[0]["quantization"]
        out_scale, out_zero = outputs[0]["quantization"]
        # A zero scale means "not quantized": integers are then fed and read as they are.
        self._in_quant = (float(in_scale), float(in_zero)) if in_scale else None
        self._out_quant = (float(out_scale), float(out_zero)) if out_scale else None
        logger.info(
            "embedder %s: %s input %sx%s %s, %s-d output",
            self.name,
            self.path.name,
            shape_in[1],
            shape_in[2],
            dtype,
            self.dim,
        )

    def _prepare(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Resize, reorder, scale and quantize chips into a ``(k, H, W, 3)`` input batch."""
        height, width = self.input_size
        batch = np.empty((len(chips), height, width, 3), dtype=np.float32)
        for i, chip in enumerate(chips):
            _check_chip(chip, i)
            if chip.shape[:2] != (height, width):
                shrink = chip.shape[0] > height or chip.shape[1] > width
                chip = cv2.resize(
                    np.ascontiguousarray(chip),
                    (width, height),
                    interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
                )
            batch[i] = chip[:, :, ::-1] if self.color == "bgr" else chip
        if self._scale != 1.0 or self._offset != 0.0:
            batch *= np.float32(self._scale)
            batch += np.float32(self._offset)
        if self._input_dtype == np.float32:
            return batch
        info = np.iinfo(self._input_dtype)
        if self._in_quant is not None:
            scale, zero = self._in_quant
            batch = np.rint(batch / np.float32(scale) + np.float32(zero))
        return np.clip(batch, info.min, info.max).astype(self._input_dtype)

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        if self._out_quant is None:
            return raw.astype(np.float32)
        scale, zero = self._out_quant
        return ((raw.astype(np.float32) - np.float32(zero)) * np.float32(scale)).astype(np.float32)

    def _run(self, interpreter: Any, batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(self._input_index, batch)
        interpreter.invoke()
        return np.array(interpreter.get_tensor(self._output_index))

    def _run_batch(self, batch: np.ndarray) -> np.ndarray | None:
        """One invoke for the whole batch, or ``None`` when the model refuses that size."""
        k = len(batch)
        if k in self._refused:
            return None
        try:
            if self._batch_interpreter is None:
                self._batch_interpreter = load_interpreter(
                    self.path, sha256=self._sha256, num_threads=self._num_threads
                )
            interpreter = self._batch_interpreter
            if self._batch_size != k:
                interpreter.resize_tensor_input(
                    self._input_index, [k, *self.input_size, 3], strict=False
                )
                interpreter.allocate_tensors()
                self._batch_size = k
                out_shape = [int(v) for v in interpreter.get_output_details()[0]["shape"]]
                if out_shape != [k, self.dim]:
                    raise ValueError(f"output shape {out_shape} for a batch of {k}")
            return self._run(interpreter, batch)
        except (ValueError, RuntimeError) as exc:
            logger.info(
                "%s does not run batches of %s (%s); one invoke per chip",
                self.path.name,
                k,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
            self._refused.add(k)
            self._batch_size = -1  # state unknown: resize again before the next batch
            return None

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Embed aligned face chips.

        Args:
            chips: RGB uint8 ``H×W×3`` chips, normally ``input_size``; other sizes are
                resized.

        Returns:
            A ``(len(chips), dim)`` float32 array of unit-length rows (a zero output stays a
            zero row).

        Raises:
            ImageError: A chip is not a non-empty ``H×W×3`` uint8 array.
        """
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self._prepare(chips)
        raw: np.ndarray | None = None
        if len(batch) > 1:
            raw = self._run_batch(batch)
        if raw is None:
            raw = np.concatenate(
                [self._run(self._interpreter, batch[i : i + 1]) for i in range(len(batch))]
            )
        return l2_normalize(self._dequantize(raw).reshape(len(chips), self.dim))


def tflite_space(sha256: str) -> str:
    """The embedding space of a TFLite model: its own, named by its hash."""
    return f"tflite-{sha256.lower()[:16]}"


def build(cfg: TFLiteEmbedderConfig, models_dir: Path | None) -> EmbedderParts:
    """``type: tflite``: a model you supply, aligned by FaceMesh to the ArcFace template."""
    mesh_path, mesh_sha = model_path(cfg.landmarks_model, models_dir)
    embedder = TFLiteEmbedder(
        cfg.model,
        sha256=cfg.sha256.lower(),
        name=cfg.name,
        normalization=cfg.normalization,
        color=cfg.color,
    )
    return EmbedderParts(
        FaceMeshAligner(FaceMesh(mesh_path, sha256=mesh_sha)),
        embedder,
        tflite_space(cfg.sha256),
        ImpostorModel(cfg.impostor_mean, cfg.impostor_std, source="config"),
    )
