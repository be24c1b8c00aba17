"""Compliance: the live checklist, the notice sign (preview and download in every format),
the PIA and filing drafts. The checklist and the drafts need the live device (store, audit
trail), so the daemon produces them (``compliance.check``, ``compliance.documents``); the sign
is made here from the configuration alone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .core import Console

__all__ = ["compliance_routes"]

MEDIA = {
    "pdf": "application/pdf",
    "png": "image/png",
    "html": "text/html; charset=utf-8",
    "short": "text/plain; charset=utf-8",
    "audio": "text/plain; charset=utf-8",
}
SUFFIX = {"pdf": "pdf", "png": "png", "html": "html", "short": "txt", "audio": "txt"}
# The sign's own HTML carries its stylesheet inline: allowed on that response only.
SIGN_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def _render_sign(cfg: Any, lang: str, fmt: str) -> bytes:
    from ..compliance.notice_render import render_notice
    from ..compliance.notice_speech import audio_text, short_text
    from ..compliance.notice_text import build_notice
    from ..errors import ConfigError

    if cfg.notice is None:
        raise ConfigError("the configuration has no notice: section")
    bundle = build_notice(cfg)
    if lang not in bundle.languages:
        raise ConfigError(f"notice.languages does not include {lang}")
    if fmt == "short":
        return short_text(bundle, lang).encode()
    if fmt == "audio":
        return audio_text(bundle, lang).encode()
    # The renderers write files; a private temporary folder (PrivateTmp= in the unit) that is
    # removed at once. The sign holds no personal information.
    with tempfile.TemporaryDirectory(prefix="facegate-web-sign-") as tmp:
        out = Path(tmp) / f"sign.{SUFFIX[fmt]}"
        written = render_notice(bundle, lang, fmt, out)  # type: ignore[arg-type]
        return written[0].read_bytes()


def compliance_routes(console: Console) -> list[Route]:
    async def overview(request: Request) -> Response:
        session = console.require_command(request, "compliance.check")
        check, err = console.ask("compliance.check")
        cfg = console.facegate_config()
        languages = list(cfg.notice.languages) if cfg is not None and cfg.notice else []
        return console.page(
            request,
            session,
            "compliance.html",
            check=check,
            error=err,
            languages=languages,
            formats=list(MEDIA),
        )

    async def sign(request: Request) -> Response:
        session = console.require_command(request, "compliance.check")
        lang = request.query_params.get("lang", "zh-CN")
        fmt = request.query_params.get("format", "html")
        download = request.query_params.get("download") == "1"
        cfg = console.facegate_config()
        if fmt not in MEDIA or lang not in ("zh-CN", "en") or cfg is None:
            return console.page(request, session, "error.html", status=400, msg="not_found")
        from ..errors import FacegateError

        try:
            body = await run_in_threadpool(_render_sign, cfg, lang, fmt)
        except (FacegateError, KeyError) as exc:
            return console.page(
                request, session, "error.html", status=400, msg="bad_input", detail=str(exc)
            )
        headers = {"content-security-policy": SIGN_CSP} if fmt == "html" else {}
        if download or fmt not in ("html", "png", "pdf"):
            headers["content-disposition"] = (
                f'attachment; filename="facegate-notice-{lang}.{SUFFIX[fmt]}"'
            )
        return Response(body, media_type=MEDIA[fmt], headers=headers)

    async def document(request: Request) -> Response:
        session = console.require_command(request, "compliance.documents")
        which = request.path_params["which"]
        if which not in ("pia", "filing"):
            return console.page(request, session, "error.html", status=404, msg="not_found")
        docs, err = console.ask("compliance.documents")
        if docs is None:
            return console.page(
                request, session, "error.html", status=503, msg="daemon_down", detail=err
            )
        console.daemon.audit(session.pseudonym, session.role, f"compliance.{which}", "ok")
        name = f"facegate-{which}-draft-{docs['date']}.md"
        return Response(
            docs[which].encode(),
            media_type="text/markdown; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/compliance", overview, methods=["GET"]),
        Route("/compliance/sign", sign, methods=["GET"]),
        Route("/compliance/{which}.md", document, methods=["GET"]),
    ]
