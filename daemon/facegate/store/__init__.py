"""The encrypted on-device store."""

from .crypto import create_master_key, load_master_key, resolve_key_path
from .db import ConsentRecord, Event, Store, new_pseudonym

__all__ = [
    "ConsentRecord",
    "Event",
    "Store",
    "create_master_key",
    "load_master_key",
    "new_pseudonym",
    "resolve_key_path",
]
