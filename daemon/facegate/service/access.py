"""Access decisions for every way in: face, card and PIN go through one pure ``decide()``.

This adapter keeps the policy snapshot (doors, schedules, people, card hashes) and the
policy's evolving state (pending second factors, lockouts, rate limits), turns raw reader
events into credential facts — a card becomes its keyed hash, a PIN its keyed lookup tag and
an Argon2id check — and hands them to ``facegate.policy.decide``. Raw card numbers and PINs
stop here: nothing after this point ever sees them.
"""

from __future__ import annotations

import datetime as dt
import logging

from ..clock import Clock
from ..config import FacegateConfig
from ..policy.build import door_policies, schedule_book
from ..policy.credentials import (
    CardNumber,
    CredentialError,
    CredentialIndex,
    Pin,
    PinRecord,
    hash_card,
    pin_tag,
)
from ..policy.decide import Decision
from ..policy.decide import decide as decide_access
from ..policy.schedule import Validity
from ..policy.snapshot import (
    AccessEvent,
    CardPresented,
    FaceMatch,
    Person,
    PinResolved,
    PolicySnapshot,
)
from ..readers import events as reader_events
from ..store import Store
from ..store.credential_keys import CARD_KEY, PIN_KEY, credential_keys

__all__ = ["CARD_KEY", "PIN_KEY", "AccessService", "credential_keys"]

logger = logging.getLogger(__name__)


def _instant(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


class AccessService:
    """Holds the policy snapshot and decides access events.

    Args:
        cfg: the configuration (doors, calendar).
        store: where people and credentials come from.
        clock: the daemon's clock.
    """

    def __init__(self, cfg: FacegateConfig, store: Store, clock: Clock) -> None:
        self.clock = clock
        self.keys = credential_keys(store)
        self._doors = door_policies(cfg.doors)
        self._book = schedule_book(cfg.calendar)
        self._tz = cfg.calendar.tz
        self.index = CredentialIndex()
        self.snapshot = PolicySnapshot(doors=self._doors, schedules=self._book, tz=self._tz)
        self.reload(store)

    def reload(self, store: Store) -> None:
        """Re-read people and credentials (after enrolment, withdrawal, a purge)."""
        people_rows, cred_rows = store.access_rows()
        index = CredentialIndex()
        factors: dict[str, set[str]] = {
            p: ({"face"} if face else set()) for p, *_, face in people_rows
        }
        for subject, kind, lookup, verifier in cred_rows:
            try:
                if kind == "card":
                    index.add_card(lookup, subject)
                elif verifier is not None:
                    index.add_pin(PinRecord(subject, lookup, verifier))
                else:
                    continue
            except CredentialError as exc:
                logger.warning("credential of %s skipped: %s", subject, exc)
                continue
            factors.setdefault(subject, set()).add(kind)
        people = {
            subject: Person(
                subject,
                credentials=frozenset(factors.get(subject, set())),  # type: ignore[arg-type]
                validity=Validity(_instant(valid_from), _instant(valid_until)),
            )
            for subject, valid_from, valid_until, _face in people_rows
        }
        self.index = index
        self.snapshot = PolicySnapshot(
            doors=self._doors,
            people=people,
            cards=index.cards,
            schedules=self._book,
            tz=self._tz,
            state=self.snapshot.state,
        )

    def decide(self, event: AccessEvent) -> Decision:
        """Decide a resolved access event (the face path's events arrive resolved)."""
        decision = decide_access(event, self.snapshot, self.clock)
        self.snapshot = self.snapshot.with_state(decision.state)
        return decision

    def face(self, door: str, subject: str | None, score: float) -> Decision:
        """A face attempt's outcome (a matched pseudonym, or ``None`` for an unknown face)."""
        return self.decide(FaceMatch(door, subject, score))

    def card(self, door: str, event: reader_events.CardRead) -> Decision:
        """A card read: hashed with the device key; the number itself goes no further."""
        card_hash = hash_card(CardNumber(event.card.raw()), self.keys.card_key)
        return self.decide(CardPresented(door, event.reader, card_hash))

    def pin(self, door: str, event: reader_events.PinEntered) -> Decision:
        """A PIN entry: found by keyed tag, confirmed with Argon2id."""
        try:
            pin = Pin(event.pin)
        except CredentialError:
            subject = None
        else:
            subject = self.index.resolve_pin(pin_tag(pin, self.keys.pin_key), pin)
        return self.decide(PinResolved(door, event.reader, subject))
