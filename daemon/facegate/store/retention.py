"""Retention: expired templates, old events and processing records past their period go.

One transaction; a purge that removed anything leaves its own processing record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .db import Store

__all__ = ["DAY_S", "PurgeReport", "purge_expired"]

DAY_S = 86_400.0


@dataclass(slots=True)
class PurgeReport:
    """What one purge removed, and who was left without a face (their consent ends)."""

    templates: int = 0
    events: int = 0
    records: int = 0
    people_without_face: list[str] = field(default_factory=list)
    checkpoint_error: str | None = None  # the deletions committed; the WAL still holds them


def purge_expired(
    store: Store, *, event_days: int, record_years: int, now: float | None = None
) -> PurgeReport:
    """Delete expired templates, old events and processing records past their period."""
    now = store.clock.time() if now is None else now
    report = PurgeReport()
    with store.transaction() as db:
        expired = db.execute(
            "SELECT DISTINCT pseudonym FROM templates WHERE expires_at IS NOT NULL"
            " AND expires_at <= ?",
            (now,),
        ).fetchall()
        report.templates = db.execute(
            "DELETE FROM templates WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        ).rowcount
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
        report.events = db.execute(
            "DELETE FROM events WHERE ts < ?", (now - event_days * DAY_S,)
        ).rowcount
        report.records = db.execute(
            "DELETE FROM processing_records WHERE ts < ?", (now - record_years * 365.25 * DAY_S,)
        ).rowcount
        if report.templates or report.events or report.records:
            store.record(
                db,
                "retention_purge",
                None,
                None,
                {
                    "templates": report.templates,
                    "events": report.events,
                    "records": report.records,
                    "people": len(report.people_without_face),
                },
            )
    if (report.templates or report.events) and not store.checkpoint():
        error = store.checkpoint_error
        report.checkpoint_error = None if error is None else str(error)
    return report
