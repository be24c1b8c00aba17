"""Brute-force defences, as pure values: reader lockout, face rate limit, anti-passback.

Every function takes a state and a time and returns a new state; ``decide()`` carries the
states in :class:`~facegate.policy.snapshot.PolicyState`. Times are the clock's
``monotonic()`` readings, so a wall-clock correction can neither end nor extend a lockout.
The states live in memory: a reboot clears them, which needs physical access to the device
and takes longer than the first back-off.

Reader lockout
    Each wrong PIN, unknown card or mismatched second factor counts against the *reader* it
    came from (a keypad does not know who is typing). After ``max_failures`` the reader is
    locked for ``base_backoff_s``; each further lockout doubles it (30 s, 60 s, 120 s …) up to
    ``max_backoff_s``. A success clears the failure count but not the back-off level: an
    insider alternating their own PIN with guesses still climbs the back-off, and each of
    their successes is audited under their pseudonym. After ``reset_after_s`` without a
    failure (counted from the end of the last lockout) the reader starts afresh.
    Every lockout yields a ``lockout`` alarm.

Face rate limit
    An unknown face costs nothing to present again, so unknown faces are counted per door in a
    sliding window: more than ``max_unknown`` in ``window_s`` blocks face attempts at that
    door for ``cooldown_s`` (PIN and card keep working) and raises ``face_rate_limited`` once.

Anti-passback (off by default)
    A person granted *in* cannot be granted *in* again before being granted *out* (and the
    reverse), so one credential cannot be passed back through the fence to a second person.
    Readers listed in ``out_readers`` count as "out", all others as "in". Presence is updated
    on each grant (no door contact can tell who walked through), and is forgotten after
    ``reset_s`` so someone who tailgated once is not stuck for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

__all__ = [
    "AntiPassbackPolicy",
    "Direction",
    "FaceLimitPolicy",
    "FaceLimitState",
    "LockoutPolicy",
    "Presence",
    "ReaderLockout",
    "passback_violation",
    "record_failure",
    "record_success",
    "record_unknown_face",
]

Direction: TypeAlias = Literal["in", "out"]


@dataclass(slots=True, frozen=True)
class LockoutPolicy:
    """Reader lockout settings (see the module docstring)."""

    max_failures: int = 5
    base_backoff_s: float = 30.0
    max_backoff_s: float = 900.0
    reset_after_s: float = 600.0

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if not 0 < self.base_backoff_s <= self.max_backoff_s:
            raise ValueError("need 0 < base_backoff_s <= max_backoff_s")
        if self.reset_after_s <= 0:
            raise ValueError("reset_after_s must be positive")

    def backoff(self, level: int) -> float:
        """The lockout length for the ``level``-th lockout (1-based)."""
        if level < 1:
            return 0.0
        # Cap the exponent too: 2**1000 would be a float overflow long after the cap applies.
        return min(self.base_backoff_s * 2.0 ** min(level - 1, 60), self.max_backoff_s)


@dataclass(slots=True, frozen=True)
class ReaderLockout:
    """The lockout state of one reader.

    Attributes:
        failures: failures since the last lockout or success.
        level: lockouts so far in this streak (drives the back-off).
        locked_until: monotonic end of the current lockout, if any.
        quiet_since: when the last failure or lockout ended; ``reset_after_s`` counts from it.
    """

    failures: int = 0
    level: int = 0
    locked_until: float | None = None
    quiet_since: float | None = None

    def locked(self, now: float) -> bool:
        """Whether the reader is locked out at ``now``."""
        return self.locked_until is not None and now < self.locked_until

    def remaining(self, now: float) -> float:
        """Seconds of lockout left (0 when not locked)."""
        return max(0.0, self.locked_until - now) if self.locked_until is not None else 0.0


def record_failure(
    state: ReaderLockout, policy: LockoutPolicy, now: float
) -> tuple[ReaderLockout, float | None]:
    """Count one failure; returns the new state and the lockout length if one starts now."""
    if state.locked(now):
        return state, None  # attempts during a lockout are refused before they are judged
    if state.quiet_since is not None and now - state.quiet_since >= policy.reset_after_s:
        state = ReaderLockout()
    failures = state.failures + 1
    if failures < policy.max_failures:
        return replace(state, failures=failures, quiet_since=now), None
    level = state.level + 1
    length = policy.backoff(level)
    until = now + length
    return ReaderLockout(failures=0, level=level, locked_until=until, quiet_since=until), length


def record_success(state: ReaderLockout, now: float) -> ReaderLockout:
    """A genuine credential at this reader: clear the failure count, keep the back-off level."""
    if state.failures == 0:
        return state
    return replace(state, failures=0)


@dataclass(slots=True, frozen=True)
class FaceLimitPolicy:
    """Unknown-face rate limit per door."""

    max_unknown: int = 10
    window_s: float = 60.0
    cooldown_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_unknown < 1 or self.window_s <= 0 or self.cooldown_s <= 0:
            raise ValueError("face limit values must be positive")


@dataclass(slots=True, frozen=True)
class FaceLimitState:
    """Recent unknown-face times at one door, and the end of a block."""

    recent: tuple[float, ...] = ()
    blocked_until: float | None = None

    def blocked(self, now: float) -> bool:
        """Whether face attempts are refused at ``now``."""
        return self.blocked_until is not None and now < self.blocked_until


def record_unknown_face(
    state: FaceLimitState, policy: FaceLimitPolicy, now: float
) -> tuple[FaceLimitState, bool]:
    """Count one unknown face; returns the new state and whether a block starts now."""
    recent = (*(t for t in state.recent if now - t < policy.window_s), now)
    if len(recent) > policy.max_unknown:
        return FaceLimitState((), now + policy.cooldown_s), True
    return FaceLimitState(recent, state.blocked_until), False


@dataclass(slots=True, frozen=True)
class AntiPassbackPolicy:
    """Anti-passback for one door (off by default)."""

    enabled: bool = False
    out_readers: frozenset[str] = field(default_factory=frozenset)
    reset_s: float | None = 12 * 3600.0

    def direction(self, reader: str) -> Direction:
        """Which way a grant at ``reader`` lets the person go."""
        return "out" if reader in self.out_readers else "in"


@dataclass(slots=True, frozen=True)
class Presence:
    """Where a person last went, and when (monotonic)."""

    direction: Direction
    at: float


def passback_violation(
    presence: Presence | None, direction: Direction, policy: AntiPassbackPolicy, now: float
) -> bool:
    """Whether granting ``direction`` now would repeat the person's last direction."""
    if not policy.enabled or presence is None or presence.direction != direction:
        return False
    return policy.reset_s is None or now - presence.at < policy.reset_s
