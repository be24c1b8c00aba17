"""``serve_admin``: the admin socket of a running daemon, with every command it serves.

The commands come from their own modules: the daemon's own (``admin_commands``), the audit
trail's (``admin.wiring``), the rights (``rights``), the camera enrolment (``camera_enrol``),
the mock inputs of a daemon on mock pins (``mock_inputs``) and the web console's
(``web_support``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..admin import AdminAuditEvent, AdminServer, Handler
from ..admin.wiring import audit_handlers, build_admin_server
from ..audit import AuditLog
from ..config.appliance import AdminConfig
from .admin_commands import admin_handlers
from .camera_enrol import camera_handlers
from .control import Control
from .mock_inputs import mock_input_handlers
from .rights import rights_handlers
from .web_support import web_handlers

if TYPE_CHECKING:
    from .face_way import FaceWay

__all__ = ["serve_admin"]

logger = logging.getLogger(__name__)


def serve_admin(
    app: Control,
    cfg: AdminConfig,
    audit: AuditLog,
    *,
    extra: dict[str, Handler] | None = None,
    on_refused: Callable[[AdminAuditEvent], None] | None = None,
    faces: FaceWay | None = None,
) -> AdminServer | None:
    """Start the admin socket for a running daemon; ``None`` when its folder does not exist
    (outside systemd, no ``RuntimeDirectory=``: the daemon runs without the socket)."""
    if not cfg.socket.parent.is_dir():
        logger.warning("admin socket disabled: %s does not exist", cfg.socket.parent)
        return None
    daemon = admin_handlers(app)
    handlers = {
        **audit_handlers(audit),
        **daemon,
        **camera_handlers(app, faces, daemon["enroll"].func),
        **rights_handlers(app),
        **mock_input_handlers(app),
        **web_handlers(app, audit),
        **(extra or {}),
    }
    server = build_admin_server(cfg, handlers, audit, on_refused=on_refused)
    server.start()
    return server
