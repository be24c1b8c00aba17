"""The values ``decide()`` works on: access events, door policies, people and policy state.

All of these are frozen dataclasses. A :class:`PolicySnapshot` is what the service builds from
the store and the configuration; :class:`PolicyState` is the small mutable-by-replacement part
(pending second factors, lockouts, presence) that ``decide()`` returns in every
:class:`~facegate.policy.decide.Decision` for the caller to put in the next snapshot.

Events carry *resolved* facts, never raw secrets: a :class:`CardPresented` holds the keyed card
hash, a :class:`PinResolved` holds whose PIN it was (or ``None``) after the service looked it up
with :meth:`facegate.policy.credentials.CredentialIndex.resolve_pin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import TypeAlias
from zoneinfo import ZoneInfo

from .lockout import (
    AntiPassbackPolicy,
    FaceLimitPolicy,
    FaceLimitState,
    LockKey,
    LockoutPolicy,
    Presence,
    ReaderLockout,
)
from .modes import AccessMode, Factor
from .schedule import ScheduleBook, Validity

__all__ = [
    "AccessEvent",
    "CardPresented",
    "DoorPolicy",
    "ExitRequest",
    "FaceMatch",
    "LivenessRefused",
    "ModeRule",
    "Pending",
    "Person",
    "PinResolved",
    "PolicySnapshot",
    "PolicyState",
]


@dataclass(slots=True, frozen=True)
class FaceMatch:
    """The matcher's verdict on a face at a door's camera.

    Attributes:
        door: door id.
        subject: the matched pseudonym, or ``None`` for an unknown face.
        score: the match score (for the audit log; the threshold was applied already).
        reader: the camera id (anti-passback direction).
    """

    door: str
    subject: str | None
    score: float
    reader: str = "camera"


@dataclass(slots=True, frozen=True)
class CardPresented:
    """A card presented at a reader, as its keyed hash (never the raw number)."""

    door: str
    reader: str
    card_hash: str = field(repr=False)


@dataclass(slots=True, frozen=True)
class PinResolved:
    """A PIN typed at a keypad, already resolved: ``subject`` is whose PIN it is, or ``None``."""

    door: str
    reader: str
    subject: str | None


@dataclass(slots=True, frozen=True)
class ExitRequest:
    """An exit request (button or reader on the secure side) at a door."""

    door: str
    reader: str = "exit"


@dataclass(slots=True, frozen=True)
class LivenessRefused:
    """A face at a door's camera failed liveness (a photo, a screen, a mask); no template made.

    Attributes:
        door: door id.
        verdict: the liveness judge's reason (``flat``, ``model``, ``challenge_timeout`` …).
        attack: set when refusals at this door reached the configured limit within its
            window: the text of the ``presentation_attack`` alarm.
        reader: the camera id.
    """

    door: str
    verdict: str = "spoof"
    attack: str | None = None
    reader: str = "camera"


AccessEvent: TypeAlias = FaceMatch | CardPresented | PinResolved | ExitRequest | LivenessRefused


@dataclass(slots=True, frozen=True)
class ModeRule:
    """While schedule ``schedule`` is open, the door accepts ``modes``."""

    schedule: str
    modes: tuple[AccessMode, ...]


@dataclass(slots=True, frozen=True)
class DoorPolicy:
    """How one door decides.

    Attributes:
        door: door id.
        rules: evaluated in order; the first whose schedule is open gives the modes.
        default_modes: modes when no rule's schedule is open; empty = closed to credentials
            (``outside_schedule``). The exit button always works.
        second_factor_s: how long a first factor waits for the second.
        lockout: reader lockout settings (PIN entry and card reads, each locked apart).
        face_limit: unknown-face rate limit.
        anti_passback: anti-passback settings (off by default).
    """

    door: str
    rules: tuple[ModeRule, ...] = ()
    default_modes: tuple[AccessMode, ...] = (AccessMode.ANY,)
    second_factor_s: float = 15.0
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    face_limit: FaceLimitPolicy = field(default_factory=FaceLimitPolicy)
    anti_passback: AntiPassbackPolicy = field(default_factory=AntiPassbackPolicy)

    def modes_at(self, book: ScheduleBook, local: datetime) -> tuple[AccessMode, ...]:
        """The modes accepted at the aware local time ``local``."""
        for rule in self.rules:
            if book.is_open(rule.schedule, local):
                return rule.modes
        return self.default_modes

    def windows(self) -> list[tuple[str, tuple[AccessMode, ...]]]:
        """Every (key path, modes) pair of this door, for configuration checks."""
        found = [(f"rules[{i}]", rule.modes) for i, rule in enumerate(self.rules)]
        if self.default_modes:
            found.append(("default", self.default_modes))
        return found


@dataclass(slots=True, frozen=True)
class Person:
    """What the policy knows about a person: a pseudonym, never a name.

    Attributes:
        subject: the random pseudonym linking identity and biometric tables.
        credentials: which factors the person has enrolled (``face`` only with consent).
        validity: when access is valid (a visitor's day pass, a contractor's month).
        schedule: a schedule limiting when the person may enter; ``None`` = any time the door
            is open.
        doors: the doors the person may use; ``None`` = all.
    """

    subject: str
    credentials: frozenset[Factor] = frozenset()
    validity: Validity = field(default_factory=Validity)
    schedule: str | None = None
    doors: frozenset[str] | None = None

    @property
    def face_enrolled(self) -> bool:
        """Whether the person has a face template (and so a consent record)."""
        return "face" in self.credentials


@dataclass(slots=True, frozen=True)
class Pending:
    """A first factor waiting for its second at one door."""

    subject: str
    factors: frozenset[Factor]
    expires_at: float
    reader: str


@dataclass(slots=True, frozen=True)
class PolicyState:
    """The part of the policy that changes with each decision (replaced, never mutated).

    Attributes:
        pending: door id → first factor waiting for a second.
        lockouts: (reader id, ``pin`` or ``card``) → lockout state: PIN entry and card reads
            at one reader are locked apart.
        holders: subject → lock on PINs that answer that person's waiting card or face while
            PIN entry is locked (see :func:`facegate.policy.decide.decide`, step 2).
        faces: door id → unknown-face rate-limit state.
        presence: subject → last direction (anti-passback).
    """

    pending: Mapping[str, Pending] = field(default_factory=dict)
    lockouts: Mapping[LockKey, ReaderLockout] = field(default_factory=dict)
    holders: Mapping[str, ReaderLockout] = field(default_factory=dict)
    faces: Mapping[str, FaceLimitState] = field(default_factory=dict)
    presence: Mapping[str, Presence] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"PolicyState(pending={len(self.pending)}, lockouts={len(self.lockouts)}, "
            f"holders={len(self.holders)}, "
            f"faces={len(self.faces)}, presence={len(self.presence)})"
        )


@dataclass(slots=True, frozen=True)
class PolicySnapshot:
    """Everything ``decide()`` reads.

    Attributes:
        doors: door id → policy.
        people: subject → person.
        cards: card hash → subject.
        schedules: named schedules and holidays.
        tz: the site's time zone (schedules and validity are judged in it).
        state: the current policy state.
    """

    doors: Mapping[str, DoorPolicy]
    people: Mapping[str, Person] = field(default_factory=dict)
    cards: Mapping[str, str] = field(default_factory=dict, repr=False)
    schedules: ScheduleBook = field(default_factory=ScheduleBook)
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    state: PolicyState = field(default_factory=PolicyState)

    def with_state(self, state: PolicyState) -> PolicySnapshot:
        """The same snapshot with a new state (after a decision)."""
        return replace(self, state=state)

    def __repr__(self) -> str:
        return (
            f"PolicySnapshot(doors={sorted(self.doors)}, people={len(self.people)}, "
            f"cards={len(self.cards)}, tz={self.tz}, state={self.state!r})"
        )
