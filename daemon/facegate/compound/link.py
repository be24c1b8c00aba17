"""The gate's side of the compound: changes in, acknowledgements and events out.

The link never stands in a way in. The daemon's loop hands it events through ``offer()``,
which only puts them on an in-memory queue; the link's own thread writes them to the outbox
(``spool.py``) and sends them when the broker is there, oldest first, each removed only once
the office has said it keeps it (``received``, signed by the office); what is not confirmed
within ``RESEND_S`` is sent again (the office keeps each event once). Changes from the office
arrive on paho's network thread and are applied on the daemon's loop thread (``Gate.apply``),
one at a time and in order (``apply.py``). A broker that is away, slow, or refuses the gate
changes nothing at the doors: the link retries in the background (1 s, growing to 30 s) and
the events wait on disk.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from nacl.signing import VerifyKey

from .apply import Applied
from .homeassistant import ALARM_KINDS, DoorState, discovery, state_messages
from .messages import BadMessage, canonical, topic, verify
from .mqtt import Endpoint, make_client
from .spool import Outbox

__all__ = ["Gate", "GateLink", "LinkSettings"]

logger = logging.getLogger(__name__)

BATCH = 50
WINDOW = 500  # events sent and not yet confirmed by the office, at most
ACK_TIMEOUT_S = 5.0
RESEND_S = 5.0
UNLOCK = b"UNLOCK"  # Home Assistant's payload_unlock, exactly


class Gate(Protocol):
    """What the link asks of the gate (``service/compound_link.py`` gives it the daemon)."""

    def apply(self, payload: bytes) -> Applied:
        """Apply one change message (on the loop thread); raises ``BadMessage`` on a bad one."""
        ...

    def hello(self) -> bytes:
        """The signed 'applied up to N' message."""
        ...

    def unlock(self, door: str) -> None:
        """A remote unlock from Home Assistant (recorded and audited)."""
        ...

    def refuse_unlock(self, door: str | None, reason: str) -> None:
        """An unlock command refused (``door``: ``None`` when it names no door here);
        recorded and audited, the relay untouched."""
        ...


@dataclass(slots=True, frozen=True)
class LinkSettings:
    compound: str
    endpoint: Endpoint
    outbox: Path
    outbox_limit: int = 10_000
    office: VerifyKey | None = None  # checks the office's "received" (None: tests only)
    doors: tuple[str, ...] = ()
    home_assistant: bool = False
    remote_unlock: bool = False


class RefusalBudget:
    """At most ``limit`` refused remote unlocks recorded per ``window_s``: a broken or hostile
    Home Assistant sending refused commands in a loop must not fill the gate's disk with audit
    records and events. The ones over the budget are counted and logged once per window (the
    relay stays as it is either way)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._recorded: list[float] = []
        self.suppressed = 0
        self._told = float("-inf")

    def allow(self, now: float) -> bool:
        self._recorded = [t for t in self._recorded if now - t < self.window_s]
        if len(self._recorded) < self.limit:
            self._recorded.append(now)
            return True
        self.suppressed += 1
        if now - self._told >= self.window_s:
            self._told = now
            logger.warning(
                "compound: %d refused remote unlock(s) not recorded (over %d a minute)",
                self.suppressed,
                self.limit,
            )
        return False


class GateLink:
    """One gate's connection to the compound (start, offer events, stop)."""

    def __init__(self, settings: LinkSettings, gate: Gate) -> None:
        self.settings = settings
        self.gate = gate
        self.device = settings.endpoint.device
        self.connected = threading.Event()
        self.sent = 0  # events the broker acknowledged
        self._sent_through = 0  # the outbox number sent last (since the last confirmation)
        self._confirmed = 0  # the office keeps everything up to here
        self._progress = 0.0
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._hello_due = threading.Event()
        self._ha_due = threading.Event()
        self._doors = {door: DoorState() for door in settings.doors}
        self.refusals = RefusalBudget()
        self._ha_dirty: set[str] = set()
        self._thread: threading.Thread | None = None
        self.outbox: Outbox | None = None
        self.client = make_client(settings.endpoint)
        if settings.home_assistant:
            self.client.will_set(self._t("ha") + "/availability", "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def _t(self, kind: str) -> str:
        return f"facegate/{self.settings.compound}/{self.device}/{kind}"

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; returns at once, whether or not the broker is there."""
        self.outbox = Outbox(self.settings.outbox, limit=self.settings.outbox_limit)
        endpoint = self.settings.endpoint
        self.client.connect_async(endpoint.host, endpoint.port, keepalive=endpoint.keepalive_s)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._work, name="compound-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.connected.clear()  # a stop, not a lost broker
        self.client.disconnect()
        self.client.loop_stop()
        if self.outbox is not None:
            self.outbox.close()

    def offer(self, event: dict[str, Any]) -> None:
        """An event for the office (any thread; never blocks, never raises)."""
        self._queue.put(event)

    def pending(self) -> int:
        """Events the office has not confirmed yet (queued or in the outbox)."""
        return self._queue.qsize() + (self.outbox.count() if self.outbox is not None else 0)

    # -- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("compound broker refused %s: %s", self.device, reason)
            return
        client.subscribe(topic(self.settings.compound, self.device, "changes"), qos=1)
        client.subscribe(topic(self.settings.compound, self.device, "received"), qos=1)
        if self.settings.home_assistant:
            # QoS 0: the broker keeps no unlock for a gate that is away, so a command is
            # never carried out late, when the gate comes back; refused ones are audited.
            client.subscribe(self._t("ha") + "/+/unlock", qos=0)
        logger.info("compound: %s connected to the broker", self.device)
        self.connected.set()
        self._hello_due.set()
        self._ha_due.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._sent_through = 0  # send again whatever the office has not confirmed
        if self.connected.is_set():
            logger.warning(
                "compound: %s lost the broker (%s); events wait on disk", self.device, reason
            )
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic.endswith("/received"):
                self._received(bytes(message.payload))
                return
            if message.topic.endswith("/unlock"):
                self._unlock(message)
                return
            applied = self.gate.apply(bytes(message.payload))
        except BadMessage as exc:
            logger.warning("compound: a change was refused unread: %s", exc)
            return
        except Exception:  # the loop was busy, a disk error: the office sends it again
            logger.exception("compound: a change could not be applied now")
            self._hello_due.set()
            return
        if applied.answer is None:
            self._hello_due.set()  # a gap: say where we stand
            return
        client.publish(topic(self.settings.compound, self.device, "acks"), applied.answer, qos=1)

    def _unlock(self, message: mqtt.MQTTMessage) -> None:
        """Home Assistant's command: carried out only when everything about it is right; any
        doubt is a refusal, audited, and the relay stays as it is."""
        door = message.topic.split("/")[-2]
        known = door if door in self._doors else None
        if known is None:
            reason = "unknown_door"
        elif not self.settings.remote_unlock:
            reason = "remote_unlock_off"  # this gate gave Home Assistant no right to open
        elif message.retain:
            reason = "retained_command"  # a stored command would open at every reconnect
        elif message.payload != UNLOCK:
            reason = "malformed_command"
        else:
            self.gate.unlock(door)
            return
        if self.refusals.allow(time.monotonic()):
            logger.warning("compound: a remote unlock was refused (%s)", reason)
            self.gate.refuse_unlock(known, reason)

    def _received(self, payload: bytes) -> None:
        if self.settings.office is not None:
            body = verify(self.settings.office, payload)
        else:
            body = json.loads(payload)
        if self.outbox is None or body.get("boot") != self.outbox.boot:
            return
        self._confirmed = max(self._confirmed, int(body["seq"]))
        self._progress = time.monotonic()

    # -- the link's thread -------------------------------------------------------------------

    def _work(self) -> None:
        last_hello = 0.0
        while not self._stop.is_set():
            self._take(timeout=0.2)
            if self._confirmed and self.outbox is not None:
                self.outbox.remove_through(self._confirmed)
            if not self.connected.is_set():
                continue
            try:
                now = time.monotonic()
                if self._hello_due.is_set() and now - last_hello >= 1.0:
                    self._hello_due.clear()
                    last_hello = now
                    self.client.publish(
                        topic(self.settings.compound, self.device, "acks"),
                        self.gate.hello(),
                        qos=1,
                    )
                self._home_assistant()
                self._deliver()
            except Exception:  # never let the link's thread die: retry next turn
                logger.exception("compound: sending failed; retrying")
                self._stop.wait(1.0)

    def _take(self, timeout: float) -> None:
        events: list[dict[str, Any]] = []
        try:
            events.append(self._queue.get(timeout=timeout))
            while len(events) < 1000:
                events.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        for event in events:
            self._track(event)
        kept = [e for e in events if e.get("kind") in ("decision", "alarm", "alarm_cleared")]
        if kept and self.outbox is not None:
            self.outbox.put(kept)

    def _deliver(self) -> None:
        assert self.outbox is not None
        confirmed = self._confirmed
        now = time.monotonic()
        if self._sent_through > confirmed and now - self._progress > RESEND_S:
            self._sent_through = 0  # not confirmed in time: the office may have missed them
            self._progress = now
        if self._sent_through - confirmed >= WINDOW:
            return
        batch = self.outbox.peek(BATCH, after=max(self._sent_through, confirmed))
        if not batch:
            return
        if self._sent_through <= confirmed:
            self._progress = now
        infos = []
        floor = self.outbox.peek(1)[0][0]  # older ones were confirmed or dropped (the bound)
        for seq, event in batch:
            body = {
                "gate": self.device,
                "boot": self.outbox.boot,
                "seq": seq,
                "floor": floor,
                "dropped": self.outbox.dropped,
                **event,
            }
            infos.append((seq, self.client.publish(self._t("events"), canonical(body), qos=1)))
        delivered = 0
        for seq, info in infos:
            try:
                info.wait_for_publish(ACK_TIMEOUT_S)
            except (RuntimeError, ValueError):
                break
            if not info.is_published():
                break
            delivered = seq
            self.sent += 1
        if delivered:
            self._sent_through = delivered

    # -- Home Assistant ---------------------------------------------------------------------

    def _track(self, event: dict[str, Any]) -> None:
        door = event.get("door")
        state = self._doors.get(door) if isinstance(door, str) else None
        if state is None:
            return
        kind = event.get("kind")
        if kind == "decision":
            state.counts["granted" if event.get("granted") else "denied"] += 1
        elif kind in ("relay_on", "relay_off"):
            state.locked = kind == "relay_off"
        elif kind in ("alarm", "alarm_cleared") and event.get("alarm") in ALARM_KINDS:
            (state.alarms.add if kind == "alarm" else state.alarms.discard)(str(event["alarm"]))
        else:
            return
        self._ha_dirty.add(str(door))

    def _home_assistant(self) -> None:
        if not self.settings.home_assistant:
            return
        messages = []
        if self._ha_due.is_set():
            self._ha_due.clear()
            messages += discovery(
                self.settings.compound,
                self.device,
                list(self._doors),
                remote_unlock=self.settings.remote_unlock,
            )
            messages.append((self._t("ha") + "/availability", "online", True))
            self._ha_dirty |= set(self._doors)
        for door in sorted(self._ha_dirty):
            messages += state_messages(self.settings.compound, self.device, door, self._doors[door])
        self._ha_dirty.clear()
        for name, payload, retain in messages:
            self.client.publish(name, payload, qos=1, retain=retain)
