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
from pathlib import Path
from typing import Any

from ..admin import AdminAuditEvent, AdminServer, LoopDispatcher, PeerCred, Role
from ..admin.server import HandlerFunc
from ..audit import AuditLog
from ..capture import Camera, Frame
from ..clock import Clock, SystemClock
from ..config import FacegateConfig
from ..policy.snapshot import FaceMatch
from ..readers import CardRead, PinEntered, ReaderEvent, ReaderFault
from ..recognition import FaceEvent, FacePath
from ..store import Store
from .access import AccessService
from .actuator import Actuator, AppEvent, Listener, Outcome
from .admin_serve import serve_admin
from .control import FaceSpace
from .face_way import FaceWay
from .health import Health
from .integrity import IntegrityMonitor, watched_files
from .loop import serve
from .notify import notifier_from_env, watchdog_interval
from .reader_set import ReaderSet
from .rules import face_refusals, ways_in
from .state import PURGE_EVERY_S, PURGE_RETRY_S, apply_retention, close_state, open_state
from .ways import WaysIn

__all__ = ["App", "AppEvent", "Outcome"]

STATUS_EVERY_S = 30.0  # a STATUS= line for `systemctl status`

logger = logging.getLogger(__name__)


class App:
    """facegate's main object; implements the admin handlers' :class:`~.control.Control`.

    Args: ``cfg``; ``camera``, ``pin_factory`` (``MockFactory``), ``clock``, ``master_key``
    and ``lcd_factory`` replace the configured devices (demo, bench, tests); ``listener`` gets
    every ``AppEvent`` (the timeline); ``run_checklist`` runs the compliance start-up checklist
    (``facegate run``) on ``compliance_facts`` or the device's; ``config_path`` is the file the
    integrity monitor fingerprints.
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
        self._master_key = master_key
        self.camera_door = cfg.doors[0].id  # the door the camera watches (the first one)
        self.actuator = Actuator(self.clock, self.camera_door, listener)
        self.doors = self.actuator.doors
        self.store: Store | None = None
        self.audit: AuditLog | None = None
        self.access: AccessService | None = None
        self.ways = WaysIn(ways_in(cfg, self.camera_door), self.camera_door)
        self._face_refusals: list[str] = []
        self.readers = ReaderSet()  # card readers and keypads
        self.integrity: IntegrityMonitor | None = None
        self.admin: AdminServer | None = None
        self.loop_calls = LoopDispatcher()
        self._refusals: queue.SimpleQueue[AdminAuditEvent] = queue.SimpleQueue()
        self.notifier = notifier_from_env()
        self.health = Health.from_config(
            cfg.watchdog, clock=self.clock, interval_s=watchdog_interval()
        )
        # Face: camera + face path; goes down alone, PIN, card and door inputs carry on.
        self.face_way = FaceWay(cfg, self.ways, self.actuator, self.clock, self.health, camera)
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
        """Before any hardware: the rules that forbid face processing here (none stops PIN,
        card or the door's inputs; they keep face down, see ``service/rules.py``)."""
        checklist, facts = self.run_checklist, self.compliance_facts
        self._face_refusals = face_refusals(self.cfg, self.camera_door, checklist, facts)

    def init_gate(self) -> None:
        self.actuator.open_doors(self.cfg, self.pin_factory, self.lcd_factory)

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
        """The face path for the camera's door (detector, embedder, liveness judge), unless a
        rule forbids it; a model that fails takes face down, nothing else."""
        self.face_way.block(self._face_refusals)
        self.face_way.build()

    def init_gallery(self) -> None:
        assert self.store is not None
        self.face_way.load_gallery(self.store.iter_templates)

    def init_camera(self) -> None:
        """The camera, only when the face path runs; a failure is retried, face down meanwhile."""
        if self.face_way.face is not None:
            self.face_way.open_camera()

    @property
    def face(self) -> FacePath | None:
        return self.face_way.face

    @property
    def camera(self) -> Camera | None:
        return self.face_way.camera

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
                self, self.cfg.admin, self.audit, on_refused=self._refusals.put, faces=self.face_way
            )

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
        if self.store is not None:
            self.init_gallery()
            if self.access is not None:
                self.access.reload(self.store)

    # -- the ways in -----------------------------------------------------------------------

    def handle_frame(self, frame: Frame) -> Outcome | None:
        """A camera frame: health first, then the face path; act on its attempt, if any."""
        self._health(self.health.frame(frame.image))
        if self.face is None:
            return None
        self.frames_processed += 1
        event = self.face_way.observe(frame, self.clock.monotonic())
        return None if event is None else self.handle_face(event)

    def _health(self, alarms: list[Any]) -> None:
        self.actuator.health(alarms)
        self.face_way.health(alarms)

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
        self.face_way.reader_event(door, event)  # a card or PIN pauses face; a face key wakes it
        if isinstance(event, CardRead):
            return self.actuator.act(self.access.card(door, event), method="card")
        if isinstance(event, PinEntered):
            return self.actuator.act(self.access.pin(door, event), method="pin")
        return None

    def tick(self) -> None:
        """Between frames: readers, door inputs and timers, admin calls, alarms, retention."""
        if self.store is not None and self.clock.monotonic() >= self._next_purge:
            self.purge()
        now = self.clock.monotonic()
        for event in self.readers.poll(now):
            self.handle_reader_event(event)
        if self.readers.busy_at(self.camera_door):  # a PIN being typed: no face scan there
            self.face_way.pause(self.camera_door, 0.5)
        self.actuator.poll_doors(now)
        self.actuator.retry_writes(now)  # event rows and audit records a full disk held back
        self.loop_calls.run_pending()
        if self.integrity is not None:
            for finding in self.integrity.check(now):
                self.actuator.intrusion(finding.kind, finding.what)
        while not self._refusals.empty():  # refused admin requests (from the admin thread)
            self.actuator.admin_refused(self._refusals.get_nowait())
        self._health(self.health.tick(expect_frames=self.camera is not None))
        self.face_way.retry(now)
        if self.health.should_ping():  # fed by this loop: it serves every way in
            self.notifier.watchdog()
        if now >= self._next_status:
            self.notifier.status(self.status_line())
            self._next_status = now + STATUS_EVERY_S
        if self.audit is not None:
            self.audit.maybe_sign()

    def run(self, *, frame_timeout_s: float = 0.05) -> None:
        """Serve every way in until ``stop()`` or a replayed source ends (``service/loop.py``)."""
        serve(self, self._stop, frame_timeout_s)

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
            "health_alarms": sorted(self.health.active),  # camera and loop, not anti-spoofing
            "ways_in": self.ways.status(),
        }

    def status_line(self) -> str:
        alarms = ", ".join(sorted(self.health.active | self.actuator.active_alarms)) or "none"
        return (
            f"{len(self.doors)} doors, {self.ways.summary()}, {self.frames_processed} frames, "
            f"alarms: {alarms}"
        )

    def door_ids(self) -> list[str]:
        return list(self.doors)

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> bool:
        self.actuator.remote_open(door, seconds, uid=uid)
        return not self.doors[door].lock.locked

    def role_for(self, peer: PeerCred) -> Role | None:
        return None if self.admin is None else self.admin.roles.role_for(peer)

    def face_space(self) -> FaceSpace | None:
        return None if self.face is None else FaceSpace(self.face.space, self.face.dim)

    def same_face(self, templates: Any) -> str | None:
        return self.face_way.same_face(templates)  # the gallery already loaded, not the store

    def people_changed(self, kind: str, pseudonym: str) -> None:
        if self.audit is not None:
            self.audit.append(kind, subject=pseudonym)
        self.refresh_people()

    def close(self) -> None:
        """Locks to their safe state first, then readers, camera and store. Idempotent."""
        self.notifier.stopping()
        if self.admin is not None:
            _quietly("the admin socket", self.admin.close)
            self.admin = None
        self.actuator.close_doors()
        self.readers.close()
        self.face_way.close_camera()
        self.actuator.flush_writes()  # event rows a full disk held back, if there is room now
        close_state(self.store, self.audit)  # the audit trail's stop record, then the store
        self.store = self.audit = self.actuator.store = self.actuator.audit = None

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly(what: str, close: Any) -> None:
    """Close one thing; log a failure and carry on (the others must still be closed)."""
    try:
        close()
    except Exception:
        logger.exception("could not close %s", what)
