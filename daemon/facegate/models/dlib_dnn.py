"""Read dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``).

dlib writes a network with its own ``serialize`` functions (``dlib/serialize.h``,
``dlib/dnn/core.h``, ``layers.h``, ``input.h``, ``loss.h``); this module reads that format
without dlib, so the install step can rebuild the same network for a faster runtime.

What the file holds
    The layer *types* are not in the file: they are the C++ type of the network
    (``anet_type`` in dlib's ``tools/python/src/face_recognition.cpp``). The file holds, for
    that type, a sequence of records, written recursively from the loss layer down:

    * ``add_loss_layer``: an int version (1), the loss's record (``loss_metric_2``: margin and
      distance threshold as floats), then the network below it;
    * ``add_layer`` (one computational layer): an int version (2), *the network below it*,
      then the layer's own record (``con_4``, ``affine_``, ``relu_``, …), three bools and
      three tensors of training state (``x_grad``, ``cached_output``, ``params_grad``);
    * the ``add_layer`` on the input layer: an int version (3), the input layer's record
      (``input_rgb_image_sized``: the mean red, green and blue, the chip size), the layer's
      record, three bools, three tensors and the sample expansion factor;
    * ``add_tag_layer`` and ``add_skip_layer``: an int version (1) and the network below;
      which tag they name is part of the C++ type only.

    So the file starts with one version per layer from the top down, then the input layer,
    then each layer's record from the bottom up.

Encodings
    * integers: a control byte (bit 7: negative; bits 0-3: how many bytes follow; bits 4-6
      zero), then the absolute value in little-endian bytes;
    * floats and doubles (``float_details``): the mantissa then the exponent, both as integers
      above; the value is ``mantissa * 2**exponent`` (exponents 32000-32002 mean inf, -inf and
      NaN);
    * bools: the ASCII byte ``'1'`` or ``'0'``; strings: an integer length, then the bytes;
    * tensors: an int version (2), the integers ``num_samples, k, nr, nc``, then that many
      little-endian IEEE float32 values; an ``alias_tensor`` (a view into a layer's ``params``
      tensor) is an int version (1) and its four dimensions.

The reader checks every record against the architecture: a truncated or corrupted file, or a
different network, is a :class:`~facegate.errors.ModelError` naming the file, the layer and
the byte offset, never a crash and never a silently different network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import numpy as np

from facegate.errors import ModelError

from .dlib_bytes import ByteReader

__all__ = [
    "DlibLayer",
    "DlibResNet",
    "LayerKind",
    "expected_layers",
    "parse_dlib_resnet",
    "read_dlib_resnet",
]

LayerKind = Literal[
    "loss_metric",
    "fc",
    "avg_pool",
    "max_pool",
    "relu",
    "affine",
    "con",
    "add_prev",
    "tag",
    "skip",
    "input",
]

_CONV_MODE: Final = 0  # dlib's layer_mode: affine_ over channels
_FC_NO_BIAS: Final = 1  # dlib's fc_bias_mode
_ADD_LAYER_VERSION: Final = 2
_INPUT_ADD_LAYER_VERSIONS: Final = (2, 3)
_CHIP_SIZE: Final = 150


@dataclass(frozen=True, slots=True, eq=False)
class DlibLayer:
    """One layer of the network, as dlib numbers it (``layer<index>``; 0 is the loss).

    Attributes:
        index: dlib's layer index, counted from the loss layer (0) down to the input layer.
        kind: The layer type, without dlib's trailing underscore.
        filters: Output channels of a ``con``, outputs of an ``fc``.
        kernel: ``(rows, cols)`` of a ``con`` or pool window; ``(0, 0)`` pools everything.
        stride: ``(y, x)`` stride of a ``con`` or pool.
        padding: ``(y, x)`` zero padding of a ``con`` or pool, on each side.
        tag: The tag number of a ``tag``, ``skip`` or ``add_prev`` layer.
        weights: ``con``: float32 ``(filters, in_channels, rows, cols)``;
            ``fc``: float32 ``(inputs, outputs)`` (dlib multiplies ``x @ weights``).
        bias: ``con``: float32 ``(filters,)``.
        gamma: ``affine``: float32 per-channel scale.
        beta: ``affine``: float32 per-channel offset (``y = gamma * x + beta``).
        mean: ``input``: float32 ``(3,)`` mean red, green, blue subtracted before ``/256``.
        size: ``input``: the chip's side in pixels.
    """

    index: int
    kind: LayerKind
    filters: int = 0
    kernel: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    tag: int = 0
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None
    mean: np.ndarray | None = None
    size: int = 0

    def describe(self) -> str:
        """A short human description, e.g. ``con 3×3 stride 2, 64 filters``."""
        if self.kind == "con":
            rows, cols = self.kernel
            return f"con {rows}×{cols} stride {self.stride[0]}, {self.filters} filters"
        if self.kind in ("max_pool", "avg_pool"):
            if self.kernel == (0, 0):
                return f"{self.kind} over everything"
            rows, cols = self.kernel
            return f"{self.kind} {rows}×{cols} stride {self.stride[0]}"
        if self.kind == "fc":
            return f"fc_no_bias, {self.filters} outputs"
        if self.kind in ("tag", "skip", "add_prev"):
            return f"{self.kind}{self.tag}"
        if self.kind == "input":
            return f"input_rgb_image_sized<{_CHIP_SIZE}>"
        return self.kind


@dataclass(frozen=True, slots=True, eq=False)
class DlibResNet:
    """The parsed network: every layer from the loss (index 0) down to the input layer.

    Attributes:
        layers: All layers in dlib's order (top down), with their parameters.
        margin: ``loss_metric``'s training margin (not used for inference).
        distance_threshold: ``loss_metric``'s same-person distance (0.6 for this model).
        source: The file it was read from (for messages).
    """

    layers: tuple[DlibLayer, ...]
    margin: float
    distance_threshold: float
    source: str

    @property
    def input_layer(self) -> DlibLayer:
        return self.layers[-1]

    def bottom_up(self) -> tuple[DlibLayer, ...]:
        """The layers in the order data flows through them (input first, loss last)."""
        return self.layers[::-1]


# --------------------------------------------------------------------------------------------
# The architecture: anet_type of dlib's face_recognition.cpp, top down


def _block(stride: int, filters: int) -> list[tuple[LayerKind, dict[str, object]]]:
    """``block<N, affine, stride>``: affine(con 3×3 s1(relu(affine(con 3×3 s(x)))))."""

    def con(s: int) -> tuple[LayerKind, dict[str, object]]:
        padding = (1, 1) if s == 1 else (0, 0)  # dlib's default: nr/2 when stride 1, else 0
        return "con", {"filters": filters, "kernel": (3, 3), "stride": (s, s), "padding": padding}

    return [("affine", {}), con(1), ("relu", {}), ("affine", {}), con(stride)]


def _ares(filters: int) -> list[tuple[LayerKind, dict[str, object]]]:
    """``ares<N>`` = relu<add_prev1<block<N, affine, 1, tag1<x>>>>."""
    return [("relu", {}), ("add_prev", {"tag": 1}), *_block(1, filters), ("tag", {"tag": 1})]


def _ares_down(filters: int) -> list[tuple[LayerKind, dict[str, object]]]:
    """``ares_down<N>``: relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<x>>>>>>>>.

    The block's output (tag2) plus the 2×2 average of its input (tag1, reached by skip1).
    """
    return [
        ("relu", {}),
        ("add_prev", {"tag": 2}),
        ("avg_pool", {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)}),
        ("skip", {"tag": 1}),
        ("tag", {"tag": 2}),
        *_block(2, filters),
        ("tag", {"tag": 1}),
    ]


def expected_layers() -> tuple[DlibLayer, ...]:
    """The layers of dlib's face recognition ResNet v1, top down, without parameters."""
    spec: list[tuple[LayerKind, dict[str, object]]] = [
        ("loss_metric", {}),
        ("fc", {"filters": 128}),
        ("avg_pool", {"kernel": (0, 0), "stride": (1, 1), "padding": (0, 0)}),
    ]
    spec += _ares_down(256)  # alevel0
    spec += _ares(256) + _ares(256) + _ares_down(256)  # alevel1
    spec += _ares(128) + _ares(128) + _ares_down(128)  # alevel2
    spec += _ares(64) + _ares(64) + _ares(64) + _ares_down(64)  # alevel3
    spec += _ares(32) + _ares(32) + _ares(32)  # alevel4
    spec += [
        ("max_pool", {"kernel": (3, 3), "stride": (2, 2), "padding": (0, 0)}),
        ("relu", {}),
        ("affine", {}),
        ("con", {"filters": 32, "kernel": (7, 7), "stride": (2, 2), "padding": (0, 0)}),
        ("input", {"size": _CHIP_SIZE}),
    ]
    return tuple(
        DlibLayer(index=i, kind=kind, **fields)  # type: ignore[arg-type]
        for i, (kind, fields) in enumerate(spec)
    )


# --------------------------------------------------------------------------------------------
# Layer records


def _expect(reader: ByteReader, what: str, found: object, expected: object, at: int) -> None:
    if found != expected:
        raise reader.error(f"{what} is {found}, expected {expected}", at)


def _params(reader: ByteReader, expected_count: int) -> np.ndarray:
    start = reader.pos
    params = reader.tensor("params")
    _expect(reader, "the params tensor's shape", params.shape, (expected_count, 1, 1, 1), start)
    if not np.all(np.isfinite(params)):
        raise reader.error("the params tensor holds values that are not finite numbers", start)
    return params.reshape(-1)


def _read_con(reader: ByteReader, layer: DlibLayer, channels: int) -> DlibLayer:
    reader.record_name(("con_4",))
    rows, cols = layer.kernel
    n_weights = layer.filters * channels * rows * cols
    params = _params(reader, n_weights + layer.filters)
    header = (layer.filters, rows, cols, layer.stride[0], layer.stride[1])
    start = reader.pos
    found = tuple(
        reader.integer(name)
        for name in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    )
    _expect(reader, "the convolution (filters, nr, nc, strides, paddings)", found,
            (*header, *layer.padding), start)  # fmt: skip
    start = reader.pos
    _expect(reader, "the filters alias", reader.alias("filters"),
            (layer.filters, channels, rows, cols), start)  # fmt: skip
    start = reader.pos
    _expect(reader, "the biases alias", reader.alias("biases"), (1, layer.filters, 1, 1), start)
    for name in ("learning_rate", "weight_decay", "bias_learning_rate", "bias_weight_decay"):
        reader.finite(f"the {name} multiplier")
    weights = params[:n_weights].reshape(layer.filters, channels, rows, cols)
    return replace(layer, weights=weights, bias=params[n_weights:].copy())


def _read_affine(reader: ByteReader, layer: DlibLayer, channels: int) -> DlibLayer:
    reader.record_name(("affine_",))
    params = _params(reader, 2 * channels)
    for name in ("gamma", "beta"):
        start = reader.pos
        _expect(reader, f"the {name} alias", reader.alias(name), (1, channels, 1, 1), start)
    start = reader.pos
    _expect(reader, "the affine mode", reader.integer("the affine mode", 4), _CONV_MODE, start)
    return replace(layer, gamma=params[:channels].copy(), beta=params[channels:].copy())


def _read_pool(reader: ByteReader, layer: DlibLayer) -> DlibLayer:
    reader.record_name((f"{layer.kind}_2",))
    start = reader.pos
    found = tuple(
        reader.integer(name)
        for name in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    )
    _expect(reader, "the pooling (nr, nc, strides, paddings)", found,
            (*layer.kernel, *layer.stride, *layer.padding), start)  # fmt: skip
    return layer


def _read_fc(reader: ByteReader, layer: DlibLayer, inputs: int) -> DlibLayer:
    reader.record_name(("fc_2",))
    start = reader.pos
    found = (
        reader.integer("num_outputs", signed=False),
        reader.integer("num_inputs", signed=False),
    )
    _expect(reader, "(num_outputs, num_inputs)", found, (layer.filters, inputs), start)
    start = reader.pos
    params = reader.tensor("params")
    _expect(reader, "the params tensor's shape", params.shape, (inputs, layer.filters, 1, 1), start)
    if not np.all(np.isfinite(params)):
        raise reader.error("the params tensor holds values that are not finite numbers", start)
    start = reader.pos
    _expect(reader, "the weights alias", reader.alias("weights"),
            (inputs, layer.filters, 1, 1), start)  # fmt: skip
    start = reader.pos
    _expect(reader, "the biases alias", reader.alias("biases"), (0, 0, 0, 0), start)
    start = reader.pos
    _expect(reader, "the bias mode", reader.integer("the bias mode", 4), _FC_NO_BIAS, start)
    for name in ("learning_rate", "weight_decay", "bias_learning_rate", "bias_weight_decay"):
        reader.finite(f"the {name} multiplier")
    return replace(layer, weights=params.reshape(inputs, layer.filters).copy())


def _read_input(reader: ByteReader, layer: DlibLayer) -> DlibLayer:
    reader.record_name(("input_rgb_image_sized",))
    mean = [reader.finite(f"the mean {color}") for color in ("red", "green", "blue")]
    start = reader.pos
    if not all(0.0 <= m <= 255.0 for m in mean):
        raise reader.error(f"the mean colour {mean} is outside 0-255", start)
    size = (reader.integer("NR", signed=False), reader.integer("NC", signed=False))
    _expect(reader, "the chip size", size, (layer.size, layer.size), start)
    return replace(layer, mean=np.array(mean, dtype=np.float32))


def _read_state(reader: ByteReader, input_version: int | None) -> None:
    """An ``add_layer``'s training state after its record: three bools and the tensors."""
    for name in ("this_layer_setup_called", "gradient_input_is_stale", "output_disabled"):
        reader.flag(name)
    for name in ("x_grad", "cached_output"):
        reader.tensor(name)
    if input_version is None:
        reader.tensor("params_grad")
        return
    reader.tensor("grad_final")
    if input_version >= 3:
        start = reader.pos
        factor = reader.integer("sample_expansion_factor", signed=False)
        if factor != 1:
            raise reader.error(f"sample_expansion_factor is {factor}, expected 1", start)


# --------------------------------------------------------------------------------------------
# The whole file


@dataclass(slots=True)
class _Shape:
    channels: int
    rows: int
    cols: int


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - kernel) // stride


def parse_dlib_resnet(
    data: bytes, source: str = "dlib_face_recognition_resnet_model_v1.dat"
) -> DlibResNet:
    """Parse the bytes of ``dlib_face_recognition_resnet_model_v1.dat``.

    Args:
        data: The whole file.
        source: What to call it in error messages (its path).

    Returns:
        Every layer with its parameters, checked against dlib's architecture.

    Raises:
        ModelError: The bytes are truncated, corrupted, or another network; the message names
            ``source``, the layer (dlib's index and type) and the byte offset.
    """
    reader = ByteReader(data, source)
    layers = list(expected_layers())

    def at(layer: DlibLayer) -> str:
        return f"layer {layer.index} ({layer.describe()})"

    # Top down: the loss, then one version per layer until the input layer's record.
    reader.context = at(layers[0])
    reader.version("add_loss_layer", (1,))
    reader.record_name(("loss_metric_2",))
    margin = reader.finite("the margin")
    threshold = reader.finite("the distance threshold")

    versions: dict[int, int] = {}
    bottom = len(layers) - 2  # the con on the input layer
    for layer in layers[1 : bottom + 1]:
        reader.context = at(layer)
        if layer.kind in ("tag", "skip"):
            reader.version(f"add_{layer.kind}_layer", (1,))
        elif layer.index == bottom:
            versions[layer.index] = reader.version("add_layer", _INPUT_ADD_LAYER_VERSIONS)
        else:
            versions[layer.index] = reader.version("add_layer", (_ADD_LAYER_VERSION,))

    reader.context = at(layers[-1])
    layers[-1] = _read_input(reader, layers[-1])

    # Bottom up: each layer's record and state, tracking the tensor shape to check sizes.
    shape = _Shape(3, _CHIP_SIZE, _CHIP_SIZE)
    tags: dict[int, _Shape] = {}
    for position in range(bottom, 0, -1):
        layer = layers[position]
        reader.context = at(layer)
        kind = layer.kind
        if kind == "tag":
            tags[layer.tag] = _Shape(shape.channels, shape.rows, shape.cols)
            continue
        if kind == "skip":
            shape = _Shape(tags[layer.tag].channels, tags[layer.tag].rows, tags[layer.tag].cols)
            continue
        if kind == "con":
            layer = _read_con(reader, layer, shape.channels)
            shape = _Shape(
                layer.filters,
                _out(shape.rows, layer.kernel[0], layer.stride[0], layer.padding[0]),
                _out(shape.cols, layer.kernel[1], layer.stride[1], layer.padding[1]),
            )
        elif kind == "affine":
            layer = _read_affine(reader, layer, shape.channels)
        elif kind == "relu":
            reader.record_name(("relu_",))
        elif kind == "add_prev":
            reader.record_name(("add_prev_",))
            other = tags[layer.tag]
            shape = _Shape(
                max(shape.channels, other.channels),
                max(shape.rows, other.rows),
                max(shape.cols, other.cols),
            )
        elif kind in ("max_pool", "avg_pool"):
            layer = _read_pool(reader, layer)
            if layer.kernel == (0, 0):
                shape = _Shape(shape.channels, 1, 1)
            else:
                shape = _Shape(
                    shape.channels,
                    _out(shape.rows, layer.kernel[0], layer.stride[0], layer.padding[0]),
                    _out(shape.cols, layer.kernel[1], layer.stride[1], layer.padding[1]),
                )
        elif kind == "fc":
            layer = _read_fc(reader, layer, shape.channels * shape.rows * shape.cols)
            shape = _Shape(layer.filters, 1, 1)
        else:  # pragma: no cover - expected_layers() has no other kinds here
            raise reader.error(f"unexpected layer kind {kind}")
        if shape.rows < 1 or shape.cols < 1:  # pragma: no cover - fixed architecture
            raise reader.error("the layer's output would be empty")
        _read_state(reader, versions[position] if position == bottom else None)
        layers[position] = layer

    reader.context = "after the last layer"
    if reader.pos != len(data):
        raise reader.error(f"{len(data) - reader.pos:,} unexpected bytes follow the network")
    return DlibResNet(
        layers=tuple(layers), margin=margin, distance_threshold=threshold, source=source
    )


def read_dlib_resnet(path: str | Path) -> DlibResNet:
    """Read and check ``dlib_face_recognition_resnet_model_v1.dat`` (see :func:`parse_dlib_resnet`).

    Raises:
        ModelError: The file is missing, unreadable, truncated, corrupted or another network.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path} (run `facegate models install`)") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    return parse_dlib_resnet(data, str(path))
