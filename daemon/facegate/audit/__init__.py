"""The audit trail: append-only, hash-chained, signed, pseudonymous (2025 Measures Art. 9, 14).

``AuditLog`` appends; ``verify`` checks a folder with only the public key; ``export`` writes a
bundle an auditor verifies on its own; ``open_audit_log`` wires it to the store's device keys.
"""

from __future__ import annotations

from .export import ExportResult, export, verify_bundle
from .log import AuditLog, audit_files, signing_key_from_seed, write_public_key
from .records import AuditError, AuditFieldError, subject_id
from .signing import AUDIT_SIGNING_KEY, AUDIT_SUBJECT_KEY, audit_folder, open_audit_log
from .verify import Broken, VerifyReport, verify

__all__ = [
    "AUDIT_SIGNING_KEY",
    "AUDIT_SUBJECT_KEY",
    "AuditError",
    "AuditFieldError",
    "AuditLog",
    "Broken",
    "ExportResult",
    "VerifyReport",
    "audit_files",
    "audit_folder",
    "export",
    "open_audit_log",
    "signing_key_from_seed",
    "subject_id",
    "verify",
    "verify_bundle",
    "write_public_key",
]
