"""The compound link beside a running App: started by the supervisor, never in a way in.

With a ``compound:`` section the supervisor starts :class:`CompoundHook` after the App: the
hook tees the App's timeline into the link (a queue put on the loop thread, nothing more),
and runs the office's changes on the loop thread through the App's ``loop_calls`` (where the
store's one connection, the gallery and the policy live), then refreshes people as an admin
enrolment would. Anything that goes wrong here is logged and leaves the gate as it was: no
compound folder, a missing grant, a broker that refuses — PIN, card, face and the doors'
inputs do not notice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..compound.apply import Applied
from ..compound.gate import StoreGate, office_key
from ..compound.link import GateLink, LinkSettings
from ..compound.mqtt import Endpoint
from .actuator import AppEvent

if TYPE_CHECKING:
    from .app import App

__all__ = ["CompoundHook", "event_for_office"]

logger = logging.getLogger(__name__)

HOME_ASSISTANT_UID = -1  # how a Home Assistant unlock is recorded (uid:-1)
FORWARDED = ("decision", "alarm", "alarm_cleared", "relay_on", "relay_off")


def event_for_office(event: AppEvent, wall: float) -> dict[str, Any] | None:
    """An ``AppEvent`` as the office gets it (anonymized as the event rows: a pseudonym at
    most); ``None`` for what stays on the gate (faces, challenges)."""
    if event.kind not in FORWARDED:
        return None
    out: dict[str, Any] = {"kind": event.kind, "door": event.door, "at": wall}
    if event.decision is not None:
        d = event.decision
        out |= {
            "granted": d.granted,
            "method": d.method,
            "reason": d.reason,
            "subject": d.subject,
            "score": None if d.score is None else round(float(d.score), 4),
        }
    if event.kind in ("alarm", "alarm_cleared"):
        out["alarm"] = str(event.detail.get("kind", ""))
    return out


class _OnLoop:
    """The link's :class:`~facegate.compound.link.Gate`: every call runs on the App's loop."""

    def __init__(self, app: App, gate: StoreGate) -> None:
        self.app, self.gate = app, gate

    def apply(self, payload: bytes) -> Applied:
        def run() -> Applied:
            space = self.app.face_space()
            self.gate.face_space = None if space is None else (space.space, space.dim)
            return self.gate.apply(payload)

        result: Applied = self.app.loop_calls.call(run)
        return result

    def hello(self) -> bytes:
        answer: bytes = self.app.loop_calls.call(self.gate.hello)
        return answer

    def unlock(self, door: str) -> None:
        self.app.loop_calls.call(lambda: self.app.remote_open(door, None, uid=HOME_ASSISTANT_UID))

    def refuse_unlock(self, door: str | None, reason: str) -> None:
        actuator = self.app.actuator
        self.app.loop_calls.call(
            lambda: actuator.remote_refused(door, reason, uid=HOME_ASSISTANT_UID)
        )


class CompoundHook:
    """Starts and stops the link for one App (the supervisor holds one per App)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.link: GateLink | None = None

    def start(self) -> None:
        cfg, app = self.app.cfg.compound, self.app
        if cfg is None or app.store is None:
            return
        folder = cfg.dir or app.cfg.store.state_dir / "compound"
        try:
            gate = StoreGate(
                app.store,
                cfg.device,
                office_key(folder),
                on_change=app.people_changed,
                on_unlock=None,
                template_days=app.cfg.retention.template_days,
            )
            endpoint = Endpoint(
                cfg.device,
                cfg.broker,
                cfg.port,
                folder / "ca.crt",
                folder / "device.crt",
                folder / "device.key",
            )
            for path in (endpoint.ca, endpoint.cert, endpoint.key):
                if not path.exists():
                    raise FileNotFoundError(f"{path} is missing (`facegate compound install`)")
            settings = LinkSettings(
                cfg.name,
                endpoint,
                folder / "outbox.db",
                outbox_limit=cfg.outbox_limit,
                office=gate.office,
                doors=tuple(app.door_ids()),
                home_assistant=cfg.home_assistant,
                remote_unlock=cfg.home_assistant and cfg.remote_unlock,
            )
            link = GateLink(settings, _OnLoop(app, gate))
            link.start()
        except Exception as exc:  # the gate carries on alone
            logger.error("compound link not started (%s); the gate works alone", exc)
            return
        self.link = link
        previous = app.actuator.listener

        def tee(event: AppEvent) -> None:
            if previous is not None:
                previous(event)
            try:
                forwarded = event_for_office(event, app.clock.time())
                if forwarded is not None:
                    link.offer(forwarded)
            except Exception:  # the timeline and the doors never wait on the compound
                logger.exception("compound: an event was not queued for the office")

        app.actuator.listener = tee
        logger.info("compound link started: %s in %s via %s", cfg.device, cfg.name, cfg.broker)

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None
