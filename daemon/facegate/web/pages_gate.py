"""Dashboard (doors, ways in, alarms, today's counts, live timeline), events, audit."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..admin.protocol import EXPORT_REPLY_BYTES
from .charts import by_method, per_hour, per_hour_svg
from .core import Console
from .gateway import DaemonDown, DaemonRefused
from .i18n import translate

__all__ = ["gate_routes"]

EVENTS_LIMIT = 1000  # the most the daemon's ``events`` command returns
_DOOR = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_WORD = re.compile(r"^[a-z_]{1,32}$")


def _today_counts(events: list[dict[str, Any]]) -> dict[str, int]:
    today = dt.date.today()
    counts = {"granted": 0, "denied": 0}
    for e in events:
        if dt.datetime.fromtimestamp(float(e["ts"])).date() == today:
            key = str(e.get("result", ""))
            if key in counts:
                counts[key] += 1
    return counts


def _live(console: Console) -> dict[str, Any]:
    status, status_err = console.ask("status")
    events, _ = console.ask("events", limit=EVENTS_LIMIT)
    rows = (events or {}).get("events", [])
    alarms = list((status or {}).get("health_alarms", []))
    for door, info in ((status or {}).get("doors") or {}).items():
        alarms += [f"{door}: {a}" for a in info.get("alarms", [])]
    return {
        "alarms": alarms,
        "daemon": "down" if status_err == "down" else "up",
        "status": status,
        "today": _today_counts(rows),
        "events": rows[-20:][::-1],  # the daemon lists oldest first
    }


def _period(form: Any) -> dict[str, str]:
    """The export form's dates: what was posted, else the last 30 days."""
    today = dt.date.today()
    return {
        "from": str(form.get("from") or (today - dt.timedelta(days=30)).isoformat())[:10],
        "to": str(form.get("to") or today.isoformat())[:10],
    }


def gate_routes(console: Console) -> list[Route]:
    async def dashboard(request: Request) -> Response:
        session = console.require(request)
        live = _live(console)
        return console.page(request, session, "dashboard.html", live=live)

    async def api_live(request: Request) -> Response:
        session = console.require(request)
        live = _live(console)
        lang = session.lang
        for e in live["events"]:
            e["when"] = dt.datetime.fromtimestamp(float(e["ts"])).strftime("%H:%M:%S")
            e["label"] = translate(lang, str(e["result"]))
        return JSONResponse(live)

    async def door_open(request: Request) -> Response:
        session = console.require_command(request, "door.open")
        await console.form(request, session)
        door = request.path_params["door"]
        if not _DOOR.fullmatch(door):
            return console.page(request, session, "error.html", status=400, msg="not_found")
        result, err = console.ask("door.open", door=door)
        outcome = "ok" if result is not None else ("down" if err == "down" else "refused")
        console.daemon.audit(session.pseudonym, session.role, "door.open", outcome)
        if err == "down":
            session.flash = translate(session.lang, "daemon_down")
        elif err:
            session.flash = translate(session.lang, "daemon_said", msg=err)
        return RedirectResponse("/", 303)

    async def events(request: Request) -> Response:
        session = console.require(request)
        q = request.query_params
        door, method, result = q.get("door", ""), q.get("method", ""), q.get("result", "")
        day_text = q.get("date", "")
        error = None
        try:
            day = dt.date.fromisoformat(day_text) if day_text else dt.date.today()
        except ValueError:
            day, error = dt.date.today(), "date: YYYY-MM-DD"
        for label, value, pattern in (
            ("door", door, _DOOR),
            ("method", method, _WORD),
            ("result", result, _WORD),
        ):
            if value and not pattern.fullmatch(value):
                error = f"{label}: ?"
        reply, err = console.ask("events", limit=EVENTS_LIMIT)
        rows = (reply or {}).get("events", [])
        doors = sorted({str(e["door"]) for e in rows})
        methods = sorted({str(e["method"]) for e in rows})
        chosen = [
            e
            for e in reversed(rows)
            if (not door or e["door"] == door)
            and (not method or e["method"] == method)
            and (not result or str(e["result"]).lower() == result)
            and dt.datetime.fromtimestamp(float(e["ts"])).date() == day
        ]
        title = translate(session.lang, "per_hour")
        return console.page(
            request,
            session,
            "events.html",
            rows=chosen,
            doors=doors,
            methods=methods,
            door=door,
            method=method,
            result=result,
            day=day.isoformat(),
            error=error,
            down=err == "down",
            total=len(rows),
            chart=per_hour_svg(per_hour(chosen, day), title=title),
            ways=by_method(chosen),
        )

    async def audit_page(request: Request) -> Response:
        session = console.require_command(request, "audit.verify")
        return console.page(request, session, "audit.html", report=None, period=_period({}))

    async def audit_verify(request: Request) -> Response:
        session = console.require_command(request, "audit.verify")
        await console.form(request, session)
        report, err = console.ask("audit.verify")
        outcome = "down" if err == "down" else ("ok" if report and report["ok"] else "broken")
        console.daemon.audit(session.pseudonym, session.role, "audit.verify", outcome)
        return console.page(
            request, session, "audit.html", report=report, error=err, period=_period({})
        )

    async def audit_export(request: Request) -> Response:
        """The signed audit bundle of a period, as ``facegate audit export`` writes it."""
        session = console.require_command(request, "audit.export")
        form = await console.form(request, session)
        t = lambda key, **kw: translate(session.lang, key, **kw)  # noqa: E731
        try:
            start = dt.date.fromisoformat(str(form.get("from", "")))
            end = dt.date.fromisoformat(str(form.get("to", "")))
            if end < start:
                raise ValueError
        except ValueError:
            console.daemon.audit(session.pseudonym, session.role, "audit.export", "bad_input")
            return console.page(
                request,
                session,
                "audit.html",
                status=400,
                report=None,
                export_error=t("bad_input", msg="from, to: YYYY-MM-DD, from <= to"),
                period=_period(form),
            )
        lo = dt.datetime.combine(start, dt.time()).timestamp()
        hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time()).timestamp()
        try:
            reply = await run_in_threadpool(
                console.daemon.fetch,
                "audit.export",
                {"start": lo, "end": hi},
                max_bytes=EXPORT_REPLY_BYTES,
            )
        except (DaemonDown, DaemonRefused) as exc:
            down = isinstance(exc, DaemonDown)
            outcome = "down" if down else "refused"
            console.daemon.audit(session.pseudonym, session.role, "audit.export", outcome)
            return console.page(
                request,
                session,
                "audit.html",
                status=503 if down else 400,
                report=None,
                export_error=t("daemon_down")
                if isinstance(exc, DaemonDown)
                else t("daemon_said", msg=exc.message),
                period=_period(form),
            )
        bundle = base64.b64decode(reply["bundle"], validate=True)
        if hashlib.sha256(bundle).hexdigest() != reply["sha256"]:
            return PlainTextResponse("502: the bundle arrived damaged; try again\n", 502)
        console.daemon.audit(session.pseudonym, session.role, "audit.export", "ok")
        name = f"facegate-audit-{start:%Y%m%d}-{end:%Y%m%d}.tar.gz"
        return Response(
            bundle,
            media_type="application/gzip",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/", dashboard, methods=["GET"]),
        Route("/api/live", api_live, methods=["GET"]),
        Route("/doors/{door}/open", door_open, methods=["POST"]),
        Route("/events", events, methods=["GET"]),
        Route("/audit", audit_page, methods=["GET"]),
        Route("/audit/verify", audit_verify, methods=["POST"]),
        Route("/audit/export", audit_export, methods=["POST"]),
    ]
