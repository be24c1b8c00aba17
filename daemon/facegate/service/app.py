"""The daemon: ``App.start()`` reads like the start-up checklist of a gate.

One process. The capture thread keeps only the newest frame; the main loop runs the face
pipeline, turns observations into decisions, pulses the relay, and appends an anonymized
event. Any error on the way leaves the relay de-energised: ``close()`` runs in ``finally``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..capture import Camera, Frame, make_camera
from ..capture.latest import CaptureThread, LatestFrame
from ..clock import Clock, SystemClock
from ..config import PRIVATE_SPACE_KINDS, FacegateConfig
from ..errors import FacegateError
from ..gate import Relay
from ..store import Event, Store, open_store, purge_expired, resolve_key_path
from ..vision.match import Gallery
from .attempts import Decision, Judge
from .pipeline import FaceObservation, FacePipeline
from .tracking import Tracker

__all__ = ["App", "AppEvent", "RefusedToStart"]

PURGE_EVERY_S = 86_400.0  # retention runs at start and then daily (an internal schedule)

logger = logging.getLogger(__name__)


class RefusedToStart(FacegateError):
    """A rule of the 2025 Measures forbids running with this configuration."""


@dataclass(slots=True, frozen=True)
class AppEvent:
    """Something the loop did, for a live timeline (demo, status). Anonymized."""

    kind: str  # "face", "decision", "relay_on", "relay_off"
    at: float
    door: str
    observation: FaceObservation | None = None
    decision: Decision | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[AppEvent], None]


class App:
    """facegate's main object.

    Args:
        cfg: validated configuration.
        camera: camera to use instead of the configured one (demo, bench, tests).
        pin_factory: gpiozero pin factory (``MockFactory`` for the demo and tests).
        clock: time source.
        master_key: the key, when the caller already holds it (demo, tests); otherwise it
            is read from the configured key file.
        listener: called for every ``AppEvent``.
    """

    def __init__(
        self,
        cfg: FacegateConfig,
        *,
        camera: Camera | None = None,
        pin_factory: Any = None,
        clock: Clock | None = None,
        master_key: bytes | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock or SystemClock()
        self.pin_factory = pin_factory
        self.listener = listener
        self._camera_override = camera
        self._master_key = master_key
        self.camera: Camera | None = None
        self.store: Store | None = None
        self.pipeline: FacePipeline | None = None
        self.relays: dict[str, Relay] = {}
        self.tracker = Tracker(cfg.service.track_iou, cfg.service.track_lost_s)
        self.judge = Judge(
            cfg.doors[0].id,
            fuse_frames=cfg.matcher.fuse_frames,
            redecide_after_s=cfg.service.redecide_after_s,
        )
        self._stop = threading.Event()
        self._next_purge = float("inf")
        self.frames_processed = 0

    # -- start-up ------------------------------------------------------------------------

    def start(self) -> None:
        """Bring the gate up; on any failure everything already opened is closed again."""
        try:
            self.check_rules()
            self.init_gate()  # first: the relay is driven to its safe state at once
            self.init_store()
            self.init_pipeline()
            self.init_gallery()
            self.init_camera()
        except BaseException:
            self.close()
            raise

    def check_rules(self) -> None:
        """Refuse configurations the law forbids before touching any hardware."""
        if self.cfg.site.kind in PRIVATE_SPACE_KINDS:
            raise RefusedToStart(
                f"site.kind is {self.cfg.site.kind.value}: face recognition is not allowed in "
                "private spaces such as hotel rooms, baths, changing rooms and toilets "
                "(2025 Measures Art. 13)"
            )

    def init_gate(self) -> None:
        for door in self.cfg.doors:
            self.relays[door.id] = Relay(
                door.relay.pin,
                active_high=door.relay.active_high,
                pulse_s=door.relay.pulse_s,
                pin_factory=self.pin_factory,
                clock=self.clock,
                name=door.id,
            )

    def init_store(self) -> None:
        if self._master_key is not None:
            self.store = Store(self.cfg.store.state_dir, self._master_key, clock=self.clock)
        else:
            key_path = resolve_key_path(self.cfg.store.key_file, self.cfg.store.state_dir)
            self.store = open_store(key_path, self.cfg.store.state_dir, clock=self.clock)
        self.purge()

    def purge(self) -> None:
        """Apply the retention periods now, and schedule the next run a day later."""
        assert self.store is not None
        retention = self.cfg.retention
        report = purge_expired(
            self.store, event_days=retention.event_days, record_years=retention.record_years
        )
        self._next_purge = self.clock.monotonic() + PURGE_EVERY_S
        if report.templates or report.events or report.records:
            logger.info(
                "retention: deleted %d expired templates, %d old events, %d old records",
                report.templates,
                report.events,
                report.records,
            )
        if report.templates and self.pipeline is not None:
            self.reload_gallery()

    def reload_gallery(self) -> None:
        """Rebuild the in-memory gallery from the store (after a purge or an admin change)."""
        assert self.pipeline is not None
        self.pipeline.gallery = Gallery(self.pipeline.embedder.dim)
        self.init_gallery()

    def init_pipeline(self) -> None:
        self.pipeline = FacePipeline(self.cfg)

    def init_gallery(self) -> None:
        assert self.store is not None and self.pipeline is not None
        gallery: Gallery = self.pipeline.gallery
        gallery.add_many(self.store.iter_templates(self.pipeline.space))
        logger.info(
            "gallery loaded: %d people, %d templates; match threshold %.4f (target FPIR %.2g)",
            len(gallery),
            gallery.template_count,
            self.pipeline.threshold,
            self.cfg.matcher.target_fpir,
        )
        self.pipeline.check_threshold()

    def init_camera(self) -> None:
        camera = self._camera_override or make_camera(self.cfg.camera, clock=self.clock)
        camera.open()
        self.camera = camera

    # -- the loop ------------------------------------------------------------------------

    @property
    def camera_door(self) -> str:
        """The door the camera watches (the first configured door)."""
        return self.cfg.doors[0].id

    def handle_frame(self, frame: Frame) -> Decision | None:
        """Run one frame through the pipeline and act on the decision, if any.

        Only the largest face (the person at the gate) is assessed and embedded; other faces
        are tracked so that they keep their identity when they step forward.
        """
        assert self.pipeline is not None
        pipeline, door = self.pipeline, self.camera_door
        now = self.clock.monotonic()
        t0 = time.perf_counter()
        detections = pipeline.detect(frame.image)
        timings = {"detect": (time.perf_counter() - t0) * 1000.0}
        self.frames_processed += 1
        associated = self.tracker.update(now, detections)
        if not associated:
            return None
        track, face = max(associated, key=lambda pair: pair[1].area)
        quality, match, decision = None, None, None
        if self.judge.wants_template(track, now):
            quality = pipeline.assess(frame.image, face)
        if quality is not None and quality.ok:
            template, more = pipeline.embed(frame.image, face)
            timings.update(more)
            t1 = time.perf_counter()
            match, decision = self.judge.add(track, template, now, pipeline.search)
            timings["match"] = (time.perf_counter() - t1) * 1000.0
        observation = FaceObservation(face, track.id, quality, match, timings)
        self._emit(AppEvent("face", now, door, observation=observation))
        if decision is not None:
            self.act(decision)
        return decision

    def act(self, decision: Decision) -> None:
        """Open the door for a grant, and record every decision (anonymized)."""
        relay = self.relays[decision.door]
        if decision.granted:
            was_active = relay.is_active
            relay.pulse()
            if not was_active:
                self._emit(
                    AppEvent("relay_on", decision.at, decision.door, detail={"until": relay.off_at})
                )
        logger.info(
            "door %s: %s by %s (%s) subject=%s score=%s",
            decision.door,
            "GRANTED" if decision.granted else "DENIED",
            decision.method,
            decision.reason,
            decision.subject or "-",
            "-" if decision.score is None else f"{decision.score:.3f}",
        )
        if self.store is not None:
            self.store.record_event(
                Event(
                    ts=self.clock.time(),
                    door=decision.door,
                    method=decision.method,
                    result="granted" if decision.granted else "denied",
                    subject=decision.subject,
                    score=decision.score,
                    reason=decision.reason,
                )
            )
        self._emit(AppEvent("decision", decision.at, decision.door, decision=decision))

    def tick(self) -> None:
        """Housekeeping between frames: end relay pulses that are due, daily retention."""
        if self.store is not None and self.clock.monotonic() >= self._next_purge:
            self.purge()
        for door_id, relay in self.relays.items():
            was_active = relay.is_active
            if was_active and not relay.poll():
                self._emit(AppEvent("relay_off", self.clock.monotonic(), door_id))

    def run(self, *, frame_timeout_s: float = 0.05) -> None:
        """Capture in a thread and process the newest frame until ``stop()`` or the source ends.

        Raises:
            CameraError: the camera failed (the relay is left safe by ``close()``).
        """
        assert self.camera is not None
        slot = LatestFrame()
        capture = CaptureThread(self.camera, slot)
        capture.start()
        try:
            while not self._stop.is_set():
                frame = slot.get(frame_timeout_s)
                if frame is not None:
                    self.handle_frame(frame)
                self.tick()
                if frame is None and slot.closed:
                    if slot.error is not None:
                        raise slot.error
                    break
        finally:
            capture.stop()
            capture.join(timeout=2.0)

    def stop(self) -> None:
        """Ask ``run()`` to return after the current frame (signal-safe)."""
        self._stop.set()

    # -- shutdown ------------------------------------------------------------------------

    def close(self) -> None:
        """Relays to their safe state first, then camera and store. Idempotent."""
        for relay in self.relays.values():
            try:
                relay.close()
            except Exception:  # keep closing the others: every lock must end up safe
                logger.exception("could not close relay %s", relay.name)
        self.relays.clear()
        if self.camera is not None:
            try:
                self.camera.close()
            except Exception:
                logger.exception("could not close the camera")
            self.camera = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _emit(self, event: AppEvent) -> None:
        if self.listener is not None:
            self.listener(event)


def state_paths(cfg: FacegateConfig) -> dict[str, Path]:
    """Where this configuration keeps its state (for status and docs)."""
    return {
        "state_dir": cfg.store.state_dir,
        "key_file": resolve_key_path(cfg.store.key_file, cfg.store.state_dir),
    }
