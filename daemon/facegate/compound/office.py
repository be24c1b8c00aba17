"""The office node: sends enrolments and withdrawals to the gates, keeps their answers.

A person goes only to the gates their consent record names; each gate gets its own copy of
the bundle, sealed to that gate's X25519 key, numbered in that gate's sequence and signed by
the office. Every change is kept until the gate answers; a gate's persistent session at the
broker holds what it missed while away, and a gate that stays quiet with changes unanswered
(a broker that lost its queue) gets them again, in order.
Answers are checked against the gate's registered Ed25519 key and kept, deletion receipts
included: "deleted at 3 of 3 gates" is counted from signed receipts, not from what was sent.
A person sent again whose consent names fewer gates than before is withdrawn, in the same
step, from the gates it no longer names: each of those answers with its deletion receipt
("deleted at 1 of 1 dropped gates").
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from nacl.public import PublicKey
from nacl.signing import VerifyKey

from .messages import PSEUDONYM, Ack, BadMessage, Change, seal_bundle, sign, topic, verify
from .mqtt import Endpoint, make_client
from .pki import CompoundPkiError
from .registry import Registry
from .setup import OFFICE, office_settings, office_signing_key

__all__ = ["DeletionStatus", "Office", "Sent", "deletion_status", "drop_status", "person_bundle"]

logger = logging.getLogger(__name__)

QUIET_S = 5.0  # a gate with open changes and no answer this long gets them again
PURGE_EVERY_S = 3600.0  # how often the office deletes gate events past their period
MAX_EVENT_DAYS_DEFAULT = 90  # retention.event_days's default: events kept as at the gates
RESEND_BATCH = 500


def person_bundle(
    templates: np.ndarray,
    space: str,
    *,
    gates: list[str],
    method: str,
    notice_version: str,
    taken_by: str,
    minor: bool = False,
    guardian: dict[str, str] | None = None,
    expires_at: float | None = None,
) -> dict[str, Any]:
    """What a gate needs of a person: templates and the consent record naming the gates."""
    rows = np.atleast_2d(np.asarray(templates, dtype="<f4"))
    return {
        "space": space,
        "dim": int(rows.shape[1]),
        "templates": [base64.b64encode(r.tobytes()).decode("ascii") for r in rows],
        "consent": {
            "method": method,
            "notice_version": notice_version,
            "taken_by": taken_by,
            "scope": "face access at compound gates: " + ", ".join(gates),
            "gates": list(gates),
        },
        "minor": minor,
        "guardian": guardian,
        "expires_at": expires_at,
    }


@dataclass(slots=True, frozen=True)
class DeletionStatus:
    """Which of the person's gates returned a signed receipt."""

    gates: tuple[str, ...]
    deleted: tuple[str, ...]
    receipts: dict[str, dict[str, Any]]
    what: str = "gates"  # "dropped gates": those the person's consent no longer names

    def line(self) -> str:
        return f"deleted at {len(self.deleted)} of {len(self.gates)} {self.what}"


@dataclass(slots=True, frozen=True)
class Sent:
    """``{gate: seq}`` of a person sent to the gates their consent names, and of the
    withdrawals sent with it to the gates that held them and are no longer named."""

    enrolled: dict[str, int]
    dropped: dict[str, int]


def _receipt(signed: bytes) -> dict[str, Any] | None:
    receipt = json.loads(signed)["body"].get("receipt")
    return receipt if isinstance(receipt, dict) else None


def deletion_status(registry: Registry, pseudonym: str, *, delete: bool = False) -> DeletionStatus:
    """The signed receipts the person's gates returned (answers were verified on arrival)."""
    gates = tuple(registry.holders(pseudonym))
    answers = registry.answers(pseudonym, "delete" if delete else "withdraw")
    receipts: dict[str, dict[str, Any]] = {}
    for gate, (status, signed) in answers.items():
        receipt = _receipt(signed) if status in ("applied", "duplicate") else None
        if receipt is not None:
            receipts[gate] = receipt
    return DeletionStatus(gates, tuple(g for g in gates if g in receipts), receipts)


def drop_status(registry: Registry, pseudonym: str) -> DeletionStatus:
    """The gates the person's consent no longer names (the last change each was sent about
    them is the withdrawal that dropped it) and which returned a signed receipt."""
    dropped = {g: seq for g, (seq, _k, drop) in registry.latest(pseudonym).items() if drop}
    receipts: dict[str, dict[str, Any]] = {}
    for gate, seq in dropped.items():
        answer = registry.answer(gate, seq)
        receipt = None
        if answer is not None and answer[0] in ("applied", "duplicate"):
            receipt = _receipt(answer[1])
        if receipt is not None:
            receipts[gate] = receipt
    gates = tuple(sorted(dropped))
    deleted = tuple(g for g in gates if g in receipts)
    return DeletionStatus(gates, deleted, receipts, "dropped gates")


class Office:
    """The office's connection to the compound (``start``, ``enrol``, ``withdraw``, ``stop``)."""

    def __init__(
        self,
        folder: Path,
        *,
        host: str | None = None,
        port: int | None = None,
        one_off: bool = False,
        quiet_s: float = QUIET_S,
        event_days: int = MAX_EVENT_DAYS_DEFAULT,
    ) -> None:
        settings = office_settings(folder)
        self.folder = folder
        self.compound: str = settings["compound"]
        self.registry = Registry(folder / "registry.db")
        self._signing = office_signing_key(folder)
        self.connected = threading.Event()
        self.answered = threading.Condition()
        endpoint = Endpoint(
            OFFICE,
            host or settings["address"],
            port or int(settings["port"]),
            folder / "ca.crt",
            folder / "office.crt",
            folder / "office.key",
            client_id="office-cli" if one_off else None,
            clean=one_off,
        )
        self.client = make_client(endpoint)
        self._endpoint = endpoint
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        self.client.on_message = self._on_message
        self._kept: dict[tuple[str, str], int] = {}  # (gate, outbox) → kept up to here
        self._to_confirm: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        self.quiet_s = quiet_s
        self.event_days = event_days
        self._activity: dict[str, float] = {}  # gate → when it last answered or was sent to
        self._confirmer = threading.Thread(target=self._confirm, name="office-confirm", daemon=True)

    def start(self, wait_s: float = 10.0) -> bool:
        """Connect (in the background); whether connected within ``wait_s``."""
        self.client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self.client.loop_start()
        self._confirmer.start()
        return self.connected.wait(wait_s)

    def stop(self) -> None:
        self._stopping.set()
        if self._confirmer.is_alive():
            self._confirmer.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.registry.close()

    # -- sending -----------------------------------------------------------------------------

    def enrol(self, pseudonym: str, bundle: dict[str, Any]) -> dict[str, int]:
        """Send a person to every gate their consent names; ``{gate: seq}`` (see ``send``)."""
        return self.send(pseudonym, bundle).enrolled

    def send(self, pseudonym: str, bundle: dict[str, Any]) -> Sent:
        """Send a person to every gate their consent names, and withdraw them from every gate
        that was sent them last and that the consent no longer names (a narrowed scope): the
        same withdrawal as ``withdraw``, answered with a deletion receipt, in each gate's
        order. All of it is kept in one transaction before anything is published."""
        if not PSEUDONYM.match(pseudonym):
            raise BadMessage(f"malformed pseudonym {pseudonym!r}")
        known = self.registry.gates()
        gates = list(bundle["consent"]["gates"])
        unknown = sorted(set(gates) - set(known))
        if unknown:
            raise CompoundPkiError(f"the consent names gates not in this compound: {unknown}")
        now = time.time()
        enrolled: list[tuple[str, int, bytes]] = []
        dropped: list[tuple[str, int, bytes]] = []
        with self.registry.batch():  # every change kept before any is published
            for gate, (_seq, kind, _drop) in self.registry.latest(pseudonym).items():
                if kind == "enrol" and gate not in gates:
                    dropped.append(self._record(gate, "withdraw", pseudonym, None, now, drop=True))
            for gate in gates:
                sealed = seal_bundle(PublicKey(base64.b64decode(known[gate][0])), bundle)
                enrolled.append(self._record(gate, "enrol", pseudonym, sealed, now))
        if dropped:
            logger.info("office: %s withdrawn from %d dropped gates", pseudonym, len(dropped))
        return Sent(self._publish(enrolled), self._publish(dropped))

    def withdraw(self, pseudonym: str, *, delete: bool = False) -> dict[str, int]:
        """Withdraw (or delete) a person at every gate that was sent them; ``{gate: seq}``."""
        kind = "delete" if delete else "withdraw"
        now = time.time()
        with self.registry.batch():
            queued = [
                self._record(g, kind, pseudonym, None, now)
                for g in self.registry.holders(pseudonym)
            ]
        return self._publish(queued)

    def _record(
        self,
        gate: str,
        kind: Any,
        pseudonym: str,
        sealed: str | None,
        now: float,
        *,
        drop: bool = False,
    ) -> tuple[str, int, bytes]:
        def make(seq: int) -> bytes:
            return sign(self._signing, Change(gate, seq, kind, pseudonym, sealed, now).body())

        seq, payload = self.registry.add_change(gate, kind, pseudonym, make, now, drop=drop)
        return gate, seq, payload

    def _publish(self, queued: list[tuple[str, int, bytes]]) -> dict[str, int]:
        now = time.monotonic()
        for gate, _seq, payload in queued:
            self.client.publish(topic(self.compound, gate, "changes"), payload, qos=1)
            self._activity[gate] = now
        return {gate: seq for gate, seq, _ in queued}

    # -- answers -----------------------------------------------------------------------------

    def deletion_status(self, pseudonym: str, *, delete: bool = False) -> DeletionStatus:
        return deletion_status(self.registry, pseudonym, delete=delete)

    def drop_status(self, pseudonym: str) -> DeletionStatus:
        return drop_status(self.registry, pseudonym)

    def wait(self, done: Any, timeout_s: float) -> bool:
        """Wait until ``done()`` holds (checked after every answer)."""
        deadline = time.monotonic() + timeout_s
        with self.answered:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.answered.wait(min(left, 0.5))
        return True

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("compound broker refused the office: %s", reason)
            return
        client.subscribe(f"facegate/{self.compound}/+/acks", qos=1)
        client.subscribe(f"facegate/{self.compound}/+/events", qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        if len(parts) != 4:
            return
        gate, kind = parts[2], parts[3]
        try:
            if kind == "acks":
                self._answer(client, gate, bytes(message.payload))
            elif kind == "events":
                body = json.loads(message.payload)
                if not isinstance(body, dict) or body.get("gate") != gate:
                    raise BadMessage("an event that does not name its gate")
                self._event(gate, body)
        except (BadMessage, ValueError, KeyError) as exc:
            logger.warning("compound: a message from %s was refused: %s", gate, exc)
        with self.answered:
            self.answered.notify_all()

    def _event(self, gate: str, body: dict[str, Any]) -> None:
        """Keep an event once; advance what this gate's outbox may forget."""
        self.registry.add_event(body, time.time())
        key = (gate, str(body["boot"]))
        kept = max(self._kept.get(key, 0), int(body.get("floor", 1)) - 1)
        while self.registry.has_event(gate, key[1], kept + 1):
            kept += 1
        self._kept[key] = kept
        self._to_confirm.add(key)

    def _confirm(self) -> None:
        """Tell gates which events are kept, a few times a second (one message per gate);
        send again what a gate left unanswered while quiet for ``QUIET_S``."""
        last_check = 0.0
        next_purge = 0.0
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            if now >= next_purge:  # the gates' events are kept as long as at the gates
                next_purge = now + PURGE_EVERY_S
                gone = self.registry.purge_events(time.time() - self.event_days * 86_400)
                if gone:
                    logger.info(
                        "office: %d gate events past %d days deleted", gone, self.event_days
                    )
            if not self.connected.is_set():
                continue
            if now - last_check >= 1.0:
                last_check = now
                self._resend_stalled(now)
            for key in list(self._to_confirm):
                self._to_confirm.discard(key)
                gate, boot = key
                body = {"type": "received", "gate": gate, "boot": boot, "seq": self._kept[key]}
                payload = sign(self._signing, body)
                self.client.publish(topic(self.compound, gate, "received"), payload, qos=1)

    def _resend_stalled(self, now: float) -> None:
        """A gate with unanswered changes and no answer for ``QUIET_S``: the broker may have
        lost them (a restart without persistence); send them again, oldest first."""
        for gate, oldest in self.registry.open_changes().items():
            if now - self._activity.get(gate, 0.0) < self.quiet_s:
                continue
            self._activity[gate] = now
            for payload in self.registry.changes_after(gate, oldest - 1)[:RESEND_BATCH]:
                self.client.publish(topic(self.compound, gate, "changes"), payload, qos=1)

    def _answer(self, client: mqtt.Client, gate: str, payload: bytes) -> None:
        keys = self.registry.gates().get(gate)
        if keys is None:
            raise BadMessage(f"an answer from unknown gate {gate!r}")
        ack = Ack.parse(verify(VerifyKey(base64.b64decode(keys[1])), payload))
        if ack.gate != gate:
            raise BadMessage("an answer that names another gate")
        self._activity[gate] = time.monotonic()
        if ack.status == "hello":  # what it missed comes from its session, else is re-sent
            self.registry.set_seen(gate, ack.seq)
            return
        self.registry.record_answer(
            gate, ack.seq, ack.status, ack.kind, ack.pseudonym, payload, time.time()
        )
