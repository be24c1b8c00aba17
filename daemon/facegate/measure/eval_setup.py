"""What ``facegate eval`` measures with and what it reports.

Light on purpose (no numpy, no OpenCV): the command line imports it to register and check
the subcommand before any model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["EVAL_KEYS", "with_embedder"]

# What --json holds, exactly (the published report format); --details adds the rest.
EVAL_KEYS = (
    "identities",
    "enrolled",
    "genuine_probes",
    "impostor_comparisons",
    "failure_to_enroll",
    "failure_to_acquire",
    "threshold",
    "fnmr",
    "fmr",
    "tar_at_far_1e-3",
    "tar_at_far_1e-4",
    "eer",
    "rank1",
    "fpir",
    "embedder",
    "ms_per_image",
)


def with_embedder(
    cfg: FacegateConfig, embedder: str | None, *, source: Path | None
) -> FacegateConfig:
    """``cfg`` with the embedder named ``embedder`` (``None``: as it is).

    ``dlib`` selects dlib's ResNet (keeping the configuration's dlib settings if it has a
    dlib section), ``dlib-fast`` its fast runtime, ``sface`` OpenCV Zoo's SFace with the
    ``yunet`` detector it aligns on (the configuration's own yunet section if it has one,
    else YuNet's defaults); any other name must be the ``name`` of the configuration's
    ``type: tflite`` embedder. ``source`` is the file ``cfg`` came from
    (``None``: the built-in configuration), for the messages.

    Raises:
        ConfigError: ``embedder`` names no embedder the configuration can build.
    """
    from ..config import DetectorConfig, SFaceEmbedderConfig, TFLiteEmbedderConfig
    from ..vision.registry import builtin_embedder

    if embedder is None:
        return cfg
    current = cfg.embedder
    chosen = builtin_embedder(embedder, current)
    if chosen is not None:
        update: dict[str, object] = {"embedder": chosen}
        if isinstance(chosen, SFaceEmbedderConfig) and cfg.detector.type != "yunet":
            update["detector"] = DetectorConfig(type="yunet")  # SFace needs its 5 landmarks
        return cfg.model_copy(update=update)
    if source is None:
        raise ConfigError(
            f"--embedder {embedder}: unknown embedder; use `dlib`, `dlib-fast` or `sface`, or "
            "pass -c "
            f"CONFIG whose `embedder:` section is `type: tflite` with `name: {embedder}`"
        )
    if not isinstance(current, TFLiteEmbedderConfig):
        raise ConfigError(
            f"--embedder {embedder}: {source} configures the dlib embedder, not a "
            f"`type: tflite` embedder named {embedder!r}"
        )
    if current.name != embedder:
        raise ConfigError(
            f"--embedder {embedder}: the tflite embedder in {source} is named "
            f"{current.name!r}, not {embedder!r}"
        )
    return cfg
