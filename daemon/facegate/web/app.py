"""``create_app``: the console as an ASGI application (Starlette), its middleware outermost
first: security headers on everything, then the request-body limit, then the routes."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from .core import Console, Refused, WebSettings
from .gateway import Daemon
from .pages_auth import auth_routes
from .pages_compliance import compliance_routes
from .pages_gate import gate_routes
from .pages_people import people_routes
from .pages_rights import rights_routes
from .security import BodyLimit, SecurityHeaders

__all__ = ["create_app"]


def _keep_uploads_in_memory(limit: int) -> None:
    """Starlette spools an upload to a temporary file past 1 MiB; the console refuses any
    body larger than ``limit`` first, so a spool larger than that never touches the disk."""
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit + 1)


def create_app(
    settings: WebSettings, *, daemon: Daemon | None = None, hasher: Any = None
) -> Starlette:
    """The console; ``hasher``: an ``argon2.PasswordHasher`` other than the default (tests)."""
    console = Console(settings, daemon=daemon, hasher=hasher)
    _keep_uploads_in_memory(settings.max_body)
    routes = [
        *auth_routes(console),
        *gate_routes(console),
        *people_routes(console),
        *rights_routes(console),
        *compliance_routes(console),
        Mount("/static", StaticFiles(packages=[("facegate.web", "static")]), name="static"),
    ]

    async def refused(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return exc.response

    async def not_found(request: Request, _exc: Exception) -> Response:
        session = console.session(request)
        return console.page(request, session, "error.html", status=404, msg="not_found")

    async def failed(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse("500: the console failed; see its journal\n", 500)

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, limit=settings.max_body),
        ],
        exception_handlers={Refused: refused, 404: not_found, 405: not_found, 500: failed},
    )
    app.state.console = console
    return app
