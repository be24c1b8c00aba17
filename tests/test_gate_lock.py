"""The lock relay for both lock types, on MockFactory with a fake clock: no hardware, no sleep.

Fail-secure (strike): energised = released, and it stays locked when the daemon stops.
Fail-safe (maglock): energised = locked, and it must release when the daemon stops or crashes.
"""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.errors import GateError
from facegate.gate.lock import LockRelay

PIN = 17

# (lock type, relay energised while locked, locked after close)
TYPES = [("fail_secure", False, True), ("fail_safe", True, False)]


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


def _energised(factory: MockFactory) -> bool:
    return bool(factory.pin(PIN).state)


@pytest.mark.parametrize(("lock_type", "energised_locked", "_closed_locked"), TYPES)
def test_starts_locked_without_a_flicker(
    factory: MockFactory, lock_type: str, energised_locked: bool, _closed_locked: bool
) -> None:
    lock = LockRelay(PIN, lock_type=lock_type, pin_factory=factory, clock=FakeClock())  # type: ignore[arg-type]
    assert lock.locked and lock.release_until is None
    assert _energised(factory) is energised_locked
    # Once driven, the pin never passed through the released state.
    states = [s.state for s in factory.pin(PIN).states]
    first = states.index(energised_locked)
    assert all(s is energised_locked for s in states[first:])


@pytest.mark.parametrize(("lock_type", "energised_locked", "_closed_locked"), TYPES)
def test_release_and_poll(
    factory: MockFactory, lock_type: str, energised_locked: bool, _closed_locked: bool
) -> None:
    clock = FakeClock()
    lock = LockRelay(PIN, lock_type=lock_type, release_s=3.0, pin_factory=factory, clock=clock)  # type: ignore[arg-type]
    lock.release_for()
    assert not lock.locked
    assert _energised(factory) is not energised_locked
    assert lock.release_until == pytest.approx(3.0)
    clock.advance(2.999)
    assert lock.poll() is False
    assert _energised(factory) is not energised_locked
    clock.advance(0.001)
    assert lock.poll() is True
    assert _energised(factory) is energised_locked
    assert lock.release_until is None


@pytest.mark.parametrize(("lock_type", "energised_locked", "_closed_locked"), TYPES)
def test_poll_takes_an_explicit_time(
    factory: MockFactory, lock_type: str, energised_locked: bool, _closed_locked: bool
) -> None:
    lock = LockRelay(PIN, lock_type=lock_type, pin_factory=factory, clock=FakeClock())  # type: ignore[arg-type]
    lock.release_for(2.0, now=100.0)
    assert lock.poll(101.0) is False
    assert lock.poll(102.0) is True
    assert _energised(factory) is energised_locked


@pytest.mark.parametrize(("lock_type", "energised_locked", "closed_locked"), TYPES)
def test_close_leaves_the_state_the_lock_type_demands(
    factory: MockFactory, lock_type: str, energised_locked: bool, closed_locked: bool
) -> None:
    lock = LockRelay(PIN, lock_type=lock_type, pin_factory=factory, clock=FakeClock())  # type: ignore[arg-type]
    lock.close()
    assert _energised(factory) is False  # always de-energised
    assert lock.closed and lock.locked is closed_locked
    lock.close()  # idempotent
    assert lock.poll() is closed_locked


@pytest.mark.parametrize(("lock_type", "energised_locked", "closed_locked"), TYPES)
def test_close_mid_release(
    factory: MockFactory, lock_type: str, energised_locked: bool, closed_locked: bool
) -> None:
    with LockRelay(PIN, lock_type=lock_type, pin_factory=factory, clock=FakeClock()) as lock:  # type: ignore[arg-type]
        lock.release_for(5.0)
    assert _energised(factory) is False
    assert lock.locked is closed_locked and lock.release_until is None


@pytest.mark.parametrize(("lock_type", "energised_locked", "closed_locked"), TYPES)
def test_crash_inside_with_block_goes_to_the_safe_state(
    factory: MockFactory, lock_type: str, energised_locked: bool, closed_locked: bool
) -> None:
    with (
        pytest.raises(RuntimeError, match="main loop crashed"),
        LockRelay(PIN, lock_type=lock_type, pin_factory=factory, clock=FakeClock()) as lock,  # type: ignore[arg-type]
    ):
        assert _energised(factory) is energised_locked
        raise RuntimeError("main loop crashed")
    # fail_secure: unpowered = locked; fail_safe: unpowered = released (fire exit).
    assert _energised(factory) is False
    assert lock.locked is closed_locked


def test_fail_safe_closed_means_released_and_is_documented() -> None:
    doc = LockRelay.close.__doc__ or ""
    assert "Fail-safe" in doc and "released" in doc


@pytest.mark.parametrize(("lock_type", "energised_locked", "_closed_locked"), TYPES)
def test_second_grant_extends_never_shortens(
    factory: MockFactory, lock_type: str, energised_locked: bool, _closed_locked: bool
) -> None:
    clock = FakeClock()
    lock = LockRelay(PIN, lock_type=lock_type, release_s=3.0, pin_factory=factory, clock=clock)  # type: ignore[arg-type]
    lock.release_for()
    clock.advance(2.0)
    lock.release_for()
    assert lock.release_until == pytest.approx(5.0)
    lock.release_for(0.5)
    assert lock.release_until == pytest.approx(5.0)
    clock.advance(2.9)
    assert lock.poll() is False
    clock.advance(0.2)
    assert lock.poll() is True


@pytest.mark.parametrize(("lock_type", "energised_locked", "_closed_locked"), TYPES)
def test_secure_and_early_end(
    factory: MockFactory, lock_type: str, energised_locked: bool, _closed_locked: bool
) -> None:
    clock = FakeClock()
    lock = LockRelay(PIN, lock_type=lock_type, release_s=10.0, pin_factory=factory, clock=clock)  # type: ignore[arg-type]
    lock.release_for()
    lock.early_end()
    assert lock.locked and lock.release_until is None
    assert _energised(factory) is energised_locked
    lock.release_for()
    lock.secure()
    assert lock.locked
    lock.secure()  # already locked: no change
    assert _energised(factory) is energised_locked


def test_active_low_fail_safe_board(factory: MockFactory) -> None:
    clock = FakeClock()
    lock = LockRelay(22, lock_type="fail_safe", active_high=False, pin_factory=factory, clock=clock)
    pin = factory.pin(22)
    assert pin.state is False  # active-low: low = energised = maglock holding
    lock.release_for(1.0)
    assert pin.state is True
    clock.advance(1.0)
    lock.poll()
    assert pin.state is False
    lock.close()
    assert pin.state is True and not lock.locked  # de-energised: maglock lets go


def test_bad_arguments(factory: MockFactory) -> None:
    with pytest.raises(GateError, match="lock_type"):
        LockRelay(PIN, lock_type="magnetic", pin_factory=factory)  # type: ignore[arg-type]
    with pytest.raises(GateError, match="release_s"):
        LockRelay(PIN, release_s=0, pin_factory=factory)
    lock = LockRelay(PIN, pin_factory=factory, clock=FakeClock())
    with pytest.raises(GateError, match="positive"):
        lock.release_for(-1)
    lock.close()
    with pytest.raises(GateError, match="closed"):
        lock.release_for(1.0)


def test_pin_in_use_is_a_gate_error(factory: MockFactory) -> None:
    first = LockRelay(PIN, pin_factory=factory, clock=FakeClock())
    with pytest.raises(GateError, match="GPIO 17"):
        LockRelay(PIN, pin_factory=factory, clock=FakeClock())
    first.close()


def test_repr_names_state(factory: MockFactory) -> None:
    lock = LockRelay(
        PIN, lock_type="fail_safe", pin_factory=factory, clock=FakeClock(), name="main"
    )
    assert "locked" in repr(lock) and "fail_safe" in repr(lock)
    lock.close()
    assert "closed" in repr(lock)
