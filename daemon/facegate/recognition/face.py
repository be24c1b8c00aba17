"""The face path as one collaborator: detect → track → liveness → quality → embed → match.

``FacePath.observe(frame, now)`` runs one frame through every stage and says what happened
(:class:`~.events.FaceEvent`); it never touches the door, the store or the audit trail, so
the daemon can run without it (no camera, or the face path down) and PIN, card and the door's
own inputs carry on. Only the largest face (the person at the gate) is assessed and embedded,
and only while its attempt is open; other faces are tracked so that they keep their identity
when they step forward.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import numpy as np

from ..capture import Frame
from ..config import FacegateConfig
from ..policy.snapshot import FaceMatch, LivenessRefused
from ..vision.liveness import LivenessJudge, LivenessVerdict
from ..vision.match import Gallery
from ..vision.types import Detection
from .attempts import AttemptJudge
from .events import ChallengeRequested, FaceEvent, FaceObservation
from .liveness import FailureCounter, build_judge
from .pipeline import FacePipeline
from .tracking import Track, Tracker

__all__ = ["FacePath", "build_face_path"]

logger = logging.getLogger(__name__)


class FacePath:
    """One camera door's face recognition, from frames to attempt outcomes.

    Args:
        cfg: the configuration (tracking, fusion and liveness limits).
        door: the door the camera watches.
        pipeline: the recognition stages (models loaded).
        liveness: the liveness judge, or ``None`` when the door's liveness mode is ``off``.
    """

    def __init__(
        self,
        cfg: FacegateConfig,
        door: str,
        pipeline: FacePipeline,
        liveness: LivenessJudge | None = None,
    ) -> None:
        self.cfg = cfg
        self.door = door
        self.pipeline = pipeline
        self.liveness = liveness
        self.tracker = Tracker(cfg.service.track_iou, cfg.service.track_lost_s)
        self.attempts = AttemptJudge(
            door, fuse_frames=cfg.matcher.fuse_frames, redecide_after_s=cfg.service.redecide_after_s
        )
        self.failures = FailureCounter(cfg.liveness.max_failures, cfg.liveness.failure_window_s)
        self.zone = cfg.face_zone
        self.paused_until = float("-inf")
        self.requested_until = float("-inf")

    # -- only faces that asked -------------------------------------------------------------

    def pause(self, until: float) -> None:
        """No face is processed before ``until`` (a keypad or card in use at this door)."""
        self.paused_until = max(self.paused_until, until)

    def paused(self, now: float) -> bool:
        return now < self.paused_until

    def request(self, until: float) -> None:
        """Someone asked for face entry (``face_zone.trigger: request``): awake until then."""
        self.requested_until = until

    def asleep(self, now: float) -> bool:
        """With ``trigger: request``, true until someone asks (and after the window ends)."""
        return self.zone.trigger == "request" and now >= self.requested_until

    def in_zone(self, face: Detection, width: int, height: int) -> bool:
        """At the terminal: the face's centre in the zone's region, and wide enough."""
        x0, y0, x1, y1 = self.zone.region
        left, top, right, bottom = face.box
        cx, cy = (left + right) / 2 / width, (top + bottom) / 2 / height
        return face.width >= self.zone.min_face_px and x0 <= cx <= x1 and y0 <= cy <= y1

    # -- the gallery ---------------------------------------------------------------------

    @property
    def space(self) -> str:
        """The embedding space of this path's templates (``dlib_resnet_v1`` …)."""
        return self.pipeline.space

    @property
    def dim(self) -> int:
        return self.pipeline.embedder.dim

    @property
    def threshold(self) -> float:
        return self.pipeline.threshold

    def load_gallery(self, people: Iterable[tuple[str, np.ndarray]]) -> None:
        """Replace the gallery with these people's templates (from the store)."""
        gallery = Gallery(self.dim)
        gallery.add_many(people)
        self.pipeline.gallery = gallery
        logger.info(
            "gallery loaded: %d people, %d templates; match threshold %.4f (target FPIR %.2g)",
            len(gallery),
            gallery.template_count,
            self.pipeline.threshold,
            self.cfg.matcher.target_fpir,
        )
        self.pipeline.check_threshold()

    def reset(self) -> None:
        """Forget every track (a new clip, a camera restart)."""
        self.tracker = Tracker(self.cfg.service.track_iou, self.cfg.service.track_lost_s)

    # -- one frame -----------------------------------------------------------------------

    def observe(self, frame: Frame, now: float) -> FaceEvent | None:
        """Run one frame through the stages; ``None`` when no face is in view or the path is
        paused. Only faces in the zone are tracked, assessed, embedded and searched."""
        if self.paused(now) or self.asleep(now):
            return None  # a keypad or card in use, or nobody asked: not even detected
        image, pipeline = frame.image, self.pipeline
        t0 = time.perf_counter()
        detections = pipeline.detect(image)
        timings = {"detect": (time.perf_counter() - t0) * 1000.0}
        height, width = image.shape[:2]
        inside = [d for d in detections if self.in_zone(d, width, height)]
        associated = self.tracker.update(now, inside)
        if not associated:
            if not detections:
                return None
            nearest = max(detections, key=lambda d: d.area)  # known to be there, nothing kept
            outside = FaceObservation(nearest, -1, None, None, timings, skipped="outside_zone")
            return FaceEvent(self.door, now, outside)
        track, face = max(associated, key=lambda pair: pair[1].area)
        quality, match, attempt, challenge = None, None, None, None
        open_attempt = self.attempts.wants_template(track, now)
        live, liveness = True, None
        if open_attempt and self.liveness is not None:
            t1 = time.perf_counter()
            verdict = self.liveness.observe(track.id, image, face, now)
            timings["liveness"] = (time.perf_counter() - t1) * 1000.0
            if verdict.status == "spoof":
                return self._refuse(track, face, verdict, timings, now)
            prompt = verdict.prompt
            if verdict.reason == "challenge_started" and prompt is not None:
                challenge = ChallengeRequested(prompt.kind, prompt.text, prompt.deadline)
            live, liveness = verdict.status == "live", verdict.status
        if open_attempt and live:
            quality = pipeline.assess(image, face)
        if quality is not None and quality.ok:
            template, more = pipeline.embed(image, face)
            timings.update(more)
            t1 = time.perf_counter()
            match, attempt = self.attempts.add(track, template, now, pipeline.search)
            timings["match"] = (time.perf_counter() - t1) * 1000.0
        observation = FaceObservation(face, track.id, quality, match, timings, liveness)
        outcome = None
        if attempt is not None:
            if self.liveness is not None:
                self.liveness.forget(track.id)  # a new attempt by this track proves liveness again
            subject = attempt.subject if attempt.granted else None
            outcome = FaceMatch(self.door, subject, float(attempt.score))
            self.requested_until = float("-inf")  # one request, one decision
        return FaceEvent(self.door, now, observation, outcome, challenge)

    def _refuse(
        self,
        track: Track,
        face: Detection,
        verdict: LivenessVerdict,
        timings: dict[str, float],
        now: float,
    ) -> FaceEvent:
        """A face that failed liveness: no template is made; count the failure."""
        assert self.liveness is not None
        track.decided_at = now  # this approach is decided; a new one starts after redecide
        self.liveness.forget(track.id)
        observation = FaceObservation(face, track.id, None, None, timings, "spoof")
        attack = None
        if self.failures.add(self.door, now):
            live = self.cfg.liveness
            attack = f"{live.max_failures} faces failed liveness within {live.failure_window_s:g} s"
        logger.info("door %s: face failed liveness (%s)", self.door, verdict.reason)
        refused = LivenessRefused(self.door, verdict.reason, attack)
        return FaceEvent(self.door, now, observation, refused)


def build_face_path(cfg: FacegateConfig, door: str) -> FacePath:
    """Load the models and the liveness judge the configuration asks for at ``door``.

    Raises:
        ModelError: a model file is missing, has another hash, or is not the expected model.
    """
    pipeline = FacePipeline(cfg)
    mode = cfg.liveness_mode(door)
    if mode == "off":
        logger.warning(
            "door %s: liveness is off; a photo of a resident held up to the camera opens it", door
        )
        return FacePath(cfg, door, pipeline)
    judge = build_judge(cfg, mode=mode, door=door)
    if mode == "passive+challenge" and judge.spoken_s > 0.0:  # passive asks nothing
        logger.info(
            "door %s: liveness %s; %.1f s to answer a challenge after its %.1f s spoken prompt",
            door, mode, cfg.liveness.challenge.timeout_s, judge.spoken_s,
        )  # fmt: skip
    else:
        logger.info("door %s: liveness %s", door, mode)
    if mode == "passive+challenge":
        _warn_short_awake(cfg, door, judge.spoken_s)
    return FacePath(cfg, door, pipeline, judge)


def _warn_short_awake(cfg: FacegateConfig, door: str, spoken_s: float) -> None:
    """With ``face_zone.trigger: request`` faces are processed ``awake_s`` after a press (the
    notice says so): warn when a challenged attempt can last longer, its answer then unseen."""
    zone, live = cfg.face_zone, cfg.liveness
    attempts = 1 + live.challenge.retries
    longest = live.decide_within_s + attempts * (spoken_s + live.challenge.timeout_s)
    if zone.trigger == "request" and zone.awake_s < longest:
        logger.warning(
            "door %s: face_zone.awake_s (%g s) is shorter than a challenged attempt can last "
            "here (up to %.1f s: the first challenge by liveness.decide_within_s, then %d x "
            "(%.1f s spoken + %.1f s to answer)); raise awake_s, or a late answer goes unseen",
            door, zone.awake_s, longest, attempts, spoken_s, live.challenge.timeout_s,
        )  # fmt: skip
