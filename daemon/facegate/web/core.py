"""What every page shares: settings, the session of a request, role checks, rendering."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .accounts import Accounts
from .gateway import ROLE_ORDER, Daemon, DaemonDown, DaemonRefused
from .i18n import LANGS, translate
from .security import COOKIE, LoginLimiter, Session, Sessions, csrf_ok

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["Console", "Refused", "WebSettings"]

MIB = 1024 * 1024
LIMITS_FILE = "login-limits.json"


@dataclass(frozen=True)
class WebSettings:
    """How one console runs.

    Attributes:
        socket: the daemon's admin socket.
        accounts: the accounts file (owned by the console's user).
        config: the facegate configuration (read only: doors, notice, models for enrolment).
        max_body: the largest request body read (3 photos of 4 MiB and the form).
        max_photo: the largest photo accepted.
        secure_cookie: the ``__Host-`` cookie needs HTTPS; off only for plain-HTTP tests.
    """

    socket: Path
    accounts: Path
    config: Path | None = None
    max_body: int = 13 * MIB
    max_photo: int = 4 * MIB
    max_photos: int = 3
    secure_cookie: bool = True
    lang: str = "zh-CN"
    extra: dict[str, Any] = field(default_factory=dict)


class Refused(Exception):
    """Stop handling a request with this response (redirect to login, 403, 400)."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


class Console:
    """The console's shared state (one per process)."""

    def __init__(
        self, settings: WebSettings, *, daemon: Daemon | None = None, hasher: Any = None
    ) -> None:
        self.settings = settings
        self.accounts = Accounts(settings.accounts, hasher=hasher)
        self.sessions = Sessions()
        # Failed logins and locks survive a restart: kept beside the accounts file.
        self.limiter = LoginLimiter(
            state=settings.accounts.parent / LIMITS_FILE,
            known=lambda name: self.accounts.get(name) is not None,
        )
        self.daemon = daemon or Daemon(settings.socket)
        self.jinja = Environment(
            loader=PackageLoader("facegate.web", "templates"),
            autoescape=select_autoescape(["html", "svg"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.jinja.filters["when"] = _when
        self._cfg: FacegateConfig | None = None

    # -- the facegate configuration (read only) ------------------------------------------

    def use_config(self, cfg: FacegateConfig) -> None:
        """Use a configuration built in memory (``facegate demo --console``)."""
        self._cfg = cfg

    def facegate_config(self) -> FacegateConfig | None:
        if self._cfg is None and self.settings.config is not None:
            from ..config import load_config

            self._cfg = load_config(self.settings.config)
        return self._cfg

    # -- sessions -----------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        # Polling (/api/live) is not activity: it must not keep an idle session alive.
        touch = not request.url.path.startswith("/api/")
        return self.sessions.get(request.cookies.get(COOKIE), touch=touch)

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.sid,
            httponly=True,
            secure=self.settings.secure_cookie,
            samesite="strict",
            path="/",
        )

    def require(self, request: Request, role: str = "auditor") -> Session:
        """The logged-in session with at least ``role``; otherwise a refusal."""
        session = self.session(request)
        if session is None or session.user is None:
            if request.url.path.startswith("/api/"):
                raise Refused(Response("401: log in first\n", 401, media_type="text/plain"))
            raise Refused(RedirectResponse("/login", 303))
        account = self.accounts.get(session.user)
        if account is None or account.role != session.role:  # removed or changed meanwhile
            self.sessions.drop(session.sid)
            raise Refused(RedirectResponse("/login", 303))
        if ROLE_ORDER[session.role] < ROLE_ORDER[role]:
            raise Refused(self.page(request, session, "error.html", status=403, msg="forbidden"))
        return session

    def require_command(self, request: Request, command: str) -> Session:
        """The logged-in session whose role the daemon would accept for ``command``."""
        session = self.require(request)
        if not self.daemon.allowed(session.role, command):
            self.daemon.audit(session.pseudonym, session.role, command, "forbidden")
            raise Refused(self.page(request, session, "error.html", status=403, msg="forbidden"))
        return session

    async def form(self, request: Request, session: Session) -> Any:
        """The posted form, after its CSRF token and origin are checked."""
        origin = request.headers.get("origin")
        if origin not in (None, "null") and origin != _origin_of(request):
            raise Refused(self.page(request, session, "error.html", status=403, msg="csrf"))
        form = await request.form(
            max_files=self.settings.max_photos, max_fields=60, max_part_size=self.settings.max_photo
        )
        if not csrf_ok(session, form.get("csrf")):
            raise Refused(self.page(request, session, "error.html", status=403, msg="csrf"))
        return form

    # -- rendering ----------------------------------------------------------------------

    def page(
        self,
        request: Request,
        session: Session | None,
        template: str,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        lang = session.lang if session is not None else self.settings.lang
        if lang not in LANGS:
            lang = LANGS[0]

        def t(key: str, **values: object) -> str:
            return translate(lang, key, **values)

        flash = None
        if session is not None and session.flash:
            flash, session.flash = session.flash, None
        html = self.jinja.get_template(template).render(
            t=t,
            lang=lang,
            session=session,
            path=request.url.path,
            flash=flash,
            daemon_down=self.daemon.last_down is not None,
            can=lambda command: session is not None and self.daemon.allowed(session.role, command),
            offers=self.daemon.offers,
            **context,
        )
        return HTMLResponse(html, status)

    def ask(self, command: str, **args: Any) -> tuple[dict[str, Any] | None, str | None]:
        """A command's result, or ``None`` and why (``down`` or the daemon's message)."""
        try:
            return self.daemon.call(command, **args), None
        except DaemonDown:
            return None, "down"
        except DaemonRefused as exc:
            return None, exc.message


def _origin_of(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
