"""Glue between the ``admin:`` config section, the audit log and ``AdminServer``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .protocol import EXPORT_MAX_BUNDLE_BYTES
from .roles import PeerCred, Role, RoleMap
from .server import AdminAuditEvent, AdminCommandError, AdminServer, Handler

if TYPE_CHECKING:
    from ..audit import AuditLog
    from ..config.appliance import AdminConfig

__all__ = [
    "AuditExportArgs",
    "audit_handlers",
    "audit_sink",
    "build_admin_server",
    "role_map",
]

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


# An export on the socket is one reply: the period's audit files are bounded (8 files of the
# log's 4 MiB), and so is the compressed bundle the reply carries (protocol.py).
EXPORT_MAX_FILES_BYTES = 32 * 1024 * 1024


class AuditExportArgs(BaseModel):
    """A period, as ``facegate audit export --from --to`` gives it (Unix times)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    start: float = Field(ge=946_684_800, le=4_102_444_800, allow_inf_nan=False)  # 2000-2100
    end: float = Field(ge=946_684_800, le=4_102_444_800, allow_inf_nan=False)


def audit_handlers(log: AuditLog) -> dict[str, Handler]:
    """``audit.verify`` and ``audit.export`` for the auditor role: check the live log with its
    own public key; bundle a period as ``facegate audit export`` does, returned in the reply
    (base64 of the ``.tar.gz``; nothing is written on the device).

    They run on the admin thread (they only read the files), so they need no
    ``LoopDispatcher`` and never hold the gate loop.
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

    exporting = threading.Lock()  # one bundle in memory at a time, whatever the clients

    def audit_export(args: AuditExportArgs, peer: PeerCred) -> dict[str, Any]:
        if not exporting.acquire(blocking=False):
            raise AdminCommandError("busy", "another audit export is running; try again")
        try:
            return _export(args)
        finally:
            exporting.release()

    def _export(args: AuditExportArgs) -> dict[str, Any]:
        import base64
        import hashlib
        import io

        from ..audit.export import export

        log.flush()  # records still pending are part of the period asked for
        buffer = io.BytesIO()
        try:
            result = export(
                log.folder, args.start, args.end, buffer, max_bytes=EXPORT_MAX_FILES_BYTES
            )
        except ValueError as exc:  # an empty or reversed period, or too much for one reply
            raise AdminCommandError("bad_request", str(exc)) from None
        bundle = buffer.getvalue()
        if len(bundle) > EXPORT_MAX_BUNDLE_BYTES:
            raise AdminCommandError(
                "bad_request",
                f"the bundle is {len(bundle) / 2**20:.1f} MiB, more than "
                f"{EXPORT_MAX_BUNDLE_BYTES / 2**20:.0f} MiB; choose a shorter period, or run "
                "`facegate audit export` on the device",
            )
        return {
            "bundle": base64.b64encode(bundle).decode("ascii"),
            "sha256": hashlib.sha256(bundle).hexdigest(),
            "bytes": len(bundle),
            "files": list(result.files),
            "first_seq": result.first_seq,
            "last_seq": result.last_seq,
            "key_id": log.key_id,
        }

    return {
        "audit.verify": Handler(Role.AUDITOR, audit_verify, summary="verify the audit trail"),
        "audit.export": Handler(
            Role.AUDITOR,
            audit_export,
            AuditExportArgs,
            "a verifiable bundle of a period (base64 .tar.gz in the reply)",
        ),
    }
