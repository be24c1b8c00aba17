"""The rows a face consent and its templates are stored as, written one way for every caller
(``enroll_person``, ``replace_face``, ``renew_consent``), inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from . import crypto

__all__ = [
    "ConsentInput",
    "GuardianConsent",
    "end_other_consents",
    "insert_consent",
    "insert_templates",
]


@dataclass(slots=True, frozen=True)
class ConsentInput:
    """Separate consent to face processing (Art. 6)."""

    method: str
    notice_version: str
    taken_by: str
    scope: str
    reference: str | None = None  # the signed form's number or the e-signature's id


@dataclass(slots=True, frozen=True)
class GuardianConsent:
    """A guardian's consent for a person under 14 (Art. 7)."""

    name: str
    relation: str
    method: str

    def __repr__(self) -> str:
        return f"GuardianConsent(relation={self.relation!r}, <name sealed>)"


def insert_consent(
    db: sqlite3.Connection,
    consent_id: str,
    pseudonym: str,
    now: float,
    consent: ConsentInput,
    *,
    data_key: bytes | None = None,
    guardian: GuardianConsent | None = None,
) -> None:
    """One separate consent record; a guardian's name is sealed with the person's data key."""
    sealed = None
    if guardian is not None:
        if data_key is None:
            raise ValueError("a guardian's name is sealed with the person's data key")
        sealed = crypto.seal(data_key, guardian.name.encode())
    db.execute(
        "INSERT INTO consents (consent_id, pseudonym, given_at, method, notice_version,"
        " taken_by, scope, separate, guardian_sealed, guardian_relation, guardian_method,"
        " reference) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
        (
            consent_id,
            pseudonym,
            now,
            consent.method,
            consent.notice_version,
            consent.taken_by,
            consent.scope,
            sealed,
            guardian.relation if guardian else None,
            guardian.method if guardian else None,
            consent.reference,
        ),
    )


def insert_templates(
    db: sqlite3.Connection,
    pseudonym: str,
    consent_id: str,
    space: str,
    rows: np.ndarray,
    expires_at: float,
    data_key: bytes,
    now: float,
) -> None:
    """Each template row sealed with the person's data key, under its consent and expiry."""
    db.executemany(
        "INSERT INTO templates (pseudonym, consent_id, space, dim, sealed, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                pseudonym,
                consent_id,
                space,
                int(row.shape[0]),
                crypto.seal(data_key, row.astype("<f4").tobytes()),
                now,
                expires_at,
            )
            for row in rows
        ],
    )


def end_other_consents(db: sqlite3.Connection, pseudonym: str, keep: str, now: float) -> None:
    """End every live consent of the person but ``keep`` (kept as records)."""
    db.execute(
        "UPDATE consents SET withdrawn_at = ? WHERE pseudonym = ? AND consent_id != ?"
        " AND withdrawn_at IS NULL",
        (now, pseudonym, keep),
    )
