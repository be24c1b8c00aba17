"""Which embedding spaces each person's stored templates are in (issue 20).

Templates of one embedder are never compared with another's, nor converted: a daemon
configured for another embedder cannot recognise those people until they enrol again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Store

__all__ = ["people_to_reenrol", "spaces_by_person"]


def spaces_by_person(store: Store) -> dict[str, tuple[str, ...]]:
    """Pseudonym → the embedding spaces of their stored templates (sorted)."""
    found: dict[str, set[str]] = {}
    for pseudonym, space in store.query("SELECT DISTINCT pseudonym, space FROM templates"):
        found.setdefault(str(pseudonym), set()).add(str(space))
    return {p: tuple(sorted(s)) for p, s in found.items()}


def people_to_reenrol(store: Store, space: str) -> int:
    """People with a stored face but no template in ``space`` (another embedder's templates:
    the daemon configured for ``space`` cannot match them, and never converts them)."""
    row = store.query(
        "SELECT COUNT(DISTINCT pseudonym) FROM templates WHERE pseudonym NOT IN "
        "(SELECT pseudonym FROM templates WHERE space = ?)",
        (space,),
    ).fetchone()
    return int(row[0])
