"""Find one person by name or unit without decrypting everyone (PIPL Art. 44-46: access).

Names and units are sealed with each person's own key, so a lookup would otherwise open every
identity. Instead each person has a *blind index*: ``HMAC-SHA256(device key, field ‖ value)``
of the normalised name and unit (NFKC, case-folded, every space and punctuation mark removed),
stored beside the pseudonym. ``find_people`` computes the token of what the admin typed and
opens only the identities whose token matches. The device key never leaves the store (it is
wrapped by the master key), so the tokens say nothing to someone holding the database alone.

Rows enrolled before the index existed are indexed by :func:`backfill` (once, in one
transaction; ``people.indexed`` records which are done).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import unicodedata
from typing import TYPE_CHECKING, Literal

from . import crypto
from .identity import Identity

if TYPE_CHECKING:
    from .db import Store

__all__ = ["INDEX_KEY", "backfill", "find_people", "index_person", "normalise", "token"]

INDEX_KEY = "blind-index"
Field = Literal["name", "unit"]


def normalise(text: str) -> str:
    """The form that is indexed: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def token(key: bytes, field: Field, value: str) -> str | None:
    """The blind-index token of ``value`` (``None`` when nothing is left to index)."""
    norm = normalise(value)
    if not norm:
        return None
    return hmac.new(key, f"{field}\x00{norm}".encode(), hashlib.sha256).hexdigest()


def index_person(
    db: sqlite3.Connection, key: bytes, pseudonym: str, identity: Identity | None
) -> None:
    """(Re)write a person's index rows inside the caller's transaction."""
    db.execute("DELETE FROM person_index WHERE pseudonym = ?", (pseudonym,))
    if identity is not None:
        for field, value in (("name", identity.name), ("unit", identity.unit)):
            tok = token(key, field, value) if value else None  # type: ignore[arg-type]
            if tok is not None:
                db.execute(
                    "INSERT INTO person_index (pseudonym, field, token) VALUES (?, ?, ?)",
                    (pseudonym, field, tok),
                )
    db.execute("UPDATE people SET indexed = 1 WHERE pseudonym = ?", (pseudonym,))


def _identity(store: Store, pseudonym: str, wrapped: bytes) -> Identity | None:
    row = store.query("SELECT sealed FROM identities WHERE pseudonym = ?", (pseudonym,)).fetchone()
    if row is None:
        return None
    data_key = store.unwrap_key(wrapped, what=f"data key of {pseudonym}")
    return Identity(**json.loads(crypto.open_sealed(data_key, row[0], what="identity record")))


def backfill(store: Store) -> int:
    """Index every person not indexed yet (rows from before schema v3); returns how many."""
    todo = store.query("SELECT pseudonym, wrapped_key FROM people WHERE indexed = 0").fetchall()
    if not todo:
        return 0
    key = store.device_key(INDEX_KEY)
    found = [(p, _identity(store, p, wrapped)) for p, wrapped in todo]
    with store.transaction() as db:
        for pseudonym, identity in found:
            index_person(db, key, pseudonym, identity)
    return len(found)


def find_people(
    store: Store, *, name: str | None = None, unit: str | None = None
) -> list[tuple[str, Identity | None]]:
    """People whose normalised name and/or unit equal the ones given, with their identity.

    Only the matching identities are decrypted. Both given: both must match.

    Raises:
        ValueError: neither given, or one normalises to nothing.
    """
    wanted: list[tuple[Field, str]] = []
    if name is not None:
        wanted.append(("name", name))
    if unit is not None:
        wanted.append(("unit", unit))
    if not wanted:
        raise ValueError("give a name or a unit to look for")
    backfill(store)
    key = store.device_key(INDEX_KEY)
    matches: set[str] | None = None
    for field, value in wanted:
        tok = token(key, field, value)
        if tok is None:
            raise ValueError(f"the {field} to look for has no letters or digits")
        hits = {
            r[0]
            for r in store.query(
                "SELECT pseudonym FROM person_index WHERE field = ? AND token = ?", (field, tok)
            )
        }
        matches = hits if matches is None else matches & hits
    out: list[tuple[str, Identity | None]] = []
    for pseudonym in sorted(matches or ()):
        row = store.query(
            "SELECT wrapped_key FROM people WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        if row is not None:
            out.append((pseudonym, _identity(store, pseudonym, row[0])))
    return out
