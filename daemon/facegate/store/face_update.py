"""A person's face enrolled again under the same pseudonym: new or corrected templates.

In a compound the office sends a person again when their photos were retaken or their
templates corrected; the gate replaces what it holds in one transaction: the new consent
record sent with the templates is stored, the templates under the old consent are deleted,
the new ones sealed with the person's own data key, and the old consent ends (kept as a
record for the record period, as ``renew_consent`` does). A person whose consent was
withdrawn here is not brought back this way: a new enrolment is a new pseudonym.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from .face_rows import end_other_consents, insert_consent, insert_templates
from .lifecycle import ConsentInput, GuardianConsent, Then

if TYPE_CHECKING:
    from .db import Store

__all__ = ["replace_face"]


def replace_face(
    store: Store,
    pseudonym: str,
    *,
    consent: ConsentInput,
    templates: np.ndarray,
    space: str,
    expires_at: float,
    minor: bool = False,
    guardian: GuardianConsent | None = None,
    then: Then = None,
) -> tuple[int, int]:
    """Replace the person's face; ``(templates deleted, templates stored)``.

    Raises:
        StoreError: no such person, no live consent here (withdrawn), or a rule of
            ``enroll_person`` broken (nothing changes).
    """
    rows = np.atleast_2d(np.asarray(templates, dtype=np.float32))
    if rows.ndim != 2 or rows.size == 0 or not np.all(np.isfinite(rows)):
        raise StoreError("templates must be a finite, non-empty (k, dim) array")
    if minor and guardian is None:
        raise StoreError("this person may be under 14: their face needs a guardian's consent")
    for label, value in (
        ("consent method", consent.method),
        ("notice version", consent.notice_version),
        ("consent taker", consent.taken_by),
        ("consent scope", consent.scope),
    ):
        if not value or not value.strip():
            raise StoreError(f"the {label} must not be empty")
    person = store.query(
        "SELECT wrapped_key, valid_until FROM people WHERE pseudonym = ?", (pseudonym,)
    ).fetchone()
    if person is None:
        raise StoreError(f"no person {pseudonym}")
    data_key = store.unwrap_key(person[0], what=f"data key of {pseudonym}")
    if person[1] is not None:  # a face never outlives the person's access
        expires_at = min(expires_at, float(person[1]))
    now = store.clock.time()
    new_id = "c-" + uuid.uuid4().hex[:16]
    with store.transaction() as db:
        old = [
            r[0]
            for r in db.execute(
                "SELECT consent_id FROM consents WHERE pseudonym = ? AND withdrawn_at IS NULL",
                (pseudonym,),
            )
        ]
        if not old:
            raise StoreError(
                f"{pseudonym}'s consent was withdrawn here: a new enrolment is a new pseudonym"
            )
        insert_consent(db, new_id, pseudonym, now, consent, data_key=data_key, guardian=guardian)
        deleted = db.execute("DELETE FROM templates WHERE pseudonym = ?", (pseudonym,)).rowcount
        insert_templates(db, pseudonym, new_id, space, rows, expires_at, data_key, now)
        end_other_consents(db, pseudonym, new_id, now)
        db.execute("UPDATE people SET minor = ? WHERE pseudonym = ?", (int(minor), pseudonym))
        store.record(
            db,
            "face_replaced",
            pseudonym,
            new_id,
            {
                "replaces": old,
                "templates_deleted": deleted,
                "templates": len(rows),
                "method": consent.method,
                "notice_version": consent.notice_version,
                "scope": consent.scope,
                "guardian": guardian is not None,
            },
        )
        if then is not None:
            then(db)
    return deleted, len(rows)
