"""Glue between the ``admin:`` config section, the audit log and ``AdminServer``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .roles import PeerCred, Role, RoleMap
from .server import AdminAuditEvent, AdminServer, Handler

if TYPE_CHECKING:
    from ..audit import AuditLog
    from ..config.appliance import AdminConfig

__all__ = ["audit_handlers", "audit_sink", "build_admin_server", "role_map"]

logger = logging.getLogger(__name__)


def role_map(cfg: AdminConfig) -> RoleMap:
    """The ``RoleMap`` described by ``admin.uids``, ``admin.groups``, ``admin.root_is_admin``."""
    return RoleMap.from_config(dict(cfg.uids), dict(cfg.groups), root_is_admin=cfg.root_is_admin)


def audit_sink(log: AuditLog | None) -> Callable[[AdminAuditEvent], None]:
    """An ``on_audit`` callback that appends an ``admin`` record per request outcome.

    Only the command, the outcome, the caller's uid/gid/pid and role: never the arguments.
    """

    def sink(event: AdminAuditEvent) -> None:
        if log is None:
            return
        log.append(
            "admin",
            outcome=event.outcome,
            command=event.command,
            uid=event.uid,
            gid=event.gid,
            pid=event.pid,
            role=event.role,
        )

    return sink


def build_admin_server(
    cfg: AdminConfig,
    handlers: Mapping[str, Handler],
    audit: AuditLog | None,
    *,
    on_refused: Callable[[AdminAuditEvent], None] | None = None,
) -> AdminServer:
    """An ``AdminServer`` configured from ``cfg`` that audits into ``audit``.

    ``on_refused`` additionally hears every request refused for lack of a role (an
    intrusion alarm for the daemon); it is called on the admin thread.
    """
    sink = audit_sink(audit)

    def on_audit(event: AdminAuditEvent) -> None:
        sink(event)
        if on_refused is not None and event.outcome == "forbidden":
            on_refused(event)

    return AdminServer(
        cfg.socket,
        handlers,
        role_map(cfg),
        on_audit=on_audit,
        max_bytes=cfg.max_request_bytes,
        group=cfg.group or None,
        timeout_s=cfg.timeout_s,
        max_clients=cfg.max_clients,
    )


def audit_handlers(log: AuditLog) -> dict[str, Handler]:
    """``audit.verify`` for the auditor role: checks the live log with its own public key.

    Runs on the admin thread (it only reads the files), so it needs no ``LoopDispatcher``.
    """
    from ..audit import verify

    def audit_verify(_args: Any, _peer: PeerCred) -> dict[str, Any]:
        report = verify(log.folder, live=True)
        broken = report.first_broken
        return {
            "ok": report.ok,
            "records": report.records,
            "files": report.files,
            "signatures": report.signatures,
            "first_seq": report.first_seq,
            "last_seq": report.last_seq,
            "unsigned_tail": report.unsigned_tail,
            "key_id": log.key_id,
            "first_broken": None
            if broken is None
            else {"file": broken.file, "line": broken.line, "reason": broken.reason},
        }

    return {
        "audit.verify": Handler(Role.AUDITOR, audit_verify, summary="verify the audit trail"),
    }
