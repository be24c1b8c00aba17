"""The lock relay on gpiozero's MockFactory with a fake clock: no hardware, no sleeping.

These ran against ``gate.relay.Relay``, which only the tests used; they now run against the
relay the daemon drives, :class:`LockRelay` (fail-secure: energised = released), with the
same checks. ``poll()`` answers "locked?", so "still pulsing" is ``poll() is False``.
"""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.errors import GateError
from facegate.gate import LockRelay, make_pin_factory


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


def test_starts_released_and_pulses_for_the_configured_time(factory: MockFactory) -> None:
    clock = FakeClock()
    relay = LockRelay(17, release_s=3.0, pin_factory=factory, clock=clock)
    pin = factory.pin(17)
    assert pin.state is False and not relay.energised
    relay.release_for()
    assert pin.state is True and relay.release_until == pytest.approx(3.0)
    clock.advance(2.999)
    assert relay.poll() is False and pin.state is True
    clock.advance(0.002)
    assert relay.poll() is True and pin.state is False
    assert relay.release_until is None


def test_active_low_board(factory: MockFactory) -> None:
    clock = FakeClock()
    relay = LockRelay(22, active_high=False, release_s=1.0, pin_factory=factory, clock=clock)
    pin = factory.pin(22)
    assert pin.state is True  # active-low: high = de-energised
    relay.release_for()
    assert pin.state is False
    clock.advance(1.0)
    relay.poll()
    assert pin.state is True


def test_second_grant_extends_instead_of_shortening(factory: MockFactory) -> None:
    clock = FakeClock()
    relay = LockRelay(17, release_s=3.0, pin_factory=factory, clock=clock)
    relay.release_for()
    clock.advance(2.0)
    relay.release_for()
    assert relay.release_until == pytest.approx(5.0)
    relay.release_for(0.5)  # a shorter pulse never cuts the running one short
    assert relay.release_until == pytest.approx(5.0)
    clock.advance(2.9)
    assert relay.poll() is False
    clock.advance(0.2)
    assert relay.poll() is True


def test_close_leaves_relay_safe_even_mid_pulse(factory: MockFactory) -> None:
    clock = FakeClock()
    with LockRelay(17, pin_factory=factory, clock=clock) as relay:
        relay.release_for()
        assert factory.pin(17).state is True
    assert factory.pin(17).state is False
    relay.close()  # idempotent


def test_relay_off_after_exception_inside_with_block(factory: MockFactory) -> None:
    with (
        pytest.raises(RuntimeError),
        LockRelay(17, pin_factory=factory, clock=FakeClock()) as relay,
    ):
        relay.release_for()
        raise RuntimeError("loop crashed")
    assert factory.pin(17).state is False


def test_bad_arguments(factory: MockFactory) -> None:
    with pytest.raises(GateError):
        LockRelay(17, release_s=0, pin_factory=factory)
    relay = LockRelay(17, pin_factory=factory, clock=FakeClock())
    with pytest.raises(GateError):
        relay.release_for(-1)
    assert factory.pin(17).state is False
    with pytest.raises(GateError, match="GPIO 17"):
        LockRelay(17, pin_factory=factory)  # pin already in use


def test_pin_factory_by_name() -> None:
    assert isinstance(make_pin_factory("mock"), MockFactory)
    assert make_pin_factory(None) is None
    with pytest.raises(GateError, match="unknown pin factory"):
        make_pin_factory("pigpio-typo")
