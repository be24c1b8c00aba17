"""People: list and find, enrol from photos with the consent form, detail, withdraw, delete,
receipts to download. Operators and admins only (the daemon's ``person.list`` role); names
and units are shown to, and searchable by, the admin role only, as on the socket."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .core import Console
from .gateway import DaemonDown, DaemonRefused
from .i18n import translate
from .security import Session

__all__ = ["people_routes"]

_PERSON = re.compile(r"^p-[0-9a-f]{16}$")
CAMERA_WAIT_S = 30.0  # how long the daemon waits for the face at the gate camera
# The same bounds as the daemon's EnrollArgs (it checks again): a clear message here first.
_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"


class EnrolForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    consent_method: str = Field(min_length=1, max_length=200, pattern=_TEXT)
    consent_ref: str = Field(min_length=1, max_length=100, pattern=_TEXT)
    notice_version: str = Field(min_length=1, max_length=100, pattern=_TEXT)
    taken_by: str = Field(min_length=1, max_length=100, pattern=_TEXT)
    scope: str | None = Field(default=None, max_length=500, pattern=_TEXT)
    name: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    unit: str | None = Field(default=None, max_length=100, pattern=_TEXT)
    phone: str | None = Field(default=None, max_length=50, pattern=r"^[0-9+() -]*$")
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    guardian_name: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    guardian_relation: str | None = Field(default=None, max_length=50, pattern=_TEXT)
    guardian_method: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    minor: bool = False
    adult: bool = False


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    unit: str | None = Field(default=None, max_length=100, pattern=_TEXT)
    phone: str | None = Field(default=None, max_length=50, pattern=r"^[0-9+() -]*$")
    birth_year: int | None = Field(default=None, ge=1900, le=2100)


T = TypeVar("T")


async def until_gone(request: Any, work: Awaitable[T], cancel: threading.Event) -> T:
    """Await ``work``; if the browser goes away meanwhile, set ``cancel`` (which hangs up the
    daemon connection, so a camera enrolment stops for a requester who left), then still
    await ``work``'s end (it raises)."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if done:
            return task.result()
        if not cancel.is_set() and await request.is_disconnected():
            cancel.set()


def _messages(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)[:5]
    )


def _people(console: Console, session: Session) -> tuple[list[dict[str, Any]], str | None]:
    reply, err = console.ask("person.list", show_names=session.role == "admin")
    return (reply or {}).get("people", []), err


def _find(console: Console, query: str) -> tuple[list[dict[str, Any]], str | None]:
    """An admin's search by name or unit through the daemon's ``person.find`` (which finds
    without decrypting everyone), joined with the list's other columns."""
    listed, err = console.ask("person.list", show_names=False)
    hits: dict[str, dict[str, Any]] = {}
    for field in ("name", "unit"):
        reply, find_err = console.ask("person.find", **{field: query})
        err = err or find_err
        for hit in (reply or {}).get("people", []):
            hits[hit["person"]] = hit
    rows = [p | hits[p["person"]] for p in (listed or {}).get("people", []) if p["person"] in hits]
    return rows, err


def _matches(person: dict[str, Any], query: str, admin: bool) -> bool:
    if not query:
        return True
    q = query.casefold()
    if q in person["person"]:
        return True
    if not admin:
        return False
    return any(q in str(person.get(k) or "").casefold() for k in ("name", "unit"))


def people_routes(console: Console) -> list[Route]:
    async def listing(request: Request) -> Response:
        session = console.require_command(request, "person.list")
        query = request.query_params.get("q", "")[:100]
        admin = session.role == "admin"
        if query and admin and console.daemon.offers("person.find"):
            found, err = _find(console, query)
            people = found
        else:
            people, err = _people(console, session)
            found = [p for p in people if _matches(p, query, admin)]
        # Reading the people list (with names, for an admin) is an access to personal data.
        console.daemon.audit(
            session.pseudonym,
            session.role,
            "person.find" if query else "person.list",
            "ok" if err is None else "down" if err == "down" else "refused",
        )
        return console.page(
            request,
            session,
            "people.html",
            people=found[:200],
            more=max(0, len(found) - 200),
            total=len(people),
            query=query,
            error=err,
        )

    async def detail(request: Request) -> Response:
        session = console.require_command(request, "person.list")
        pseudonym = request.path_params["person"]
        if not _PERSON.fullmatch(pseudonym):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        people, err = _people(console, session)
        person = next((p for p in people if p["person"] == pseudonym), None)
        if person is not None:
            console.daemon.audit(session.pseudonym, session.role, "person.view", "ok", pseudonym)
        if person is None and err is None:
            return console.page(request, session, "error.html", status=404, msg="not_found")
        return console.page(request, session, "person.html", person=person, error=err)

    async def enrol_form(request: Request) -> Response:
        session = console.require_command(request, "enroll")
        values = {"taken_by": session.user or "", "notice_version": _notice_version(console)}
        return console.page(request, session, "enrol.html", values=values, error=None, photos=[])

    async def enrol(request: Request) -> Response:
        session = console.require_command(request, "enroll")
        form = await console.form(request, session)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}

        def again(
            error: str, photos: list[Any] | None = None, status: int = 400, audit: bool = True
        ) -> Response:
            if audit:
                console.daemon.audit(session.pseudonym, session.role, "enroll", "bad_input")
            return console.page(
                request,
                session,
                "enrol.html",
                status=status,
                values=values,
                error=error,
                photos=photos or [],
            )

        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        if form.get("ack") != "yes":
            return again(t("bad_input", msg=t("consent_ack")))
        try:
            age = values.get("age", "")
            fields = EnrolForm.model_validate(
                {k: (v or None) for k, v in values.items() if k not in ("ack", "age", "minor")}
                | {"minor": age == "minor", "adult": age == "adult"}
            )
        except ValidationError as exc:
            return again(t("bad_input", msg=_messages(exc)))
        args = {k: v for k, v in fields.model_dump().items() if v not in (None, "", False)}
        if form.get("source") == "camera":
            return await from_camera(request, session, args, again)
        uploads = [u for u in form.getlist("photos") if isinstance(u, UploadFile) and u.filename]
        if not uploads:
            return again(t("bad_input", msg="photos: 1 to 3 JPEG or PNG files"))
        photos: list[tuple[str, bytes]] = []
        for upload in uploads[: console.settings.max_photos]:
            data = await upload.read(console.settings.max_photo + 1)
            if len(data) > console.settings.max_photo:
                return again(t("bad_input", msg=f"{upload.filename}: larger than 4 MB"))
            photos.append((str(upload.filename)[:80], data))
        cfg = console.facegate_config()
        if cfg is None:
            return again(t("needs_daemon", what="the console was started without --config"))
        try:
            found = await run_in_threadpool(_templates, cfg, photos)
        finally:
            photos.clear()
        if not found.encoded:
            return again(t("bad_input", msg="no usable face in the photos"), found.photos)
        reply, err = console.ask("enroll", templates=found.encoded, space=found.space, **args)
        if reply is None:
            outcome = "down" if err == "down" else "refused"
            console.daemon.audit(session.pseudonym, session.role, "enroll", outcome)
            msg = t("daemon_down") if err == "down" else t("daemon_said", msg=err)
            return again(msg, found.photos, status=503 if err == "down" else 400)
        pseudonym = reply["person"]
        console.daemon.audit(session.pseudonym, session.role, "enroll", "ok", pseudonym)
        session.flash = t("enrolled", p=pseudonym)
        return RedirectResponse(f"/people/{pseudonym}", 303)

    async def from_camera(
        request: Request, session: Session, args: dict[str, Any], again: Any
    ) -> Response:
        """The same form, the face from the gate camera: the daemon takes the next good, live
        frames of the one person in view (``enroll.camera``); no image leaves it."""
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        if not console.daemon.allowed(session.role, "enroll.camera"):
            console.daemon.audit(session.pseudonym, session.role, "enroll.camera", "forbidden")
            return again(t("forbidden"), status=403, audit=False)
        if not console.daemon.offers("enroll.camera"):
            return again(t("needs_daemon", what="enroll.camera"))
        cancel = threading.Event()
        try:
            reply = await until_gone(
                request,
                run_in_threadpool(
                    console.daemon.fetch,
                    "enroll.camera",
                    args | {"timeout_s": CAMERA_WAIT_S},
                    max_bytes=1024 * 1024,
                    timeout_s=CAMERA_WAIT_S + 15.0,
                    cancel=cancel,
                ),
                cancel,
            )
        except DaemonDown:
            if cancel.is_set():  # the browser went away: the daemon stopped looking
                console.daemon.audit(session.pseudonym, session.role, "enroll.camera", "cancelled")
                return again(t("daemon_down"), status=503, audit=False)
            console.daemon.audit(session.pseudonym, session.role, "enroll.camera", "down")
            return again(t("daemon_down"), status=503, audit=False)
        except DaemonRefused as exc:
            console.daemon.audit(session.pseudonym, session.role, "enroll.camera", "refused")
            return again(t("daemon_said", msg=exc.message), audit=False)
        pseudonym = reply["person"]
        console.daemon.audit(session.pseudonym, session.role, "enroll.camera", "ok", pseudonym)
        session.flash = t("enrolled", p=pseudonym)
        return RedirectResponse(f"/people/{pseudonym}", 303)

    async def change(request: Request, command: str) -> Response:
        session = console.require_command(request, command)
        form = await console.form(request, session)
        pseudonym = request.path_params["person"]
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        if not _PERSON.fullmatch(pseudonym):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        args: dict[str, Any] = {"person": pseudonym}
        if command == "person.withdraw" and form.get("remove_credentials") == "yes":
            args["remove_credentials"] = True
        if command == "person.delete" and form.get("confirm") != pseudonym:
            session.flash = t("bad_input", msg=t("confirm_delete"))
            return RedirectResponse(f"/people/{pseudonym}", 303)
        reply, err = console.ask(command, **args)
        if reply is None:
            outcome = "down" if err == "down" else "refused"
            console.daemon.audit(session.pseudonym, session.role, command, outcome, pseudonym)
            session.flash = t("daemon_down") if err == "down" else t("daemon_said", msg=err)
            return RedirectResponse(f"/people/{pseudonym}", 303)
        console.daemon.audit(session.pseudonym, session.role, command, "ok", pseudonym)
        receipt_id = secrets.token_urlsafe(12)
        session.receipts[receipt_id] = {"person": pseudonym, "command": command, **reply}
        done = "withdrawn" if command == "person.withdraw" else "deleted"
        return console.page(
            request,
            session,
            "receipt.html",
            message=t(done, p=pseudonym),
            receipt_id=receipt_id,
            lines=reply.get("lines", []),
        )

    async def export(request: Request) -> Response:
        """The person's signed export (PIPL Art. 45), where the daemon offers it."""
        session = console.require_command(request, "person.export")
        await console.form(request, session)
        pseudonym = request.path_params["person"]
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        if not _PERSON.fullmatch(pseudonym):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        if not console.daemon.offers("person.export"):
            session.flash = t("needs_daemon", what="person.export")
            return RedirectResponse(f"/people/{pseudonym}", 303)
        reply, err = console.ask("person.export", person=pseudonym, lang=session.lang)
        outcome = "ok" if reply is not None else ("down" if err == "down" else "refused")
        console.daemon.audit(session.pseudonym, session.role, "person.export", outcome, pseudonym)
        if reply is None:
            session.flash = t("daemon_down") if err == "down" else t("daemon_said", msg=err)
            return RedirectResponse(f"/people/{pseudonym}", 303)
        receipt_id = secrets.token_urlsafe(12)
        session.receipts[receipt_id] = {"person": pseudonym, "command": "person.export", **reply}
        return console.page(
            request,
            session,
            "receipt.html",
            message=t("exported", p=pseudonym),
            receipt_id=receipt_id,
            lines=reply.get("lines", []),
        )

    async def correct(request: Request) -> Response:
        """Correct a person's name, unit, phone or birth year (PIPL Art. 46)."""
        session = console.require_command(request, "person.update")
        form = await console.form(request, session)
        pseudonym = request.path_params["person"]
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        if not _PERSON.fullmatch(pseudonym):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        if not console.daemon.offers("person.update"):
            session.flash = t("needs_daemon", what="person.update")
            return RedirectResponse(f"/people/{pseudonym}", 303)
        raw = {k: str(form.get(k, "")).strip() for k in ("name", "unit", "phone", "birth_year")}
        try:
            fix = Correction.model_validate({k: v for k, v in raw.items() if v})
        except ValidationError as exc:
            session.flash = t("bad_input", msg=_messages(exc))
            return RedirectResponse(f"/people/{pseudonym}", 303)
        args = fix.model_dump(exclude_none=True)
        if not args:
            session.flash = t("bad_input", msg=t("nothing_to_correct"))
            return RedirectResponse(f"/people/{pseudonym}", 303)
        reply, err = console.ask("person.update", person=pseudonym, **args)
        outcome = "ok" if reply is not None else ("down" if err == "down" else "refused")
        console.daemon.audit(session.pseudonym, session.role, "person.update", outcome, pseudonym)
        if reply is None:
            session.flash = t("daemon_down") if err == "down" else t("daemon_said", msg=err)
        else:
            session.flash = t("corrected", p=pseudonym)
        return RedirectResponse(f"/people/{pseudonym}", 303)

    async def withdraw(request: Request) -> Response:
        return await change(request, "person.withdraw")

    async def delete(request: Request) -> Response:
        return await change(request, "person.delete")

    async def receipt(request: Request) -> Response:
        session = console.require(request, "operator")
        found = session.receipts.get(request.path_params["rid"])
        if found is None:
            return console.page(request, session, "error.html", status=404, msg="not_found")
        body = json.dumps(found, ensure_ascii=False, indent=1).encode()
        kind = {"person.withdraw": "withdrawal", "person.export": "export"}.get(
            found["command"], "deletion"
        )
        name = f"facegate-{kind}-{found['person']}.json"
        return Response(
            body,
            media_type="application/json",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/people", listing, methods=["GET"]),
        Route("/people/new", enrol_form, methods=["GET"]),
        Route("/people/new", enrol, methods=["POST"]),
        Route("/people/{person}", detail, methods=["GET"]),
        Route("/people/{person}/withdraw", withdraw, methods=["POST"]),
        Route("/people/{person}/delete", delete, methods=["POST"]),
        Route("/people/{person}/export", export, methods=["POST"]),
        Route("/people/{person}/correct", correct, methods=["POST"]),
        Route("/receipts/{rid}", receipt, methods=["GET"]),
    ]


def _notice_version(console: Console) -> str:
    """The version of the notice this configuration makes (the daemon accepts it once it is
    recorded as posted); empty without a configuration or a notice."""
    cfg = console.facegate_config()
    if cfg is None or cfg.notice is None:
        return ""
    from ..compliance.notice_text import build_notice

    return build_notice(cfg).version


def _templates(cfg: Any, photos: list[tuple[str, bytes]]) -> Any:
    from .enrol import templates_from_uploads

    return templates_from_uploads(cfg, photos)
