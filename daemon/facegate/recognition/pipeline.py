"""The recognition stages, built from configuration: detect, assess, align + embed, match.

The face path (:class:`~facegate.recognition.face.FacePath`) calls them one by one so it can
track faces between detection and embedding; enrolment and ``facegate eval`` use
``template_for_photo``, which runs the same stages on one photo.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..config import FacegateConfig
from ..models.manifest import model_path
from ..vision.embed import DLIB_SPACE
from ..vision.match import Gallery, MatchResult
from ..vision.quality import QualityReport, assess
from ..vision.registry import build_detector, build_embedder
from ..vision.threshold import ThresholdPolicy
from ..vision.types import Detection

__all__ = [
    "DLIB_SPACE",
    "FacePipeline",
    "TemplateResult",
    "model_path",
]

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class TemplateResult:
    """One photo's template, or why there is none (``reason``)."""

    template: np.ndarray | None
    detection: Detection | None
    quality: QualityReport | None
    reason: str | None
    timings_ms: dict[str, float]


class FacePipeline:
    """The recognition stages for one configuration.

    Args:
        cfg: the validated configuration.
        gallery: the enrolled templates to search (a new empty one by default).
    """

    def __init__(self, cfg: FacegateConfig, gallery: Gallery | None = None) -> None:
        self.detector = build_detector(cfg)
        self.aligner, self.embedder, self.space, impostors = build_embedder(cfg)
        self.policy = ThresholdPolicy(cfg.matcher, impostors)
        self.quality_cfg = cfg.quality
        self.gallery = gallery if gallery is not None else Gallery(self.embedder.dim)
        self._warned_at: int | None = None

    @property
    def threshold(self) -> float:
        """The threshold in force for the current gallery size."""
        return self.policy.threshold(self.gallery.template_count)

    def enroll(self, subject: str, templates: np.ndarray) -> None:
        """Add templates to the live gallery and warn if the threshold is no longer safe."""
        self.gallery.add(subject, templates)
        self.check_threshold()

    def check_threshold(self) -> None:
        """Log once per gallery size when a fixed threshold lets too many strangers in."""
        n = self.gallery.template_count
        warning = self.policy.warning(n)
        if warning is not None and self._warned_at != n:
            logger.warning("%s", warning)
            self._warned_at = n

    # -- stages --------------------------------------------------------------------------

    def detect(self, image: np.ndarray) -> list[Detection]:
        return self.detector.detect(image)

    def assess(self, image: np.ndarray, detection: Detection) -> QualityReport:
        return assess(image, detection, self.quality_cfg)

    def embed(self, image: np.ndarray, detection: Detection) -> tuple[np.ndarray, dict[str, float]]:
        """Align and embed one face; returns the unit-length template and stage timings."""
        t0 = time.perf_counter()
        aligned = self.aligner.align(image, detection)
        t1 = time.perf_counter()
        template = self.embedder.embed_chips([aligned.chip])[0]
        t2 = time.perf_counter()
        return template, {"landmarks": (t1 - t0) * 1000.0, "embed": (t2 - t1) * 1000.0}

    def enrol_chips(self, image: np.ndarray, detection: Detection) -> list[np.ndarray]:
        """The chips one enrolment sample is embedded from: the aligner's jittered set when it
        has one (``sface``), else the one aligned chip."""
        jittered = getattr(self.aligner, "jittered", None)
        if jittered is not None:
            return list(jittered(image, detection))
        return [self.aligner.align(image, detection).chip]

    def enrol_templates(self, samples: list[list[np.ndarray]]) -> np.ndarray:
        """One template per enrolment sample (from :meth:`enrol_chips`), fused by the
        embedder when it can (``sface``), else one batch of their chips."""
        if not samples:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        fused = getattr(self.embedder, "embed_fused", None)
        if fused is None:
            return self.embedder.embed_chips([chips[0] for chips in samples])
        return np.vstack([fused(chips) for chips in samples]).astype(np.float32)

    def search(self, template: np.ndarray) -> MatchResult:
        return self.gallery.search(template, self.threshold)

    def detect_photo(self, image: np.ndarray) -> list[Detection]:
        """Detect in a still photo, with a tiled second look when the whole image has no face.

        BlazeFace short-range is made for a face filling a good part of a gate camera's view;
        in a full-body photo the face can be under a tenth of the width and is missed at
        128×128. Overlapping square tiles half the short side wide give it a closer look.
        Only photos pay for this (enrolment, eval), never the live loop.
        """
        found = self.detect(image)
        if found:
            return found
        h, w = image.shape[:2]
        side = min(h, w) // 2
        if side < 64:
            return []
        step = side // 2
        tiles: list[Detection] = []
        for top in range(0, max(1, h - side + 1), step):
            for left in range(0, max(1, w - side + 1), step):
                crop = np.ascontiguousarray(image[top : top + side, left : left + side])
                tiles.extend(d.shifted(left, top) for d in self.detect(crop))
        return tiles

    def template_for_photo(self, image: np.ndarray, *, enrol: bool = False) -> TemplateResult:
        """Detect → largest face → quality → align → embed, for a probe photo or, with
        ``enrol``, an enrolment photo (embedded as :meth:`enrol_templates` does)."""
        t0 = time.perf_counter()
        detections = self.detect_photo(image)
        timings = {"detect": (time.perf_counter() - t0) * 1000.0}
        if not detections:
            return TemplateResult(None, None, None, "no face found", timings)
        face = max(detections, key=lambda d: d.area)
        quality = self.assess(image, face)
        if not quality.ok:
            return TemplateResult(None, face, quality, quality.reason, timings)
        if enrol:
            t1 = time.perf_counter()
            template = self.enrol_templates([self.enrol_chips(image, face)])[0]
            timings["embed"] = (time.perf_counter() - t1) * 1000.0
            return TemplateResult(template, face, quality, None, timings)
        template, more = self.embed(image, face)
        timings.update(more)
        return TemplateResult(template, face, quality, None, timings)
