"""``models:``, ``detector:``, ``embedder:`` and ``matcher:`` — the recognition pipeline.

They share a module because each is a handful of fields about one pipeline; each is still its
own YAML section with its own class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)

from .base import Section

__all__ = [
    "DefaultEmbedderConfig",
    "DetectorConfig",
    "DlibEmbedderConfig",
    "DlibFastEmbedderConfig",
    "EmbedderConfig",
    "MatcherConfig",
    "ModelsConfig",
    "QualityConfig",
    "SFaceEmbedderConfig",
    "TFLiteEmbedderConfig",
    "embedder_tag",
    "embedder_with_default_type",
]

_BLAZEFACE_MODEL = "face_detection_short_range.tflite"
_YUNET_MODEL = "face_detection_yunet_2023mar.onnx"


class ModelsConfig(Section):
    """Where `facegate models install` put the model files."""

    dir: Path | None = Field(
        default=None,
        description=(
            "Models folder. Empty means the default: $FACEGATE_MODELS_DIR, else "
            "/var/lib/facegate/models when it exists, else ~/.local/share/facegate/models."
        ),
    )


class DetectorConfig(Section):
    """Face detection: YuNet (box + 5 landmarks, the default) or BlazeFace short range."""

    type: Literal["blazeface", "yunet"] = Field(
        default="yunet",
        description=(
            "`yunet` (the default): OpenCV Zoo's YuNet 2023mar on OpenCV DNN, with the five "
            "landmarks the `sface` embedder aligns on. `blazeface`: MediaPipe's short-range "
            "BlazeFace on LiteRT (left out with a `.tflite` model: blazeface, as older "
            "configurations were)."
        ),
    )
    model: str = Field(
        default=_YUNET_MODEL,
        min_length=1,
        description=(
            "Model file name inside the models folder, or an absolute path (left out: the "
            "type's pinned model)."
        ),
    )
    score_threshold: float = Field(
        default=0.6, ge=0.05, le=0.99, description="Minimum detection confidence (0..1)."
    )
    nms_iou: float = Field(
        default=0.3, ge=0.05, le=0.95, description="Overlap above which two boxes are one face."
    )
    max_faces: int = Field(default=5, ge=1, le=50, description="Most faces handled per frame.")
    num_threads: int = Field(default=2, ge=1, le=8, description="CPU threads for the detector.")
    max_side: int = Field(
        default=640,
        ge=64,
        le=4096,
        description="yunet: frames with a longer side are scaled down to this before detection.",
    )

    @model_validator(mode="after")
    def _model_for_type(self) -> DetectorConfig:
        explicit = self.model_fields_set
        if "type" not in explicit and "model" in explicit and self.model.endswith(".tflite"):
            # An older configuration (blazeface was the default) naming its TFLite model.
            object.__setattr__(self, "type", "blazeface")
        if self.type == "blazeface" and "model" not in explicit:
            object.__setattr__(self, "model", _BLAZEFACE_MODEL)
        if self.type == "yunet":
            if self.model.endswith(".tflite"):
                raise ValueError(
                    f"model {self.model} is a TFLite file; `type: yunet` runs the ONNX YuNet "
                    f"({_YUNET_MODEL})"
                )
        elif self.model.endswith(".onnx"):
            raise ValueError(
                f"model {self.model} is an ONNX file; `type: blazeface` runs "
                f"{_BLAZEFACE_MODEL} (or set `type: yunet`)"
            )
        return self


# dlib's 5-point landmark model, shared by both dlib backends (they cut the same chip).
ShapePredictor = Annotated[
    str,
    Field(
        min_length=1,
        description="dlib 5-point landmark model used to align the face chip.",
    ),
]


class QualityConfig(Section):
    """Which faces are good enough to embed; every skipped face says why."""

    min_face_px: int = Field(
        default=60,
        ge=20,
        le=1000,
        description="Narrower faces (pixels) are too far away; the person is asked to come closer.",
    )
    max_yaw: float = Field(
        default=0.45,
        ge=0.05,
        le=1.0,
        description=(
            "How far the nose may sit from the eyes' midpoint, as a fraction of the eye "
            "distance (0 = looking straight at the camera)."
        ),
    )
    max_roll_deg: float = Field(
        default=25.0, ge=5.0, le=90.0, description="Largest head tilt (eyes' angle), degrees."
    )
    min_sharpness: float = Field(
        default=30.0,
        ge=0.0,
        le=5000.0,
        description="Least variance of the Laplacian on the face scaled to 112 px (blur gate).",
    )
    min_brightness: float = Field(
        default=40.0, ge=0.0, le=255.0, description="Darkest acceptable mean face brightness."
    )
    max_brightness: float = Field(
        default=220.0, ge=0.0, le=255.0, description="Brightest acceptable mean face brightness."
    )

    @model_validator(mode="after")
    def _brightness_range(self) -> QualityConfig:
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self


class DlibEmbedderConfig(Section):
    """dlib's public-domain ResNet (128-d, LFW 99.38 %), run by dlib itself: the reference."""

    type: Literal["dlib"] = Field(
        default="dlib",
        description=(
            "The embedder backend. Left out: `sface`, unless the section holds dlib settings "
            "(`shape_predictor`, `num_jitters` or a `.dat` model, as older configurations "
            "did): then dlib's ResNet on the fastest backend installed (dlib-fast when its "
            "converted model is in the models folder, else dlib). `dlib`: dlib's ResNet run "
            "by dlib itself (the reference; needs the `facegate[dlib]` extra)."
        ),
    )
    model: str = Field(
        default="dlib_face_recognition_resnet_model_v1.dat",
        min_length=1,
        description="Embedding model file name inside the models folder, or an absolute path.",
    )
    shape_predictor: ShapePredictor = "shape_predictor_5_face_landmarks.dat"
    num_jitters: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Extra randomly jittered passes per enrolment photo (slower, slightly better).",
    )


class TFLiteEmbedderConfig(Section):
    """Any TFLite face-embedding model, aligned with FaceMesh to the ArcFace 5-point template."""

    type: Literal["tflite"] = Field(description="A TFLite embedding model you supply.")
    model: Path = Field(description="Path to the .tflite file (absolute, or relative to config).")
    sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="The model file's SHA-256; a different file is refused.",
    )
    name: str = Field(
        default="tflite",
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,40}$",
        description="Short name shown in reports, e.g. `mobilefacenet`.",
    )
    normalization: Literal["raw", "minus_one_one", "zero_one"] = Field(
        default="raw",
        description=(
            "Input scaling: raw 0-255 (models that normalise inside the graph), "
            "(x-127.5)/127.5, or x/255."
        ),
    )
    color: Literal["rgb", "bgr"] = Field(
        default="rgb", description="Channel order the model expects."
    )
    landmarks_model: str = Field(
        default="face_landmark.tflite",
        min_length=1,
        description="FaceMesh model for 5-point alignment (name in the models folder, or a path).",
    )
    impostor_mean: float = Field(
        ge=-1.0,
        le=1.0,
        description=(
            "Mean cosine similarity between different people for this model; `facegate eval` "
            "reports it. Sets the threshold policy."
        ),
    )
    impostor_std: float = Field(
        gt=0.0,
        le=1.0,
        description="Standard deviation of that impostor similarity; `facegate eval` reports it.",
    )


class DefaultEmbedderConfig(DlibEmbedderConfig):
    """An ``embedder:`` with dlib settings but no ``type`` (an older configuration): dlib's
    ResNet, run fast if it can. (Without any dlib setting, no ``type`` means ``sface``.)

    ``facegate run`` builds ``dlib-fast`` (with this section's ``shape_predictor`` and
    dlib-fast's defaults) when the converted model is in the models folder, ``model`` is the
    pinned ``.dat`` and ``num_jitters`` is 0; otherwise dlib itself. Both give templates in one
    embedding space, so the choice never invalidates enrolled templates.
    """

    @model_serializer(mode="wrap")
    def _dump_without_type(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Dumped without `type`, it validates back as the default, not as explicit dlib.
        data = handler(self)
        if isinstance(data, dict):
            data.pop("type", None)
        return data


class DlibFastEmbedderConfig(Section):
    """dlib's ResNet converted to ONNX at install time and run on an optimised runtime."""

    type: Literal["dlib-fast"] = Field(
        description=(
            "`dlib-fast`: dlib's ResNet converted by `facegate models install`, run by "
            "onnxruntime or OpenCV DNN; the same templates as `dlib`, several times faster."
        )
    )
    model: str = Field(
        default="dlib_face_recognition_resnet_model_v1.onnx",
        min_length=1,
        description="Embedding model file name inside the models folder, or an absolute path.",
    )
    shape_predictor: ShapePredictor = "shape_predictor_5_face_landmarks.dat"
    runtime: Literal["auto", "onnxruntime", "opencv"] = Field(
        default="auto",
        description=(
            "What runs the model: onnxruntime (fastest), opencv (OpenCV DNN, no extra package), "
            "or auto (onnxruntime when installed, else opencv)."
        ),
    )
    num_threads: int = Field(
        default=2,
        ge=1,
        le=8,
        description="CPU threads onnxruntime uses for one batch of face chips (not opencv).",
    )


class SFaceEmbedderConfig(Section):
    """OpenCV Zoo's SFace 2021dec (128-d), aligned on the detector's five landmarks."""

    type: Literal["sface"] = Field(
        default="sface",
        description=(
            "`sface` (the default): SFace 2021dec (Apache-2.0) on OpenCV DNN or onnxruntime; "
            "needs `detector.type: yunet` (the default) for its five landmarks."
        ),
    )
    model: str = Field(
        default="face_recognition_sface_2021dec.onnx",
        min_length=1,
        description="Embedding model file name inside the models folder, or an absolute path.",
    )
    runtime: Literal["auto", "onnxruntime", "opencv"] = Field(
        default="auto",
        description=(
            "What runs the model: opencv (OpenCV DNN, the faster one measured), onnxruntime, "
            "or auto (opencv)."
        ),
    )
    num_threads: int = Field(
        default=2, ge=1, le=8, description="CPU threads for one batch of face chips."
    )


_EMBEDDER_TYPES = ("dlib", "dlib-fast", "sface", "tflite")
_DEFAULT_TAG = "default"


_DLIB_KEYS = frozenset({"shape_predictor", "num_jitters"})


def embedder_tag(value: Any) -> str | None:
    """Which union member validates ``value``: its ``type``; without one, ``sface`` unless the
    section holds dlib settings (an older configuration, whose default was dlib's ResNet)."""
    if isinstance(value, dict):
        if "type" not in value:
            model = str(value.get("model", ""))
            if _DLIB_KEYS & value.keys() or model.endswith(".dat"):
                return _DEFAULT_TAG
            return "sface"
        kind = value["type"]
        return kind if kind in _EMBEDDER_TYPES else None
    if isinstance(value, DefaultEmbedderConfig):
        return _DEFAULT_TAG
    kind = getattr(value, "type", None)
    return kind if kind in _EMBEDDER_TYPES else None


EmbedderConfig = Annotated[
    Annotated[DefaultEmbedderConfig, Tag(_DEFAULT_TAG)]
    | Annotated[DlibEmbedderConfig, Tag("dlib")]
    | Annotated[DlibFastEmbedderConfig, Tag("dlib-fast")]
    | Annotated[SFaceEmbedderConfig, Tag("sface")]
    | Annotated[TFLiteEmbedderConfig, Tag("tflite")],
    Field(
        discriminator=Discriminator(
            embedder_tag,
            custom_error_type="embedder_type",
            custom_error_message=(
                "`type` must be dlib, dlib-fast, sface or tflite, or left out for the default"
            ),
        ),
        description="The embedder backend; `type` selects it (left out: the default).",
    ),
]


def embedder_with_default_type(value: Any) -> Any:
    """Make an untouched ``DlibEmbedderConfig()`` the dlib default embedder.

    A mapping without ``type`` is sorted by :func:`embedder_tag` (``sface``, or
    :class:`DefaultEmbedderConfig` when it holds dlib settings); a missing section is
    ``SFaceEmbedderConfig()``.
    """
    # Exactly the class (a DefaultEmbedderConfig is a subclass) and nothing set explicitly.
    if type(value) is DlibEmbedderConfig and not value.model_fields_set:
        return DefaultEmbedderConfig()
    return value


class MatcherConfig(Section):
    """1:N search, and the threshold that keeps strangers out as the gallery grows."""

    target_fpir: float = Field(
        default=0.01,
        ge=1e-6,
        le=0.2,
        description=(
            "Target share of strangers (people not enrolled) who would match someone: the "
            "threshold is derived from this, the embedder's impostor statistics and the number "
            "of enrolled templates, and rises as the gallery grows."
        ),
    )
    threshold: float | None = Field(
        default=None,
        ge=-1.0,
        le=0.9999,
        description=(
            "A fixed cosine threshold instead of the derived one. The daemon warns when the "
            "gallery grows past the size this threshold keeps within target_fpir."
        ),
    )
    fuse_frames: int = Field(
        default=3,
        ge=1,
        le=10,
        description=(
            "Good frames of one approach whose templates are averaged before a stranger is "
            "turned away (a resident is let in as soon as the running average matches)."
        ),
    )
