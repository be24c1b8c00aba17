"""The log of rights requests (PIPL Art. 44-50): received, due, answered, by whom.

Each row names the kind of request, the person (a pseudonym, when known), how it arrived,
when it was received and is due, who recorded it, and when, by whom and how it was answered.
No name or contact detail is kept here. Answered requests are deleted after
``retention.record_years`` (see :mod:`.retention`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .db import Store

__all__ = [
    "CHANNELS",
    "KINDS",
    "OUTCOMES",
    "RightsRequest",
    "answer_request",
    "list_requests",
    "record_request",
]

# What a person may ask (PIPL Art. 44-47, 48, 50) and how they may ask it.
KINDS = ("access", "copy", "correction", "deletion", "withdrawal", "explanation", "other")
CHANNELS = ("in-person", "phone", "email", "letter", "other")
OUTCOMES = ("done", "partly", "refused")


@dataclass(slots=True, frozen=True)
class RightsRequest:
    request_id: str
    kind: str
    pseudonym: str | None
    channel: str
    received_at: float
    due_at: float
    recorded_by: str
    answered_at: float | None
    answered_by: str | None
    outcome: str | None

    def overdue(self, now: float) -> bool:
        """Unanswered past the deadline, or answered after it."""
        return (self.answered_at or now) > self.due_at


def record_request(
    store: Store,
    *,
    kind: str,
    pseudonym: str | None,
    channel: str,
    received_at: float,
    due_at: float,
    recorded_by: str,
) -> str:
    """Log a request; returns its id (``r-`` + 12 hex digits).

    Raises:
        StoreError: an unknown kind or channel, or an unknown person.
    """
    if kind not in KINDS:
        raise StoreError(f"the kind of request must be one of {', '.join(KINDS)}")
    if channel not in CHANNELS:
        raise StoreError(f"the channel must be one of {', '.join(CHANNELS)}")
    request_id = "r-" + uuid.uuid4().hex[:12]
    with store.transaction() as db:
        if (
            pseudonym is not None
            and not db.execute("SELECT 1 FROM people WHERE pseudonym = ?", (pseudonym,)).fetchone()
        ):
            raise StoreError(f"no person {pseudonym}")
        db.execute(
            "INSERT INTO requests (request_id, kind, pseudonym, channel, received_at, due_at,"
            " recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, kind, pseudonym, channel, received_at, due_at, recorded_by),
        )
        store.record(db, "request_received", pseudonym, None, {"request": request_id, "kind": kind})
    return request_id


def answer_request(store: Store, request_id: str, *, answered_by: str, outcome: str) -> float:
    """Mark a request answered now; returns the time.

    Raises:
        StoreError: no such request, already answered, or an unknown outcome.
    """
    if outcome not in OUTCOMES:
        raise StoreError(f"the outcome must be one of {', '.join(OUTCOMES)}")
    now = store.clock.time()
    with store.transaction() as db:
        row = db.execute(
            "SELECT answered_at, pseudonym, due_at FROM requests WHERE request_id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no request {request_id}")
        if row[0] is not None:
            raise StoreError(f"request {request_id} was already answered")
        db.execute(
            "UPDATE requests SET answered_at = ?, answered_by = ?, outcome = ?"
            " WHERE request_id = ?",
            (now, answered_by, outcome, request_id),
        )
        store.record(
            db,
            "request_answered",
            row[1],
            None,
            {"request": request_id, "outcome": outcome, "in_time": now <= row[2]},
        )
    return now


def list_requests(store: Store, *, open_only: bool = False) -> list[RightsRequest]:
    """Requests, oldest first (only unanswered ones with ``open_only``)."""
    where = " WHERE answered_at IS NULL" if open_only else ""
    return [
        RightsRequest(*row)
        for row in store.query(
            "SELECT request_id, kind, pseudonym, channel, received_at, due_at, recorded_by,"
            f" answered_at, answered_by, outcome FROM requests{where} ORDER BY received_at"
        )
    ]
