"""On the gate: apply the office's changes in order, exactly once, each in one transaction.

A change is applied only when its sequence number is the next one (``meta.compound_seq`` + 1);
the new number is written in the same transaction as the enrolment, withdrawal or deletion
(``store.lifecycle``'s ``then=``), so a crash leaves a change either applied and counted or
neither. A number already applied is a re-delivery: answered again, never applied twice (a
withdrawal's answer carries the receipt kept from the first time). A number further ahead is
a gap: not applied, and the gate says where it stands so the office sends what is missing.

An enrolment of a person the gate already holds (the office sent them again: new photos,
corrected templates) replaces their templates and consent record in one transaction
(``store.face_update``), in the same order as every other change; one whose consent was
withdrawn here is refused (a new enrolment is a new pseudonym).

The answer is signed with the gate's compound key (Ed25519, registered at ``compound join``);
a deletion receipt inside it is also signed with the device's audit key, as ``facegate person
withdraw`` prints it, so it verifies with ``facegate receipt verify`` too.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import numpy as np
from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from ..config.retention import MAX_TEMPLATE_DAYS
from ..errors import StoreError
from ..store import Store
from ..store.face_update import replace_face
from ..store.lifecycle import (
    ConsentInput,
    GuardianConsent,
    Receipt,
    delete_person,
    enroll_person,
    withdraw,
)
from ..store.retention import DAY_S
from .messages import Ack, BadMessage, Change, open_bundle, sign, verify

__all__ = ["Applied", "GateKeys", "apply_change", "hello", "last_seq"]

logger = logging.getLogger(__name__)

SEQ_KEY = "compound_seq"
ACK_KEY = "compound_ack_{}"  # the signed answer to a withdrawal or deletion, for re-delivery


@dataclass(slots=True, frozen=True)
class GateKeys:
    """The gate's compound keys, kept wrapped by its master key in the store's device keys."""

    box: PrivateKey  # X25519: opens the bundles sealed to this gate
    signing: SigningKey  # Ed25519: signs acknowledgements and receipts

    @classmethod
    def from_store(cls, store: Store) -> GateKeys:
        return cls(
            PrivateKey(store.device_key("compound-box")),
            SigningKey(store.device_key("compound-sign")),
        )


@dataclass(slots=True, frozen=True)
class Applied:
    """What one incoming change did: the signed answer to publish (``None`` on a gap) and
    whether the gate's people changed (the gallery and policy reload)."""

    answer: bytes | None
    changed: bool
    kind: str
    pseudonym: str
    last_seq: int


def last_seq(store: Store) -> int:
    row = store.query("SELECT value FROM meta WHERE key = ?", (SEQ_KEY,)).fetchone()
    return 0 if row is None else int(row[0])


def _put(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def hello(store: Store, keys: GateKeys, gate: str) -> bytes:
    """The signed 'I have applied everything up to N' a gate sends when it (re)connects."""
    return sign(keys.signing, Ack(gate, last_seq(store), "hello", at=store.clock.time()).body())


def apply_change(
    store: Store,
    keys: GateKeys,
    gate: str,
    office: VerifyKey,
    payload: bytes,
    *,
    face_space: tuple[str, int] | None = None,
    template_days: int = MAX_TEMPLATE_DAYS,
) -> Applied:
    """Verify, order and apply one change message from the office.

    ``face_space``: the running face path's ``(space, dim)``; templates of another space are
    refused (they could never match here). ``template_days``: this gate's own
    ``retention.template_days``; a face the office sends expires at the earlier of the office's
    date and that many days from now, so no gate keeps a face longer than its sign says.

    Raises:
        BadMessage: not signed by the office, malformed, or addressed to another gate.
    """
    change = Change.parse(verify(office, payload))
    if change.gate != gate:
        raise BadMessage(f"a change for gate {change.gate!r} arrived at {gate!r}")
    last = last_seq(store)
    if change.seq <= last:
        kept = store.query(
            "SELECT value FROM meta WHERE key = ?", (ACK_KEY.format(change.seq),)
        ).fetchone()
        if kept is not None:
            return Applied(kept[0].encode("utf-8"), False, change.kind, change.pseudonym, last)
        again = Ack(gate, change.seq, "duplicate", change.kind, change.pseudonym, at=_now(store))
        return Applied(sign(keys.signing, again.body()), False, change.kind, change.pseudonym, last)
    if change.seq > last + 1:
        logger.warning("compound change %d arrived after %d: waiting for the gap", change.seq, last)
        return Applied(None, False, change.kind, change.pseudonym, last)

    def bump(db: sqlite3.Connection) -> None:
        _put(db, SEQ_KEY, str(change.seq))

    try:
        ack = _apply(store, keys, gate, change, bump, face_space, template_days)
    except (StoreError, BadMessage) as exc:
        with store.transaction() as db:  # refused for good: counted, never retried
            bump(db)
            store.record(db, "compound_refused", change.pseudonym, None, {"seq": change.seq})
        logger.warning("compound change %d refused: %s", change.seq, exc)
        ack = Ack(gate, change.seq, "refused", change.kind, change.pseudonym, str(exc))
    answer = sign(keys.signing, _stamped(ack, store).body())
    if change.kind != "enrol" and ack.status == "applied":
        with store.transaction() as db:
            _put(db, ACK_KEY.format(change.seq), answer.decode("utf-8"))
    changed = ack.status == "applied"
    return Applied(answer, changed, change.kind, change.pseudonym, change.seq)


def _now(store: Store) -> float:
    return store.clock.time()


def _stamped(ack: Ack, store: Store) -> Ack:
    return Ack(
        ack.gate, ack.seq, ack.status, ack.kind, ack.pseudonym, ack.reason, ack.receipt, _now(store)
    )


def _apply(
    store: Store,
    keys: GateKeys,
    gate: str,
    change: Change,
    bump: Any,
    face_space: tuple[str, int] | None,
    template_days: int,
) -> Ack:
    held = store.query("SELECT 1 FROM people WHERE pseudonym = ?", (change.pseudonym,)).fetchone()
    if change.kind == "enrol":
        assert change.sealed is not None
        bundle = open_bundle(keys.box, change.sealed)
        args = _enrolment(bundle, gate, face_space)
        cap = store.clock.time() + template_days * DAY_S
        sent = args["expires_at"]
        args["expires_at"] = cap if sent is None else min(float(sent), cap)
        if held is not None:  # the same person again: new or corrected templates replace
            deleted, _stored = replace_face(
                store,
                change.pseudonym,
                consent=args["consent"],
                templates=args["templates"],
                space=args["space"],
                expires_at=args["expires_at"],
                minor=args["minor"],
                guardian=args["guardian"],
                then=bump,
            )
            reason = f"replaced {deleted} templates"
            return Ack(gate, change.seq, "applied", change.kind, change.pseudonym, reason)
        enroll_person(store, pseudonym=change.pseudonym, then=bump, **args)
        return Ack(gate, change.seq, "applied", change.kind, change.pseudonym)
    receipt: Receipt | None
    if held is None:  # never held here (or already gone): nothing to delete, say so
        with store.transaction() as db:
            bump(db)
        receipt = Receipt(
            "withdrawal" if change.kind == "withdraw" else "deletion",
            change.pseudonym,
            (),
            {"face templates": 0},
            _now(store),
            ("not held at this gate",),
        )
    elif change.kind == "withdraw":
        receipt = withdraw(store, change.pseudonym, then=bump)
    else:
        receipt = delete_person(store, change.pseudonym, then=bump)
        assert receipt is not None
    signature, public_key = receipt.signed(store)
    signed_receipt = {
        "receipt": json.loads(receipt.to_json()),
        "signature": signature,
        "public_key": public_key,
    }
    return Ack(gate, change.seq, "applied", change.kind, change.pseudonym, receipt=signed_receipt)


def _enrolment(
    bundle: dict[str, Any], gate: str, face_space: tuple[str, int] | None
) -> dict[str, Any]:
    """The ``enroll_person`` arguments of a bundle, after the checks a gate makes itself."""
    try:
        consent = bundle["consent"]
        gates = list(consent["gates"])
        space, dim = str(bundle["space"]), int(bundle["dim"])
        rows = [np.frombuffer(base64.b64decode(t), dtype="<f4") for t in bundle["templates"]]
        guardian = bundle.get("guardian")
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"a malformed person bundle ({type(exc).__name__})") from None
    if gate not in gates:
        raise BadMessage(f"the consent record does not cover gate {gate!r}")
    if not rows or any(r.shape != (dim,) for r in rows):
        raise BadMessage("the bundle's templates do not have its dimension")
    if face_space is not None and (space, dim) != face_space:
        raise BadMessage(
            f"templates of space {space} ({dim}-d) cannot match this gate's "
            f"{face_space[0]} ({face_space[1]}-d)"
        )
    return {
        "minor": bool(bundle.get("minor", False)),
        "consent": ConsentInput(
            method=str(consent["method"]),
            notice_version=str(consent["notice_version"]),
            taken_by=str(consent["taken_by"]),
            scope=str(consent["scope"]),
        ),
        "guardian": None if not guardian else GuardianConsent(**guardian),
        "templates": np.stack(rows),
        "space": space,
        "expires_at": bundle.get("expires_at"),
        "valid_from": bundle.get("valid_from"),
        "valid_until": bundle.get("valid_until"),
    }
