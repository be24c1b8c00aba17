"""Brute-force defences, as pure values: reader lockout, face rate limit, anti-passback.

Every function takes a state and a time and returns a new state; ``decide()`` carries the
states in :class:`~facegate.policy.snapshot.PolicyState`. Times are the clock's
``monotonic()`` readings, so a wall-clock correction can neither end nor extend a lockout.
The states live in memory: a reboot clears them, which needs physical access to the device
and takes longer than the first back-off.

Reader lockout, per reader *and* per kind of credential
    Wrong PINs (and mismatched second factors, which are PIN guesses too) count against *PIN
    entry* at the reader they came from; unknown cards count against *card reads* at theirs
    (a keypad does not know who is typing). A Wiegand reader with a keypad is one reader but
    two locks: guessing PINs never refuses a card, flooding unknown cards never refuses a
    PIN, and no reader lockout ever refuses a face. While card reads are locked every card at
    that reader is refused, enrolled or not: a brute force on card numbers ends with an
    enrolled number, so judging enrolled cards during the lock would not slow it at all.

    After ``max_failures`` the lock closes for ``base_backoff_s``; each further lockout
    doubles it (30 s, 60 s, 120 s …) up to ``max_backoff_s``. A success clears the failure
    count but not the back-off level. After ``reset_after_s`` without a failure (counted from
    the end of the last lockout) the lock starts afresh. Every lockout yields a ``lockout``
    alarm naming the kind.

    Why the back-off is bounded: each lockout needs ``max_failures`` fresh failures (failures
    during a lockout are not counted) and lasts at most ``max_backoff_s``, so ``N`` failures
    can hold a lock closed for at most ``N // max_failures × max_backoff_s`` seconds
    (:meth:`LockoutPolicy.max_locked_s`). The configuration keeps ``max_backoff_s /
    max_failures`` at most 60 s per failure: one wrong PIN every two minutes (60 in two hours,
    the flood of issue 14, which kept a reader shut 99 % of the time with the old 900 s cap)
    holds PIN entry at most half the time whatever the settings, and at most 40 % with the
    defaults (5 failures, 240 s). The price is the guessing rate the bound allows a patient
    attacker who types at every lock's end: :meth:`LockoutPolicy.max_guesses` (1,815 a day
    with the defaults; with ``n`` residents a 6-digit PIN guess hits someone with odds
    ``n / 10**6``, so about ``550 / n`` days per expected hit, and about 360 ``lockout``
    alarms a day announce the attempt). The two cannot both be small: a lock that ``k`` failures
    buy for ``L`` seconds gives a patient attacker ``k / L`` guesses a second and lets a flood
    of ``r`` failures a second hold it ``r L / k`` of the time.

    At a two-factor door a PIN that answers a waiting card or face is judged even while PIN
    entry is locked, against that person only; its failures count against that person's own
    lock (``PolicyState.holders``, same policy), so a flood at the keypad does not shut a
    ``card+pin`` door and a stolen card gets the same bound, at odds ``1 / 10**6`` a guess.

    An insider who alternates their own PIN with fewer than ``max_failures`` guesses never
    trips the lock; each of their successes is audited under their pseudonym.

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
    "LockKey",
    "LockKind",
    "LockoutPolicy",
    "Presence",
    "ReaderLockout",
    "passback_violation",
    "record_failure",
    "record_success",
    "record_unknown_face",
]

Direction: TypeAlias = Literal["in", "out"]
LockKind: TypeAlias = Literal["pin", "card"]
"""What a lockout refuses at its reader: PIN entry or card reads."""
LockKey: TypeAlias = tuple[str, LockKind]
"""(reader id, kind): one lockout state each."""
_DAY_S = 86400.0


@dataclass(slots=True, frozen=True)
class LockoutPolicy:
    """Reader lockout settings (see the module docstring); one policy for both kinds."""

    max_failures: int = 5
    base_backoff_s: float = 30.0
    max_backoff_s: float = 240.0
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

    @property
    def lock_per_failure_s(self) -> float:
        """The most lockout time one failure can buy once the back-off is at its cap."""
        return self.max_backoff_s / self.max_failures

    def max_locked_s(self, failures: int, *, escalated: bool = False) -> float:
        """The longest a lock can stay closed because of ``failures`` counted failures.

        Each lockout needs ``max_failures`` failures and lasts ``backoff(level)``; a reset only
        lowers the level and a success only clears the count, so the worst case is one
        unbroken streak. With
        ``escalated`` the streak starts at the cap (the lock was escalated before). A lockout
        already running when the failures start is not included (at most ``max_backoff_s``).
        """
        lockouts = max(0, failures) // self.max_failures
        if escalated:
            return lockouts * self.max_backoff_s
        total, level = 0.0, 0
        while level < lockouts and self.backoff(level + 1) < self.max_backoff_s:
            level += 1
            total += self.backoff(level)
        return total + (lockouts - level) * self.max_backoff_s

    def max_guesses(self, seconds: float = _DAY_S) -> int:
        """The most failures a patient attacker gets judged in ``seconds`` from a fresh lock.

        They type ``max_failures`` guesses at once (typing takes no time in this bound) and
        again the moment each lockout ends, so the back-off never resets.
        """
        lockouts, locked = 0, 0.0
        while locked + self.backoff(lockouts + 1) <= seconds:
            lockouts += 1
            locked += self.backoff(lockouts)
            if self.backoff(lockouts) >= self.max_backoff_s:
                # At the cap every further lockout is the same length: count them at once.
                lockouts += int((seconds - locked) // self.max_backoff_s)
                break
        return (lockouts + 1) * self.max_failures


@dataclass(slots=True, frozen=True)
class ReaderLockout:
    """The lockout state of one kind of credential (PIN entry or card reads) at one reader.

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
        """Whether this kind is locked out at this reader at ``now``."""
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
