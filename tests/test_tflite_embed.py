"""BlazeFace → FaceMesh → ArcFace alignment → TFLite MobileFaceNet, on real photos.

Uses the installed BlazeFace and FaceMesh models (``facegate models install``), the two
MobileFaceNet files in ``../shared/models/mobilefacenet_arcface`` and the photos in
``../shared/testdata/faces``; each group of tests is skipped with a reason when its files are
absent. Nothing from ``../shared`` is copied into the repository.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import facegate.vision.tflite_embed as tflite_embed_module
from facegate.errors import ImageError, ModelError
from facegate.models.manifest import (
    DETECTOR_SHORT_RANGE,
    FACE_LANDMARK,
    MODEL_FILES,
    default_models_dir,
)
from facegate.vision.align import (
    ARCFACE_112,
    FaceMeshAligner,
    align_similarity,
    arcface_template,
    similarity_matrix,
)
from facegate.vision.detect import BlazeFaceDetector
from facegate.vision.embed import AlignedFace
from facegate.vision.landmarks import (
    NUM_LANDMARKS,
    FaceLandmarks,
    FaceMesh,
    arcface_points,
    eye_aspect_ratios,
)
from facegate.vision.runtime import verify_model_file
from facegate.vision.tflite_embed import TFLiteEmbedder
from facegate.vision.types import Detection
from helpers import load_rgb

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MFN_DIR = SHARED / "models" / "mobilefacenet_arcface"
FACES = SHARED / "testdata" / "faces"
AOC_CLIP = SHARED / "testdata" / "video" / "WDA_AlexandriaOcasioCortez_000.mp4"
LEGACY_MESH = SHARED / "models" / "mediapipe_legacy" / "face_landmark.tflite"

GENUINE_MIN = 0.45
IMPOSTOR_MAX = 0.35


def _shared_file(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path.name} not found at {path} (../shared beside the repo)")
    return path


def _installed(name: str) -> Path:
    path = default_models_dir() / name
    try:
        return verify_model_file(path, MODEL_FILES[name].sha256)
    except ModelError as exc:
        pytest.skip(f"{name} not installed or wrong ({exc}); run `facegate models install`")


@pytest.fixture(scope="module")
def detector() -> BlazeFaceDetector:
    return BlazeFaceDetector(_installed(DETECTOR_SHORT_RANGE))


@pytest.fixture(scope="module")
def facemesh() -> FaceMesh:
    return FaceMesh(_installed(FACE_LANDMARK), sha256=MODEL_FILES[FACE_LANDMARK].sha256)


@pytest.fixture(scope="module")
def float_model() -> Path:
    return _shared_file(MFN_DIR / "mobilefacenet.tflite")


@pytest.fixture(scope="module")
def uint8_model() -> Path:
    return _shared_file(MFN_DIR / "mobilefacenet_uint8.tflite")


@pytest.fixture(scope="module")
def embedder(float_model: Path) -> TFLiteEmbedder:
    return TFLiteEmbedder(float_model, sha256=None, name="mobilefacenet")


@pytest.fixture(scope="module")
def uint8_embedder(uint8_model: Path) -> TFLiteEmbedder:
    return TFLiteEmbedder(uint8_model, sha256=None, name="mobilefacenet-uint8")


def find_face(detector: BlazeFaceDetector, image: np.ndarray) -> Detection | None:
    """The largest face; failing that, the best face in half-size tiles.

    BlazeFace short range is made for faces that fill a good part of the frame. In the two
    full-body shots (``001_A.jpg``, ``008_B.jpg``) the face is under 10 % of the width and
    only shows up once the image is cut into overlapping tiles of half its short side.
    """
    found = detector.detect(image)
    if found:
        return max(found, key=lambda d: d.area)
    h, w = image.shape[:2]
    side = min(h, w) // 2
    step = side // 2
    best: Detection | None = None
    for y in range(0, h - side + 1, step):
        for x in range(0, w - side + 1, step):
            for d in detector.detect(image[y : y + side, x : x + side]):
                if best is None or d.score > best.score:
                    b = d.box
                    best = Detection(
                        box=(b[0] + x, b[1] + y, b[2] + x, b[3] + y),
                        score=d.score,
                        keypoints=tuple((kx + x, ky + y) for kx, ky in d.keypoints),
                    )
    return best


@dataclass
class Face:
    person: str
    photo: str
    landmarks: FaceLandmarks
    aligned: AlignedFace
    embedding: np.ndarray


@pytest.fixture(scope="module")
def faces(detector: BlazeFaceDetector, facemesh: FaceMesh, embedder: TFLiteEmbedder) -> list[Face]:
    """Every shared face photo through the whole pipeline, one face per photo."""
    if not FACES.is_dir():
        pytest.skip(f"shared face photos not found at {FACES} (../shared beside the repo)")
    aligner = FaceMeshAligner(facemesh)
    out: list[Face] = []
    missing: list[str] = []
    for person in sorted(p for p in FACES.iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir()):
            image = load_rgb(photo)
            detection = find_face(detector, image)
            if detection is None:
                missing.append(f"{person.name}/{photo.name}")
                continue
            landmarks = facemesh.landmarks(image, detection)
            aligned = aligner.align_landmarks(image, landmarks, detection)
            embedding = embedder.embed_chips([aligned.chip])[0]
            out.append(Face(person.name, photo.name, landmarks, aligned, embedding))
    assert not missing, f"no face found in {missing}"
    return out


def _pairs(faces: list[Face], embeddings: np.ndarray) -> tuple[list[float], list[float]]:
    sims = embeddings @ embeddings.T
    genuine, impostor = [], []
    for i, j in itertools.combinations(range(len(faces)), 2):
        (genuine if faces[i].person == faces[j].person else impostor).append(float(sims[i, j]))
    return genuine, impostor


# --- FaceMesh ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def obama(detector: BlazeFaceDetector) -> tuple[np.ndarray, Detection]:
    image = load_rgb(_shared_file(FACES / "barack_obama" / "obama2.jpg"))
    found = detector.detect(image)
    assert len(found) == 1
    return image, found[0]


def test_facemesh_on_a_real_face(facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]) -> None:
    image, detection = obama
    lm = facemesh.landmarks(image, detection)
    assert lm.points.shape == (NUM_LANDMARKS, 3) and lm.points.dtype == np.float32
    assert np.isfinite(lm.points).all()
    assert lm.presence > 0.5
    x1, y1, x2, y2 = detection.box
    margin = 0.25 * detection.width
    xy = lm.points[:, :2]
    assert (xy[:, 0] > x1 - margin).all() and (xy[:, 0] < x2 + margin).all()
    assert (xy[:, 1] > y1 - margin).all() and (xy[:, 1] < y2 + margin).all()
    # The mesh fills the face: its extent is most of the box, not a blob in one corner.
    assert np.ptp(xy[:, 0]) > 0.6 * detection.width
    # z is on x's scale: a face's depth range is a sizeable fraction of its width.
    assert 0.1 * detection.width < np.ptp(lm.points[:, 2]) < 1.5 * detection.width

    p5 = arcface_points(lm)
    assert p5.shape == (5, 2) and p5.dtype == np.float32
    eyes_y, nose_y, mouth_y = p5[:2, 1].mean(), p5[2, 1], p5[3:, 1].mean()
    assert eyes_y < nose_y < mouth_y
    assert p5[0, 0] < p5[1, 0], "image-left eye (subject's right) must come first"
    assert p5[3, 0] < p5[4, 0], "image-left mouth corner must come first"
    # The BlazeFace eye keypoints agree with the mesh's eye centres.
    kp = np.asarray(detection.keypoints[:2], dtype=np.float32)
    assert np.linalg.norm(kp - p5[:2], axis=1).max() < 0.1 * detection.width


def test_arcface_point_order_on_every_shared_face(faces: list[Face]) -> None:
    for face in faces:
        p5 = face.aligned.landmarks
        where = f"{face.person}/{face.photo}"
        assert face.landmarks.presence > 0.5, where
        assert p5[0, 0] < p5[1, 0] and p5[3, 0] < p5[4, 0], where
        assert p5[:2, 1].mean() < p5[2, 1] < p5[3:, 1].mean(), where


@pytest.mark.parametrize("degrees", [30.0, -30.0])
def test_facemesh_follows_a_rolled_head(
    facemesh: FaceMesh,
    detector: BlazeFaceDetector,
    obama: tuple[np.ndarray, Detection],
    degrees: float,
) -> None:
    """Landmarks on a rotated frame, rotated back, match the upright ones."""
    image, detection = obama
    upright = facemesh.landmarks(image, detection).points[:, :2]
    h, w = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    rolled = cv2.warpAffine(image, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE)
    found = detector.detect(rolled)
    assert found
    rolled_lm = facemesh.landmarks(rolled, max(found, key=lambda d: d.area))
    back = cv2.invertAffineTransform(rotation)
    # warpAffine works in pixel-index coordinates; landmarks are continuous (+0.5).
    restored = (rolled_lm.points[:, :2] - 0.5) @ back[:, :2].T + back[:, 2] + 0.5
    error = np.linalg.norm(restored - upright, axis=1)
    assert np.median(error) < 0.04 * detection.width


def test_presence_is_low_on_noise(facemesh: FaceMesh) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    fake = Detection(
        box=(240.0, 160.0, 400.0, 320.0),
        score=0.9,
        keypoints=((290.0, 210.0), (350.0, 210.0), (320.0, 250.0), (320.0, 280.0),
                   (250.0, 230.0), (390.0, 230.0)),
    )  # fmt: skip
    assert facemesh.landmarks(noise, fake).presence < 0.5


def test_facemesh_finds_outputs_by_shape_in_the_legacy_model(
    facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]
) -> None:
    legacy = FaceMesh(_shared_file(LEGACY_MESH))  # outputs conv2d_21 / conv2d_31
    image, detection = obama
    a = facemesh.landmarks(image, detection)
    b = legacy.landmarks(image, detection)
    assert b.presence > 0.5
    error = np.linalg.norm(a.points[:, :2] - b.points[:, :2], axis=1)
    assert np.median(error) < 0.04 * detection.width


def test_facemesh_and_helpers_reject_bad_input(
    facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]
) -> None:
    image, detection = obama
    with pytest.raises(ImageError):
        facemesh.landmarks(image.astype(np.float32), detection)
    with pytest.raises(ImageError):
        facemesh.landmarks(image[:, :, 0], detection)
    with pytest.raises(ModelError, match=r"not a FaceMesh model.*\[1, 896, 16\]"):
        FaceMesh(_installed(DETECTOR_SHORT_RANGE))
    with pytest.raises(ValueError):
        arcface_points(np.zeros((68, 2), np.float32))


def test_eye_aspect_ratio_on_an_open_eyed_face(
    facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]
) -> None:
    right, left = eye_aspect_ratios(facemesh.landmarks(*obama))
    for ear in (right, left):
        assert math.isfinite(ear) and 0.1 < ear < 0.6


def _clip_ears(mesh: FaceMesh, detector: BlazeFaceDetector, frames: list[int]) -> list[float]:
    cap = cv2.VideoCapture(str(AOC_CLIP))
    try:
        ears: list[float] = []
        for i in range(max(frames) + 1):
            ok, bgr = cap.read()
            assert ok, f"cannot read frame {i} of {AOC_CLIP.name}"
            if i in frames:
                rgb = np.ascontiguousarray(bgr[:, :, ::-1])
                found = detector.detect(rgb)
                assert found
                ears.append(float(np.mean(eye_aspect_ratios(mesh.landmarks(rgb, found[0])))))
        return ears
    finally:
        cap.release()


def test_eye_aspect_ratio_drops_when_the_eyes_close(
    facemesh: FaceMesh, detector: BlazeFaceDetector
) -> None:
    """Frames 10-12 of the AOC clip have closed eyes (per the MANIFEST), frame 0 open ones.

    The installed FaceMesh barely closes its eye contours on closed eyes (measured: 0.30 →
    0.27); MediaPipe's older copy in shared/models follows the lids much better (0.33 →
    0.19). Both must order the frames right.
    """
    _shared_file(AOC_CLIP)
    ears = _clip_ears(facemesh, detector, [0, 10, 11, 12])
    assert float(np.mean(ears[1:])) < 0.95 * ears[0]
    if LEGACY_MESH.is_file():
        legacy = _clip_ears(FaceMesh(LEGACY_MESH), detector, [0, 10, 11, 12])
        assert float(np.mean(legacy[1:])) < 0.75 * legacy[0]


# --- alignment -------------------------------------------------------------------------


def _similarity(angle: float, scale: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return scale * np.array([[c, -s], [s, c]])


def test_align_similarity_puts_the_points_on_the_template(
    facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]
) -> None:
    image, detection = obama
    points = arcface_points(facemesh.landmarks(image, detection))
    matrix = similarity_matrix(points, ARCFACE_112)
    # OpenCV's estimator, with every point an inlier, refines to the same least-squares fit.
    reference, inliers = cv2.estimateAffinePartial2D(
        points.astype(np.float64),
        ARCFACE_112.astype(np.float64),
        method=cv2.RANSAC,
        ransacReprojThreshold=1000.0,
        refineIters=100,
    )
    assert inliers.all()
    np.testing.assert_allclose(matrix[:, :2], reference[:, :2], atol=1e-4)
    np.testing.assert_allclose(matrix[:, 2], reference[:, 2], atol=1e-2)

    residual = np.linalg.norm(points @ matrix[:, :2].T + matrix[:, 2] - ARCFACE_112, axis=1)
    # A real face is not the template: the eyes land within 3 px, the mesh's nose tip and
    # mouth corners sit a few pixels off the template's (measured here: 4.2 px at most).
    assert residual[:2].max() < 3.0 and residual.max() < 8.0, residual

    chip = align_similarity(image, points)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
    expected = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR)
    assert np.array_equal(chip, expected)
    # Other sizes use the template scaled.
    assert align_similarity(image, points, size=224).shape == (224, 224, 3)
    np.testing.assert_allclose(arcface_template(224), ARCFACE_112 * 2.0, rtol=1e-6)


def test_similarity_matrix_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(3)
    angle, scale, shift = 0.4, 3.1, np.array([210.0, -35.0])
    rot = _similarity(angle, scale)
    template = ARCFACE_112.astype(np.float64)
    exact = (template - shift) @ np.linalg.inv(rot).T  # frame points that map onto the template
    matrix = similarity_matrix(exact, template)
    np.testing.assert_allclose(exact @ matrix[:, :2].T + matrix[:, 2], template, atol=1e-6)
    jittered = exact + rng.uniform(-1.0, 1.0, exact.shape) / scale  # ±1 px on the chip
    matrix = similarity_matrix(jittered, template)
    residual = np.linalg.norm(jittered @ matrix[:, :2].T + matrix[:, 2] - template, axis=1)
    assert residual.max() < 3.0
    mirrored = exact * np.array([-1.0, 1.0])  # a mirror image is fitted by a rotation only
    assert np.linalg.det(similarity_matrix(mirrored, template)[:, :2]) > 0


def test_align_similarity_moves_image_features_onto_the_template() -> None:
    """Five dots drawn at a rotated, scaled, shifted template land on the template."""
    angle, scale, shift = math.radians(25.0), 2.7, np.array([140.0, 90.0])
    rot = _similarity(angle, scale)
    points = ARCFACE_112.astype(np.float64) @ rot.T + shift
    image = np.zeros((480, 640, 3), np.uint8)
    for x, y in points:
        cv2.circle(image, (round(x * 16), round(y * 16)), 5 * 16, (255, 255, 255), -1, shift=4)
    chip = align_similarity(image, points)
    gray = chip[:, :, 0].astype(np.float64)
    for tx, ty in ARCFACE_112:
        y0, x0 = round(ty) - 6, round(tx) - 6
        patch = gray[y0 : y0 + 13, x0 : x0 + 13]
        ys, xs = np.mgrid[y0 : y0 + 13, x0 : x0 + 13]
        cx, cy = (patch * xs).sum() / patch.sum(), (patch * ys).sum() / patch.sum()
        assert math.hypot(cx - tx, cy - ty) < 0.5
    with pytest.raises(ValueError):
        align_similarity(image, points[:4])
    with pytest.raises(ValueError):
        similarity_matrix(np.ones((5, 2)), ARCFACE_112)


def test_facemesh_aligner_returns_an_aligned_face(
    facemesh: FaceMesh, obama: tuple[np.ndarray, Detection]
) -> None:
    image, detection = obama
    aligned = FaceMeshAligner(facemesh).align(image, detection)
    assert aligned.chip.shape == (112, 112, 3) and aligned.chip.dtype == np.uint8
    assert aligned.landmarks.shape == (5, 2) and aligned.landmarks.dtype == np.float32
    assert aligned.detection is detection


# --- embedding -------------------------------------------------------------------------


def test_whole_path_separates_genuine_from_impostor_pairs(
    faces: list[Face], embedder: TFLiteEmbedder
) -> None:
    embeddings = np.stack([f.embedding for f in faces])
    assert embeddings.shape == (len(faces), 128) and embeddings.dtype == np.float32
    assert embedder.dim == 128
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    genuine, impostor = _pairs(faces, embeddings)
    assert len(genuine) >= 30 and len(impostor) >= 400
    assert min(genuine) >= GENUINE_MIN, f"min genuine {min(genuine):.3f}"
    assert max(impostor) <= IMPOSTOR_MAX, f"max impostor {max(impostor):.3f}"


def test_uint8_model_agrees_with_the_float_model(
    faces: list[Face], uint8_embedder: TFLiteEmbedder
) -> None:
    """The full-integer MobileFaceNet tracks the float one only to cosine ~0.88.

    Measured on the shared faces: min 0.82, median 0.88, max 0.93, the same with the
    reference kernels as with XNNPACK, so it is the file's quantization, not this code.
    It still separates identities, with a smaller margin than the float model.
    """
    assert uint8_embedder.dim == 128
    chips = [f.aligned.chip for f in faces]
    floats = np.stack([f.embedding for f in faces])
    quantized = uint8_embedder.embed_chips(chips)
    assert quantized.dtype == np.float32
    agreement = (floats * quantized).sum(axis=1)
    assert agreement.min() >= 0.75, f"min cosine to float {agreement.min():.3f}"
    genuine, impostor = _pairs(faces, quantized)
    assert min(genuine) >= GENUINE_MIN, f"uint8 min genuine {min(genuine):.3f}"
    assert max(impostor) <= 0.42, f"uint8 max impostor {max(impostor):.3f}"


@pytest.mark.parametrize("which", ["float", "uint8"])
def test_a_batch_equals_single_calls(
    faces: list[Face], embedder: TFLiteEmbedder, uint8_embedder: TFLiteEmbedder, which: str
) -> None:
    model = embedder if which == "float" else uint8_embedder
    chips = [f.aligned.chip for f in faces[:5]]
    singles = np.concatenate([model.embed_chips([c]) for c in chips])
    for batch in (chips, chips[:3], chips):  # the batch size changes and comes back
        rows = model.embed_chips(batch)
        assert rows.shape == (len(batch), 128)
        assert ((rows * singles[: len(batch)]).sum(axis=1) > 0.9999).all()
    assert model.embed_chips([]).shape == (0, 128)


def test_a_model_that_refuses_batches_runs_chip_by_chip(
    faces: list[Face], float_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resizes: list[list[int]] = []

    class Refusing:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def resize_tensor_input(self, index: int, shape: list[int], strict: bool = False) -> None:
            resizes.append(list(shape))
            raise RuntimeError("cannot resize")

    real = tflite_embed_module.load_interpreter
    model = TFLiteEmbedder(float_model, sha256=None)
    monkeypatch.setattr(
        tflite_embed_module, "load_interpreter", lambda *a, **k: Refusing(real(*a, **k))
    )
    chips = [f.aligned.chip for f in faces[:3]]
    singles = np.concatenate([model.embed_chips([c]) for c in chips])
    for _ in range(2):
        rows = model.embed_chips(chips)
        assert ((rows * singles).sum(axis=1) > 0.9999).all()
    assert resizes == [[3, 112, 112, 3]]  # tried once, remembered


def test_chips_of_another_size_are_resized(faces: list[Face], embedder: TFLiteEmbedder) -> None:
    chip = faces[0].aligned.chip
    big = cv2.resize(chip, (150, 150), interpolation=cv2.INTER_LINEAR)
    assert float(embedder.embed_chips([big])[0] @ faces[0].embedding) > 0.98


def test_normalization_and_color_are_applied(faces: list[Face], float_model: Path) -> None:
    chips = [f.aligned.chip for f in faces[:6]]
    rgb = np.stack([f.embedding for f in faces[:6]])
    # This graph normalises internally: pre-scaled input makes every face look alike, as the
    # shared MANIFEST warns. That it does shows the option reaches the model.
    squashed = TFLiteEmbedder(float_model, sha256=None, normalization="minus_one_one")
    rows = squashed.embed_chips(chips)
    assert (rows @ rows.T).min() > 0.9
    bgr = TFLiteEmbedder(float_model, sha256=None, color="bgr").embed_chips(chips)
    agreement = (bgr * rgb).sum(axis=1)
    assert (agreement > 0.8).all() and (agreement < 0.9999).all()
    with pytest.raises(ValueError):
        TFLiteEmbedder(float_model, sha256=None, normalization="imagenet")  # type: ignore[arg-type]


def test_model_file_errors(tmp_path: Path, float_model: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        TFLiteEmbedder(tmp_path / "missing.tflite", sha256=None)
    with pytest.raises(ModelError, match="sha256"):
        TFLiteEmbedder(float_model, sha256="0" * 64)
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError, match=r"garbage\.tflite"):
        TFLiteEmbedder(garbage, sha256=None)


def test_a_model_that_is_not_an_embedder() -> None:
    blazeface = _installed(DETECTOR_SHORT_RANGE)
    with pytest.raises(ModelError) as info:
        TFLiteEmbedder(blazeface, sha256=None)
    message = str(info.value)
    assert blazeface.name in message
    assert "[1, 128, 128, 3]" in message and "[1, 896, 16]" in message


def test_bad_chips_raise_image_error(embedder: TFLiteEmbedder) -> None:
    with pytest.raises(ImageError):
        embedder.embed_chips([np.zeros((112, 112, 3), np.float32)])
    with pytest.raises(ImageError):
        embedder.embed_chips([np.zeros((112, 112), np.uint8)])
    with pytest.raises(ImageError):
        embedder.embed_chips([np.zeros((112, 112, 3), np.uint8), "chip"])  # type: ignore[list-item]
