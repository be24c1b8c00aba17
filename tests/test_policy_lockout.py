"""Reader lockout back-off, face rate limit and anti-passback as pure values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facegate.policy.lockout import (
    AntiPassbackPolicy,
    FaceLimitPolicy,
    FaceLimitState,
    LockoutPolicy,
    Presence,
    ReaderLockout,
    passback_violation,
    record_failure,
    record_success,
    record_unknown_face,
)

POLICY = LockoutPolicy(
    max_failures=3, base_backoff_s=30.0, max_backoff_s=300.0, reset_after_s=600.0
)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [POLICY.backoff(n) for n in range(0, 7)] == [0.0, 30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert POLICY.backoff(10_000) == 300.0


def _streak(state: ReaderLockout, now: float) -> tuple[ReaderLockout, float | None]:
    length = None
    for _ in range(POLICY.max_failures):
        state, length = record_failure(state, POLICY, now)
    return state, length


def test_lockout_after_max_failures() -> None:
    state = ReaderLockout()
    state, length = record_failure(state, POLICY, 0.0)
    state, length = record_failure(state, POLICY, 1.0)
    assert length is None and not state.locked(1.0) and state.failures == 2
    state, length = record_failure(state, POLICY, 2.0)
    assert length == 30.0 and state.locked(2.0) and state.remaining(12.0) == pytest.approx(20.0)
    assert not state.locked(32.0) and state.remaining(40.0) == 0.0


def test_failures_during_a_lockout_do_not_count() -> None:
    state, _ = _streak(ReaderLockout(), 0.0)
    same, length = record_failure(state, POLICY, 10.0)
    assert same == state and length is None


def test_growth_and_reset_after_quiet_period() -> None:
    state, first = _streak(ReaderLockout(), 0.0)
    state, second = _streak(state, 40.0)
    state, third = _streak(state, 200.0)
    assert (first, second, third) == (30.0, 60.0, 120.0)
    assert state.locked_until == 320.0
    # 600 s quiet after the lockout ended: a fresh start.
    state, again = _streak(state, 320.0 + 600.0)
    assert again == 30.0


def test_not_quiet_long_enough_keeps_the_level() -> None:
    state, _ = _streak(ReaderLockout(), 0.0)
    state, length = _streak(state, 30.0 + 599.0)
    assert length == 60.0


def test_success_clears_count_but_not_level() -> None:
    state, _ = _streak(ReaderLockout(), 0.0)
    state, _ = record_failure(state, POLICY, 100.0)
    state = record_success(state, 101.0)
    assert state.failures == 0 and state.level == 1
    assert record_success(state, 102.0) is state
    state, length = _streak(state, 103.0)
    assert length == 60.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0},
        {"base_backoff_s": 0},
        {"base_backoff_s": 100.0, "max_backoff_s": 50.0},
        {"reset_after_s": 0},
    ],
)
def test_bad_lockout_policy(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LockoutPolicy(**kwargs)  # type: ignore[arg-type]


def test_face_limit_sliding_window() -> None:
    policy = FaceLimitPolicy(max_unknown=3, window_s=10.0, cooldown_s=20.0)
    state = FaceLimitState()
    for t in (0.0, 1.0, 2.0):
        state, tripped = record_unknown_face(state, policy, t)
        assert not tripped
    state, tripped = record_unknown_face(state, policy, 10.5)  # t=0 has left the window
    assert not tripped and len(state.recent) == 3
    state, tripped = record_unknown_face(state, policy, 10.6)
    assert tripped and state.blocked(10.6) and state.blocked(30.5) and not state.blocked(30.6)
    with pytest.raises(ValueError):
        FaceLimitPolicy(max_unknown=0)


def test_passback() -> None:
    on = AntiPassbackPolicy(enabled=True, out_readers=frozenset({"exit-reader"}), reset_s=100.0)
    assert on.direction("exit-reader") == "out" and on.direction("kp1") == "in"
    inside = Presence("in", 0.0)
    assert passback_violation(inside, "in", on, 50.0)
    assert not passback_violation(inside, "out", on, 50.0)
    assert not passback_violation(inside, "in", on, 100.0)  # forgotten
    assert not passback_violation(None, "in", on, 0.0)
    assert not passback_violation(inside, "in", AntiPassbackPolicy(), 1.0)  # off by default
    forever = AntiPassbackPolicy(enabled=True, reset_s=None)
    assert passback_violation(inside, "in", forever, 1e9)


# -- The bounds of issue 14: a flood cannot hold a lock shut, and what a patient attacker gets --

DEFAULT = LockoutPolicy()


def test_default_bounds() -> None:
    assert (DEFAULT.max_failures, DEFAULT.max_backoff_s) == (5, 240.0)
    assert DEFAULT.lock_per_failure_s == 48.0
    # 60 failures: 12 lockouts, 30 + 60 + 120 + 9 × 240 s from fresh, 12 × 240 s escalated.
    assert DEFAULT.max_locked_s(60) == 2370.0
    assert DEFAULT.max_locked_s(60, escalated=True) == 2880.0
    assert DEFAULT.max_locked_s(4) == 0.0
    assert DEFAULT.max_locked_s(10**12) == 210.0 + (2 * 10**11 - 3) * 240.0  # no loop per lockout
    # Guesses a day at each lockout's end: 362 lockouts fit in 86,400 s, 5 guesses before each
    # and after the last.
    assert DEFAULT.max_guesses() == 1815
    assert DEFAULT.max_guesses(0.0) == 5 and DEFAULT.max_guesses(29.9) == 5
    assert DEFAULT.max_guesses(30.0) == 10
    # The old cap (900 s): fewer guesses, but 60 failures could hold the lock 2 h.
    old = LockoutPolicy(max_backoff_s=900.0)
    assert old.max_guesses() == 500 and old.max_locked_s(60) > 7200


def _guesses_by_simulation(policy: LockoutPolicy, seconds: float) -> int:
    state, now, judged = ReaderLockout(), 0.0, 0
    while now <= seconds:
        if state.locked(now):
            now = state.locked_until  # type: ignore[assignment]
            continue
        state, _ = record_failure(state, policy, now)
        judged += 1
    return judged


@pytest.mark.parametrize(
    "policy",
    [DEFAULT, POLICY, LockoutPolicy(1, 10.0, 60.0, 600.0), LockoutPolicy(20, 5.0, 1200.0, 60.0)],
)
def test_max_guesses_matches_an_attacker_at_each_lockouts_end(policy: LockoutPolicy) -> None:
    for seconds in (0.0, 100.0, 3600.0, 86400.0):
        assert _guesses_by_simulation(policy, seconds) == policy.max_guesses(seconds)


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(st.floats(0.0, 7199.0), min_size=60, max_size=60),
    escalated=st.booleans(),
)
def test_any_sixty_failures_in_two_hours_lock_at_most_the_bound(
    times: list[float], escalated: bool
) -> None:
    """However 60 failures are timed in two hours, the lock is closed at most 40 % of it."""
    state = ReaderLockout(level=10) if escalated else ReaderLockout()
    closed: list[tuple[float, float]] = []
    for now in sorted(times):
        state, length = record_failure(state, DEFAULT, now)
        if length is not None:
            closed.append((now, min(now + length, 7200.0)))
    locked = sum(end - start for start, end in closed)  # lockouts never overlap
    assert locked <= DEFAULT.max_locked_s(60, escalated=True) <= 0.4 * 7200
