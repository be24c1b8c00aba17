"""What the office and the gates say to each other, and how it is sealed and signed.

Every message is one JSON object, canonical (sorted keys, no spaces) and signed with the
sender's Ed25519 key: the office signs changes, a gate signs its acknowledgements and deletion
receipts. A change's person bundle (templates, consent record) is sealed to the one gate it is
addressed to with ``nacl.public.SealedBox`` (X25519): the broker, the other gates and anyone on
the LAN see only a sequence number, a kind and a pseudonym.

Topics (``<c>``: the compound's name, ``<g>``: a gate's device id, which the broker takes from
the gate's certificate)::

    facegate/<c>/<g>/changes   office → gate   enrol, withdraw, delete (QoS 1, sequenced)
    facegate/<c>/<g>/acks      gate → office   hello, applied / refused, deletion receipts
    facegate/<c>/<g>/events    gate → office   anonymized access events and alarms, in order
    facegate/<c>/<g>/received  office → gate   "kept your events up to N" (the gate may drop them)
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from ..errors import FacegateError

__all__ = [
    "PSEUDONYM",
    "Ack",
    "BadMessage",
    "Change",
    "canonical",
    "open_bundle",
    "seal_bundle",
    "sign",
    "topic",
    "verify",
]

PSEUDONYM = re.compile(r"^p-[0-9a-f]{16}$")
ChangeKind = Literal["enrol", "withdraw", "delete"]
CHANGE_KINDS = ("enrol", "withdraw", "delete")
MAX_MESSAGE_BYTES = 1 << 20  # a bundle of 20 dlib templates is about 14 kB


class BadMessage(FacegateError):
    """A message that is malformed, too large, or whose signature does not verify."""


def topic(compound: str, gate: str, kind: Literal["changes", "acks", "events", "received"]) -> str:
    return f"facegate/{compound}/{gate}/{kind}"


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(key: SigningKey, body: dict[str, Any]) -> bytes:
    """``body`` with its signature, as the bytes to publish."""
    signature = key.sign(canonical(body)).signature
    return canonical({"body": body, "sig": base64.b64encode(signature).decode("ascii")})


def verify(key: VerifyKey, payload: bytes) -> dict[str, Any]:
    """The body of a signed message, if ``key`` signed it.

    Raises:
        BadMessage: not JSON, not a signed message, or signed by another key.
    """
    if len(payload) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"message of {len(payload)} bytes (at most {MAX_MESSAGE_BYTES})")
    try:
        outer = json.loads(payload)
        body, sig = outer["body"], base64.b64decode(outer["sig"], validate=True)
        if not isinstance(body, dict):
            raise TypeError("body")
        key.verify(canonical(body), sig)
    except BadSignatureError:
        raise BadMessage("the signature does not verify") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BadMessage(f"not a signed message ({type(exc).__name__})") from None
    return body


def seal_bundle(gate_box_key: PublicKey, bundle: dict[str, Any]) -> str:
    """A person's bundle sealed to one gate (base64): only that gate's private key opens it."""
    return base64.b64encode(SealedBox(gate_box_key).encrypt(canonical(bundle))).decode("ascii")


def open_bundle(box_key: PrivateKey, sealed: str) -> dict[str, Any]:
    try:
        plain = SealedBox(box_key).decrypt(base64.b64decode(sealed, validate=True))
        bundle = json.loads(plain)
    except (CryptoError, ValueError) as exc:
        raise BadMessage(f"the bundle does not open with this gate's key ({exc})") from None
    if not isinstance(bundle, dict):
        raise BadMessage("the bundle is not an object")
    return bundle


@dataclass(slots=True, frozen=True)
class Change:
    """One change for one gate: the ``seq``-th the office sent it."""

    gate: str
    seq: int
    kind: ChangeKind
    pseudonym: str
    sealed: str | None  # enrol only: the person's bundle sealed to this gate
    issued_at: float

    def body(self) -> dict[str, Any]:
        return {
            "type": "change",
            "gate": self.gate,
            "seq": self.seq,
            "kind": self.kind,
            "pseudonym": self.pseudonym,
            "sealed": self.sealed,
            "issued_at": self.issued_at,
        }

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Change:
        try:
            change = cls(
                gate=str(body["gate"]),
                seq=int(body["seq"]),
                kind=body["kind"],
                pseudonym=str(body["pseudonym"]),
                sealed=None if body.get("sealed") is None else str(body["sealed"]),
                issued_at=float(body["issued_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadMessage(f"not a change ({exc})") from None
        if body.get("type") != "change" or change.kind not in CHANGE_KINDS or change.seq < 1:
            raise BadMessage("not a change")
        if not PSEUDONYM.match(change.pseudonym):
            raise BadMessage("a change names a malformed pseudonym")
        if (change.kind == "enrol") != (change.sealed is not None):
            raise BadMessage("only an enrolment carries a bundle")
        return change


@dataclass(slots=True, frozen=True)
class Ack:
    """A gate's answer to a change (or its hello, ``seq`` = the last change it applied)."""

    gate: str
    seq: int
    status: Literal["hello", "applied", "duplicate", "refused"]
    kind: str = ""
    pseudonym: str = ""
    reason: str = ""
    receipt: dict[str, Any] | None = None  # withdraw/delete: the gate's deletion receipt
    at: float = 0.0

    def body(self) -> dict[str, Any]:
        return {
            "type": "ack",
            "gate": self.gate,
            "seq": self.seq,
            "status": self.status,
            "kind": self.kind,
            "pseudonym": self.pseudonym,
            "reason": self.reason,
            "receipt": self.receipt,
            "at": self.at,
        }

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Ack:
        try:
            ack = cls(
                gate=str(body["gate"]),
                seq=int(body["seq"]),
                status=body["status"],
                kind=str(body["kind"]),
                pseudonym=str(body["pseudonym"]),
                reason=str(body["reason"]),
                receipt=body["receipt"],
                at=float(body["at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadMessage(f"not an ack ({exc})") from None
        if body.get("type") != "ack" or ack.status not in (
            "hello",
            "applied",
            "duplicate",
            "refused",
        ):
            raise BadMessage("not an ack")
        if ack.receipt is not None and not isinstance(ack.receipt, dict):
            raise BadMessage("an ack's receipt is not an object")
        return ack
