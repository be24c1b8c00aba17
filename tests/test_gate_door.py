"""The door state machine, with plain numbers: no pins, no clock."""

from __future__ import annotations

import pytest

from facegate.gate.door import (
    Action,
    ClearAlarm,
    DoorController,
    Feedback,
    RaiseAlarm,
    ReleaseLock,
    SecureLock,
)
from facegate.gate.events import (
    Alarm,
    AlarmCleared,
    DoorClosed,
    DoorOpened,
    ExitRequested,
    TamperChanged,
)


def _kinds(actions: list[Action]) -> list[str]:
    out = []
    for a in actions:
        if isinstance(a, RaiseAlarm):
            out.append(f"raise:{a.alarm.kind}")
        elif isinstance(a, ClearAlarm):
            out.append(f"clear:{a.cleared.kind}")
        elif isinstance(a, Feedback):
            out.append(f"feedback:{a.kind}")
        elif isinstance(a, ReleaseLock):
            out.append(f"release:{a.seconds:g}")
        elif isinstance(a, SecureLock):
            out.append(f"secure:{a.reason}")
    return out


@pytest.fixture
def door() -> DoorController:
    c = DoorController("main", held_open_s=30.0, exit_release_s=5.0)
    assert c.start(0.0) == []
    return c


def test_door_forced_without_grant(door: DoorController) -> None:
    actions = door.door_opened(10.0)
    assert _kinds(actions) == ["raise:door_forced", "feedback:alarm"]
    alarm = actions[0].alarm  # type: ignore[union-attr]
    assert alarm == Alarm("door_forced", "main", 10.0, alarm.detail)
    assert door.active_alarms == {"door_forced"}
    assert door.door_opened(11.0) == []  # still open: not raised twice
    assert _kinds(door.door_closed(12.0)) == ["clear:door_forced"]
    assert door.active_alarms == frozenset()


def test_grant_then_pass_ends_the_release_early(door: DoorController) -> None:
    assert _kinds(door.grant(0.0, 3.0)) == ["release:3", "feedback:granted"]
    assert door.door_opened(1.0) == []
    assert _kinds(door.door_closed(2.0)) == ["secure:passed"]
    assert not door.grant_active(2.5)
    # Re-entry on the same grant: the door is forced now.
    assert "raise:door_forced" in _kinds(door.door_opened(2.8))


def test_grant_expires_unused(door: DoorController) -> None:
    door.grant(0.0, 3.0)
    assert door.tick(3.0) == []
    assert not door.grant_active(3.0)
    assert "raise:door_forced" in _kinds(door.door_opened(4.0))


def test_closing_after_the_release_ran_out_needs_no_secure(door: DoorController) -> None:
    door.grant(0.0, 3.0)
    door.door_opened(1.0)
    assert door.tick(10.0) == []
    assert door.door_closed(12.0) == []  # the relay already locked by itself
    assert not door.grant_active(12.0)


def test_door_held_alarm_once_then_clears(door: DoorController) -> None:
    door.grant(0.0, 3.0)
    door.door_opened(1.0)
    assert door.tick(30.9) == []
    actions = door.tick(31.0)
    assert _kinds(actions) == ["raise:door_held", "feedback:alarm"]
    assert door.tick(40.0) == [] and door.tick(100.0) == []  # raised once
    assert door.active_alarms == {"door_held"}
    assert _kinds(door.door_closed(101.0)) == ["clear:door_held"]
    assert door.active_alarms == frozenset()
    # A later opening gets its own held timer.
    door.grant(200.0, 3.0)
    door.door_opened(200.5)
    assert _kinds(door.tick(230.5)) == ["raise:door_held", "feedback:alarm"]


def test_forced_and_held_both_clear_on_close(door: DoorController) -> None:
    door.door_opened(0.0)
    door.tick(30.0)
    assert door.active_alarms == {"door_forced", "door_held"}
    assert sorted(_kinds(door.door_closed(31.0))) == ["clear:door_forced", "clear:door_held"]


def test_exit_button_releases_without_alarm_or_granted_feedback(door: DoorController) -> None:
    assert _kinds(door.exit_request(0.0)) == ["release:5"]
    assert door.door_opened(1.0) == []
    assert _kinds(door.door_closed(3.0)) == ["secure:passed"]


def test_grant_while_door_already_open_ends_at_close(door: DoorController) -> None:
    door.exit_request(0.0)
    door.door_opened(1.0)
    door.tick(10.0)  # exit window over, door still open
    door.grant(12.0, 3.0)  # someone badges while it is held open
    assert _kinds(door.door_closed(13.0)) == ["secure:passed"]


def test_tamper_raises_and_clears(door: DoorController) -> None:
    assert _kinds(door.tamper(5.0, True)) == ["raise:tamper", "feedback:alarm"]
    assert door.tamper(6.0, True) == []
    assert door.active_alarms == {"tamper"}
    actions = door.tamper(7.0, False)
    assert actions == [ClearAlarm(AlarmCleared("tamper", "main", 7.0))]


def test_start_state_open_door_and_open_tamper() -> None:
    c = DoorController("main", held_open_s=10.0, door_open=True, tampered=True)
    assert _kinds(c.start(0.0)) == ["raise:tamper", "feedback:alarm"]
    assert c.door_open
    assert _kinds(c.tick(10.0)) == ["raise:door_held", "feedback:alarm"]  # held, not forced


def test_deny_only_gives_feedback(door: DoorController) -> None:
    assert door.deny(0.0) == [Feedback("denied")]
    assert door.deny(0.0, locked_out=True) == [Feedback("locked_out")]
    assert not door.grant_active(0.0)


def test_handle_dispatches_events_and_ignores_other_doors(door: DoorController) -> None:
    assert door.handle(DoorOpened("side", 1.0)) == []
    assert _kinds(door.handle(ExitRequested("main", 1.0))) == ["release:5"]
    assert door.handle(DoorOpened("main", 2.0)) == []
    assert _kinds(door.handle(DoorClosed("main", 3.0))) == ["secure:passed"]
    assert _kinds(door.handle(TamperChanged("main", 4.0, True)))[0] == "raise:tamper"
    with pytest.raises(TypeError):
        door.handle(object())  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        DoorController("main", held_open_s=0)
    with pytest.raises(ValueError):
        DoorController("main").grant(0.0, 0.0)
