"""The actuator: every decision becomes the door, the event row, the audit record and the timeline.

Whichever way in an attempt came by (face, card, PIN, a remote unlock), ``policy.decide()``
has already decided it; the actuator only carries the decision out, in one order: the door
(grant, deny, prompt, alarms), then the pseudonymised event row and the signed audit record,
then the timeline (``AppEvent`` to the listener). It also reports what the doors, the health
rules and the integrity monitor raise. It decides nothing.

Recording never undoes acting: an event row or audit record that cannot be written (a full
disk) is kept in memory and written later, in order (:class:`~.recording.EventRecorder`, the
audit trail's own buffer), and the failure is one alarm (``disk_full`` or
``store_write_failed``: audit if possible, timeline, ``STATUS=``) until writing works again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..admin import AdminAuditEvent
from ..audit import AuditLog
from ..clock import Clock
from ..config import FacegateConfig
from ..gate.build import build_door_runtime
from ..gate.door import ClearAlarm, RaiseAlarm
from ..gate.events import Alarm
from ..gate.feedback import challenge_feedback
from ..gate.runtime import DoorRuntime
from ..gate.speaker import speech_dir
from ..policy.decide import Decision
from ..recognition import ChallengeRequested, FaceEvent, FaceObservation
from ..store import Event, Store
from .health import HealthAlarm
from .recording import EventRecorder

__all__ = ["Actuator", "AppEvent", "Listener", "Outcome"]

logger = logging.getLogger(__name__)

LIVENESS_REFUSED_TEXT = "Face check failed - use PIN or card"
"""The door display after a liveness refusal (the challenge's result)."""
_DIGIT_RUN = re.compile(r"\d{8,}")  # what the audit refuses as a card or phone number


@dataclass(slots=True, frozen=True)
class Outcome:
    """The gate's decision on one attempt, by any way in (pseudonymised: a pseudonym at most).

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

    kind: str  # "face", "decision", "challenge", "relay_on", "relay_off", "alarm", "fault" …
    at: float
    door: str
    observation: FaceObservation | None = None
    decision: Outcome | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[AppEvent], None]


class Actuator:
    """Carries out decisions on the doors and records them.

    Args:
        clock: the daemon's clock.
        default_door: the door of events that name none (the camera's door).
        listener: called for every ``AppEvent`` (the timeline).

    ``store`` and ``audit`` are set once the App has opened them; until then nothing is
    recorded (the doors still act).
    """

    def __init__(self, clock: Clock, default_door: str, listener: Listener | None = None) -> None:
        self.clock = clock
        self.default_door = default_door
        self.listener = listener
        self.doors: dict[str, DoorRuntime] = {}
        self.recorder = EventRecorder(self.storage_alarm)
        self._released: dict[str, bool] = {}

    @property
    def store(self) -> Store | None:
        return self.recorder.store

    @store.setter
    def store(self, store: Store | None) -> None:
        self.recorder.store = store

    @property
    def audit(self) -> AuditLog | None:
        return self.recorder.audit

    @audit.setter
    def audit(self, audit: AuditLog | None) -> None:
        self.recorder.audit = audit

    # -- doors ---------------------------------------------------------------------------

    def open_doors(self, cfg: FacegateConfig, pin_factory: Any, lcd_factory: Any) -> None:
        """Open every door's devices; each lock is driven to its safe state as it is set up.
        A door's speaker plays the prompts rendered in ``<store.state_dir>/speech``."""
        speech = speech_dir(cfg.store.state_dir)
        for door in cfg.doors:
            runtime = build_door_runtime(
                door.id,
                door.gate,
                relay_pin=door.relay.pin,
                relay_active_high=door.relay.active_high,
                release_s=door.relay.pulse_s,
                pin_factory=pin_factory,
                clock=self.clock,
                lcd_factory=lcd_factory,
                speech=speech,
            )
            self.doors[runtime.door] = runtime
            self._released[runtime.door] = False
            self.door_actions(runtime.door, runtime.start())

    def poll_doors(self, now: float) -> None:
        """Door inputs (contact, exit button, tamper) and timers: each door decides itself."""
        for door_id, runtime in self.doors.items():
            self.door_actions(door_id, runtime.poll(now))

    def door_status(self) -> dict[str, dict[str, Any]]:
        """Each door: whether it is locked, and its active alarms."""
        return {
            door: {"locked": rt.lock.locked, "alarms": sorted(rt.controller.active_alarms)}
            for door, rt in self.doors.items()
        }

    def close_doors(self) -> None:
        """Every lock to its safe state; keep going past a failure so that all end up safe."""
        for runtime in self.doors.values():
            try:
                runtime.close()
            except Exception:
                logger.exception("could not close door %s", runtime.door)
        self.doors.clear()

    # -- decisions -----------------------------------------------------------------------

    def act(self, decision: Decision, *, method: str, score: float | None = None) -> Outcome:
        """Carry out a policy decision: open (or not), raise its alarms, record it."""
        door = decision.door or self.default_door
        runtime = self.doors[door]
        now = self.clock.monotonic()
        if decision.granted:
            self.door_actions(door, runtime.grant(now=now))
        elif decision.reason == "second_factor_required":
            self.door_actions(door, runtime.prompt("second_factor", now=now))
        else:
            locked_out = decision.reason in ("locked_out", "rate_limited")
            self.door_actions(door, runtime.deny(locked_out=locked_out, now=now))
            if decision.reason == "liveness":  # the challenge's result, not "not recognised"
                runtime.show_text(LIVENESS_REFUSED_TEXT, None, now=now)
        for alarm in decision.alarms:
            self.door_actions(door, runtime.report(alarm, now=now))
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
        self.record(outcome)
        self.emit(AppEvent("decision", now, door, decision=outcome))
        return outcome

    def remote_open(self, door: str, seconds: float | None, *, uid: int) -> Outcome:
        """A remote unlock from the admin socket: recorded and audited like any grant."""
        now = self.clock.monotonic()
        self.door_actions(door, self.doors[door].grant(seconds, now=now))
        outcome = Outcome(door, True, "remote", "remote_unlock", None, None, now, f"uid:{uid}")
        self.record(outcome)
        self.emit(AppEvent("decision", now, door, decision=outcome))
        return outcome

    def remote_refused(self, door: str | None, reason: str, *, uid: int) -> None:
        """A remote unlock refused before it reached a door (a compound's Home Assistant
        command): recorded and audited as a denial; the relay is not touched. ``door``:
        ``None`` for a command naming no door of this gate (audited only)."""
        now = self.clock.monotonic()
        logger.warning("door %s: remote unlock REFUSED (%s) uid:%d", door or "-", reason, uid)
        if door is None or door not in self.doors:
            self._audit("remote_refused", reason=reason, uid=uid)
            return
        outcome = Outcome(door, False, "remote", reason, None, None, now, f"uid:{uid}")
        self.record(outcome)
        self.emit(AppEvent("decision", now, door, decision=outcome))

    def record(self, outcome: Outcome) -> None:
        """The pseudonymised event row and the signed audit record of one outcome."""
        if self.store is None:
            return
        result = "granted" if outcome.granted else ("pending" if outcome.pending else "denied")
        self.recorder.record(
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
        self._audit(
            "decision",
            subject=outcome.subject,
            door=outcome.door,
            method=outcome.method,
            result=result,
            reason=outcome.reason,
            reader=outcome.reader,
            score=None if outcome.score is None else round(float(outcome.score), 3),
        )

    def _audit(self, kind: str, *, subject: str | None = None, **fields: Any) -> None:
        """An audit record; a write the log could not keep for later is a write alarm."""
        if self.audit is None:
            return
        try:
            self.audit.append(kind, subject=subject, **fields)
        except OSError as exc:  # an audit log without a buffer (the daemon's has one)
            self.recorder.failed(exc, "audit record")

    def retry_writes(self, now: float) -> None:
        """From the loop: write what a full disk held back, and clear the alarm once done."""
        self.recorder.retry(now)

    def flush_writes(self) -> None:
        """At shutdown, before the store closes: write what is held back, if there is room."""
        self.recorder.close(self.clock.monotonic())

    def write_failed(self, exc: BaseException, what: str) -> None:
        """A write outside the decisions failed (retention purge, checkpoint): one alarm."""
        self.recorder.failed(exc, what)

    @property
    def active_alarms(self) -> set[str]:
        """The write alarm, while active (for ``status`` and ``STATUS=``)."""
        return set() if self.recorder.alarm is None else {self.recorder.alarm}

    def storage_alarm(self, kind: str, cleared: bool, detail: dict[str, Any]) -> None:
        """The store or the audit trail cannot write (``disk_full``, ``store_write_failed``),
        or writes again: audit (kept for later if need be), timeline; once each way."""
        now, door = self.clock.monotonic(), self.default_door
        if cleared:
            logger.warning("storage: %s cleared (%s)", kind, detail)
        else:
            logger.error("storage: ALARM %s (%s)", kind, detail)
        counts: dict[str, Any] = {k: v for k, v in detail.items() if isinstance(v, int)}
        self._audit("alarm", door=door, alarm=kind, cleared=cleared, **counts)
        self.emit(
            AppEvent(
                "alarm_cleared" if cleared else "alarm", now, door, detail={"kind": kind, **detail}
            )
        )

    # -- the face path's frames ------------------------------------------------------------

    def face_seen(self, event: FaceEvent) -> None:
        """A frame's face for the timeline; a challenge it started goes to the door first."""
        if event.challenge is not None:
            self.challenge(event.door, event.challenge, event.at)
        self.emit(AppEvent("face", event.at, event.door, observation=event.observation))

    def challenge(self, door: str, challenge: ChallengeRequested, now: float) -> None:
        """Ask the person at the camera's door for a blink, a head turn or an open mouth: the
        buzzer/LED pattern, the configured text on the display until the deadline, and the
        spoken prompt where a speaker is configured (started, never waited for)."""
        logger.info("door %s: liveness challenge (%s)", door, challenge.kind)
        runtime = self.doors[door]
        self.door_actions(door, runtime.prompt(challenge_feedback(challenge.kind), now=now))
        runtime.show_text(challenge.text, max(1.0, challenge.deadline - now), now=now)
        runtime.say(challenge.kind, now=now)
        self._audit("liveness_challenge", door=door, challenge=challenge.kind)
        detail = {"kind": challenge.kind, "text": challenge.text, "until": challenge.deadline}
        self.emit(AppEvent("challenge", now, door, detail=detail))

    # -- alarms and faults ---------------------------------------------------------------

    def door_actions(self, door: str, actions: list[Any]) -> None:
        """Report alarms the door raised and relay changes, for the timeline and the record."""
        now = self.clock.monotonic()
        for action in actions:
            if isinstance(action, RaiseAlarm):
                self.alarm(action.alarm)
            elif isinstance(action, ClearAlarm):
                cleared = action.cleared
                logger.info("door %s: alarm %s cleared", cleared.door, cleared.kind)
                self._audit("alarm", door=cleared.door, alarm=cleared.kind, cleared=True)
                self.emit(
                    AppEvent("alarm_cleared", now, cleared.door, detail={"kind": cleared.kind})
                )
        runtime = self.doors.get(door)
        if runtime is None:
            return
        released = not runtime.lock.locked
        if released != self._released.get(door, False):
            self._released[door] = released
            kind = "relay_on" if released else "relay_off"
            self.emit(AppEvent(kind, now, door, detail={"until": runtime.lock.release_until}))

    def alarm(self, alarm: Alarm) -> None:
        """A door's alarm (latched by its controller): audit, event row, timeline."""
        logger.warning("door %s: ALARM %s", alarm.door, alarm.kind)
        self._audit("alarm", door=alarm.door, alarm=alarm.kind)
        self.recorder.record(
            Event(self.clock.time(), alarm.door, "alarm", "alarm", None, None, alarm.kind)
        )
        self.emit(AppEvent("alarm", alarm.at, alarm.door, detail={"kind": alarm.kind}))

    def health(self, alarms: list[HealthAlarm]) -> None:
        """Camera and loop health (camera lost, dark or frozen, loop stalled, clock jump)."""
        door = self.default_door
        for a in alarms:
            logger.warning("health: %s%s", a.kind, " cleared" if a.cleared else "")
            self._audit("alarm", door=door, alarm=a.kind, cleared=a.cleared, **a.detail)
            kind = "alarm_cleared" if a.cleared else "alarm"
            self.emit(AppEvent(kind, a.at, door, detail={"kind": a.kind}))

    def way(self, door: str, way: str, up: bool, reason: str) -> None:
        """A way in went down (``reason``) or came back: audit, event row, timeline."""
        now, kind = self.clock.monotonic(), f"{way}_down"
        if up:
            logger.info("door %s: %s is up again", door, way)
        else:
            logger.warning("door %s: %s down (%s); other ways in keep working", door, way, reason)
        if self.audit is not None:
            short = reason if len(reason) <= 120 else reason[:119] + "…"  # audit fields: 1 line
            # A reason can quote a notice version or a path (`bf848726645fc092`): the audit's
            # guard against card numbers refused it and the daemon stopped at start.
            short = _DIGIT_RUN.sub("…", short)
            self.audit.append("alarm", door=door, alarm=kind, cleared=up, reason=short or None)
        if self.store is not None and not up:
            row = Event(self.clock.time(), door, "alarm", "alarm", None, None, kind)
            self.store.record_event(row)
        runtime = self.doors.get(door)
        if runtime is not None and way == "face":
            runtime.hold_alarm("face_down", not up, now)  # the siren, where siren_on lists it
        detail = {"way": way, "reason": reason}
        self.emit(AppEvent("way_up" if up else "way_down", now, door, detail=detail))

    def intrusion(self, kind: str, what: str) -> None:
        """A changed file, an outside database write, a refused admin request."""
        now, door = self.clock.monotonic(), self.default_door
        logger.warning("intrusion: %s (%s)", kind, what)
        self._audit("alarm", door=door, alarm=kind, file=what)
        self.emit(AppEvent("alarm", now, door, detail={"kind": kind, "file": what}))

    def admin_refused(self, refused: AdminAuditEvent) -> None:
        """A request the admin socket refused (no role): an intrusion alarm."""
        self.intrusion("admin_unauthorized", f"{refused.command or '-'} by uid {refused.uid}")

    def fault(self, door: str, reader: str, reason: str, at: float) -> None:
        """A reader's fault (a bad frame, a lost device): logged and shown, never a decision."""
        logger.warning("reader %s: %s", reader, reason)
        self.emit(AppEvent("fault", at, door, detail={"reader": reader, "reason": reason}))

    def emit(self, event: AppEvent) -> None:
        if self.listener is not None:
            self.listener(event)
