"""A whole door on MockFactory + FakeClock: lock, contact, exit button, tamper, siren, buzzer, LED.

Pins (BCM): relay 17, contact 5, exit 6, tamper 13, siren 19, buzzer 26, LED 21.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from facegate.clock import FakeClock
from facegate.config.gate import DoorGateConfig
from facegate.errors import GateError
from facegate.gate.build import build_door_runtime
from facegate.gate.door import Action, ClearAlarm, Feedback, RaiseAlarm, ReleaseLock, SecureLock
from facegate.gate.events import Alarm, GateEvent
from facegate.gate.feedback import DEFAULT_PATTERNS, AlarmOutput, FeedbackDevice, Step
from facegate.gate.runtime import DoorRuntime

RELAY, CONTACT, EXIT, TAMPER, SIREN, BUZZER, LED = 17, 5, 6, 13, 19, 26, 21


def _gate(lock_type: str = "fail_secure", **kw: object) -> DoorGateConfig:
    return DoorGateConfig.model_validate(
        {
            "lock_type": lock_type,
            "held_open_s": 30,
            "exit_release_s": 5,
            "door_contact": {"pin": CONTACT},
            "exit_button": {"pin": EXIT},
            "tamper": {"pin": TAMPER},
            "alarm_relay": {"pin": SIREN, "max_on_s": 120},
            "buzzer": {"pin": BUZZER},
            "led": {"pin": LED},
            **kw,
        }
    )


class Door:
    """Test harness: the runtime plus its mock pins."""

    def __init__(self, lock_type: str = "fail_secure") -> None:
        self.factory = MockFactory()
        self.clock = FakeClock(start=1000.0)
        # A shut door and a closed enclosure before the daemon starts.
        self.runtime = build_door_runtime(
            "main",
            _gate(lock_type),
            relay_pin=RELAY,
            release_s=3.0,
            pin_factory=self.factory,
            clock=self.clock,
        )
        self.events: list[GateEvent] = []
        self.runtime.on_event = self.events.append
        self.pin(CONTACT).drive_low()
        self.pin(TAMPER).drive_low()
        self.clock.advance(1.0)
        self.runtime.poll()
        self.events.clear()

    def pin(self, n: int) -> Any:
        return self.factory.pin(n)

    def advance(self, seconds: float) -> list[Action]:
        self.clock.advance(seconds)
        return self.runtime.poll()

    def open_door(self) -> list[Action]:
        self.clock.advance(0.5)  # a real door is never opened within the bounce time
        self.pin(CONTACT).drive_high()
        return self.runtime.poll()

    def close_door(self) -> list[Action]:
        self.clock.advance(0.5)
        self.pin(CONTACT).drive_low()
        return self.runtime.poll()

    @property
    def relay(self) -> bool:
        return bool(self.pin(RELAY).state)

    @property
    def siren(self) -> bool:
        return bool(self.pin(SIREN).state)


@pytest.fixture
def door() -> Iterator[Door]:
    d = Door()
    yield d
    d.runtime.close()


def _alarms(actions: list[Action]) -> list[str]:
    return [a.alarm.kind for a in actions if isinstance(a, RaiseAlarm)]


def test_start_is_quiet_and_locked(door: Door) -> None:
    assert door.runtime.lock.locked and not door.relay
    assert door.runtime.start() == []
    assert not door.siren and not door.runtime.controller.door_open


def test_grant_pass_and_early_end(door: Door) -> None:
    actions = door.runtime.grant()
    assert actions == [ReleaseLock(3.0), Feedback("granted")]
    assert door.relay and not door.runtime.lock.locked
    assert door.advance(1.0) == []
    assert door.open_door() == []  # a normal passage
    actions = door.close_door()
    assert SecureLock("passed") in actions
    assert door.runtime.lock.locked and not door.relay  # 2 s before the pulse would end
    assert [type(e).__name__ for e in door.events] == ["DoorOpened", "DoorClosed"]


def test_forced_door_sounds_the_siren_until_closed(door: Door) -> None:
    actions = door.open_door()
    assert _alarms(actions) == ["door_forced"]
    assert door.siren
    actions = door.close_door()
    assert any(isinstance(a, ClearAlarm) for a in actions)
    assert not door.siren


def test_siren_is_cut_after_max_on_s_but_the_alarm_stays(door: Door) -> None:
    door.open_door()
    door.advance(119.0)
    assert door.siren
    door.advance(1.0)
    assert not door.siren
    assert "door_forced" in door.runtime.controller.active_alarms


def test_held_door_beeps_but_no_siren(door: Door) -> None:
    door.runtime.grant()
    door.advance(0.5)
    door.open_door()
    assert _alarms(door.advance(29.0)) == []
    actions = door.advance(1.0)
    assert _alarms(actions) == ["door_held"]
    assert door.runtime.feedback is not None and door.runtime.feedback.playing == "alarm"
    assert not door.siren  # door_held is not a siren alarm by default
    assert _alarms(door.advance(60.0)) == []  # once
    door.close_door()
    assert door.runtime.controller.active_alarms == frozenset()


def test_exit_button_opens_without_alarm(door: Door) -> None:
    door.pin(EXIT).drive_low()
    actions = door.runtime.poll()
    assert actions == [ReleaseLock(5.0)]
    assert door.relay
    door.pin(EXIT).drive_high()
    door.advance(1.0)
    assert _alarms(door.open_door()) == []
    assert SecureLock("passed") in door.close_door()
    assert not door.siren and not door.relay


def test_tamper_raises_an_alarm(door: Door) -> None:
    door.pin(TAMPER).drive_high()
    actions = door.runtime.poll()
    assert _alarms(actions) == ["tamper"]
    assert door.siren
    door.clock.advance(0.5)
    door.pin(TAMPER).drive_low()
    door.runtime.poll()
    assert not door.siren


def test_policy_alarm_and_deny_feedback(door: Door) -> None:
    actions = door.runtime.report(Alarm("lockout", "main", 1000.0, "reader kp locked for 30 s"))
    assert actions[1] == Feedback("locked_out")
    assert not door.siren  # lockouts are audited, not sirened
    assert door.runtime.deny() == [Feedback("denied")]
    assert door.runtime.prompt("second_factor") == [Feedback("second_factor")]


@pytest.mark.parametrize(
    ("lock_type", "locked_after"), [("fail_secure", True), ("fail_safe", False)]
)
def test_crash_inside_with_block_leaves_every_output_safe(
    lock_type: str, locked_after: bool
) -> None:
    d = Door(lock_type)
    with pytest.raises(RuntimeError), d.runtime as runtime:
        d.open_door()  # forced: siren on
        runtime.grant()
        assert d.siren
        raise RuntimeError("main loop crashed")
    assert not d.relay  # de-energised for both lock types
    assert d.runtime.lock.locked is locked_after
    assert not d.siren and not d.pin(BUZZER).state and not d.pin(LED).state


def test_fail_safe_runtime_energised_while_locked() -> None:
    d = Door("fail_safe")
    try:
        assert d.relay and d.runtime.lock.locked
        d.runtime.grant()
        assert not d.relay
        d.advance(3.0)
        assert d.relay
    finally:
        d.runtime.close()
    assert not d.relay


def test_build_cleans_up_when_a_pin_clashes_with_the_relay() -> None:
    factory = MockFactory()
    with pytest.raises(GateError):
        build_door_runtime(
            "main", _gate(), relay_pin=CONTACT, pin_factory=factory, clock=FakeClock()
        )
    # Everything opened before the failure was closed again: the pins are free.
    rt = build_door_runtime(
        "main", _gate(), relay_pin=RELAY, pin_factory=factory, clock=FakeClock()
    )
    rt.close()


def test_runtime_with_only_a_lock() -> None:
    factory = MockFactory()
    rt = build_door_runtime(
        "main", DoorGateConfig(), relay_pin=RELAY, pin_factory=factory, clock=FakeClock()
    )
    with rt:
        assert rt.inputs == () and rt.alarm_output is None and rt.feedback is None
        assert rt.grant(2.0) == [ReleaseLock(2.0), Feedback("granted")]
        assert rt.poll() == []


# -- Feedback patterns and the siren on their own ------------------------------------------------


def test_granted_pattern_timing() -> None:
    factory, clock = MockFactory(), FakeClock()
    with FeedbackDevice(BUZZER, LED, pin_factory=factory, clock=clock) as fb:
        fb.play("granted")
        assert fb.buzzer_on and fb.led_on
        clock.advance(0.15)
        fb.poll()
        assert not fb.buzzer_on and fb.led_on
        clock.advance(1.85)
        fb.poll()
        assert not fb.led_on and fb.playing is None
    assert not factory.pin(BUZZER).state and not factory.pin(LED).state


def test_denied_pattern_beeps_three_times() -> None:
    factory, clock = MockFactory(), FakeClock()
    fb = FeedbackDevice(BUZZER, None, pin_factory=factory, clock=clock)
    beeps, last = 0, False
    fb.play("denied")
    for _ in range(80):
        on = fb.buzzer_on
        beeps += on and not last
        last = on
        clock.advance(0.01)
        fb.poll()
    assert beeps == 3 and fb.playing is None
    fb.close()


def test_same_pattern_whichever_credential() -> None:
    # One "granted" pattern for face, PIN and card alike (Art. 12: no nudging towards face).
    assert set(DEFAULT_PATTERNS) == {
        "granted", "denied", "locked_out", "second_factor", "alarm",
        "challenge_blink", "challenge_turn", "challenge_mouth",  # liveness asks only of faces
    }  # fmt: skip


def test_custom_pattern_and_unknown_kind_plays_nothing() -> None:
    factory, clock = MockFactory(), FakeClock()
    fb = FeedbackDevice(
        None, LED, patterns={"granted": (Step(1.0, False, True),)}, pin_factory=factory, clock=clock
    )
    fb.play("denied")
    assert fb.playing is None and not fb.led_on
    fb.play("granted")
    assert fb.led_on
    fb.close()


def test_alarm_output_without_limit() -> None:
    factory, clock = MockFactory(), FakeClock()
    siren = AlarmOutput(SIREN, max_on_s=None, pin_factory=factory, clock=clock)
    siren.set(True)
    clock.advance(10_000)
    siren.poll()
    assert siren.active
    siren.set(False)
    assert not siren.active
    siren.close()
    siren.close()
    with pytest.raises(GateError):
        AlarmOutput(SIREN, max_on_s=0, pin_factory=factory)


def test_runtime_accepts_events_from_any_thread(door: Door) -> None:
    from facegate.gate.events import DoorOpened

    door.runtime.submit(DoorOpened("main", 1000.0))
    assert _alarms(door.runtime.poll()) == ["door_forced"]
    assert isinstance(door.runtime, DoorRuntime)
