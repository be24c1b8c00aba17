"""Rights requests (PIPL Art. 50) and consent renewal (Art. 14) in the console.

The request log is the daemon's (``request.list|record|answer``): kind, channel, when it was
received, the deadline (``rights.response_working_days`` working days, computed by the daemon),
who recorded and who answered it, late or not. Renewal lists who consented under an older
notice (``person.reconsent_due``) and records their consent under the notice posted now
(``person.reconsent``). Roles are the daemon's: auditors read both lists, operators record and
answer. The operator id stored with a request or a consent is the console user's name, as
the consent form's "taken by" already is; the audit record of the console action names the
user by pseudonym only.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .core import Console
from .i18n import translate
from .security import Session

__all__ = ["rights_routes"]

# The daemon's own vocabularies (store/requests.py); it checks them again.
KINDS = ("access", "copy", "correction", "deletion", "withdrawal", "explanation", "other")
CHANNELS = ("in-person", "phone", "email", "letter", "other")
OUTCOMES = ("done", "partly", "refused")
_REQUEST = re.compile(r"^r-[0-9a-f]{12}$")
_PERSON = re.compile(r"^p-[0-9a-f]{16}$")
_OPERATOR = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"  # service/enrol_request.py OPERATOR_ID
_REF = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$"  # the signed form's number (CONSENT_REF)
_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"


class RecordForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    kind: str = Field(pattern="^(" + "|".join(KINDS) + ")$")
    channel: str = Field(pattern="^(" + "|".join(CHANNELS) + ")$")
    person: str | None = Field(default=None, pattern=_PERSON.pattern)
    received: dt.date | None = None


class ReconsentForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    consent_method: str = Field(min_length=1, max_length=100, pattern=_TEXT)
    consent_ref: str = Field(pattern=_REF)
    notice_version: str = Field(min_length=1, max_length=100, pattern=_TEXT)


def _messages(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)[:5]
    )


def _operator_id(session: Session) -> str | None:
    """The console user's name as the operator id the daemon stores (None: not a valid id)."""
    user = session.user or ""
    return user if re.fullmatch(_OPERATOR, user) else None


def _outcome(err: str | None) -> str:
    return "ok" if err is None else "down" if err == "down" else "refused"


def _received_at(day: dt.date | None, today: dt.date) -> float | None:
    """Noon of the day received (local time), so the daemon's site time zone sees the same
    day; ``None`` for today (the daemon then uses its clock).

    Raises:
        ValueError: a day in the future.
    """
    if day is None or day == today:
        return None
    if day > today:
        raise ValueError("received: a day in the future")
    return dt.datetime.combine(day, dt.time(12, 0)).timestamp()


def rights_routes(console: Console) -> list[Route]:
    def flash_error(session: Session, err: str | None) -> None:
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        session.flash = t("daemon_down") if err == "down" else t("daemon_said", msg=err)

    async def requests_page(request: Request) -> Response:
        session = console.require_command(request, "request.list")
        open_only = request.query_params.get("open") == "1"
        reply, err = console.ask("request.list", open_only=open_only)
        rows = list((reply or {}).get("requests", []))
        rows.sort(key=lambda r: (r["answered_at"] is not None, r["due_at"]))
        console.daemon.audit(session.pseudonym, session.role, "request.list", _outcome(err))
        return console.page(
            request,
            session,
            "requests.html",
            rows=rows[:500],
            more=max(0, len(rows) - 500),
            open_only=open_only,
            error=err,
            kinds=KINDS,
            channels=CHANNELS,
            outcomes=OUTCOMES,
            today=dt.date.today().isoformat(),
        )

    async def record(request: Request) -> Response:
        session = console.require_command(request, "request.record")
        form = await console.form(request, session)
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        raw = {k: str(form.get(k, "")).strip() for k in ("kind", "channel", "person", "received")}
        by = _operator_id(session)
        try:
            fields = RecordForm.model_validate({k: v for k, v in raw.items() if v})
            received_at = _received_at(fields.received, dt.date.today())
            if by is None:
                raise ValueError("this console user's name is not a valid operator id")
        except ValidationError as exc:
            session.flash = t("bad_input", msg=_messages(exc))
            console.daemon.audit(session.pseudonym, session.role, "request.record", "bad_input")
            return RedirectResponse("/requests", 303)
        except ValueError as exc:
            session.flash = t("bad_input", msg=str(exc))
            console.daemon.audit(session.pseudonym, session.role, "request.record", "bad_input")
            return RedirectResponse("/requests", 303)
        args: dict[str, Any] = {"kind": fields.kind, "channel": fields.channel, "recorded_by": by}
        if fields.person:
            args["person"] = fields.person
        if received_at is not None:
            args["received_at"] = received_at
        reply, err = console.ask("request.record", **args)
        console.daemon.audit(
            session.pseudonym, session.role, "request.record", _outcome(err), fields.person
        )
        if reply is None:
            flash_error(session, err)
        else:
            due = dt.datetime.fromtimestamp(reply["due_at"]).strftime("%Y-%m-%d")
            session.flash = t("request_recorded", r=reply["request"], due=due)
        return RedirectResponse("/requests", 303)

    async def answer(request: Request) -> Response:
        session = console.require_command(request, "request.answer")
        form = await console.form(request, session)
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        rid = request.path_params["rid"]
        outcome = str(form.get("outcome", ""))
        by = _operator_id(session)
        if not _REQUEST.fullmatch(rid):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        if outcome not in OUTCOMES or by is None:
            session.flash = t("bad_input", msg="outcome: " + " | ".join(OUTCOMES))
            console.daemon.audit(session.pseudonym, session.role, "request.answer", "bad_input")
            return RedirectResponse("/requests", 303)
        reply, err = console.ask("request.answer", request=rid, answered_by=by, outcome=outcome)
        console.daemon.audit(session.pseudonym, session.role, "request.answer", _outcome(err))
        if reply is None:
            flash_error(session, err)
        else:
            session.flash = t("request_answered", r=rid)
        return RedirectResponse("/requests", 303)

    async def reconsent_page(request: Request) -> Response:
        session = console.require_command(request, "person.reconsent_due")
        reply, err = console.ask("person.reconsent_due")
        console.daemon.audit(session.pseudonym, session.role, "person.reconsent_due", _outcome(err))
        return console.page(
            request,
            session,
            "reconsent.html",
            due=reply,
            error=err,
            values={"notice_version": (reply or {}).get("current") or ""},
        )

    async def reconsent(request: Request) -> Response:
        session = console.require_command(request, "person.reconsent")
        form = await console.form(request, session)
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        pseudonym = request.path_params["person"]
        if not _PERSON.fullmatch(pseudonym):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        by = _operator_id(session)
        raw = {
            k: str(form.get(k, "")).strip()
            for k in ("consent_method", "consent_ref", "notice_version")
        }
        try:
            fields = ReconsentForm.model_validate(raw)
            if form.get("ack") != "yes":
                raise ValueError(t("consent_ack"))
            if by is None:
                raise ValueError("this console user's name is not a valid operator id")
        except ValidationError as exc:
            session.flash = t("bad_input", msg=_messages(exc))
        except ValueError as exc:
            session.flash = t("bad_input", msg=str(exc))
        else:
            reply, err = console.ask(
                "person.reconsent", person=pseudonym, taken_by=by, **fields.model_dump()
            )
            console.daemon.audit(
                session.pseudonym, session.role, "person.reconsent", _outcome(err), pseudonym
            )
            if reply is None:
                flash_error(session, err)
            else:
                session.flash = t("reconsented", p=pseudonym)
            return RedirectResponse("/reconsent", 303)
        console.daemon.audit(
            session.pseudonym, session.role, "person.reconsent", "bad_input", pseudonym
        )
        return RedirectResponse("/reconsent", 303)

    return [
        Route("/requests", requests_page, methods=["GET"]),
        Route("/requests", record, methods=["POST"]),
        Route("/requests/{rid}/answer", answer, methods=["POST"]),
        Route("/reconsent", reconsent_page, methods=["GET"]),
        Route("/reconsent/{person}", reconsent, methods=["POST"]),
    ]
