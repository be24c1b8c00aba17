"""dlib's ResNet read without dlib, converted to ONNX, and run as the ``dlib-fast`` embedder.

The reader is checked on the real ``.dat`` (layer sequence, tensor shapes) and on truncated
and corrupted copies (a :class:`ModelError` naming the file and the layer, never a crash or a
different network); the conversion on being deterministic (the pinned SHA-256); the embedder
on being dlib: on every shared test face its raw descriptor has cosine ≥ 0.9999 with dlib's
own ``compute_face_descriptor``, and ``facegate eval``'s rates agree within 0.002.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate.config import (
    DefaultEmbedderConfig,
    DlibEmbedderConfig,
    DlibFastEmbedderConfig,
    FacegateConfig,
)
from facegate.errors import ImageError, ModelError
from facegate.measure.faces import run_protocol, scan_faces
from facegate.models.convert import convert_dlib_resnet_file, dlib_resnet_onnx_bytes
from facegate.models.dlib_dnn import expected_layers, parse_dlib_resnet, read_dlib_resnet
from facegate.models.manifest import (
    DLIB_RESNET,
    DLIB_RESNET_ONNX,
    MODEL_FILES,
    STATUS_OK,
    default_models_dir,
    file_status,
)
from facegate.recognition import FacePipeline
from facegate.vision.dlib_fast import DlibFastEmbedder
from facegate.vision.embed import DLIB_SPACE
from helpers import load_rgb, make_config

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FACES = SHARED / "testdata" / "faces"
PINNED_ONNX_SHA256 = "7ead376450f0126db5edd21f488d21d803780cf1c43ad633e087eb393dc556ea"


def _installed(name: str) -> Path:
    path = default_models_dir() / name
    status, _ = file_status(path, MODEL_FILES[name])
    if status != STATUS_OK:
        pytest.skip(f"{name} is {status} in {path.parent}; run `facegate models install`")
    return path


@pytest.fixture(scope="module")
def dat_path() -> Path:
    return _installed(DLIB_RESNET)


@pytest.fixture(scope="module")
def dat_bytes(dat_path: Path) -> bytes:
    return dat_path.read_bytes()


@pytest.fixture(scope="module")
def onnx_path(dat_path: Path) -> Path:
    return _installed(DLIB_RESNET_ONNX)


# --------------------------------------------------------------------------------------------
# The reader


def test_reader_finds_dlibs_architecture_and_tensor_shapes(dat_path: Path) -> None:
    net = read_dlib_resnet(dat_path)
    assert [layer.kind for layer in net.layers] == [layer.kind for layer in expected_layers()]
    assert [layer.index for layer in net.layers] == list(range(132))
    assert net.distance_threshold == pytest.approx(0.6)

    stem = net.layers[-2]
    assert stem.kind == "con" and stem.weights is not None and stem.bias is not None
    assert stem.weights.shape == (32, 3, 7, 7) and stem.bias.shape == (32,)
    assert stem.stride == (2, 2) and stem.padding == (0, 0)
    assert net.input_layer.size == 150 and net.input_layer.mean is not None
    np.testing.assert_allclose(net.input_layer.mean, [122.782, 117.001, 104.298], atol=1e-3)

    convs = [layer for layer in net.bottom_up() if layer.kind == "con"]
    assert len(convs) == 29
    shapes = [c.weights.shape for c in convs if c.weights is not None]
    assert shapes[1:7] == [(32, 32, 3, 3)] * 6  # three residual blocks at 32 filters
    assert shapes[7] == (64, 32, 3, 3) and convs[7].stride == (2, 2)  # the first 64 block
    filters = [s[0] for s in shapes]
    assert [filters.count(n) for n in (32, 64, 128, 256)] == [7, 8, 6, 8]
    affines = [layer for layer in net.layers if layer.kind == "affine"]
    assert len(affines) == 29
    assert all(a.gamma is not None and np.all(np.isfinite(a.gamma)) for a in affines)

    fc = net.layers[1]
    assert fc.kind == "fc" and fc.weights is not None and fc.weights.shape == (256, 128)
    assert [layer.kind for layer in net.layers[:3]] == ["loss_metric", "fc", "avg_pool"]


def _expect_model_error(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    with pytest.raises(ModelError) as info:
        read_dlib_resnet(path)
    message = str(info.value)
    assert str(path) in message
    assert "layer" in message and "byte" in message, message
    return message


def test_truncated_copies_name_the_file_and_the_layer(tmp_path: Path, dat_bytes: bytes) -> None:
    first_con = dat_bytes.index(b"\x05con_4")
    cuts = {
        0: "layer 0 (loss_metric)",
        5: "layer 0 (loss_metric)",
        0x40: "layer",
        dat_bytes.index(b"input_rgb_image_sized") + 5: "layer 131 (input_rgb_image_sized<150>)",
        first_con + 40: "layer 130 (con 7×7 stride 2, 32 filters)",
        len(dat_bytes) // 2: "layer",
        len(dat_bytes) - 1: "layer 1 (fc_no_bias, 128 outputs)",
    }
    for cut, layer in cuts.items():
        message = _expect_model_error(tmp_path / f"cut{cut}.dat", dat_bytes[:cut])
        assert layer in message and "ends" in message, message


def _flipped(data: bytes, offset: int, value: int | None = None) -> bytes:
    out = bytearray(data)
    out[offset] = (out[offset] ^ 0xFF) if value is None else value
    return bytes(out)


def test_corrupted_headers_name_the_file_and_the_layer(tmp_path: Path, dat_bytes: bytes) -> None:
    # Offsets in the pinned file: the loss record ends at 0x1d, then one add_layer version
    # (b"\x01\x02") per layer from the fc down; the stem convolution's record is the first.
    assert dat_bytes[0x1D:0x21] == b"\x01\x02\x01\x02"
    stem = dat_bytes.index(b"\x05con_4")
    stem_floats = dat_bytes.index(b"\x01\x02\x02\x80\x12\x01\x01\x01\x01\x01\x01", stem) + 11
    stem_filters = dat_bytes.index(b"\x01\x20\x01\x07\x01\x07\x01\x02\x01\x02", stem_floats)
    fc = dat_bytes.index(b"\x04fc_2")
    stem_layer = "layer 130 (con 7×7 stride 2, 32 filters)"
    cases = {
        "version": (_flipped(dat_bytes, 0x20, 0x07), "layer 2 (avg_pool over everything)"),
        "name": (_flipped(dat_bytes, stem + 1, ord("x")), "record 'con_4' but found 'xon_4'"),
        "ascii": (_flipped(dat_bytes, stem + 2), stem_layer),
        "filters": (_flipped(dat_bytes, stem_filters + 1, 0x21), stem_layer),
        "fc": (_flipped(dat_bytes, fc + 6, 0x7F), "layer 1 (fc_no_bias, 128 outputs)"),
        "trailing": (dat_bytes + b"\x00", "unexpected bytes follow"),
    }
    for name, (data, expected) in cases.items():
        message = _expect_model_error(tmp_path / f"{name}.dat", data)
        assert expected in message, (name, message)

    # A NaN among the weights (a typical bit-rot of a float) is refused too.
    nan = bytearray(dat_bytes)
    nan[stem_floats : stem_floats + 4] = b"\xff\xff\xff\x7f"
    message = _expect_model_error(tmp_path / "nan.dat", bytes(nan))
    assert stem_layer in message and "not finite" in message


def test_random_header_damage_is_an_error_or_changes_nothing(dat_bytes: bytes) -> None:
    """Never a crash, never a different network: each flip is refused or is harmless.

    Flips land in the layer versions, the loss and input records' headers, and the record
    names and tensor headers of a few layers (not in float values, which only the pinned
    SHA-256 can catch).
    """
    reference = parse_dlib_resnet(dat_bytes)
    headers = [(dat_bytes.index(b"\x05con_4"), 17), (dat_bytes.index(b"\x04fc_2"), 21)]
    affines = [i for i in range(len(dat_bytes) - 8) if dat_bytes.startswith(b"\x07affine_", i)]
    headers += [(i, 18) for i in affines[:3]]
    offsets = list(range(0x138)) + [start + d for start, n in headers for d in range(n)]
    rng = random.Random(4)
    for offset in rng.sample(offsets, 60):
        data = _flipped(dat_bytes, offset, rng.randrange(256))
        try:
            net = parse_dlib_resnet(data, "flipped.dat")
        except ModelError as exc:
            assert str(exc).startswith("flipped.dat: "), str(exc)
            assert "layer" in str(exc) and "byte" in str(exc), str(exc)
            continue
        for a, b in zip(net.layers, reference.layers, strict=True):
            for field in ("weights", "bias", "gamma", "beta", "mean"):
                x, y = getattr(a, field), getattr(b, field)
                assert (x is None) == (y is None) and (x is None or np.array_equal(x, y))


# --------------------------------------------------------------------------------------------
# The conversion


def test_conversion_is_deterministic_and_pinned(dat_path: Path, onnx_path: Path) -> None:
    first = convert_dlib_resnet_file(dat_path)
    second = dlib_resnet_onnx_bytes(read_dlib_resnet(dat_path))
    assert first == second
    assert hashlib.sha256(first).hexdigest() == PINNED_ONNX_SHA256
    assert MODEL_FILES[DLIB_RESNET_ONNX].sha256 == PINNED_ONNX_SHA256
    assert len(first) == MODEL_FILES[DLIB_RESNET_ONNX].size
    assert onnx_path.read_bytes() == first


# --------------------------------------------------------------------------------------------
# The embedder against dlib


@pytest.fixture(scope="module")
def fast(onnx_path: Path) -> DlibFastEmbedder:
    return DlibFastEmbedder(onnx_path, sha256=PINNED_ONNX_SHA256)


def _config(tmp: Path, models: Path, embedder: object) -> FacegateConfig:
    return make_config(tmp, models, embedder=embedder)


@pytest.fixture(scope="module")
def shared_chips(
    onnx_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, np.ndarray]]:
    """The largest face of every photo in shared/testdata/faces/, as dlib's 150×150 chip."""
    if not FACES.is_dir():
        pytest.skip(f"shared test photos not found at {FACES} (../shared beside the repo)")
    cfg = _config(
        tmp_path_factory.mktemp("cfg"), onnx_path.parent, DlibFastEmbedderConfig(type="dlib-fast")
    )
    pipeline = FacePipeline(cfg)
    chips: list[tuple[str, np.ndarray]] = []
    for photo in sorted(p for p in FACES.rglob("*") if p.is_file()):
        image = load_rgb(photo)
        faces = pipeline.detect_photo(image)
        if faces:
            face = max(faces, key=lambda d: d.area)
            chips.append((photo.name, pipeline.aligner.align(image, face).chip))
    assert len(chips) >= 30
    return chips


def test_fast_descriptors_equal_dlibs_on_every_shared_face(
    fast: DlibFastEmbedder, dat_path: Path, shared_chips: list[tuple[str, np.ndarray]]
) -> None:
    dlib = pytest.importorskip("dlib")
    reference = dlib.face_recognition_model_v1(str(dat_path))
    chips = [chip for _name, chip in shared_chips]
    want = np.array([list(d) for d in reference.compute_face_descriptor(chips, 0)], np.float32)
    got = fast.descriptors(chips)  # one batch of every chip
    assert got.shape == want.shape == (len(chips), 128)
    cosine = np.sum(got * want, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.9999, f"{shared_chips[worst][0]}: cosine {cosine.min():.6f}"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), np.linalg.norm(want, axis=1), rtol=1e-4)

    templates = fast.embed_chips(chips[:3])
    np.testing.assert_allclose(np.linalg.norm(templates, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([fast.descriptors([chip]) for chip in chips[:4]])
    np.testing.assert_allclose(fast.descriptors(chips[:4]), one_by_one, atol=1e-5)


def test_opencv_runtime_gives_the_same_descriptors(
    onnx_path: Path, fast: DlibFastEmbedder, shared_chips: list[tuple[str, np.ndarray]]
) -> None:
    opencv = DlibFastEmbedder(onnx_path, runtime="opencv")
    assert opencv.runtime == "opencv" and fast.runtime == "onnxruntime"
    chips = [chip for _name, chip in shared_chips[:3]]
    np.testing.assert_allclose(opencv.descriptors(chips), fast.descriptors(chips), atol=1e-4)


def test_embedder_refuses_bad_files_and_chips(
    tmp_path: Path, fast: DlibFastEmbedder, onnx_path: Path
) -> None:
    with pytest.raises(ModelError, match="facegate models install"):
        DlibFastEmbedder(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="wrong sha256"):
        DlibFastEmbedder(onnx_path, sha256="0" * 64)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model" * 100)
    for runtime in ("onnxruntime", "opencv"):
        with pytest.raises(ModelError, match=r"garbage\.onnx"):
            DlibFastEmbedder(garbage, runtime=runtime)  # type: ignore[arg-type]
    with pytest.raises(ImageError):
        fast.embed_chips([np.zeros((150, 150), np.uint8)])
    with pytest.raises(ImageError, match="150×150×3"):
        fast.embed_chips([np.zeros((112, 112, 3), np.uint8)])
    assert fast.embed_chips([]).shape == (0, 128)


# --------------------------------------------------------------------------------------------
# Configuration: the default embedder


def test_default_embedder_is_dlib_fast_when_converted_else_dlib(
    tmp_path: Path, onnx_path: Path
) -> None:
    """An older configuration's untyped `embedder:` with dlib settings (the default before
    issue 20 made it sface) still picks dlib's ResNet on the fastest backend installed."""
    models = onnx_path.parent
    default = _config(tmp_path, models, DefaultEmbedderConfig())
    assert isinstance(default.embedder, DefaultEmbedderConfig)
    assert default.embedder.type == "dlib"
    pipeline = FacePipeline(default)
    assert pipeline.embedder.name == "dlib-fast" and pipeline.space == DLIB_SPACE

    # Without the converted file in the models folder, the default is dlib itself.
    partial = tmp_path / "models"
    partial.mkdir()
    for name in MODEL_FILES:
        if name != DLIB_RESNET_ONNX:
            (partial / name).symlink_to(models / name)
    assert FacePipeline(_config(tmp_path, partial, DefaultEmbedderConfig())).embedder.name == "dlib"
    jitter = DefaultEmbedderConfig(num_jitters=1)
    assert FacePipeline(_config(tmp_path, models, jitter)).embedder.name == "dlib"
    explicit = FacePipeline(_config(tmp_path, models, DlibEmbedderConfig(type="dlib")))
    assert explicit.embedder.name == "dlib" and explicit.space == DLIB_SPACE
    with pytest.raises(ModelError, match="facegate models install"):
        FacePipeline(_config(tmp_path, partial, DlibFastEmbedderConfig(type="dlib-fast")))


def test_default_embedder_survives_a_dump_and_reload(tmp_path: Path) -> None:
    """``facegate bench`` hands its configuration to a fresh process as a dump."""
    cfg = make_config(tmp_path, embedder=DefaultEmbedderConfig())
    dumped = cfg.model_dump(mode="json")
    assert "type" not in dumped["embedder"]
    assert isinstance(FacegateConfig.model_validate(dumped).embedder, DefaultEmbedderConfig)
    for explicit in (DlibEmbedderConfig(type="dlib"), DlibFastEmbedderConfig(type="dlib-fast")):
        again = FacegateConfig.model_validate(
            cfg.model_copy(update={"embedder": explicit}).model_dump(mode="json")
        )
        assert type(again.embedder) is type(explicit)


def test_eval_rates_agree_with_dlib(tmp_path: Path, onnx_path: Path) -> None:
    """``facegate eval``'s protocol on the shared faces: dlib and dlib-fast agree within 0.002."""
    if not FACES.is_dir():
        pytest.skip(f"shared test photos not found at {FACES} (../shared beside the repo)")
    people = scan_faces(FACES)
    reports: dict[str, dict[str, Any]] = {}
    for embedder in (DlibEmbedderConfig(type="dlib"), DlibFastEmbedderConfig(type="dlib-fast")):
        pipeline = FacePipeline(_config(tmp_path, onnx_path.parent, embedder))
        reports[pipeline.embedder.name] = run_protocol(pipeline, people).report()
    dlib, fast = reports["dlib"], reports["dlib-fast"]
    for key in ("tar_at_far_1e-3", "fnmr", "fmr"):
        assert fast[key] == pytest.approx(dlib[key], abs=0.002), key
    assert fast["impostor_mean"] == pytest.approx(dlib["impostor_mean"], abs=0.002)
