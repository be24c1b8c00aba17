"""The device's card-hash and PIN-tag keys, kept (wrapped) in the store."""

from __future__ import annotations

from ..policy.credentials import CredentialKeys
from .db import Store

__all__ = ["CARD_KEY", "PIN_KEY", "credential_keys"]

CARD_KEY = "card-hash"
PIN_KEY = "pin-tag"


def credential_keys(store: Store) -> CredentialKeys:
    """The device's card-hash and PIN-tag keys: random, wrapped by the master key.

    They are not derived from the master key, so rotating the master key keeps every
    enrolled card and PIN working.
    """
    return CredentialKeys(card_key=store.device_key(CARD_KEY), pin_key=store.device_key(PIN_KEY))
