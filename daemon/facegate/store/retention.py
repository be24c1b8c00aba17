"""Retention as the law reads it: every kind of data goes at the end of its shortest period.

A face expires at the earliest of: its own expiry (``--expires``, default
``retention.template_days`` from enrolment), ``template_days`` after it was taken (a shorter
configured period applies to old templates too), the person's validity (``--valid-until``),
withdrawal (deleted at once by ``withdraw``), and the re-consent deadline after a new notice.
A person who is past their validity, or has no face and no valid PIN/card left, is deleted
with their identity. Events, processing records, ended consents and answered rights requests
go after their periods. One transaction; a purge that removed anything leaves its own record.

:func:`facegate.compliance.periods.period_sentences` states each period exactly as this module
enforces it, for the sign, the consent form, the PIA and the README (``tests/test_notice_truth.py``
drives this purge with those numbers).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Store

__all__ = [
    "DAY_S",
    "YEAR_S",
    "PurgeReport",
    "Reconsent",
    "purge_expired",
]

DAY_S = 86_400.0
YEAR_S = 365.25 * DAY_S


@dataclass(slots=True, frozen=True)
class Reconsent:
    """The notice posted now and the day faces consented under older notices expire."""

    current_version: str
    deadline: float


@dataclass(slots=True)
class PurgeReport:
    """What one purge removed, and who was left without a face (their consent ends)."""

    templates: int = 0
    events: int = 0
    records: int = 0
    people: int = 0  # deleted with their identity: past their validity, or no way in left
    consents: int = 0  # ended consent records past the record period
    requests: int = 0  # answered rights requests past the record period
    people_without_face: list[str] = field(default_factory=list)
    checkpoint_error: str | None = None  # the deletions committed; the WAL still holds them

    @property
    def anything(self) -> bool:
        return bool(
            self.templates
            or self.events
            or self.records
            or self.people
            or self.consents
            or self.requests
        )


def purge_expired(
    store: Store,
    *,
    event_days: int,
    record_years: int,
    template_days: int | None = None,
    reconsent: Reconsent | None = None,
    now: float | None = None,
) -> PurgeReport:
    """Delete everything past its period (see the module docstring) in one transaction."""
    now = store.clock.time() if now is None else now
    report = PurgeReport()
    record_cut = now - record_years * YEAR_S
    faces = (
        "expires_at <= :now"
        " OR pseudonym IN (SELECT pseudonym FROM people WHERE valid_until <= :now)"
    )
    params: dict[str, object] = {"now": now}
    if template_days is not None:
        faces += " OR created_at <= :taken_before"
        params["taken_before"] = now - template_days * DAY_S
    if reconsent is not None and now >= reconsent.deadline:
        faces += (
            " OR consent_id IN (SELECT consent_id FROM consents WHERE notice_version != :current)"
        )
        params["current"] = reconsent.current_version
    with store.transaction() as db:
        expired = db.execute(
            f"SELECT DISTINCT pseudonym FROM templates WHERE {faces}", params
        ).fetchall()
        report.templates = db.execute(f"DELETE FROM templates WHERE {faces}", params).rowcount
        for (pseudonym,) in expired:
            left = db.execute(
                "SELECT COUNT(*) FROM templates WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()[0]
            if left == 0:
                report.people_without_face.append(pseudonym)
                db.execute(
                    "UPDATE consents SET withdrawn_at = COALESCE(withdrawn_at, ?)"
                    " WHERE pseudonym = ?",
                    (now, pseudonym),
                )
        report.people = _purge_people(store, db, now)
        report.events = db.execute(
            "DELETE FROM events WHERE ts < ?", (now - event_days * DAY_S,)
        ).rowcount
        report.records = db.execute(
            "DELETE FROM processing_records WHERE ts < ?", (record_cut,)
        ).rowcount
        report.consents = db.execute(
            "DELETE FROM consents WHERE withdrawn_at IS NOT NULL AND withdrawn_at < ?"
            " AND consent_id NOT IN (SELECT consent_id FROM templates)",
            (record_cut,),
        ).rowcount
        report.requests = db.execute(
            "DELETE FROM requests WHERE answered_at IS NOT NULL AND answered_at < ?",
            (record_cut,),
        ).rowcount
        if report.anything:
            store.record(
                db,
                "retention_purge",
                None,
                None,
                {
                    "templates": report.templates,
                    "events": report.events,
                    "records": report.records,
                    "people": report.people,
                    "consents": report.consents,
                    "requests": report.requests,
                    "faces_ended": len(report.people_without_face),
                },
            )
    if (report.templates or report.events or report.people) and not store.checkpoint():
        error = store.checkpoint_error
        report.checkpoint_error = None if error is None else str(error)
    return report


def _purge_people(store: Store, db: sqlite3.Connection, now: float) -> int:
    """Delete people past their validity, or left with no face and no valid PIN/card."""
    gone = [
        r[0]
        for r in db.execute(
            "SELECT pseudonym FROM people p WHERE (valid_until IS NOT NULL AND valid_until <= ?)"
            " OR (NOT EXISTS (SELECT 1 FROM templates t WHERE t.pseudonym = p.pseudonym)"
            "     AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.pseudonym = p.pseudonym"
            "                     AND (c.valid_until IS NULL OR c.valid_until > ?)))",
            (now, now),
        )
    ]
    for pseudonym in gone:
        db.execute(
            "UPDATE consents SET guardian_sealed = NULL, withdrawn_at = COALESCE(withdrawn_at, ?)"
            " WHERE pseudonym = ?",
            (now, pseudonym),
        )
        db.execute("DELETE FROM people WHERE pseudonym = ?", (pseudonym,))  # cascades
        store.record(db, "person_expired", pseudonym, None, {"identity": "deleted"})
    return len(gone)
