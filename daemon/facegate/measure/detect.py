"""The faces in an image (or the largest), found by the configured detector alone.

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

__all__ = ["face_finder", "largest_face_finder"]


def largest_face_finder(cfg: FacegateConfig) -> Callable[[np.ndarray], Detection | None]:
    """A function that returns the largest face ``cfg``'s detector finds in an RGB image.

    Raises:
        ModelError: the detector model is missing or has the wrong hash.
    """
    from ..vision.detect import largest
    from ..vision.registry import build_detector

    detector = build_detector(cfg)
    return lambda image: largest(detector.detect(image))


def face_finder(cfg: FacegateConfig) -> Callable[[np.ndarray], list[Detection]]:
    """A function that returns every face ``cfg``'s detector finds in an RGB image.

    Raises:
        ModelError: the detector model is missing or has the wrong hash.
    """
    from ..vision.registry import build_detector

    detector = build_detector(cfg)
    return lambda image: list(detector.detect(image))
