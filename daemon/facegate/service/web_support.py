"""Admin commands the web console (``facegate-web``) needs beyond those of the CLI.

The console holds no keys and never opens the database, so three things it shows must come
from the daemon:

- ``web.audit`` (auditor): one audit record per console action, naming the console user only
  by the pseudonym the console gave the account (``w-`` and 16 letters), never the name.
- ``compliance.check`` (auditor): the start-up checklist against the live device (store,
  audit trail, units), as ``facegate compliance check`` prints it.
- ``compliance.documents`` (auditor): the PIA and filing drafts (Markdown) from the same facts.

Store reads run on the loop thread (``on_loop``); the audit trail's verification, which only
reads files and may take a while on a large trail, runs on the admin thread first, so the gate
loop is never held by it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..admin import Handler, PeerCred, Role
from ..audit import AuditLog
from .control import Control

__all__ = ["WebAuditArgs", "web_handlers"]


class WebAuditArgs(BaseModel):
    """One console action: who (pseudonym), what, how it ended, and on whom (pseudonym)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    actor: str | None = Field(default=None, pattern=r"^w-[a-z]{16}$")
    role: str | None = Field(default=None, pattern=r"^(auditor|operator|admin)$")
    action: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
    outcome: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    target: str | None = Field(default=None, pattern=r"^p-[0-9a-f]{16}$")


def web_handlers(app: Control, audit: AuditLog) -> dict[str, Handler]:
    """``web.audit``, ``compliance.check`` and ``compliance.documents``."""

    def web_audit(args: WebAuditArgs, _peer: PeerCred) -> dict[str, Any]:
        record = audit.append(
            "web",
            subject=args.target,
            actor=args.actor,
            role=args.role,
            action=args.action,
            outcome=args.outcome,
        )
        return {"recorded": record is not None}

    def _facts(peer: PeerCred) -> Any:
        from ..compliance.device import audit_fact, device_inputs
        from ..compliance.facts import gather_facts

        cfg = app.cfg
        audit_state = audit_fact(cfg.store.state_dir)  # files only: on this admin thread
        inputs = {**device_inputs(cfg), "audit_verify": lambda: audit_state}

        def with_store(_args: Any, _peer: PeerCred) -> dict[str, Any]:
            return {"facts": gather_facts(cfg, app.store, notice=cfg.notice, **inputs)}

        return app.on_loop(with_store)(None, peer)["facts"]

    def compliance_check(_args: Any, peer: PeerCred) -> dict[str, Any]:
        from ..compliance.checks import exit_code, run_checks, summary

        cfg = app.cfg
        results = run_checks(cfg, cfg.notice, cfg.filing, _facts(peer))
        return {
            "rows": [
                {
                    "rule": r.rule_id,
                    "article": r.article,
                    "status": str(r.status),
                    "reason": r.reason,
                }
                for r in results
            ],
            "summary": summary(results),
            "refuses_start": bool(exit_code(results)),
        }

    def compliance_documents(_args: Any, peer: PeerCred) -> dict[str, Any]:
        from ..compliance.documents import filing_markdown, pia_markdown

        cfg = app.cfg
        facts = _facts(peer)
        today = dt.date.fromtimestamp(app.clock.time())
        return {
            "date": today.isoformat(),
            "pia": pia_markdown(cfg, cfg.notice, cfg.filing, facts, today=today),
            "filing": filing_markdown(cfg, cfg.notice, cfg.filing, facts, today=today),
        }

    return {
        "web.audit": Handler(
            Role.AUDITOR, web_audit, WebAuditArgs, "record a web console action (pseudonymous)"
        ),
        "compliance.check": Handler(
            Role.AUDITOR, compliance_check, None, "the start-up checklist, live"
        ),
        "compliance.documents": Handler(
            Role.AUDITOR, compliance_documents, None, "PIA and filing drafts (Markdown)"
        ),
    }
