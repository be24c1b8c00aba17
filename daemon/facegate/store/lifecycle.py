"""A person's life in the store: enrol with consent, withdraw, delete (expiry: retention.py).

The law's core promise to a resident (2025 Measures Art. 6-8): a face is taken only with their
separate consent (a guardian's under 14), it stays encrypted on this device, and when they
withdraw it is gone. Each function here is one transaction: a crash leaves the person either
fully enrolled or not at all, fully withdrawn or not at all. Every change leaves a processing
record (no name, no biometric) that is kept for years.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import StoreError
from . import crypto
from .db import new_pseudonym
from .face_rows import ConsentInput, GuardianConsent, insert_consent, insert_templates
from .identity import Identity
from .people_index import INDEX_KEY, index_person

if TYPE_CHECKING:
    from .db import Store

__all__ = [
    "ConsentInput",
    "CredentialInput",
    "Enrolled",
    "GuardianConsent",
    "Identity",
    "PersonSummary",
    "Receipt",
    "delete_person",
    "enroll_person",
    "is_minor",
    "list_people",
    "withdraw",
]

logger = logging.getLogger(__name__)

# Run inside the change's own transaction (the compound records the change's sequence number
# there, so a change and the fact that it was applied commit together or not at all).
Then = Callable[[sqlite3.Connection], None] | None


@dataclass(slots=True, frozen=True)
class CredentialInput:
    """A PIN or card, already hashed by the caller (the raw value never reaches the store)."""

    kind: Literal["pin", "card"]
    lookup: str
    verifier: str | None = None
    valid_until: float | None = None


@dataclass(slots=True, frozen=True)
class Enrolled:
    pseudonym: str
    consent_id: str | None
    templates: int
    credentials: int


@dataclass(slots=True, frozen=True)
class Receipt:
    """What was deleted, when, under which consent: handed to the resident on request."""

    kind: Literal["withdrawal", "deletion"]
    pseudonym: str
    consent_ids: tuple[str, ...]
    deleted: dict[str, int]
    at: float
    kept: tuple[str, ...] = ()

    def lines(self, tz: str = "Asia/Shanghai") -> list[str]:
        """The receipt in Simplified Chinese, then English, at local time in ``tz``
        (``calendar.timezone``), with the UTC time beside it."""
        from zoneinfo import ZoneInfo

        local = datetime.fromtimestamp(self.at, ZoneInfo(tz))
        utc = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        zone = "北京时间" if tz == "Asia/Shanghai" else tz
        when_zh = f"{local:%Y年%m月%d日 %H:%M:%S}（{zone}；{utc}）"
        when_en = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({tz}; {utc})"
        withdrawal = self.kind == "withdrawal"
        title_zh = "撤回同意回执" if withdrawal else "个人信息删除回执"
        title_en = "consent withdrawal" if withdrawal else "deletion"
        labels_zh = {"face templates": "人脸特征模板", "PIN/card credentials": "密码/门禁卡凭据",
                     "identity records": "身份信息"}  # fmt: skip
        out = [
            f"facegate {title_zh}",
            f"  编号（假名）： {self.pseudonym}",
            f"  同意记录：     {', '.join(self.consent_ids) or '-'}",
            f"  时间：         {when_zh}",
        ]
        for what, n in self.deleted.items():
            out.append(f"  已删除：       {labels_zh.get(what, what)} {n} 项")
        out += [f"  保留：         {what.replace(' entry', '')}通行方式" for what in self.kept]
        out += [
            "",
            f"facegate {title_en} receipt",
            f"  person:    {self.pseudonym}",
            f"  consent:   {', '.join(self.consent_ids) or '-'}",
            f"  time:      {when_en}",
        ]
        out += [f"  deleted:   {n} {what}" for what, n in self.deleted.items()]
        out += [f"  kept:      {what}" for what in self.kept]
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def signed(self, store: Store) -> tuple[str, str]:
        """Sign the receipt with the device's Ed25519 audit key: ``(signature, public key)``.

        Anyone holding the public key (``<state_dir>/audit/verify.pub``) can check it.
        """
        from nacl.encoding import HexEncoder
        from nacl.signing import SigningKey

        key = SigningKey(store.device_key("audit-signing"))
        signature = key.sign(self.to_json().encode("utf-8")).signature
        return signature.hex(), key.verify_key.encode(encoder=HexEncoder).decode("ascii")


@dataclass(slots=True, frozen=True)
class PersonSummary:
    pseudonym: str
    created_at: float
    templates: int
    face_expires_at: float | None
    credentials: tuple[str, ...]
    consent: Literal["given", "withdrawn", "none"]
    minor: bool
    identity: Identity | None = None


def is_minor(identity: Identity | None, flagged: bool, now: float, minor_age: int = 14) -> bool:
    """Whether the person may be under ``minor_age``.

    With only a birth year the exact age is unknown: anyone who may not yet have had their
    ``minor_age``-th birthday this year counts as a minor (the safe side of Art. 7).
    """
    if flagged:
        return True
    if identity is None or identity.birth_year is None:
        return False
    year = datetime.fromtimestamp(now, UTC).year
    return year - identity.birth_year <= minor_age


def _seal_json(key: bytes, value: dict[str, object]) -> bytes:
    return crypto.seal(key, json.dumps(value, sort_keys=True).encode("utf-8"))


def enroll_person(
    store: Store,
    *,
    identity: Identity | None = None,
    minor: bool = False,
    consent: ConsentInput | None = None,
    guardian: GuardianConsent | None = None,
    templates: np.ndarray | None = None,
    space: str | None = None,
    expires_at: float | None = None,
    credentials: tuple[CredentialInput, ...] = (),
    valid_from: float | None = None,
    valid_until: float | None = None,
    age: str | None = None,
    pseudonym: str | None = None,
    then: Then = None,
) -> Enrolled:
    """Create a person with any of: face templates, PIN, card — in one transaction.

    A face needs a separate consent record; a minor's face also needs a guardian's consent.
    PIN or card alone needs no biometric consent: face is never required. ``pseudonym`` keeps
    a compound's pseudonym (the office's) instead of drawing a new one; ``then`` runs inside
    the transaction.

    Raises:
        StoreError: a rule is broken (nothing is stored) or a credential is already in use.
    """
    rows = None
    face: tuple[str, np.ndarray, float] | None = None  # checked: space, rows, expiry
    if templates is not None:
        rows = np.atleast_2d(np.asarray(templates, dtype=np.float32))
        if rows.ndim != 2 or rows.size == 0 or not np.all(np.isfinite(rows)):
            raise StoreError("templates must be a finite, non-empty (k, dim) array")
        if consent is None:
            raise StoreError(
                "a face template can only be stored with the person's separate consent "
                "(2025 Measures Art. 6); record it or enrol PIN/card only"
            )
        if minor and guardian is None:
            raise StoreError(
                "this person may be under 14: their face can only be enrolled with a "
                "guardian's consent (Art. 7); give the guardian's name, relation and how they "
                "consented, or enrol PIN/card only"
            )
        if space is None:
            raise StoreError("templates need their embedding space")
        if expires_at is None:
            raise StoreError("a face template needs an expiry date (retention, Art. 8)")
        if valid_until is not None:  # a face never outlives the person's access
            expires_at = min(expires_at, valid_until)
        face = (space, rows, expires_at)
    if rows is None and not credentials:
        raise StoreError("nothing to enrol: give a face (with consent), a PIN or a card")
    for label, key, value in (
        ("consent method", "method", consent.method if consent else "x"),
        ("notice version", "notice_version", consent.notice_version if consent else "x"),
        ("consent taker", "taken_by", consent.taken_by if consent else "x"),
        ("consent scope", "scope", consent.scope if consent else "x"),
        ("guardian name", "guardian.name", guardian.name if guardian else "x"),
        ("guardian relation", "guardian.relation", guardian.relation if guardian else "x"),
        ("guardian consent method", "guardian.method", guardian.method if guardian else "x"),
    ):
        if not value or not value.strip():
            raise StoreError(f"the {label} must not be empty ({key})")

    pseudonym = pseudonym or new_pseudonym()
    data_key = crypto.new_data_key()
    now = store.clock.time()
    consent_id: str | None = None
    index_key = store.device_key(INDEX_KEY)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO people (pseudonym, wrapped_key, created_at, minor, valid_from,"
            " valid_until) VALUES (?, ?, ?, ?, ?, ?)",
            (
                pseudonym,
                store.wrap_key(data_key),
                now,
                int(minor),
                valid_from,
                valid_until,
            ),
        )
        if identity is not None:
            db.execute(
                "INSERT INTO identities (pseudonym, sealed) VALUES (?, ?)",
                (
                    pseudonym,
                    _seal_json(
                        data_key,
                        {
                            "name": identity.name,
                            "unit": identity.unit,
                            "phone": identity.phone,
                            "birth_year": identity.birth_year,
                        },
                    ),
                ),
            )
        index_person(db, index_key, pseudonym, identity)
        if face is not None and consent is not None:
            consent_id = "c-" + uuid.uuid4().hex[:16]
            insert_consent(
                db, consent_id, pseudonym, now, consent, data_key=data_key, guardian=guardian
            )
            insert_templates(db, pseudonym, consent_id, *face, data_key, now)
            store.record(
                db,
                "consent_given",
                pseudonym,
                consent_id,
                {
                    "method": consent.method,
                    "notice_version": consent.notice_version,
                    "taken_by": consent.taken_by,
                    "scope": consent.scope,
                    "reference": consent.reference,
                    "guardian": guardian is not None,
                    "templates": len(face[1]),
                },
            )
        for cred in credentials:
            try:
                db.execute(
                    "INSERT INTO credentials (pseudonym, kind, lookup, verifier, created_at,"
                    " valid_until) VALUES (?, ?, ?, ?, ?, ?)",
                    (pseudonym, cred.kind, cred.lookup, cred.verifier, now, cred.valid_until),
                )
            except Exception as exc:  # sqlite3.IntegrityError on the unique lookup index
                raise StoreError(f"this {cred.kind} is already assigned to someone") from exc
        store.record(
            db,
            "person_enrolled",
            pseudonym,
            consent_id,
            {
                "face": rows is not None,
                "credentials": sorted(c.kind for c in credentials),
                "minor": minor,
                "age": age,  # how it was established: "born YYYY", "adult", "child"
            },
        )
        if then is not None:
            then(db)
    return Enrolled(pseudonym, consent_id, 0 if rows is None else len(rows), len(credentials))


def withdraw(
    store: Store, pseudonym: str, *, remove_credentials: bool = False, then: Then = None
) -> Receipt:
    """Withdraw face consent: delete every template of the person now, keep PIN/card.

    Raises:
        StoreError: no such person.
    """
    now = store.clock.time()
    with store.transaction() as db:
        if not db.execute("SELECT 1 FROM people WHERE pseudonym = ?", (pseudonym,)).fetchone():
            raise StoreError(f"no person {pseudonym}")
        consent_ids = tuple(
            r[0]
            for r in db.execute(
                "SELECT consent_id FROM consents WHERE pseudonym = ? AND withdrawn_at IS NULL",
                (pseudonym,),
            )
        )
        templates = db.execute("DELETE FROM templates WHERE pseudonym = ?", (pseudonym,)).rowcount
        db.execute(
            "UPDATE consents SET withdrawn_at = ? WHERE pseudonym = ? AND withdrawn_at IS NULL",
            (now, pseudonym),
        )
        deleted = {"face templates": templates}
        kept: tuple[str, ...] = ()
        if remove_credentials:
            deleted["PIN/card credentials"] = db.execute(
                "DELETE FROM credentials WHERE pseudonym = ?", (pseudonym,)
            ).rowcount
        else:
            kinds = sorted(
                {
                    r[0]
                    for r in db.execute(
                        "SELECT kind FROM credentials WHERE pseudonym = ?", (pseudonym,)
                    )
                }
            )
            kept = tuple(f"{k.upper()} entry" for k in kinds)
        store.record(
            db,
            "consent_withdrawn",
            pseudonym,
            ",".join(consent_ids) or None,
            {"deleted": deleted, "kept": list(kept)},
        )
        if then is not None:
            then(db)
    store.checkpoint()
    return Receipt("withdrawal", pseudonym, consent_ids, deleted, now, kept)


def delete_person(store: Store, pseudonym: str, *, then: Then = None) -> Receipt | None:
    """Remove everything of a person: data key, identity, templates, credentials.

    The consent records stay as processing records, with the guardian's name erased.
    Returns ``None`` when there is no such person.
    """
    now = store.clock.time()
    with store.transaction() as db:
        row = db.execute("SELECT 1 FROM people WHERE pseudonym = ?", (pseudonym,)).fetchone()
        if row is None:
            return None
        counts = {
            "face templates": db.execute(
                "SELECT COUNT(*) FROM templates WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()[0],
            "PIN/card credentials": db.execute(
                "SELECT COUNT(*) FROM credentials WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()[0],
            "identity records": db.execute(
                "SELECT COUNT(*) FROM identities WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()[0],
        }
        consent_ids = tuple(
            r[0]
            for r in db.execute("SELECT consent_id FROM consents WHERE pseudonym = ?", (pseudonym,))
        )
        db.execute(
            "UPDATE consents SET guardian_sealed = NULL, withdrawn_at = COALESCE(withdrawn_at, ?)"
            " WHERE pseudonym = ?",
            (now, pseudonym),
        )
        db.execute("DELETE FROM people WHERE pseudonym = ?", (pseudonym,))  # cascades
        store.record(
            db, "person_deleted", pseudonym, ",".join(consent_ids) or None, {"deleted": counts}
        )
        if then is not None:
            then(db)
    store.checkpoint()
    return Receipt("deletion", pseudonym, consent_ids, counts, now)


def list_people(store: Store, *, show_names: bool = False) -> list[PersonSummary]:
    """Everyone enrolled, with credential types, consent state and face expiry."""
    out: list[PersonSummary] = []
    people = store.query(
        "SELECT pseudonym, created_at, minor, wrapped_key FROM people ORDER BY created_at"
    ).fetchall()
    for pseudonym, created_at, minor, wrapped in people:
        n, expiry = store.query(
            "SELECT COUNT(*), MIN(expires_at) FROM templates WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        kinds = tuple(
            sorted(
                {
                    r[0]
                    for r in store.query(
                        "SELECT kind FROM credentials WHERE pseudonym = ?", (pseudonym,)
                    )
                }
            )
        )
        states = [
            r[0]
            for r in store.query(
                "SELECT withdrawn_at FROM consents WHERE pseudonym = ?", (pseudonym,)
            )
        ]
        consent: Literal["given", "withdrawn", "none"] = (
            "none" if not states else "given" if any(s is None for s in states) else "withdrawn"
        )
        identity = None
        if show_names:
            sealed = store.query(
                "SELECT sealed FROM identities WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()
            if sealed is not None:
                key = store.unwrap_key(wrapped, what=f"data key of {pseudonym}")
                fields = json.loads(crypto.open_sealed(key, sealed[0], what="identity record"))
                identity = Identity(**fields)
        out.append(
            PersonSummary(
                pseudonym, created_at, int(n), expiry, kinds, consent, bool(minor), identity
            )
        )
    return out
