"""The largest face in an image, found by the configured detector alone.

For the measuring tools that need faces but no embedder (``eval-pad``, ``pad synth``): only
the detector model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..config import FacegateConfig
    from ..vision.types import Detection

__all__ = ["largest_face_finder"]


def largest_face_finder(cfg: FacegateConfig) -> Callable[[np.ndarray], Detection | None]:
    """A function that returns the largest face ``cfg``'s detector finds in an RGB image.

    Raises:
        ModelError: the detector model is missing or has the wrong hash.
    """
    from ..service.pipeline import model_path
    from ..vision.detect import BlazeFaceDetector, largest

    path, sha = model_path(cfg.detector.model, cfg.models.dir)
    detector = BlazeFaceDetector(
        path,
        sha256=sha,
        score_threshold=cfg.detector.score_threshold,
        nms_iou=cfg.detector.nms_iou,
        max_faces=cfg.detector.max_faces,
        num_threads=cfg.detector.num_threads,
    )
    return lambda image: largest(detector.detect(image))
