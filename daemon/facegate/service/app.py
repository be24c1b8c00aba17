"""The daemon: ``App`` supervises the ways in; ``App.start()`` reads like the gate's checklist.

One process. Each way in is independent and produces access events: the face path
(:class:`~facegate.recognition.FacePath`, fed the newest camera frame), the card readers and
keypads (their events arrive on one queue, from their own threads), and each door's own
inputs (door contact, exit button, tamper: decided by the door's controller). Every attempt
goes through ``policy.decide()`` (:class:`~.access.AccessService`), and the
:class:`~.actuator.Actuator` carries the decision out: the door, the event row, the audit
record, the timeline. Any error on the way leaves every lock safe: ``close()`` runs in
``finally``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Any

from ..admin import AdminAuditEvent, AdminServer, LoopDispatcher, PeerCred, Role
from ..admin.server import HandlerFunc
from ..audit import AuditLog
from ..capture import Camera, Frame, make_camera
from ..capture.latest import CaptureThread, LatestFrame
from ..clock import Clock, SystemClock
from ..config import FacegateConfig
from ..policy.snapshot import FaceMatch
from ..readers import CardRead, PinEntered, ReaderEvent, ReaderFault
from ..recognition import FaceEvent, FacePath, build_face_path
from ..store import Store
from .access import AccessService
from .actuator import Actuator, AppEvent, Listener, Outcome
from .admin_commands import serve_admin
from .control import FaceSpace
from .health import Health
from .integrity import IntegrityMonitor, watched_files
from .notify import notifier_from_env, watchdog_interval
from .reader_set import ReaderSet
from .rules import RefusedToStart, enforce_rules
from .state import PURGE_EVERY_S, PURGE_RETRY_S, apply_retention, close_state, open_state

__all__ = ["App", "AppEvent", "Outcome", "RefusedToStart"]

STATUS_EVERY_S = 30.0  # a STATUS= line for `systemctl status`

logger = logging.getLogger(__name__)


class App:
    """facegate's main object; implements the admin handlers' :class:`~.control.Control`.

    Args:
        cfg: validated configuration.
        camera: camera to use instead of the configured one (demo, bench, tests).
        pin_factory: gpiozero pin factory (``MockFactory`` for the demo and tests).
        clock: time source.
        master_key: the key, when the caller already holds it (demo, tests); otherwise it
            is read from the configured key file.
        listener: called for every ``AppEvent`` (the timeline).
        run_checklist: run the compliance start-up checklist first (``facegate run``).
        compliance_facts: facts for the checklist (tests); gathered from the device otherwise.
        config_path: the configuration file, fingerprinted by the integrity monitor.
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
        self.cfg = cfg
        self.clock: Clock = clock or SystemClock()
        self.pin_factory = pin_factory
        self.lcd_factory = lcd_factory
        self.run_checklist = run_checklist
        self.compliance_facts = compliance_facts
        self.config_path = config_path
        self._camera_override = camera
        self._master_key = master_key
        self.camera_door = cfg.doors[0].id  # the door the camera watches (the first one)
        self.actuator = Actuator(self.clock, self.camera_door, listener)
        self.doors = self.actuator.doors
        self.camera: Camera | None = None
        self.store: Store | None = None
        self.audit: AuditLog | None = None
        self.access: AccessService | None = None
        self.face: FacePath | None = None  # absent: PIN, card and door inputs carry on
        self.readers = ReaderSet()  # card readers and keypads
        self.integrity: IntegrityMonitor | None = None
        self.admin: AdminServer | None = None
        self.loop_calls = LoopDispatcher()
        self._refusals: queue.SimpleQueue[AdminAuditEvent] = queue.SimpleQueue()
        self.notifier = notifier_from_env()
        self.health = Health.from_config(
            cfg.watchdog, clock=self.clock, interval_s=watchdog_interval()
        )
        self.frames_processed = 0
        self._stop = threading.Event()
        self._next_purge = float("inf")
        self._next_status = 0.0

    # -- start-up: the checklist -----------------------------------------------------------

    def start(self) -> None:
        """Bring the gate up; on any failure everything already opened is closed again."""
        try:
            self.check_rules()  # before any hardware
            self.init_gate()  # first: every lock is driven to its safe state at once
            self.init_store()
            self.init_access()
            self.init_readers()
            self.init_face()
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
        enforce_rules(
            self.cfg,
            self.camera_door,
            run_checklist=self.run_checklist,
            facts=self.compliance_facts,
        )

    def init_gate(self) -> None:
        self.actuator.open_doors(self.cfg.doors, self.pin_factory, self.lcd_factory)

    def init_store(self) -> None:
        self.store, self.audit = open_state(self.cfg, self.clock, self._master_key)
        self.actuator.store, self.actuator.audit = self.store, self.audit
        self.purge()

    def init_access(self) -> None:
        assert self.store is not None
        self.access = AccessService(self.cfg, self.store, self.clock)

    def init_readers(self) -> None:
        self.readers.open(self.cfg.readers, pin_factory=self.pin_factory, clock=self.clock)

    def init_face(self) -> None:
        """The face path for the camera's door: detector, embedder, liveness judge."""
        self.face = build_face_path(self.cfg, self.camera_door)

    def init_gallery(self) -> None:
        assert self.store is not None and self.face is not None
        self.face.load_gallery(self.store.iter_templates(self.face.space))

    def init_camera(self) -> None:
        camera = self._camera_override or make_camera(self.cfg.camera, clock=self.clock)
        camera.open()
        self.camera = camera

    def init_integrity(self) -> None:
        """Fingerprint the configuration and model files; watch for outside database writes."""
        files = watched_files(self.config_path, self.cfg.models.dir)
        version = self.store.data_version if self.store is not None else None
        self.integrity = IntegrityMonitor(
            files, version, every_s=self.cfg.watchdog.integrity_every_s
        )

    def start_admin(self) -> None:
        """The admin socket: commands run on the loop thread, every request audited."""
        if self.audit is not None:
            self.admin = serve_admin(
                self, self.cfg.admin, self.audit, on_refused=self._refusals.put
            )

    # -- people ----------------------------------------------------------------------------

    def purge(self) -> None:
        """Apply the retention periods now, and schedule the next run a day later."""
        assert self.store is not None
        templates_gone = apply_retention(
            self.store, self.audit, self.cfg, on_error=self.actuator.write_failed
        )  # a full disk: an alarm, and another try in an hour
        every = PURGE_RETRY_S if templates_gone is None else PURGE_EVERY_S
        self._next_purge = self.clock.monotonic() + every
        if templates_gone:
            self.refresh_people()

    def refresh_people(self) -> None:
        """Reload people and credentials after an enrolment or deletion (gallery + policy)."""
        if self.face is not None and self.store is not None:
            self.init_gallery()
        if self.access is not None and self.store is not None:
            self.access.reload(self.store)

    # -- the ways in -----------------------------------------------------------------------

    def handle_frame(self, frame: Frame) -> Outcome | None:
        """A camera frame: health first, then the face path; act on its attempt, if any."""
        self.actuator.health(self.health.frame(frame.image))
        if self.face is None:
            return None
        event = self.face.observe(frame, self.clock.monotonic())
        self.frames_processed += 1
        return None if event is None else self.handle_face(event)

    def handle_face(self, event: FaceEvent) -> Outcome | None:
        self.actuator.face_seen(event)
        if event.outcome is None:
            return None
        assert self.access is not None
        outcome = event.outcome
        score = outcome.score if isinstance(outcome, FaceMatch) else None
        return self.actuator.act(self.access.decide(outcome), method="face", score=score)

    def handle_reader_event(self, event: ReaderEvent) -> Outcome | None:
        """A card, a PIN or a fault from one of the readers."""
        assert self.access is not None
        door = self.readers.door_of(event.reader)
        if door is None:
            return None
        if isinstance(event, ReaderFault):
            self.actuator.fault(door, event.reader, event.reason, event.at)
            return None
        if isinstance(event, CardRead):
            return self.actuator.act(self.access.card(door, event), method="card")
        if isinstance(event, PinEntered):
            return self.actuator.act(self.access.pin(door, event), method="pin")
        return None

    # -- the loop --------------------------------------------------------------------------

    def tick(self) -> None:
        """Between frames: readers, door inputs and timers, admin calls, alarms, retention."""
        if self.store is not None and self.clock.monotonic() >= self._next_purge:
            self.purge()
        now = self.clock.monotonic()
        for event in self.readers.poll(now):
            self.handle_reader_event(event)
        self.actuator.poll_doors(now)
        self.actuator.retry_writes(now)  # event rows and audit records a full disk held back
        self.loop_calls.run_pending()
        if self.integrity is not None:
            for finding in self.integrity.check(now):
                self.actuator.intrusion(finding.kind, finding.what)
        while not self._refusals.empty():  # refused admin requests (from the admin thread)
            self.actuator.admin_refused(self._refusals.get_nowait())
        self.actuator.health(self.health.tick())
        if self.health.should_ping():
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
        # closing(): the capture thread stops at once, even when a frame's handling raises.
        with closing(_newest_frames(self.camera, self._stop, frame_timeout_s)) as frames:
            for frame in frames:
                if frame is not None:
                    self.handle_frame(frame)
                self.tick()

    def stop(self) -> None:
        """Ask ``run()`` to return after the current frame (signal-safe)."""
        self._stop.set()

    def resume(self) -> None:
        """Allow ``run()`` again after a ``stop()`` that was not meant to end the daemon."""
        self._stop.clear()

    # -- the control protocol (admin handlers) ----------------------------------------------

    def on_loop(self, handler: HandlerFunc) -> HandlerFunc:
        return self.loop_calls.on_loop(handler)

    def status(self) -> dict[str, Any]:
        return {
            "doors": self.actuator.door_status(),
            "frames": self.frames_processed,
            "people_with_face": self.store.count_people_with_face() if self.store else None,
            "threshold": self.face.threshold if self.face is not None else None,
            "liveness_alarms": sorted(self.health.active),  # wire name kept: health alarms
        }

    def status_line(self) -> str:
        alarms = ", ".join(sorted(self.health.active | self.actuator.active_alarms)) or "none"
        return f"{len(self.doors)} doors, {self.frames_processed} frames, alarms: {alarms}"

    def door_ids(self) -> list[str]:
        return list(self.doors)

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> bool:
        self.actuator.remote_open(door, seconds, uid=uid)
        return not self.doors[door].lock.locked

    def role_for(self, peer: PeerCred) -> Role | None:
        return None if self.admin is None else self.admin.roles.role_for(peer)

    def face_space(self) -> FaceSpace | None:
        return None if self.face is None else FaceSpace(self.face.space, self.face.dim)

    def people_changed(self, kind: str, pseudonym: str) -> None:
        if self.audit is not None:
            self.audit.append(kind, subject=pseudonym)
        self.refresh_people()

    # -- shutdown --------------------------------------------------------------------------

    def close(self) -> None:
        """Locks to their safe state first, then readers, camera and store. Idempotent."""
        self.notifier.stopping()
        if self.admin is not None:
            _quietly("the admin socket", self.admin.close)
            self.admin = None
        self.actuator.close_doors()
        self.readers.close()
        if self.camera is not None:
            _quietly("the camera", self.camera.close)
            self.camera = None
        self.actuator.flush_writes()  # event rows a full disk held back, if there is room now
        close_state(self.store, self.audit)  # the audit trail's stop record, then the store
        self.store = self.audit = self.actuator.store = self.actuator.audit = None

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _newest_frames(
    camera: Camera, stop: threading.Event, timeout_s: float
) -> Generator[Frame | None, None, None]:
    """Capture in a thread; yield the newest frame (or ``None`` after ``timeout_s`` without
    one) until ``stop`` is set or the source ends.

    Raises:
        CameraError: the camera failed.
    """
    slot = LatestFrame()
    capture = CaptureThread(camera, slot)
    capture.start()
    try:
        while not stop.is_set():
            frame = slot.get(timeout_s)
            yield frame
            if frame is None and slot.closed:
                if slot.error is not None:
                    raise slot.error
                return
    finally:
        capture.stop()
        capture.join(timeout=2.0)


def _quietly(what: str, close: Any) -> None:
    """Close one thing; log a failure and carry on (the others must still be closed)."""
    try:
        close()
    except Exception:
        logger.exception("could not close %s", what)
