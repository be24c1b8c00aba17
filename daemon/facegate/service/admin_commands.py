"""The admin commands a running daemon serves on its socket (one database writer, always).

Each handler runs on the loop thread (``LoopDispatcher``), so the store's connection, the
gallery and the access snapshot are only ever touched by the loop. Replies carry pseudonyms,
counts and receipts — names only to the ``admin`` role, and only when asked.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..admin import AdminAuditEvent, AdminCommandError, AdminServer, Handler, PeerCred, Role
from ..admin.wiring import audit_handlers, build_admin_server
from ..audit import AuditLog
from ..config.appliance import AdminConfig
from .control import Control

__all__ = ["admin_handlers", "serve_admin"]

logger = logging.getLogger(__name__)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventsArgs(_Args):
    limit: int = Field(default=50, ge=1, le=1000)


class DoorOpenArgs(_Args):
    door: str = Field(min_length=1, max_length=32)
    seconds: float | None = Field(default=None, gt=0, le=60)


class PersonListArgs(_Args):
    show_names: bool = False


class PersonArgs(_Args):
    person: str = Field(pattern=r"^p-[0-9a-f]{16}$")
    remove_credentials: bool = False


class EnrollArgs(_Args):
    """Templates are computed by the admin's client; PIN and card arrive raw and are hashed
    here with the device keys (the socket is local and restricted to the operator role)."""

    templates: list[str] = Field(default_factory=list, max_length=20)  # base64 float32
    space: str | None = None
    consent_method: str | None = None
    notice_version: str | None = None
    taken_by: str | None = None
    scope: str | None = None
    name: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    minor: bool = False
    guardian_name: str | None = Field(default=None, max_length=200)
    guardian_relation: str | None = Field(default=None, max_length=50)
    guardian_method: str | None = Field(default=None, max_length=200)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,12}$")
    card: str | None = Field(default=None, max_length=64)
    expires_at: float | None = None
    valid_until: float | None = None
    kind: Literal["face", "credentials"] = "face"


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
        from ..store import list_people

        assert app.store is not None
        if args.show_names and app.role_for(peer) is not Role.ADMIN:
            raise AdminCommandError("forbidden", "names are shown to the admin role only")
        people = list_people(app.store, show_names=args.show_names)
        return {
            "people": [
                {
                    "person": p.pseudonym,
                    "templates": p.templates,
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
        signature, public_key = receipt.signed(app.store)
        return {
            "receipt": receipt.to_json(),
            "lines": receipt.lines(),
            "signature": signature,
            "public_key": public_key,
        }

    def person_delete(args: PersonArgs, _peer: PeerCred) -> dict[str, Any]:
        from ..store import delete_person

        assert app.store is not None
        receipt = delete_person(app.store, args.person)
        if receipt is None:
            raise AdminCommandError("bad_request", f"no person {args.person}")
        app.people_changed("deletion", args.person)
        signature, public_key = receipt.signed(app.store)
        return {
            "receipt": receipt.to_json(),
            "lines": receipt.lines(),
            "signature": signature,
            "public_key": public_key,
        }

    def enroll(args: EnrollArgs, _peer: PeerCred) -> dict[str, Any]:
        from ..policy.credentials import Pin
        from ..store.credential_keys import credential_keys
        from .enrol_request import (
            EnrolmentForm,
            EnrolmentInputError,
            EnrolmentRefused,
            assemble_enrolment,
            credential_inputs,
            taken_pin_tags,
        )

        store, face = app.store, app.face_space()
        assert store is not None
        templates = None
        if args.templates:
            if face is None:
                raise AdminCommandError("bad_request", "the daemon's face path is not running")
            if args.space != face.space:
                raise AdminCommandError(
                    "bad_request",
                    f"templates are from {args.space}, the daemon uses {face.space}",
                )
            rows = [np.frombuffer(base64.b64decode(t), dtype="<f4") for t in args.templates]
            if any(r.shape != (face.dim,) for r in rows):
                raise AdminCommandError("bad_request", "templates have the wrong dimension")
            templates = np.stack(rows)
        # The same checks and defaults as `facegate enroll` writing the store itself.
        form = EnrolmentForm.of(
            args.model_dump(),
            face=templates is not None,
            credentials=args.pin is not None or args.card is not None,
        )
        try:
            request = assemble_enrolment(form, app.cfg, app.clock.time())
            creds = credential_inputs(
                credential_keys(store),
                taken_pin_tags(store),
                pin=None if args.pin is None else Pin(args.pin),
                card=args.card,
                valid_until=args.valid_until,
            )
        except (EnrolmentInputError, EnrolmentRefused) as exc:
            raise AdminCommandError("bad_request", str(exc)) from None
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


def serve_admin(
    app: Control,
    cfg: AdminConfig,
    audit: AuditLog,
    *,
    extra: dict[str, Handler] | None = None,
    on_refused: Callable[[AdminAuditEvent], None] | None = None,
) -> AdminServer | None:
    """Start the admin socket for a running daemon; ``None`` when its folder does not exist
    (outside systemd, no ``RuntimeDirectory=``: the daemon runs without the socket)."""
    if not cfg.socket.parent.is_dir():
        logger.warning("admin socket disabled: %s does not exist", cfg.socket.parent)
        return None
    handlers = {**audit_handlers(audit), **admin_handlers(app), **(extra or {})}
    server = build_admin_server(cfg, handlers, audit, on_refused=on_refused)
    server.start()
    return server
