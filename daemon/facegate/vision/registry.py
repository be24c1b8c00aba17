"""Detector and embedder backends by ``type``: the one place that maps a section to a builder.

Each backend module holds its adapter and ``build(section, models_dir)``: a detector's returns
the detector, an embedder's an :class:`~facegate.vision.embed.EmbedderParts` (aligner,
embedder, embedding space, impostor model). Adding an embedder is its config class
(``config/vision.py``), its module in ``vision/`` and one line in :data:`EMBEDDERS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import FacegateConfig
from ..config.vision import (
    DefaultEmbedderConfig,
    DlibEmbedderConfig,
    DlibFastEmbedderConfig,
    EmbedderConfig,
    SFaceEmbedderConfig,
    TFLiteEmbedderConfig,
    embedder_tag,
)
from ..models.manifest import DLIB_RESNET, DLIB_RESNET_ONNX, model_path
from . import detect, dlib_fast, embed, sface, tflite_embed, yunet
from .embed import EmbedderParts
from .types import Detector

__all__ = [
    "DETECTORS",
    "EMBEDDERS",
    "build_detector",
    "build_embedder",
    "builtin_embedder",
    "embedding_space",
    "resolve_default_embedder",
]

logger = logging.getLogger(__name__)


def resolve_default_embedder(
    cfg: DefaultEmbedderConfig, models_dir: Path | None
) -> DlibEmbedderConfig | DlibFastEmbedderConfig:
    """No ``type`` configured: dlib's ResNet on dlib-fast when its converted model is
    installed (same network, same templates), else on dlib itself."""
    fast_path, _ = model_path(DLIB_RESNET_ONNX, models_dir)
    if Path(cfg.model).name == DLIB_RESNET and cfg.num_jitters == 0 and fast_path.is_file():
        return DlibFastEmbedderConfig(type="dlib-fast", shape_predictor=cfg.shape_predictor)
    logger.info("embedder: dlib (%s not installed, or num_jitters > 0)", fast_path.name)
    return DlibEmbedderConfig(
        type="dlib",
        model=cfg.model,
        shape_predictor=cfg.shape_predictor,
        num_jitters=cfg.num_jitters,
    )


def _default(cfg: DefaultEmbedderConfig, models_dir: Path | None) -> EmbedderParts:
    chosen = resolve_default_embedder(cfg, models_dir)
    return EMBEDDERS[chosen.type](chosen, models_dir)


DETECTORS: dict[str, Callable[[Any, Path | None], Detector]] = {
    "blazeface": detect.build,
    "yunet": yunet.build,
}
"""``detector.type`` → builder."""

EMBEDDERS: dict[str, Callable[[Any, Path | None], EmbedderParts]] = {
    "default": _default,
    "dlib": embed.build,
    "dlib-fast": dlib_fast.build,
    "sface": sface.build,
    "tflite": tflite_embed.build,
}
"""``embedder.type`` (``default`` when left out) → builder."""


def embedding_space(cfg: FacegateConfig) -> str:
    """The embedding space the configured embedder's templates are in (no model is loaded).

    Only templates of this space are matched; those of another are never converted.
    """
    section = cfg.embedder
    tag = embedder_tag(section)
    if tag == "sface":
        return sface.SFACE_SPACE
    if isinstance(section, TFLiteEmbedderConfig):
        return tflite_embed.tflite_space(section.sha256)
    return embed.DLIB_SPACE  # dlib, dlib-fast and the untyped dlib section: one network


def build_detector(cfg: FacegateConfig) -> Detector:
    """The configured face detector (its model checked against the pinned hash)."""
    return DETECTORS[cfg.detector.type](cfg.detector, cfg.models.dir)


def build_embedder(cfg: FacegateConfig) -> EmbedderParts:
    """The configured aligner and embedder, their embedding space and impostor model."""
    tag = embedder_tag(cfg.embedder)
    assert tag is not None, "the configuration validated its embedder type"
    return EMBEDDERS[tag](cfg.embedder, cfg.models.dir)


def builtin_embedder(name: str, current: EmbedderConfig) -> EmbedderConfig | None:
    """The ``embedder:`` section that ``--embedder NAME`` picks for a built-in backend.

    ``dlib`` is dlib itself even where the default would pick dlib-fast, keeping the current
    section's dlib settings; ``dlib-fast`` and ``sface`` keep a section of their type, else
    take its defaults (``sface`` also needs ``detector.type: yunet``: see
    :func:`facegate.measure.eval_setup.with_embedder`). ``None`` for any other name (a
    ``type: tflite`` section names its own).
    """
    if name == "dlib":
        if embedder_tag(current) == "dlib":
            return current
        keep = current if isinstance(current, DlibEmbedderConfig) else DlibEmbedderConfig()
        return DlibEmbedderConfig(
            type="dlib",
            model=keep.model,
            shape_predictor=keep.shape_predictor,
            num_jitters=keep.num_jitters,
        )
    if name == "dlib-fast":
        if embedder_tag(current) == "dlib-fast":
            return current
        return DlibFastEmbedderConfig(type="dlib-fast")
    if name == "sface":
        if embedder_tag(current) == "sface":
            return current
        return SFaceEmbedderConfig(type="sface")
    return None
