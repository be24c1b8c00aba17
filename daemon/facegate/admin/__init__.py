"""The admin socket: the only way to manage a running daemon (2025 Measures Art. 14).

Roles come from the kernel's peer credentials, never from what a client says.
"""

from __future__ import annotations

from .client import DEFAULT_SOCKET, AdminClient, AdminError
from .dispatch import LoopDispatcher
from .protocol import DEFAULT_MAX_BYTES, Reply, Request
from .roles import PeerCred, Role, RoleMap, peer_credentials
from .server import AdminAuditEvent, AdminCommandError, AdminServer, Handler

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SOCKET",
    "AdminAuditEvent",
    "AdminClient",
    "AdminCommandError",
    "AdminError",
    "AdminServer",
    "Handler",
    "LoopDispatcher",
    "PeerCred",
    "Reply",
    "Request",
    "Role",
    "RoleMap",
    "peer_credentials",
]
