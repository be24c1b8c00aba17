"""The daemon: ``App.start()`` reads like the start-up checklist of a gate.

One process. The capture thread keeps only the newest frame; the main loop runs the face
pipeline, turns observations into decisions, pulses the relay, and appends an anonymized
event. Any error on the way leaves the relay de-energised: ``close()`` runs in ``finally``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..admin import AdminServer, Handler, LoopDispatcher
from ..admin.wiring import audit_handlers, build_admin_server
from ..audit import AuditLog, open_audit_log
from ..capture import Camera, Frame, make_camera
from ..capture.latest import CaptureThread, LatestFrame
from ..clock import Clock, SystemClock
from ..config import PRIVATE_SPACE_KINDS, FacegateConfig
from ..errors import FacegateError
from ..gate.build import build_door_runtime
from ..gate.door import ClearAlarm, RaiseAlarm
from ..gate.events import Alarm
from ..gate.feedback import challenge_feedback
from ..gate.runtime import DoorRuntime
from ..policy.checks import check_doors
from ..policy.decide import Decision as PolicyDecision
from ..readers import CardRead, PinEntered, ReaderEvent, ReaderFault
from ..readers.registry import BuiltReader, build_reader, reader_kinds
from ..store import Event, Store, open_store, purge_expired, resolve_key_path
from ..vision.liveness import LivenessJudge, LivenessVerdict
from ..vision.match import Gallery
from .access import AccessService
from .attempts import Judge
from .integrity import IntegrityMonitor
from .liveness import FailureCounter, build_judge
from .notify import notifier_from_env, watchdog_interval
from .pipeline import FaceObservation, FacePipeline
from .tracking import Tracker
from .watch import Liveness, LivenessConfig

__all__ = ["App", "AppEvent", "RefusedToStart"]

PURGE_EVERY_S = 86_400.0  # retention runs at start and then daily (an internal schedule)
STATUS_EVERY_S = 30.0  # a STATUS= line for `systemctl status`

logger = logging.getLogger(__name__)


class RefusedToStart(FacegateError):
    """A rule of the 2025 Measures forbids running with this configuration."""


@dataclass(slots=True, frozen=True)
class Outcome:
    """The gate's decision on one attempt, by any way in (anonymized: a pseudonym at most).

    ``method`` names the factors used (``face``, ``card``, ``pin``, ``card+pin`` …) or the
    kind of attempt when it failed; ``reason`` is the policy's reason (``granted``,
    ``unknown_card``, ``wrong_pin``, ``locked_out``, ``second_factor_required`` …).
    """

    door: str
    granted: bool
    method: str
    reason: str
    subject: str | None
    score: float | None
    at: float
    reader: str | None = None

    @property
    def pending(self) -> bool:
        return self.reason == "second_factor_required"


@dataclass(slots=True, frozen=True)
class AppEvent:
    """Something the loop did, for a live timeline (demo, status). Anonymized."""

    kind: str  # "face", "decision", "relay_on", "relay_off", "alarm", "fault"
    at: float
    door: str
    observation: FaceObservation | None = None
    decision: Outcome | None = None
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
        lcd_factory: builds door displays' LCDs (a fake in tests); RPLCD by default.
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
        run_checklist: bool = False,
        compliance_facts: Any = None,
        config_path: Path | None = None,
        lcd_factory: Any = None,
    ) -> None:
        self.config_path = config_path
        self.integrity: IntegrityMonitor | None = None
        self.cfg = cfg
        self.run_checklist = run_checklist
        self.compliance_facts = compliance_facts
        self.clock = clock or SystemClock()
        self.pin_factory = pin_factory
        self.lcd_factory = lcd_factory
        self.listener = listener
        self._camera_override = camera
        self._master_key = master_key
        self.camera: Camera | None = None
        self.store: Store | None = None
        self.pipeline: FacePipeline | None = None
        self.doors: dict[str, DoorRuntime] = {}
        self.readers: list[BuiltReader] = []
        self.reader_inbox: queue.SimpleQueue[ReaderEvent] = queue.SimpleQueue()
        self.access: AccessService | None = None
        self._released: dict[str, bool] = {}
        self.tracker = Tracker(cfg.service.track_iou, cfg.service.track_lost_s)
        self.judge = Judge(
            cfg.doors[0].id,
            fuse_frames=cfg.matcher.fuse_frames,
            redecide_after_s=cfg.service.redecide_after_s,
        )
        self._stop = threading.Event()
        self._next_purge = float("inf")
        self.audit: AuditLog | None = None
        self.admin: AdminServer | None = None
        self.loop_calls = LoopDispatcher()
        self.admin_handlers: dict[str, Handler] = {}
        self._refusals: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.notifier = notifier_from_env()
        interval, w = watchdog_interval(), cfg.watchdog
        self.liveness = Liveness(
            LivenessConfig(
                frame_stale_s=w.frame_stale_s,
                tick_stale_s=w.tick_stale_s,
                dark_level=w.dark_level,
                dark_s=w.dark_s,
                frozen_s=w.frozen_s,
                clock_tolerance_s=w.clock_tolerance_s,
                ping_every_s=interval / 2 if interval else 5.0,
            ),
            clock=self.clock,
        )
        self._next_status = 0.0
        self.frames_processed = 0
        self.pad: LivenessJudge | None = None
        self.pad_failures = FailureCounter(cfg.liveness.max_failures, cfg.liveness.failure_window_s)

    # -- start-up ------------------------------------------------------------------------

    def start(self) -> None:
        """Bring the gate up; on any failure everything already opened is closed again."""
        try:
            self.check_rules()
            self.init_gate()  # first: every lock is driven to its safe state at once
            self.init_store()
            self.init_access()
            self.init_readers()
            self.init_pipeline()
            self.init_liveness()
            self.init_gallery()
            self.init_camera()
            self.init_integrity()
            self.start_admin()
        except BaseException:
            self.close()
            raise
        if self.audit is not None:
            self.audit.append("service", event="start", doors=len(self.cfg.doors))
        self.notifier.ready(self.status_line())

    def check_rules(self) -> None:
        """Refuse configurations the law forbids before touching any hardware."""
        if self.cfg.site.kind in PRIVATE_SPACE_KINDS:
            raise RefusedToStart(
                f"site.kind is {self.cfg.site.kind.value}: face recognition is not allowed in "
                "private spaces such as hotel rooms, baths, changing rooms and toilets "
                "(2025 Measures Art. 13)"
            )
        problems = check_doors(self.cfg.doors, self.reader_kinds())
        if problems:
            raise RefusedToStart(
                "face must never be the only way in (2025 Measures Art. 10): " + "; ".join(problems)
            )
        if self.run_checklist:
            self.enforce_checklist()

    def enforce_checklist(self) -> None:
        """The compliance start-up checklist; any FAIL refuses to start (exit 3)."""
        from ..compliance import ComplianceRefused, enforce_startup_checklist
        from ..compliance.device import device_inputs

        try:
            enforce_startup_checklist(
                self.cfg, facts=self.compliance_facts, **device_inputs(self.cfg)
            )
        except ComplianceRefused as exc:
            raise RefusedToStart(str(exc)) from None

    def reader_kinds(self) -> dict[str, set[str]]:
        """Door → the ways in configured there (``camera``, ``card``, ``keypad``)."""
        kinds: dict[str, set[str]] = {door.id: set() for door in self.cfg.doors}
        kinds[self.camera_door].add("camera")
        for reader in self.cfg.readers:
            kinds[reader.door] |= reader_kinds(reader)
        return kinds

    def init_gate(self) -> None:
        for door in self.cfg.doors:
            runtime = build_door_runtime(
                door.id,
                door.gate,
                relay_pin=door.relay.pin,
                relay_active_high=door.relay.active_high,
                release_s=door.relay.pulse_s,
                pin_factory=self.pin_factory,
                clock=self.clock,
                lcd_factory=self.lcd_factory,
            )
            self.doors[door.id] = runtime
            self._released[door.id] = False
            self._handle_actions(door.id, runtime.start())

    def init_access(self) -> None:
        assert self.store is not None
        self.access = AccessService(self.cfg, self.store, self.clock)

    def init_readers(self) -> None:
        for reader in self.cfg.readers:
            self.readers.append(
                build_reader(
                    reader, self.reader_inbox, pin_factory=self.pin_factory, clock=self.clock
                )
            )

    def init_store(self) -> None:
        if self._master_key is not None:
            self.store = Store(self.cfg.store.state_dir, self._master_key, clock=self.clock)
        else:
            key_path = resolve_key_path(self.cfg.store.key_file, self.cfg.store.state_dir)
            self.store = open_store(key_path, self.cfg.store.state_dir, clock=self.clock)
        self.init_audit()
        self.purge()

    def init_audit(self) -> None:
        """The signed, hash-chained audit trail in ``<state_dir>/audit``."""
        assert self.store is not None
        a = self.cfg.audit
        self.audit = open_audit_log(
            self.store,
            self.cfg.store.state_dir,
            clock=self.clock,
            max_bytes=a.max_file_bytes,
            batch=a.sign_every_records,
            sign_every_s=a.sign_every_s,
            keep_years=self.cfg.retention.record_years,
        )

    def init_integrity(self) -> None:
        """Fingerprint the configuration and model files; watch for outside database writes."""
        from ..models.manifest import default_models_dir

        files: dict[str, Path] = {}
        if self.config_path is not None:
            files["config"] = self.config_path
        models = self.cfg.models.dir or default_models_dir()
        if models.is_dir():
            for path in sorted(models.iterdir()):
                if path.suffix in (".tflite", ".dat", ".onnx"):
                    files[f"model:{path.name}"] = path
        self.integrity = IntegrityMonitor(
            files,
            self.store.data_version if self.store is not None else None,
            every_s=self.cfg.watchdog.integrity_every_s,
        )

    def _intrusion(self, kind: str, what: str) -> None:
        now = self.clock.monotonic()
        logger.warning("intrusion: %s (%s)", kind, what)
        if self.audit is not None:
            self.audit.append("alarm", door=self.camera_door, alarm=kind, file=what)
        self._emit(AppEvent("alarm", now, self.camera_door, detail={"kind": kind, "file": what}))

    def start_admin(self) -> None:
        """The admin socket: commands run on the loop thread, every request audited."""
        if self.audit is None:
            return
        folder = self.cfg.admin.socket.parent
        if not folder.is_dir():
            # Outside systemd (no RuntimeDirectory=): run without the management socket.
            logger.warning("admin socket disabled: %s does not exist", folder)
            return
        from .admin_commands import admin_handlers

        handlers = {**audit_handlers(self.audit), **admin_handlers(self), **self.admin_handlers}
        self.admin = build_admin_server(
            self.cfg.admin, handlers, self.audit, on_refused=self._refusals.put
        )
        self.admin.start()

    def admin_role(self, peer: Any) -> Any:
        """The role the admin socket gives this peer (None outside the socket)."""
        return None if self.admin is None else self.admin.roles.role_for(peer)

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> None:
        """A remote unlock from the admin socket: recorded and audited like any grant."""
        runtime = self.doors[door]
        now = self.clock.monotonic()
        self._handle_actions(door, runtime.grant(seconds, now=now))
        outcome = Outcome(door, True, "remote", "remote_unlock", None, None, now, f"uid:{uid}")
        self._record(outcome)
        self._emit(AppEvent("decision", now, door, decision=outcome))

    def after_people_change(self, kind: str, pseudonym: str) -> None:
        """After an admin enrolment, withdrawal or deletion: audit it and reload."""
        if self.audit is not None:
            self.audit.append(kind, subject=pseudonym)
        self.refresh_people()

    def status_line(self) -> str:
        alarms = ", ".join(sorted(self.liveness.active)) or "none"
        return f"{len(self.doors)} doors, {self.frames_processed} frames, alarms: {alarms}"

    def watch_alarms(self, alarms: list[Any]) -> None:
        """Liveness alarms (camera lost, dark or frozen, loop stalled, clock jump)."""
        for a in alarms:
            logger.warning("liveness: %s%s", a.kind, " cleared" if a.cleared else "")
            if self.audit is not None:
                self.audit.append(
                    "alarm", door=self.camera_door, alarm=a.kind, cleared=a.cleared, **a.detail
                )
            self._emit(
                AppEvent(
                    "alarm_cleared" if a.cleared else "alarm",
                    a.at,
                    self.camera_door,
                    detail={"kind": a.kind},
                )
            )

    def purge(self) -> None:
        """Apply the retention periods now, and schedule the next run a day later."""
        assert self.store is not None
        retention = self.cfg.retention
        report = purge_expired(
            self.store, event_days=retention.event_days, record_years=retention.record_years
        )
        self._next_purge = self.clock.monotonic() + PURGE_EVERY_S
        if self.audit is not None and (report.templates or report.events or report.records):
            self.audit.append(
                "retention",
                templates=report.templates,
                events=report.events,
                records=report.records,
            )
        if report.templates or report.events or report.records:
            logger.info(
                "retention: deleted %d expired templates, %d old events, %d old records",
                report.templates,
                report.events,
                report.records,
            )
        if report.templates and self.pipeline is not None:
            self.reload_gallery()
        if report.templates and self.access is not None:
            self.access.reload(self.store)

    def refresh_people(self) -> None:
        """Reload people and credentials after an enrolment or deletion (gallery + policy)."""
        if self.pipeline is not None:
            self.reload_gallery()
        if self.access is not None and self.store is not None:
            self.access.reload(self.store)

    def reload_gallery(self) -> None:
        """Rebuild the in-memory gallery from the store (after a purge or an admin change)."""
        assert self.pipeline is not None
        self.pipeline.gallery = Gallery(self.pipeline.embedder.dim)
        self.init_gallery()

    def init_pipeline(self) -> None:
        self.pipeline = FacePipeline(self.cfg)

    def init_liveness(self) -> None:
        """The liveness judge for the camera's door, unless its mode is ``off``."""
        mode = self.cfg.liveness_mode(self.camera_door)
        if mode == "off":
            logger.warning(
                "door %s: liveness is off; a photo of a resident held up to the camera opens it",
                self.camera_door,
            )
            return
        self.pad = build_judge(self.cfg, mode=mode)
        logger.info("door %s: liveness %s", self.camera_door, mode)

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

    def handle_frame(self, frame: Frame) -> Outcome | None:
        """Run one frame through the pipeline and act on the decision, if any.

        Only the largest face (the person at the gate) is assessed and embedded; other faces
        are tracked so that they keep their identity when they step forward.
        """
        assert self.pipeline is not None
        pipeline, door = self.pipeline, self.camera_door
        self.watch_alarms(self.liveness.frame(frame.image))
        now = self.clock.monotonic()
        t0 = time.perf_counter()
        detections = pipeline.detect(frame.image)
        timings = {"detect": (time.perf_counter() - t0) * 1000.0}
        self.frames_processed += 1
        associated = self.tracker.update(now, detections)
        if not associated:
            return None
        track, face = max(associated, key=lambda pair: pair[1].area)
        quality, match, attempt = None, None, None
        open_attempt = self.judge.wants_template(track, now)
        live, liveness = True, None
        if open_attempt and self.pad is not None:
            t1 = time.perf_counter()
            verdict = self.pad.observe(track.id, frame.image, face, now)
            timings["liveness"] = (time.perf_counter() - t1) * 1000.0
            if verdict.status == "spoof":
                return self._refuse_spoof(track, face, verdict, timings, now)
            if verdict.reason == "challenge_started":
                self._challenge(verdict, now)
            live, liveness = verdict.status == "live", verdict.status
        if open_attempt and live:
            quality = pipeline.assess(frame.image, face)
        if quality is not None and quality.ok:
            template, more = pipeline.embed(frame.image, face)
            timings.update(more)
            t1 = time.perf_counter()
            match, attempt = self.judge.add(track, template, now, pipeline.search)
            timings["match"] = (time.perf_counter() - t1) * 1000.0
        observation = FaceObservation(face, track.id, quality, match, timings, liveness)
        self._emit(AppEvent("face", now, door, observation=observation))
        if attempt is None:
            return None
        assert self.access is not None
        if self.pad is not None:
            self.pad.forget(track.id)  # a new attempt by this track proves liveness again
        decision = self.access.face(
            door, attempt.subject if attempt.granted else None, float(attempt.score or 0.0)
        )
        return self.act(decision, method="face", score=attempt.score)

    def _refuse_spoof(
        self,
        track: Any,
        face: Any,
        verdict: LivenessVerdict,
        timings: dict[str, float],
        now: float,
    ) -> Outcome:
        """A face that failed liveness: refuse it (no template is made), count the failure."""
        assert self.pad is not None
        door = self.camera_door
        track.decided_at = now  # this approach is decided; a new one starts after redecide
        self.pad.forget(track.id)
        observation = FaceObservation(face, track.id, None, None, timings, "spoof")
        self._emit(AppEvent("face", now, door, observation=observation))
        alarms: tuple[Alarm, ...] = ()
        if self.pad_failures.add(door, now):
            alarms = (
                Alarm(
                    "presentation_attack",
                    door,
                    now,
                    f"{self.cfg.liveness.max_failures} faces failed liveness within "
                    f"{self.cfg.liveness.failure_window_s:g} s",
                ),
            )
        logger.info("door %s: face failed liveness (%s)", door, verdict.reason)
        decision = PolicyDecision(
            granted=False, reason="liveness", factors=("face",), door=door, alarms=alarms
        )
        return self.act(decision, method="face")

    def _challenge(self, verdict: LivenessVerdict, now: float) -> None:
        """Ask the person at the camera's door for a blink or a head turn (once per attempt)."""
        prompt = verdict.prompt
        if prompt is None:
            return
        door = self.camera_door
        logger.info("door %s: liveness challenge (%s)", door, prompt.kind)
        self._handle_actions(
            door, self.doors[door].prompt(challenge_feedback(prompt.kind), now=now)
        )
        if self.audit is not None:
            self.audit.append("liveness_challenge", door=door, challenge=prompt.kind)
        self._emit(
            AppEvent(
                "challenge",
                now,
                door,
                detail={"kind": prompt.kind, "text": prompt.text, "until": prompt.deadline},
            )
        )

    def handle_reader_event(self, event: ReaderEvent) -> Outcome | None:
        """A card, a PIN or a fault from one of the readers."""
        assert self.access is not None
        reader = next((r.cfg for r in self.readers if r.cfg.id == event.reader), None)
        if reader is None:
            return None
        if isinstance(event, ReaderFault):
            logger.warning("reader %s: %s", event.reader, event.reason)
            self._emit(
                AppEvent(
                    "fault",
                    event.at,
                    reader.door,
                    detail={"reader": event.reader, "reason": event.reason},
                )
            )
            return None
        if isinstance(event, CardRead):
            return self.act(self.access.card(reader.door, event), method="card")
        if isinstance(event, PinEntered):
            return self.act(self.access.pin(reader.door, event), method="pin")
        return None

    def act(self, decision: PolicyDecision, *, method: str, score: float | None = None) -> Outcome:
        """Carry out a policy decision: open (or not), raise its alarms, record it."""
        door = decision.door or self.camera_door
        runtime = self.doors[door]
        now = self.clock.monotonic()
        if decision.granted:
            self._handle_actions(door, runtime.grant(now=now))
        elif decision.reason == "second_factor_required":
            self._handle_actions(door, runtime.prompt("second_factor", now=now))
        else:
            locked_out = decision.reason in ("locked_out", "rate_limited")
            self._handle_actions(door, runtime.deny(locked_out=locked_out, now=now))
        for alarm in decision.alarms:
            self._handle_actions(door, runtime.report(alarm, now=now))
        outcome = Outcome(
            door=door,
            granted=decision.granted,
            method="+".join(decision.factors) if decision.factors else method,
            reason=decision.reason,
            subject=decision.subject,
            score=score,
            at=now,
            reader=decision.reader,
        )
        logger.info(
            "door %s: %s by %s (%s) subject=%s",
            door,
            "GRANTED" if outcome.granted else ("PENDING" if outcome.pending else "DENIED"),
            outcome.method,
            outcome.reason,
            outcome.subject or "-",
        )
        self._record(outcome)
        self._emit(AppEvent("decision", now, door, decision=outcome))
        return outcome

    def _record(self, outcome: Outcome) -> None:
        if self.store is None:
            return
        result = "granted" if outcome.granted else ("pending" if outcome.pending else "denied")
        self.store.record_event(
            Event(
                ts=self.clock.time(),
                door=outcome.door,
                method=outcome.method,
                result=result,
                subject=outcome.subject,
                score=outcome.score,
                reason=outcome.reason,
            )
        )
        if self.audit is not None:
            self.audit.append(
                "decision",
                subject=outcome.subject,
                door=outcome.door,
                method=outcome.method,
                result=result,
                reason=outcome.reason,
                reader=outcome.reader,
                score=None if outcome.score is None else round(float(outcome.score), 3),
            )

    def _handle_actions(self, door: str, actions: list[Any]) -> None:
        """Report alarms the door raised and relay changes, for the timeline and the record."""
        now = self.clock.monotonic()
        for action in actions:
            if isinstance(action, RaiseAlarm):
                self._alarm(action.alarm)
            elif isinstance(action, ClearAlarm):
                cleared = action.cleared
                logger.info("door %s: alarm %s cleared", cleared.door, cleared.kind)
                if self.audit is not None:
                    self.audit.append("alarm", door=cleared.door, alarm=cleared.kind, cleared=True)
                self._emit(
                    AppEvent("alarm_cleared", now, cleared.door, detail={"kind": cleared.kind})
                )
        runtime = self.doors.get(door)
        if runtime is None:
            return
        released = not runtime.lock.locked
        if released != self._released.get(door, False):
            self._released[door] = released
            kind = "relay_on" if released else "relay_off"
            until = runtime.lock.release_until
            self._emit(AppEvent(kind, now, door, detail={"until": until}))

    def _alarm(self, alarm: Alarm) -> None:
        logger.warning("door %s: ALARM %s", alarm.door, alarm.kind)
        if self.audit is not None:
            self.audit.append("alarm", door=alarm.door, alarm=alarm.kind)
        if self.store is not None:
            self.store.record_event(
                Event(self.clock.time(), alarm.door, "alarm", "alarm", None, None, alarm.kind)
            )
        self._emit(AppEvent("alarm", alarm.at, alarm.door, detail={"kind": alarm.kind}))

    def tick(self) -> None:
        """Housekeeping between frames: readers, door inputs and timers, daily retention."""
        if self.store is not None and self.clock.monotonic() >= self._next_purge:
            self.purge()
        now = self.clock.monotonic()
        for reader in self.readers:
            reader.poll(now)
        while True:
            try:
                event = self.reader_inbox.get_nowait()
            except queue.Empty:
                break
            self.handle_reader_event(event)
        for door_id, runtime in self.doors.items():
            self._handle_actions(door_id, runtime.poll(now))
        self.loop_calls.run_pending()
        if self.integrity is not None:
            for finding in self.integrity.check(now):
                self._intrusion(finding.kind, finding.what)
        while not self._refusals.empty():  # refused admin requests (from the admin thread)
            refused = self._refusals.get_nowait()
            self._intrusion("admin_unauthorized", f"{refused.command or '-'} by uid {refused.uid}")
        self.watch_alarms(self.liveness.tick())
        if self.liveness.should_ping():
            self.notifier.watchdog()
        if now >= self._next_status:
            self.notifier.status(self.status_line())
            self._next_status = now + STATUS_EVERY_S
        if self.audit is not None:
            self.audit.maybe_sign()

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

    def resume(self) -> None:
        """Allow ``run()`` again after a ``stop()`` that was not meant to end the daemon."""
        self._stop.clear()

    # -- shutdown ------------------------------------------------------------------------

    def close(self) -> None:
        """Locks to their safe state first, then readers, camera and store. Idempotent."""
        self.notifier.stopping()
        if self.admin is not None:
            try:
                self.admin.close()
            except Exception:
                logger.exception("could not close the admin socket")
            self.admin = None
        for runtime in self.doors.values():
            try:
                runtime.close()
            except Exception:  # keep closing the others: every lock must end up safe
                logger.exception("could not close door %s", runtime.door)
        self.doors.clear()
        for reader in self.readers:
            try:
                reader.close()
            except Exception:
                logger.exception("could not close reader %s", reader.cfg.id)
        self.readers.clear()
        if self.camera is not None:
            try:
                self.camera.close()
            except Exception:
                logger.exception("could not close the camera")
            self.camera = None
        if self.audit is not None:
            try:
                self.audit.append("service", event="stop")
                self.audit.close()
            except Exception:
                logger.exception("could not close the audit log")
            self.audit = None
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
