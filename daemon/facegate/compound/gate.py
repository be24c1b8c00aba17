"""The gate's compound state on its store: its keys, the office's key, applying changes.

``StoreGate`` is the :class:`~.link.Gate` the link talks to. Applying runs wherever its caller
runs it: the daemon wraps it so that it runs on the loop thread (``service/compound_link.py``),
the scale measurement and the tests call it directly, one change at a time (a lock).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path

from nacl.signing import VerifyKey

from ..config.retention import MAX_TEMPLATE_DAYS
from ..store import Store
from .apply import Applied, GateKeys, apply_change, hello
from .pki import CompoundPkiError

__all__ = ["StoreGate", "office_key"]


def office_key(folder: Path) -> VerifyKey:
    """The office's public key, from the grant installed in the gate's compound folder."""
    try:
        office = json.loads((folder / "office.json").read_text())
        return VerifyKey(base64.b64decode(office["office_key"]))
    except FileNotFoundError:
        raise CompoundPkiError(
            f"no office key in {folder}: install the office's grant (`facegate compound install`)"
        ) from None


class StoreGate:
    """Applies the office's changes to one gate's store."""

    def __init__(
        self,
        store: Store,
        device: str,
        office: VerifyKey,
        *,
        face_space: tuple[str, int] | None = None,
        on_change: Callable[[str, str], None] | None = None,
        on_unlock: Callable[[str], None] | None = None,
        template_days: int = MAX_TEMPLATE_DAYS,
    ) -> None:
        self.store = store
        self.template_days = template_days
        self.device = device
        self.office = office
        self.keys = GateKeys.from_store(store)
        self.face_space = face_space
        self.on_change = on_change
        self.on_unlock = on_unlock
        self._lock = threading.Lock()

    def apply(self, payload: bytes) -> Applied:
        with self._lock:
            applied = apply_change(
                self.store,
                self.keys,
                self.device,
                self.office,
                payload,
                face_space=self.face_space,
                template_days=self.template_days,
            )
        if applied.changed and self.on_change is not None:
            kind = {"enrol": "person_enrolled", "withdraw": "consent_withdrawn"}.get(
                applied.kind, "person_deleted"
            )
            self.on_change(kind, applied.pseudonym)
        return applied

    def hello(self) -> bytes:
        with self._lock:
            return hello(self.store, self.keys, self.device)

    def unlock(self, door: str) -> None:
        if self.on_unlock is not None:
            self.on_unlock(door)

    def refuse_unlock(self, door: str | None, reason: str) -> None:
        """Nothing opens; the daemon's wrapper records it (``service/compound_link.py``)."""
