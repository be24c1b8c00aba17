"""Where the audit keys live: two device keys in the encrypted store.

``Store.device_key("audit-signing")`` is a random 32-byte Ed25519 seed and
``Store.device_key("audit-subject")`` the BLAKE2b key of subject ids; both are wrapped by the
master key (they survive master-key rotation unchanged). The public half is written to
``<state_dir>/audit/verify.pub`` so an auditor verifies without the master key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.safety import AUDIT_DIR
from .log import AuditLog, signing_key_from_seed

if TYPE_CHECKING:
    from ..clock import Clock
    from ..store import Store

__all__ = ["AUDIT_SIGNING_KEY", "AUDIT_SUBJECT_KEY", "audit_folder", "open_audit_log"]

AUDIT_SIGNING_KEY = "audit-signing"
AUDIT_SUBJECT_KEY = "audit-subject"


def audit_folder(state_dir: Path) -> Path:
    """``<state_dir>/audit``."""
    return Path(state_dir) / AUDIT_DIR


def open_audit_log(
    store: Store, state_dir: Path, *, clock: Clock | None = None, **options: Any
) -> AuditLog:
    """Open (or create) the device's audit log with its keys from ``store``.

    Args:
        store: the open store (holds the wrapped device keys).
        state_dir: the state folder; the log lives in ``state_dir/audit``.
        clock: time source.
        **options: ``max_bytes``, ``batch``, ``sign_every_s``, ``keep_years`` for ``AuditLog``.
    """
    signing = signing_key_from_seed(store.device_key(AUDIT_SIGNING_KEY))
    subject = store.device_key(AUDIT_SUBJECT_KEY)
    return AuditLog(audit_folder(state_dir), signing, subject, clock=clock, **options)
