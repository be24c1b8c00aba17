"""The encrypted on-device store."""

from .crypto import create_master_key, load_master_key, resolve_key_path
from .db import Event, Store, new_pseudonym
from .lifecycle import (
    ConsentInput,
    CredentialInput,
    Enrolled,
    GuardianConsent,
    Identity,
    PersonSummary,
    Receipt,
    delete_person,
    enroll_person,
    is_minor,
    list_people,
    withdraw,
)
from .master_key import RotationResult, open_store, resolve_pending_rotation, rotate_master_key
from .retention import PurgeReport, purge_expired
from .spaces import people_to_reenrol, spaces_by_person

__all__ = [
    "ConsentInput",
    "CredentialInput",
    "Enrolled",
    "Event",
    "GuardianConsent",
    "Identity",
    "PersonSummary",
    "PurgeReport",
    "Receipt",
    "RotationResult",
    "Store",
    "create_master_key",
    "delete_person",
    "enroll_person",
    "is_minor",
    "list_people",
    "load_master_key",
    "new_pseudonym",
    "open_store",
    "people_to_reenrol",
    "purge_expired",
    "resolve_key_path",
    "resolve_pending_rotation",
    "rotate_master_key",
    "spaces_by_person",
    "withdraw",
]
