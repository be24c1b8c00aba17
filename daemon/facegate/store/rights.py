"""A person's rights over their data (PIPL Art. 44-46, 50) and consent renewal (Art. 14).

- :func:`person_record`: everything the store holds about one person, for an export (access
  and copy): identity, consents, template count and expiry, credential kinds, recent events.
- :func:`correct_person`: correction of name, unit, phone, birth year or validity, in one
  transaction, with a processing record naming the fields (never their values).
- :func:`renew_consent` / :func:`consents_to_renew`: after the notice changed, who consented
  under an older version, and their new consent under the current one.
- :func:`sign_json`: sign a document with the device's audit key (as receipts are).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from . import crypto
from .face_rows import end_other_consents, insert_consent
from .lifecycle import ConsentInput, Identity, is_minor
from .people_index import INDEX_KEY, index_person

if TYPE_CHECKING:
    from .db import Store

__all__ = [
    "Correction",
    "RenewalDue",
    "consents_to_renew",
    "correct_person",
    "person_record",
    "read_identity",
    "renew_consent",
    "sign_json",
]


@dataclass(slots=True, frozen=True)
class Correction:
    """Fields to correct; ``None`` leaves a field as it is, ``""`` clears a text field."""

    name: str | None = None
    unit: str | None = None
    phone: str | None = None
    birth_year: int | None = None
    valid_until: float | None = None

    def __repr__(self) -> str:
        return "Correction(<sealed>)"


@dataclass(slots=True, frozen=True)
class RenewalDue:
    """A person whose face is covered only by consent to an older notice."""

    pseudonym: str
    consent_id: str
    notice_version: str
    given_at: float


def _person(store: Store, pseudonym: str) -> tuple[bytes, int, float | None, float | None]:
    row = store.query(
        "SELECT wrapped_key, minor, valid_from, valid_until FROM people WHERE pseudonym = ?",
        (pseudonym,),
    ).fetchone()
    if row is None:
        raise StoreError(f"no person {pseudonym}")
    return row[0], int(row[1]), row[2], row[3]


def read_identity(store: Store, pseudonym: str) -> Identity | None:
    """The person's identity, decrypted (``None`` when none was given).

    Raises:
        StoreError: no such person.
    """
    wrapped = _person(store, pseudonym)[0]
    row = store.query("SELECT sealed FROM identities WHERE pseudonym = ?", (pseudonym,)).fetchone()
    if row is None:
        return None
    key = store.unwrap_key(wrapped, what=f"data key of {pseudonym}")
    return Identity(**json.loads(crypto.open_sealed(key, row[0], what="identity record")))


def correct_person(
    store: Store, pseudonym: str, fix: Correction, *, minor_age: int = 14
) -> list[str]:
    """Apply ``fix`` in one transaction; returns the names of the fields that changed.

    A shorter validity also shortens the face's expiry and the PIN/card's validity. A birth
    year that makes a person with a face a minor is refused (their face needs a guardian's
    consent: withdraw it and enrol again).

    Raises:
        StoreError: no such person, nothing to change, or the rule above.
    """
    wrapped, minor, _vf, valid_until = _person(store, pseudonym)
    old = read_identity(store, pseudonym) or Identity()
    fields: dict[str, Any] = {
        "name": old.name,
        "unit": old.unit,
        "phone": old.phone,
        "birth_year": old.birth_year,
    }
    changed: list[str] = []
    for label in ("name", "unit", "phone", "birth_year"):
        value = getattr(fix, label)
        if value is None:
            continue
        new = value if not isinstance(value, str) else (value.strip() or None)
        if new != fields[label]:
            fields[label] = new
            changed.append(label)
    if fix.valid_until is not None and fix.valid_until != valid_until:
        changed.append("valid_until")
    if not changed:
        raise StoreError("nothing to correct: every field given already holds that value")
    identity = Identity(**fields)
    now = store.clock.time()
    becomes_minor = is_minor(identity, bool(minor), now, minor_age)
    index_key = store.device_key(INDEX_KEY)
    data_key = store.unwrap_key(wrapped, what=f"data key of {pseudonym}")
    with store.transaction() as db:
        has_face = db.execute(
            "SELECT COUNT(*) FROM templates WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()[0]
        guardian = db.execute(
            "SELECT COUNT(*) FROM consents WHERE pseudonym = ? AND withdrawn_at IS NULL"
            " AND guardian_relation IS NOT NULL",
            (pseudonym,),
        ).fetchone()[0]
        if becomes_minor and has_face and not guardian:
            raise StoreError(
                "this birth year makes the person a minor, whose face needs a guardian's "
                "consent: withdraw the face (`facegate person withdraw`) and enrol again with "
                "the guardian, or correct the year"
            )
        sealed = crypto.seal(data_key, json.dumps(fields, sort_keys=True).encode("utf-8"))
        db.execute(
            "INSERT INTO identities (pseudonym, sealed) VALUES (?, ?)"
            " ON CONFLICT(pseudonym) DO UPDATE SET sealed = excluded.sealed",
            (pseudonym, sealed),
        )
        db.execute(
            "UPDATE people SET minor = ? WHERE pseudonym = ?", (int(becomes_minor), pseudonym)
        )
        index_person(db, index_key, pseudonym, identity)
        if "valid_until" in changed:
            until = fix.valid_until
            db.execute("UPDATE people SET valid_until = ? WHERE pseudonym = ?", (until, pseudonym))
            db.execute(
                "UPDATE templates SET expires_at = MIN(expires_at, ?) WHERE pseudonym = ?",
                (until, pseudonym),
            )
            db.execute(
                "UPDATE credentials SET valid_until = ? WHERE pseudonym = ?", (until, pseudonym)
            )
        store.record(db, "person_corrected", pseudonym, None, {"fields": changed})
    return changed


def person_record(store: Store, pseudonym: str, *, events: int = 50) -> dict[str, Any]:
    """Everything held about one person (for ``person export``); times are Unix seconds.

    Raises:
        StoreError: no such person.
    """
    _wrapped, minor, valid_from, valid_until = _person(store, pseudonym)
    created = store.query(
        "SELECT created_at FROM people WHERE pseudonym = ?", (pseudonym,)
    ).fetchone()[0]
    identity = read_identity(store, pseudonym)
    count, expiry = store.query(
        "SELECT COUNT(*), MIN(expires_at) FROM templates WHERE pseudonym = ?", (pseudonym,)
    ).fetchone()
    consents = [
        {
            "consent": cid,
            "given_at": given,
            "method": method,
            "notice_version": version,
            "taken_by": taken_by,
            "scope": scope,
            "guardian_relation": relation,
            "withdrawn_at": withdrawn,
            "reference": reference,
        }
        for cid, given, method, version, taken_by, scope, relation, withdrawn, reference in (
            store.query(
                "SELECT consent_id, given_at, method, notice_version, taken_by, scope,"
                " guardian_relation, withdrawn_at, reference FROM consents WHERE pseudonym = ?"
                " ORDER BY given_at",
                (pseudonym,),
            )
        )
    ]
    credentials = [
        {"kind": kind, "valid_until": until}
        for kind, until in store.query(
            "SELECT kind, valid_until FROM credentials WHERE pseudonym = ? ORDER BY kind",
            (pseudonym,),
        )
    ]
    recent = [
        {"ts": ts, "door": door, "method": method, "result": result}
        for ts, door, method, result in reversed(
            store.query(
                "SELECT ts, door, method, result FROM events WHERE subject = ?"
                " ORDER BY id DESC LIMIT ?",
                (pseudonym, events),
            ).fetchall()
        )
    ]
    return {
        "person": pseudonym,
        "created_at": created,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "minor": bool(minor),
        "identity": {
            "name": identity.name if identity else None,
            "unit": identity.unit if identity else None,
            "phone": identity.phone if identity else None,
            "birth_year": identity.birth_year if identity else None,
        },
        "consents": consents,
        "face": {"templates": int(count), "expires_at": expiry},
        "credentials": credentials,
        "events": recent,
    }


def consents_to_renew(store: Store, current_version: str) -> list[RenewalDue]:
    """Active consents covering a face under a notice other than ``current_version``."""
    return [
        RenewalDue(*row)
        for row in store.query(
            "SELECT c.pseudonym, c.consent_id, c.notice_version, c.given_at FROM consents c"
            " WHERE c.withdrawn_at IS NULL AND c.notice_version != ?"
            " AND EXISTS (SELECT 1 FROM templates t WHERE t.consent_id = c.consent_id)"
            " ORDER BY c.given_at",
            (current_version,),
        )
    ]


def renew_consent(store: Store, pseudonym: str, consent: ConsentInput) -> str:
    """Record the person's new consent (under the current notice) for the face they have.

    The templates move to the new consent; the old consent ends (kept as a record for the
    record period). A guardian's consent carries over only by a new enrolment.

    Raises:
        StoreError: no such person, or no face to consent for.
    """
    _person(store, pseudonym)
    now = store.clock.time()
    new_id = "c-" + uuid.uuid4().hex[:16]
    with store.transaction() as db:
        old = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT consent_id FROM templates WHERE pseudonym = ?", (pseudonym,)
            )
        ]
        if not old:
            raise StoreError(f"{pseudonym} has no face to consent for; enrol them instead")
        guardian = db.execute(
            "SELECT guardian_sealed, guardian_relation, guardian_method FROM consents"
            " WHERE consent_id = ?",
            (old[0],),
        ).fetchone()
        if guardian is not None and guardian[1] is not None:
            raise StoreError(
                "this person's face was enrolled with a guardian's consent: enrol again with "
                "the guardian under the current notice"
            )
        insert_consent(db, new_id, pseudonym, now, consent)
        db.execute("UPDATE templates SET consent_id = ? WHERE pseudonym = ?", (new_id, pseudonym))
        end_other_consents(db, pseudonym, new_id, now)
        store.record(
            db,
            "consent_renewed",
            pseudonym,
            new_id,
            {
                "replaces": old,
                "method": consent.method,
                "notice_version": consent.notice_version,
                "taken_by": consent.taken_by,
                "reference": consent.reference,
            },
        )
    return new_id


def sign_json(store: Store, payload: dict[str, Any]) -> tuple[str, str, str]:
    """``(canonical JSON, signature hex, public key hex)`` with the device's audit key.

    Anyone holding the public key (``<state_dir>/audit/verify.pub``) can check it.
    """
    from nacl.encoding import HexEncoder
    from nacl.signing import SigningKey

    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    key = SigningKey(store.device_key("audit-signing"))
    signature = key.sign(text.encode("utf-8")).signature
    return text, signature.hex(), key.verify_key.encode(encoder=HexEncoder).decode("ascii")
