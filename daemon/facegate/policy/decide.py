"""``decide()``: one access event in, one decision out. Pure: no I/O, no hidden state.

``decide(event, snapshot, clock)`` reads only its arguments (and ``clock.monotonic()`` /
``clock.time()``), and returns a :class:`Decision` that carries the next
:class:`~facegate.policy.snapshot.PolicyState`. The caller stores that state in the next
snapshot; with a ``FakeClock`` the same inputs always give the same decision.

Order of checks (the first that fails decides):

1. unknown door → ``unknown_door``; an exit request is always granted (free egress); a face
   that failed liveness → ``liveness`` (with the ``presentation_attack`` alarm when the face
   path counted too many refusals at this door).
2. PIN entry (for a PIN) or card reads (for a card) locked at this reader → ``locked_out``;
   face attempts at a rate-limited door → ``rate_limited``. Nothing else is judged, so a lock
   leaks nothing. The locks are apart: wrong PINs never refuse a card or a face, unknown cards
   never refuse a PIN or a face (see :mod:`facegate.policy.lockout`). One exception keeps a
   two-factor door open during a PIN flood: a PIN that answers a card or face waiting for it
   is judged against that person only, and its failures count against that person's own
   lock (``holders``), so a stolen card buys no more guesses than the keypad gives.
3. the door's modes now (its schedule windows): none → ``outside_schedule``; the factor is not
   part of any accepted mode → ``mode_not_allowed``.
4. the credential resolves to no enrolled person → ``unknown_card`` / ``wrong_pin`` /
   ``unknown_face``, counted towards PIN entry or card reads at the reader, or the face rate
   limit.
5. the person: ``not_yet_valid``, ``expired``, ``door_not_allowed``, ``outside_schedule``
   (their own schedule). A genuine credential is not a failure, so these are not counted.
6. two factors: combined with a pending first factor of the same person; a second factor of
   *another* person → ``credential_mismatch`` (counted against PIN entry at the reader the
   PIN came from: it is a PIN guess with a card or face in hand); not yet enough →
   ``second_factor_required`` and the factor waits ``second_factor_s`` for its partner.
7. anti-passback (if enabled) → ``passback``; otherwise ``granted``.

Fallback is equal by construction: a face is one factor among three, every reason and every
grant is the same whichever factor was used, and no check looks at whether a person has a
face enrolled except to reject a face match for someone who has none.

Two-factor state is kept per door (one person at a time at a two-factor door). A face never
displaces a pending card or PIN of someone else: faces of passers-by arrive unasked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias, TypeVar, get_args

from ..clock import Clock
from ..gate.events import Alarm
from .lockout import (
    FaceLimitState,
    LockKey,
    LockKind,
    Presence,
    ReaderLockout,
    passback_violation,
    record_failure,
    record_success,
    record_unknown_face,
)
from .modes import Factor, accepts, completes, could_complete
from .schedule import local_time
from .snapshot import (
    AccessEvent,
    CardPresented,
    DoorPolicy,
    ExitRequest,
    FaceMatch,
    LivenessRefused,
    Pending,
    PinResolved,
    PolicySnapshot,
    PolicyState,
)

__all__ = ["REASONS", "Decision", "Reason", "decide"]

logger = logging.getLogger(__name__)

Reason: TypeAlias = Literal[
    "granted",
    "exit",
    "unknown_door",
    "unknown_card",
    "wrong_pin",
    "unknown_face",
    "outside_schedule",
    "expired",
    "not_yet_valid",
    "door_not_allowed",
    "second_factor_required",
    "credential_mismatch",
    "locked_out",
    "rate_limited",
    "mode_not_allowed",
    "passback",
    "liveness",
]

REASONS: frozenset[str] = frozenset(get_args(Reason))

_UNKNOWN: Mapping[Factor, Reason] = {
    "face": "unknown_face",
    "card": "unknown_card",
    "pin": "wrong_pin",
}
_FACTOR_ORDER: tuple[Factor, ...] = ("face", "card", "pin")
_LOCKED_WHAT: Mapping[LockKind, str] = {"pin": "PIN entry", "card": "card reads"}

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(slots=True, frozen=True)
class Decision:
    """The outcome of one access event.

    Attributes:
        granted: open the door.
        reason: one of :data:`REASONS`.
        factors: the credentials that counted, in the order face, card, pin.
        door: the door id.
        subject: the person's pseudonym when known (for the audit log, which keys it again).
        reader: the reader the event came from.
        alarms: alarms raised by this event (lockout, face rate limit, passback).
        state: the policy state after this event; put it in the next snapshot.
    """

    granted: bool
    reason: Reason
    factors: tuple[Factor, ...] = ()
    door: str = ""
    subject: str | None = None
    reader: str | None = None
    alarms: tuple[Alarm, ...] = ()
    state: PolicyState = field(default_factory=PolicyState, repr=False, compare=False)


def _with(mapping: Mapping[_K, _V], key: _K, value: _V | None) -> dict[_K, _V]:
    out = dict(mapping)
    if value is None:
        out.pop(key, None)
    else:
        out[key] = value
    return out


def _ordered(factors: frozenset[Factor]) -> tuple[Factor, ...]:
    return tuple(f for f in _FACTOR_ORDER if f in factors)


def _factor(event: FaceMatch | CardPresented | PinResolved) -> Factor:
    if isinstance(event, FaceMatch):
        return "face"
    if isinstance(event, CardPresented):
        return "card"
    return "pin"


def _subject(
    event: FaceMatch | CardPresented | PinResolved, snapshot: PolicySnapshot
) -> str | None:
    if isinstance(event, CardPresented):
        return snapshot.cards.get(event.card_hash)
    return event.subject


class _Judge:
    """One decision's working state (discarded after ``decide`` returns)."""

    def __init__(
        self,
        event: FaceMatch | CardPresented | PinResolved,
        snapshot: PolicySnapshot,
        door: DoorPolicy,
        now: float,
    ) -> None:
        self.event = event
        self.snapshot = snapshot
        self.door = door
        self.now = now
        self.state = snapshot.state
        self.factor = _factor(event)
        self.alarms: list[Alarm] = []
        self.holder: str | None = None  # set when a PIN answers someone's first factor in a lock

    def result(
        self,
        granted: bool,
        reason: Reason,
        factors: frozenset[Factor] | None = None,
        subject: str | None = None,
    ) -> Decision:
        used = frozenset({self.factor}) if factors is None else factors
        return Decision(
            granted=granted,
            reason=reason,
            factors=_ordered(used),
            door=self.door.door,
            subject=subject,
            reader=self.event.reader,
            alarms=tuple(self.alarms),
            state=self.state,
        )

    def set_pending(self, pending: Pending | None) -> None:
        self.state = replace(self.state, pending=_with(self.state.pending, self.door.door, pending))

    def fail(self, key: LockKey | None = None) -> None:
        """Count a failure against a lock (``key``; by default this event's reader and kind),
        or, for a face, against the door's face limit."""
        door = self.door
        if key is None and self.factor == "face":
            face_state = self.state.faces.get(door.door, FaceLimitState())
            face_state, tripped = record_unknown_face(face_state, door.face_limit, self.now)
            self.state = replace(self.state, faces=_with(self.state.faces, door.door, face_state))
            if tripped:
                logger.warning("%s: face attempts rate-limited", door.door)
                self.alarms.append(
                    Alarm(
                        "face_rate_limited",
                        door.door,
                        self.now,
                        f"more than {door.face_limit.max_unknown} unknown faces in "
                        f"{door.face_limit.window_s:g} s; face paused for "
                        f"{door.face_limit.cooldown_s:g} s",
                    )
                )
            return
        if key is None:
            key = _lock_key(self.event.reader, self.factor)
        reader, kind = key
        if kind == "pin" and self.holder is not None:
            lock_state = self.state.holders.get(self.holder, ReaderLockout())
            lock_state, length = record_failure(lock_state, door.lockout, self.now)
            holders = _with(self.state.holders, self.holder, lock_state)
            self.state = replace(self.state, holders=holders)
            what = "PIN entry after one person's card or face"
        else:
            lock_state = self.state.lockouts.get(key, ReaderLockout())
            lock_state, length = record_failure(lock_state, door.lockout, self.now)
            self.state = replace(self.state, lockouts=_with(self.state.lockouts, key, lock_state))
            what = _LOCKED_WHAT[kind]
        if length is not None:
            logger.warning(
                "%s: %s at reader %s locked out for %.0f s", door.door, what, reader, length
            )
            self.alarms.append(
                Alarm(
                    "lockout",
                    door.door,
                    self.now,
                    f"{kind}: {what} at reader {reader} locked for {length:g} s after "
                    f"{door.lockout.max_failures} failures",
                )
            )

    def locked(self) -> bool:
        """Whether this event's kind (PIN entry or card reads) is locked at its reader."""
        if self.factor == "face":
            return False
        key = _lock_key(self.event.reader, self.factor)
        return self.state.lockouts.get(key, ReaderLockout()).locked(self.now)

    def succeed(self, keys: set[LockKey]) -> None:
        """Clear failure counts of the locks whose credentials took part in a grant."""
        updated = dict(self.state.lockouts)
        for key in keys:
            if key in updated:
                updated[key] = record_success(updated[key], self.now)
        self.state = replace(self.state, lockouts=updated)
        if self.holder is not None and self.holder in self.state.holders:
            holder = record_success(self.state.holders[self.holder], self.now)
            self.state = replace(self.state, holders=_with(self.state.holders, self.holder, holder))


def _lock_key(reader: str, factor: Factor) -> LockKey:
    """The lock a credential of ``factor`` read at ``reader`` counts against (not for faces)."""
    return (reader, "pin" if factor == "pin" else "card")


def _lock_keys(reader: str, factors: frozenset[Factor]) -> set[LockKey]:
    return {_lock_key(reader, f) for f in factors if f != "face"}


def _waiting_for_pin(state: PolicyState, door: str, now: float) -> Pending | None:
    """A card or face at ``door`` still waiting for its PIN, if any."""
    pending = state.pending.get(door)
    if pending is None or now >= pending.expires_at or "pin" in pending.factors:
        return None
    return pending


def _mismatch_key(reader: str, factor: Factor, pending: Pending) -> LockKey:
    """The lock a mismatched second factor counts against: the PIN's, wherever it was typed."""
    if factor == "pin":
        return (reader, "pin")
    if "pin" in pending.factors:
        return (pending.reader, "pin")
    return _lock_key(reader, factor)  # no PIN in the pair: no mode combines only face and card


def decide(event: AccessEvent, snapshot: PolicySnapshot, clock: Clock) -> Decision:
    """Decide one access event.

    Args:
        event: a face match, card read, resolved PIN entry or exit request.
        snapshot: doors, people, cards, schedules, time zone and the current policy state.
        clock: ``monotonic()`` times lockouts and second factors; ``time()`` gives the local
            time for schedules and validity.

    Returns:
        The decision, with ``state`` set to the policy state to use next.
    """
    # 1. The door, and free egress.
    door = snapshot.doors.get(event.door)
    if door is None:
        reader = event.reader
        return Decision(False, "unknown_door", door=event.door, reader=reader, state=snapshot.state)
    if isinstance(event, ExitRequest):
        return Decision(True, "exit", door=door.door, reader=event.reader, state=snapshot.state)
    if isinstance(event, LivenessRefused):
        # No template was made, so there is nobody to look up: refused, never counted as an
        # unknown face (that limit is for strangers, this one is for presentation attacks).
        attack = event.attack
        alarms = (
            ()
            if attack is None
            else (Alarm("presentation_attack", door.door, clock.monotonic(), attack),)
        )
        return Decision(
            False,
            "liveness",
            ("face",),
            door=door.door,
            reader=event.reader,
            alarms=alarms,
            state=snapshot.state,
        )

    now = clock.monotonic()
    local = local_time(clock.time(), snapshot.tz)
    judge = _Judge(event, snapshot, door, now)
    factor = judge.factor

    # 2. Lockouts first: a locked kind is not judged at all. A card is never refused because
    # PIN entry is locked, nor a PIN because card reads are; a face never by a reader lock.
    if factor == "face":
        if snapshot.state.faces.get(door.door, FaceLimitState()).blocked(now):
            return judge.result(False, "rate_limited")
    elif judge.locked():
        waiting = _waiting_for_pin(snapshot.state, door.door, now) if factor == "pin" else None
        holder_lock = snapshot.state.holders.get(waiting.subject) if waiting else None
        if waiting is None or (holder_lock is not None and holder_lock.locked(now)):
            return judge.result(False, "locked_out")
        # PIN entry is locked, but this PIN answers a card or face waiting for it: judged
        # against that person only and counted against them, so a flood at the keypad does
        # not shut a two-factor door, and a stolen card buys no more guesses than the keypad.
        judge.holder = waiting.subject

    # 3. What the door accepts now.
    modes = door.modes_at(snapshot.schedules, local)
    if not modes:
        return judge.result(False, "outside_schedule")
    if not accepts(modes, factor):
        return judge.result(False, "mode_not_allowed")

    # 4. Whose credential is it?
    subject = _subject(event, snapshot)
    person = snapshot.people.get(subject) if subject is not None else None
    if person is None or factor not in person.credentials:
        judge.fail()
        if factor != "face":
            # A wrong card or PIN ends a pending first factor at this door.
            judge.set_pending(None)
        return judge.result(False, _UNKNOWN[factor])
    if judge.holder is not None and person.subject != judge.holder:
        # Someone's PIN, but not the waiting person's: never opens on its own during the lock.
        judge.fail()
        judge.set_pending(None)
        pair = snapshot.state.pending[door.door].factors | {factor}
        return judge.result(False, "credential_mismatch", pair, person.subject)

    # 5. Is this person allowed here, now?
    status = person.validity.status(local)
    if status == "not_yet_valid":
        return judge.result(False, "not_yet_valid", subject=person.subject)
    if status == "expired":
        return judge.result(False, "expired", subject=person.subject)
    if person.doors is not None and door.door not in person.doors:
        return judge.result(False, "door_not_allowed", subject=person.subject)
    if person.schedule is not None and not snapshot.schedules.is_open(person.schedule, local):
        return judge.result(False, "outside_schedule", subject=person.subject)

    # 6. Combine with a pending first factor.
    alone = frozenset({factor})
    pending = snapshot.state.pending.get(door.door)
    if pending is not None and now >= pending.expires_at:
        judge.set_pending(None)
        pending = None
    lock_keys = _lock_keys(event.reader, alone)
    factors = alone
    if pending is not None:
        combined = pending.factors | alone
        viable = completes(modes, combined) or could_complete(modes, combined)
        if pending.subject == person.subject and viable:
            factors = combined
            lock_keys |= _lock_keys(pending.reader, pending.factors)
        elif completes(modes, alone):
            pass  # this credential opens on its own; the other person's pending is dropped
        elif factor == "face" and "face" not in pending.factors:
            # A passer-by's face never displaces, nor spoils, someone's pending card or PIN.
            return judge.result(False, "second_factor_required", alone, person.subject)
        elif viable and factor not in pending.factors:
            # The second factor belongs to someone else than the first: a PIN guess with a
            # card or face in hand, so it counts against PIN entry where the PIN was typed.
            judge.fail(_mismatch_key(event.reader, factor, pending))
            judge.set_pending(None)
            return judge.result(False, "credential_mismatch", combined, person.subject)

    if not completes(modes, factors):
        if could_complete(modes, factors):
            judge.set_pending(
                Pending(person.subject, factors, now + door.second_factor_s, event.reader)
            )
            return judge.result(False, "second_factor_required", factors, person.subject)
        return judge.result(False, "mode_not_allowed", factors, person.subject)

    # 7. Anti-passback, then grant.
    judge.set_pending(None)
    passback = door.anti_passback
    if passback.enabled:
        direction = passback.direction(event.reader)
        presence = snapshot.state.presence.get(person.subject)
        if passback_violation(presence, direction, passback, now):
            judge.alarms.append(
                Alarm("passback", door.door, now, f"second '{direction}' without an exit")
            )
            return judge.result(False, "passback", factors, person.subject)
        judge.state = replace(
            judge.state,
            presence=_with(judge.state.presence, person.subject, Presence(direction, now)),
        )
    judge.succeed(lock_keys)
    return judge.result(True, "granted", factors, person.subject)
