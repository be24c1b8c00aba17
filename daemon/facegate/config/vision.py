"""``models:``, ``detector:``, ``embedder:`` and ``matcher:`` — the recognition pipeline.

They share a module because each is a handful of fields about one pipeline; each is still its
own YAML section with its own class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from .base import Section

__all__ = ["DetectorConfig", "EmbedderConfig", "MatcherConfig", "ModelsConfig"]


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
    """BlazeFace short-range face detection."""

    model: str = Field(
        default="face_detection_short_range.tflite",
        min_length=1,
        description="Model file name inside the models folder, or an absolute path.",
    )
    score_threshold: float = Field(
        default=0.6, ge=0.05, le=0.99, description="Minimum detection confidence (0..1)."
    )
    nms_iou: float = Field(
        default=0.3, ge=0.05, le=0.95, description="Overlap above which two boxes are one face."
    )
    max_faces: int = Field(default=5, ge=1, le=50, description="Most faces handled per frame.")
    min_face_px: int = Field(
        default=60,
        ge=20,
        le=1000,
        description="Faces narrower than this (pixels) are too far away to recognise; skipped.",
    )
    num_threads: int = Field(default=2, ge=1, le=8, description="CPU threads for the detector.")


class EmbedderConfig(Section):
    """Turns an aligned face into a 128-d template."""

    type: Literal["dlib"] = Field(
        default="dlib",
        description="Embedder backend. `dlib`: dlib's public-domain ResNet (128-d).",
    )
    model: str = Field(
        default="dlib_face_recognition_resnet_model_v1.dat",
        min_length=1,
        description="Embedding model file name inside the models folder, or an absolute path.",
    )
    shape_predictor: str = Field(
        default="shape_predictor_5_face_landmarks.dat",
        min_length=1,
        description="dlib 5-point landmark model used to align the face chip.",
    )
    num_jitters: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Extra randomly jittered passes per enrolment photo (slower, slightly better).",
    )


class MatcherConfig(Section):
    """1:N search of a face template against the enrolled gallery."""

    threshold: float = Field(
        default=0.925,
        ge=0.5,
        le=0.999,
        description=(
            "Cosine similarity at or above which a face matches an enrolled person. Higher is "
            "stricter (fewer strangers let in, more residents asked to retry)."
        ),
    )
