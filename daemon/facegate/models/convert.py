"""Convert dlib's face recognition ResNet to ONNX, so a faster runtime can run the same network.

:func:`dlib_resnet_to_onnx` rebuilds the graph dlib runs for
``dlib_face_recognition_resnet_model_v1.dat`` (read by :mod:`facegate.models.dlib_dnn`):

* the input is a batch of 150×150 RGB chips as float32 ``(N, 3, 150, 150)`` holding the
  0-255 pixel values; the graph applies dlib's own input scaling, ``(pixel - mean) / 256``
  with the mean red, green and blue stored in the file;
* every ``con`` is a ``Conv`` with the ``affine`` layer above it folded in
  (``gamma * (W x + b) + beta = (gamma W) x + (gamma b + beta)``): dlib's inference ``affine``
  layers are its batch normalisations already reduced to a per-channel scale and offset;
* a residual ``add_prev`` adds two tensors of different shapes the way dlib's ``tt::add``
  does: each is zero-extended at the end of every dimension (channels, rows, columns) to the
  larger shape before adding;
* the output ``descriptor`` is dlib's raw 128-d descriptor, ``(N, 128)`` (not unit length).

The conversion is deterministic: element-wise float32 arithmetic only (no sums whose order
could differ between machines), fixed node names and a fixed ONNX IR and opset version, so
the same ``.dat`` always gives the same bytes, and the installer pins their SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np

from facegate.errors import ModelError

from .dlib_dnn import DlibLayer, DlibResNet, read_dlib_resnet

__all__ = [
    "CONVERTER_VERSION",
    "INPUT_NAME",
    "ONNX_IR_VERSION",
    "ONNX_OPSET",
    "OUTPUT_NAME",
    "convert_dlib_resnet_file",
    "dlib_resnet_onnx_bytes",
    "dlib_resnet_to_onnx",
]

INPUT_NAME: Final = "chips"
OUTPUT_NAME: Final = "descriptor"
ONNX_OPSET: Final = 13  # Conv, pooling, Pad with a pads input: every runtime we try has it
ONNX_IR_VERSION: Final = 7
CONVERTER_VERSION: Final = "1"  # bump when the graph changes; the pinned hash changes with it
_PIXEL_SCALE: Final = np.float32(1.0 / 256.0)  # dlib's input layer divides by 256 (exact)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ModelError(
            "the `onnx` package is needed to convert dlib's ResNet (pip install onnx)"
        ) from exc
    return onnx


class _Graph:
    """Collects nodes and initializers with deterministic names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name=name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _folded(con: DlibLayer, affine: DlibLayer | None) -> tuple[np.ndarray, np.ndarray]:
    assert con.weights is not None and con.bias is not None
    weights, bias = con.weights.astype(np.float32), con.bias.astype(np.float32)
    if affine is None:
        return weights, bias
    assert affine.gamma is not None and affine.beta is not None
    gamma, beta = affine.gamma.astype(np.float32), affine.beta.astype(np.float32)
    folded_w = (weights * gamma[:, None, None, None]).astype(np.float32)
    folded_b = ((bias * gamma).astype(np.float32) + beta).astype(np.float32)
    return folded_w, folded_b


def dlib_resnet_to_onnx(net: DlibResNet) -> Any:
    """Build the ONNX model (an ``onnx.ModelProto``) of ``net``.

    Raises:
        ModelError: ``onnx`` is not installed, or the built graph fails ONNX's checker.
    """
    onnx = _onnx()
    g = _Graph(onnx)
    layers = net.bottom_up()  # input first
    source = layers[0]
    assert source.kind == "input" and source.mean is not None
    size = source.size

    mean = g.const("input_mean", source.mean.reshape(1, 3, 1, 1).astype(np.float32))
    scale = g.const("input_scale", np.array(_PIXEL_SCALE, dtype=np.float32))
    centred = g.node("Sub", [INPUT_NAME, mean], "input_centred")
    current = g.node("Mul", [centred, scale], "input_scaled")
    shape = (3, size, size)  # (channels, rows, cols) of `current`
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}

    def out(n: int, k: int, s: int, p: int) -> int:
        return 1 + (n + 2 * p - k) // s

    def extended(name: str, have: tuple[int, ...], want: tuple[int, ...], tag: str) -> str:
        if have == want:
            return name
        # ONNX pads: the begins of (N, C, H, W), then their ends; dlib extends at the end.
        ends = [w - h for h, w in zip(have, want, strict=True)]
        pads_name = g.const(f"{tag}_pads", np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64))
        return g.node("Pad", [name, pads_name], f"{tag}_zero_extended", mode="constant")

    position = 1
    while position < len(layers):
        layer = layers[position]
        prefix = f"layer{layer.index}_{layer.kind}"
        if layer.kind == "con":
            above = layers[position + 1] if position + 1 < len(layers) else None
            affine = above if above is not None and above.kind == "affine" else None
            weights, bias = _folded(layer, affine)
            ph, pw = layer.padding
            current = g.node(
                "Conv",
                [current, g.const(f"{prefix}_weights", weights), g.const(f"{prefix}_bias", bias)],
                prefix,
                kernel_shape=list(layer.kernel),
                strides=list(layer.stride),
                pads=[ph, pw, ph, pw],
            )
            shape = (
                layer.filters,
                out(shape[1], layer.kernel[0], layer.stride[0], ph),
                out(shape[2], layer.kernel[1], layer.stride[1], pw),
            )
            if affine is not None:
                position += 1  # folded into this Conv
        elif layer.kind == "affine":
            assert layer.gamma is not None and layer.beta is not None
            gamma = g.const(f"{prefix}_gamma", layer.gamma.reshape(1, -1, 1, 1))
            beta = g.const(f"{prefix}_beta", layer.beta.reshape(1, -1, 1, 1))
            scaled = g.node("Mul", [current, gamma], f"{prefix}_scaled")
            current = g.node("Add", [scaled, beta], prefix)
        elif layer.kind == "relu":
            current = g.node("Relu", [current], prefix)
        elif layer.kind in ("max_pool", "avg_pool"):
            if layer.kernel == (0, 0):
                assert layer.kind == "avg_pool"
                current = g.node("GlobalAveragePool", [current], prefix)
                shape = (shape[0], 1, 1)
            else:
                ph, pw = layer.padding
                current = g.node(
                    "MaxPool" if layer.kind == "max_pool" else "AveragePool",
                    [current],
                    prefix,
                    kernel_shape=list(layer.kernel),
                    strides=list(layer.stride),
                    pads=[ph, pw, ph, pw],
                )
                shape = (
                    shape[0],
                    out(shape[1], layer.kernel[0], layer.stride[0], ph),
                    out(shape[2], layer.kernel[1], layer.stride[1], pw),
                )
        elif layer.kind == "tag":
            tags[layer.tag] = (current, shape)
        elif layer.kind == "skip":
            current, shape = tags[layer.tag]
        elif layer.kind == "add_prev":
            other, other_shape = tags[layer.tag]
            want = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=True))
            left = extended(current, shape, want, f"{prefix}_a")
            right = extended(other, other_shape, want, f"{prefix}_b")
            current = g.node("Add", [left, right], prefix)
            shape = (want[0], want[1], want[2])
        elif layer.kind == "fc":
            assert layer.weights is not None
            flat = g.node("Flatten", [current], f"{prefix}_flatten", axis=1)
            matrix = g.const(f"{prefix}_weights", layer.weights.astype(np.float32))
            current = g.node("MatMul", [flat, matrix], OUTPUT_NAME)
            shape = (layer.filters, 1, 1)
        elif layer.kind == "loss_metric":
            pass  # training only: the descriptor is the fc output
        else:  # pragma: no cover - DlibResNet holds only the kinds above
            raise ModelError(f"{net.source}: cannot convert layer {layer.describe()}")
        position += 1

    if current != OUTPUT_NAME:  # pragma: no cover - the fc is always the last layer
        raise ModelError(f"{net.source}: the network does not end in its fc layer")

    helper = onnx.helper
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, ["n", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, onnx.TensorProto.FLOAT, ["n", shape[0]])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="facegate",
        producer_version=f"dlib-resnet-converter-{CONVERTER_VERSION}",
        doc_string=(
            "dlib's face recognition ResNet v1 (public domain, by Davis King), converted from "
            "dlib_face_recognition_resnet_model_v1.dat. Input: RGB 150x150 chips from dlib's "
            "get_face_chip (padding 0.25) as float32 0-255, NCHW. Output: dlib's raw 128-d "
            "descriptor."
        ),
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
    )
    model.ir_version = ONNX_IR_VERSION
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # onnx raises ValidationError / InferenceError
        raise ModelError(f"{net.source}: the converted ONNX graph is invalid: {exc}") from exc
    return model


def dlib_resnet_onnx_bytes(net: DlibResNet) -> bytes:
    """The serialized ONNX model of ``net`` (deterministic for a given ``.dat``)."""
    model = dlib_resnet_to_onnx(net)
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def convert_dlib_resnet_file(source: Path) -> bytes:
    """Read ``dlib_face_recognition_resnet_model_v1.dat`` and return its ONNX model's bytes.

    This is the installer's converter for :data:`~facegate.models.manifest.DLIB_RESNET_ONNX`.

    Raises:
        ModelError: The ``.dat`` is missing, unreadable, truncated, corrupted or another
            network (the message names the file, the layer and the byte offset), or ``onnx``
            is not installed.
    """
    return dlib_resnet_onnx_bytes(read_dlib_resnet(source))
