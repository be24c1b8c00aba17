"""detect → pick the face at the gate → align → embed → match, for one frame."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import FacegateConfig
from ..models.manifest import MODEL_FILES, default_models_dir
from ..vision.detect import BlazeFaceDetector
from ..vision.embed import DlibAligner, DlibEmbedder, Embedder
from ..vision.match import Gallery, MatchResult
from ..vision.types import Detection

__all__ = ["TEMPLATE_SPACE", "FaceObservation", "FacePipeline", "model_path"]

# Templates are comparable only within one embedding space; dlib's ResNet on any runtime is
# one space, so a faster runtime for it can reuse every stored template.
TEMPLATE_SPACE = "dlib_resnet_v1"


def model_path(name: str, models_dir: Path | None) -> tuple[Path, str | None]:
    """Resolve a configured model name to a path and its pinned SHA-256 (if it is ours)."""
    p = Path(name).expanduser()
    if p.is_absolute():
        pinned = MODEL_FILES.get(p.name)
        return p, pinned.sha256 if pinned is not None else None
    base = models_dir if models_dir is not None else default_models_dir()
    pinned = MODEL_FILES.get(name)
    return base / name, pinned.sha256 if pinned is not None else None


@dataclass(slots=True, frozen=True)
class FaceObservation:
    """What the pipeline saw of the face nearest the camera in one frame.

    ``match`` is ``None`` when the face was skipped; ``skipped`` then says why.
    """

    detection: Detection
    match: MatchResult | None
    skipped: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class FacePipeline:
    """The recognition pipeline, built from configuration.

    Args:
        cfg: the validated configuration.
        gallery: the enrolled templates to search.
    """

    def __init__(self, cfg: FacegateConfig, gallery: Gallery | None = None) -> None:
        models_dir = cfg.models.dir
        det_path, det_sha = model_path(cfg.detector.model, models_dir)
        self.detector = BlazeFaceDetector(
            det_path,
            sha256=det_sha,
            score_threshold=cfg.detector.score_threshold,
            nms_iou=cfg.detector.nms_iou,
            max_faces=cfg.detector.max_faces,
            num_threads=cfg.detector.num_threads,
        )
        sp_path, sp_sha = model_path(cfg.embedder.shape_predictor, models_dir)
        self.aligner = DlibAligner(sp_path, sha256=sp_sha)
        emb_path, emb_sha = model_path(cfg.embedder.model, models_dir)
        self.embedder: Embedder = DlibEmbedder(
            emb_path, sha256=emb_sha, num_jitters=cfg.embedder.num_jitters
        )
        self.gallery = gallery if gallery is not None else Gallery(self.embedder.dim)
        self.threshold = cfg.matcher.threshold
        self.min_face_px = cfg.detector.min_face_px

    def templates_for(self, image: np.ndarray) -> tuple[np.ndarray, Detection] | None:
        """Templates of the largest face in an enrolment photo, or ``None`` without a face."""
        detections = self.detector.detect(image)
        if not detections:
            return None
        face = max(detections, key=lambda d: d.area)
        aligned = self.aligner.align(image, face)
        return self.embedder.embed_chips([aligned.chip]), face

    def analyze(self, image: np.ndarray) -> FaceObservation | None:
        """Observe the largest face in ``image``; ``None`` when no face is in view."""
        t0 = time.perf_counter()
        detections = self.detector.detect(image)
        t1 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1000.0}
        if not detections:
            return None
        face = max(detections, key=lambda d: d.area)
        if face.width < self.min_face_px:
            return FaceObservation(
                face, None, skipped="too small (step closer)", timings_ms=timings
            )
        aligned = self.aligner.align(image, face)
        t2 = time.perf_counter()
        template = self.embedder.embed_chips([aligned.chip])[0]
        t3 = time.perf_counter()
        result = self.gallery.search(template, self.threshold)
        t4 = time.perf_counter()
        timings.update(
            landmarks=(t2 - t1) * 1000.0, embed=(t3 - t2) * 1000.0, match=(t4 - t3) * 1000.0
        )
        return FaceObservation(face, result, timings_ms=timings)
