"""The admin commands a running daemon serves on its socket (one database writer, always).

Each handler runs on the loop thread (``LoopDispatcher``), so the store's connection, the
gallery and the access snapshot are only ever touched by the loop. Replies carry pseudonyms,
counts and receipts — names only to the ``admin`` role, and only when asked.

Every argument is checked against a bounded schema before a handler runs, so a request that
fails has stored nothing: times are finite and between 2000 and 2100, a card is what a reader
can report, a PIN is 4 to 12 digits, a template is base64 of finite float32 values of a sane
length, lists and strings are bounded, and text holds no control characters.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field

from ..admin import AdminCommandError, Handler, PeerCred, Role
from ..errors import ConfigError
from .admin_args import EARLIEST, LATEST, Text50, Text100, Text200, Text500, Timestamp, _Args
from .control import Control

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_TEMPLATE_DIM",
    "DoorOpenArgs",
    "EnrollArgs",
    "EventsArgs",
    "PersonArgs",
    "PersonListArgs",
    "admin_handlers",
]

logger = logging.getLogger(__name__)

MAX_TEMPLATE_DIM = 2048  # floats per template; every embedder in use has 128 to 512
MAX_CARD_DIGITS = 32  # the most a USB or OSDP reader may type (readers.hid, readers.osdp)


_CARD = re.compile(
    rf"(?P<digits>[0-9]{{1,{MAX_CARD_DIGITS}}})"
    r"|(?P<f26>[0-9]{1,3}):(?P<n26>[0-9]{1,5})"
    r"|[wW]34:(?P<f34>[0-9]{1,5}):(?P<n34>[0-9]{1,5})"
)


def _card(text: str) -> str:
    match = _CARD.fullmatch(text.strip())
    ranges_ok = match is not None and (
        match["digits"] is not None
        or (match["f26"] is not None and int(match["f26"]) < 256 and int(match["n26"]) < 65_536)
        or (match["f34"] is not None and int(match["f34"]) < 65_536 and int(match["n34"]) < 65_536)
    )
    if not ranges_ok:  # never repeat the card in the message
        raise ValueError(
            "a card is FACILITY:NUMBER (26-bit: 0-255:0-65535), w34:FACILITY:NUMBER "
            f"(0-65535:0-65535), or the 1 to {MAX_CARD_DIGITS} digits a reader types"
        )
    return text.strip()


Card = Annotated[str, Field(max_length=64), AfterValidator(_card)]
PinDigits = Annotated[
    str, Field(pattern=r"^[0-9]{4,12}$")
]  # policy.credentials.Pin: 4 to 12 digits


def _template(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a template must be base64 (of little-endian float32 values)") from None
    if not raw or len(raw) % 4 or len(raw) > 4 * MAX_TEMPLATE_DIM:
        raise ValueError(
            f"a template must be 1 to {MAX_TEMPLATE_DIM} float32 values, not {len(raw)} bytes"
        )
    values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    if not np.isfinite(values).all() or not np.any(values):
        raise ValueError("a template must hold finite values, not all zero")
    return text


_TEMPLATE_CHARS = 4 * math.ceil(4 * MAX_TEMPLATE_DIM / 3)
Template = Annotated[str, Field(max_length=_TEMPLATE_CHARS), AfterValidator(_template)]


class EventsArgs(_Args):
    limit: int = Field(default=50, ge=1, le=1000)


class DoorOpenArgs(_Args):
    door: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")  # config.doors: a door id
    seconds: float | None = Field(default=None, gt=0, le=60)


class PersonListArgs(_Args):
    show_names: bool = False


class PersonArgs(_Args):
    person: str = Field(pattern=r"^p-[0-9a-f]{16}$")
    remove_credentials: bool = False


class EnrollArgs(_Args):
    """Templates are computed by the admin's client; PIN and card arrive raw and are hashed
    here with the device keys (the socket is local and restricted to the operator role)."""

    templates: list[Template] = Field(default_factory=list, max_length=20)  # base64 float32
    space: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+@-]{0,63}$")
    consent_method: Text200 | None = None
    notice_version: Text100 | None = None
    taken_by: Text100 | None = None
    scope: Text500 | None = None
    name: Text200 | None = None
    unit: Text100 | None = None
    phone: Text50 | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    minor: bool = False
    adult: bool = False  # attested 14 or older (the age is asked explicitly for a face)
    consent_ref: Text100 | None = None  # the signed form's number or the e-signature's id
    guardian_name: Text200 | None = None
    guardian_relation: Text50 | None = None
    guardian_method: Text200 | None = None
    pin: PinDigits | None = None
    card: Card | None = None
    expires_at: Timestamp | None = None
    valid_until: Timestamp | None = None
    kind: Literal["face", "credentials"] = "face"
    allow_duplicate: bool = False  # the face matches someone enrolled: a different person


def _receipt_reply(receipt: Any, store: Any, tz: str) -> dict[str, Any]:
    """A deletion or withdrawal receipt as the socket returns it: signed by the device."""
    signature, public_key = receipt.signed(store)
    return {
        "receipt": receipt.to_json(),
        "lines": receipt.lines(tz),
        "signature": signature,
        "public_key": public_key,
    }


def admin_handlers(app: Control) -> dict[str, Handler]:
    """The commands of a running daemon (seen through its control protocol), each run on its
    loop thread."""
    on_loop = app.on_loop

    def status(_args: Any, _peer: PeerCred) -> dict[str, Any]:
        return app.status()

    def events(args: EventsArgs, _peer: PeerCred) -> dict[str, Any]:
        assert app.store is not None
        return {
            "events": [
                {
                    "ts": e.ts,
                    "door": e.door,
                    "method": e.method,
                    "result": e.result,
                    "subject": e.subject,
                    "score": e.score,
                    "reason": e.reason,
                }
                for e in app.store.events(limit=args.limit)
            ]
        }

    def door_open(args: DoorOpenArgs, peer: PeerCred) -> dict[str, Any]:
        if args.door not in app.door_ids():
            raise AdminCommandError("bad_request", f"no door {args.door!r}")
        released = app.remote_open(args.door, args.seconds, uid=peer.uid)
        return {"door": args.door, "released": released}

    def person_list(args: PersonListArgs, peer: PeerCred) -> dict[str, Any]:
        from ..store import list_people, spaces_by_person

        assert app.store is not None
        if args.show_names and app.role_for(peer) is not Role.ADMIN:
            raise AdminCommandError("forbidden", "names are shown to the admin role only")
        people = list_people(app.store, show_names=args.show_names)
        spaces = spaces_by_person(app.store)  # issue 20: who must re-enrol
        return {
            "people": [
                {
                    "person": p.pseudonym,
                    "templates": p.templates,
                    "spaces": list(spaces.get(p.pseudonym, ())),
                    "face_expires_at": p.face_expires_at,
                    "credentials": list(p.credentials),
                    "consent": p.consent,
                    "minor": p.minor,
                    **(
                        {
                            "name": p.identity.name,
                            "unit": p.identity.unit,
                            "phone": p.identity.phone,
                        }
                        if p.identity is not None
                        else {}
                    ),
                }
                for p in people
            ]
        }

    def person_withdraw(args: PersonArgs, _peer: PeerCred) -> dict[str, Any]:
        from ..store import withdraw

        assert app.store is not None
        receipt = withdraw(app.store, args.person, remove_credentials=args.remove_credentials)
        app.people_changed("withdrawal", args.person)
        return _receipt_reply(receipt, app.store, app.cfg.calendar.timezone)

    def person_delete(args: PersonArgs, _peer: PeerCred) -> dict[str, Any]:
        from ..store import delete_person

        assert app.store is not None
        receipt = delete_person(app.store, args.person)
        if receipt is None:
            raise AdminCommandError("bad_request", f"no person {args.person}")
        app.people_changed("deletion", args.person)
        return _receipt_reply(receipt, app.store, app.cfg.calendar.timezone)

    def enroll(args: EnrollArgs, _peer: PeerCred) -> dict[str, Any]:
        from ..policy.credentials import CredentialError, Pin
        from ..store.credential_keys import credential_keys
        from .enrol_request import (
            EnrolmentForm,
            EnrolmentRefused,
            assemble_enrolment,
            credential_inputs,
            taken_pin_tags,
        )

        store, face = app.store, app.face_space()
        assert store is not None
        now = app.clock.time()
        for label, when in (("valid_until", args.valid_until), ("expires_at", args.expires_at)):
            if when is not None and when <= now:
                raise AdminCommandError("bad_request", f"{label} is in the past")
        templates = None
        if args.templates:
            if face is None:
                raise AdminCommandError("bad_request", "the daemon's face path is not running")
            if args.space != face.space:
                raise AdminCommandError(
                    "bad_request",
                    f"templates are from {args.space}, the daemon uses {face.space}",
                )
            rows = [
                np.frombuffer(base64.b64decode(t, validate=True), "<f4") for t in args.templates
            ]
            if any(r.shape != (face.dim,) for r in rows):
                raise AdminCommandError("bad_request", "templates have the wrong dimension")
            templates = np.stack(rows)
            same = None if args.allow_duplicate else app.same_face(templates)
            if same is not None:
                raise AdminCommandError(
                    "bad_request",
                    f"this face is already enrolled as {same}; if this is a different person, "
                    "enrol again with --allow-duplicate",
                )
        # The same checks and defaults as `facegate enroll` writing the store itself.
        form = EnrolmentForm.of(
            args.model_dump(),
            face=templates is not None,
            credentials=args.pin is not None or args.card is not None,
        )
        try:
            request = assemble_enrolment(form, app.cfg, now)
            creds = credential_inputs(
                credential_keys(store),
                taken_pin_tags(store),
                pin=None if args.pin is None else Pin(args.pin),
                card=args.card,
                valid_until=args.valid_until,
            )
        except (ConfigError, CredentialError, EnrolmentRefused) as exc:  # nothing written yet
            raise AdminCommandError("bad_request", str(exc)) from None
        cards = {lookup for _p, kind, lookup, _v in store.access_rows()[1] if kind == "card"}
        if any(c.kind == "card" and c.lookup in cards for c in creds):
            raise AdminCommandError("bad_request", "this card is already assigned to someone")
        enrolled = request.enroll(
            store,
            credentials=creds,
            templates=templates,
            space=face.space if face is not None else None,
        )
        app.people_changed("consent" if templates is not None else "enrolment", enrolled.pseudonym)
        return {
            "person": enrolled.pseudonym,
            "consent": enrolled.consent_id,
            "templates": enrolled.templates,
            "credentials": enrolled.credentials,
            "expires_at": request.expires_at if templates is not None else None,
            "advice": list(request.advice),
        }

    return {
        "status": Handler(Role.AUDITOR, on_loop(status), None, "doors, alarms and counts"),
        "events": Handler(Role.AUDITOR, on_loop(events), EventsArgs, "recent access events"),
        "door.open": Handler(Role.OPERATOR, on_loop(door_open), DoorOpenArgs, "remote unlock"),
        "person.list": Handler(
            Role.OPERATOR,
            on_loop(person_list),
            PersonListArgs,
            "people, credentials, consent state",
        ),
        "person.withdraw": Handler(
            Role.OPERATOR, on_loop(person_withdraw), PersonArgs, "delete a face now, keep PIN/card"
        ),
        "person.delete": Handler(
            Role.ADMIN, on_loop(person_delete), PersonArgs, "delete everything of a person"
        ),
        "enroll": Handler(
            Role.OPERATOR,
            on_loop(enroll),
            EnrollArgs,
            "enrol a person (templates computed by the client)",
        ),
    }
