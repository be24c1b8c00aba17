"""Log in, log out, choose the language."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .accounts import Account, totp_ok
from .core import Console, Refused
from .i18n import LANGS
from .security import csrf_ok

__all__ = ["auth_routes"]

logger = logging.getLogger(__name__)


def auth_routes(console: Console) -> list[Route]:
    async def login_form(request: Request) -> Response:
        session = console.session(request)
        if session is not None and session.user is not None:
            return RedirectResponse("/", 303)
        if session is None:
            session = console.sessions.new(lang=console.settings.lang)
        response = console.page(request, session, "login.html")
        console.set_cookie(response, session)
        return response

    async def login(request: Request) -> Response:
        session = console.session(request)
        if session is None:  # no pre-login session: the form did not come from here
            session = console.sessions.new(lang=console.settings.lang)
            response = console.page(request, session, "login.html", status=403, error="csrf")
            console.set_cookie(response, session)
            return response
        try:
            form = await console.form(request, session)
        except Refused:
            return console.page(request, session, "login.html", status=403, error="csrf")
        name = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:256]
        code = str(form.get("totp", ""))[:16]
        address = request.client.host if request.client else "?"
        why = console.limiter.refused(address, name)
        if why is not None:
            console.daemon.audit(None, None, "web.login", "locked" if why == "locked" else "rate")
            error = "login_locked" if why == "locked" else "login_rate"
            return console.page(request, session, "login.html", status=429, error=error)
        account = await _verify(console, name, password)
        if account is not None and account.totp_secret and not totp_ok(account.totp_secret, code):
            account = None
        if account is None:
            locked = console.limiter.failed(address, name)
            known = console.accounts.get(name)
            console.daemon.audit(
                known.pseudonym if known else None,
                known.role if known else None,
                "web.login",
                "locked" if locked else "failed",
            )
            return console.page(request, session, "login.html", status=401, error="login_failed")
        console.limiter.succeeded(name)
        fresh = console.sessions.rotate(
            session, user=account.name, role=account.role, pseudonym=account.pseudonym
        )
        console.daemon.audit(account.pseudonym, account.role, "web.login", "ok")
        logger.info("console login: %s (%s)", account.pseudonym, account.role)
        done = RedirectResponse("/", 303)
        console.set_cookie(done, fresh)
        return done

    async def logout(request: Request) -> Response:
        session = console.require(request)
        await console.form(request, session)
        console.sessions.drop(session.sid)
        console.daemon.audit(session.pseudonym, session.role, "web.logout", "ok")
        response = RedirectResponse("/login", 303)
        response.delete_cookie("__Host-facegate", path="/", secure=True, httponly=True)
        return response

    async def language(request: Request) -> Response:
        session = console.session(request)
        if session is None:
            return RedirectResponse("/login", 303)
        form = await request.form(max_files=0, max_fields=4)
        if not csrf_ok(session, form.get("csrf")):
            return console.page(request, session, "error.html", status=403, msg="csrf")
        lang = str(form.get("lang", ""))
        if lang in LANGS:
            session.lang = lang
        back = str(form.get("back", "/"))
        return RedirectResponse(back if back.startswith("/") and "//" not in back else "/", 303)

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang", language, methods=["POST"]),
    ]


async def _verify(console: Console, name: str, password: str) -> Account | None:
    """Argon2id takes ~0.1 s of CPU: off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(console.accounts.verify, name, password)
