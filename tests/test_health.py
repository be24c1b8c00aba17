"""Health rules on a FakeClock: when to feed the watchdog, camera and clock alarms."""

from __future__ import annotations

import numpy as np

from facegate.clock import FakeClock
from facegate.service.health import Health, HealthConfig, frame_stats

CFG = HealthConfig(
    frame_stale_s=5.0, tick_stale_s=2.0, dark_level=12.0, dark_s=10.0, frozen_s=10.0,
    clock_tolerance_s=2.0, ping_every_s=1.0,
)  # fmt: skip


class JumpClock(FakeClock):
    def jump_wall(self, seconds: float) -> None:
        self._wall_offset += seconds


def noisy(seed: int, level: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(level, 20, (48, 64, 3)), 0, 255).astype(np.uint8)


def step(live: Health, clock: FakeClock, image: np.ndarray | None, dt: float = 0.5) -> list:
    clock.advance(dt)
    alarms = [] if image is None else live.frame(image)
    return alarms + live.tick()


def test_pings_while_the_loop_turns_whatever_the_camera_does() -> None:
    """The watchdog is fed by the loop that serves the readers: no frames (camera lost) is an
    alarm that takes face down, not a reason for systemd to restart PIN and card (issue 14)."""
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    assert live.should_ping()  # no frame yet: the loop turns, PIN and card work
    assert not live.should_ping()  # not again before ping_every_s
    step(live, clock, noisy(1))
    clock.advance(5.0)
    live.tick()
    assert live.healthy() == (True, "ok") and live.should_ping()  # frames 5 s old
    assert "camera_lost" in live.active
    clock.advance(2.5)  # the loop did not turn
    assert live.healthy() == (False, "loop stalled")
    assert not live.should_ping()


def test_no_camera_alarm_while_no_frames_are_expected() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    alarms = []
    for _ in range(20):
        clock.advance(0.5)
        alarms += live.tick(expect_frames=False)
    assert alarms == []


def test_a_reopened_camera_clears_its_alarms_and_is_awaited_afresh() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    lost = []
    for _ in range(12):
        lost += step(live, clock, None)
    assert [(a.kind, a.cleared) for a in lost] == [("camera_lost", False)]
    assert [(a.kind, a.cleared) for a in live.camera_opened()] == [("camera_lost", True)]
    again = []
    for _ in range(12):
        again += step(live, clock, None)
    assert [(a.kind, a.cleared) for a in again] == [("camera_lost", False)]


def test_camera_lost_and_back() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    step(live, clock, noisy(1))
    alarms = []
    for _ in range(12):
        alarms += step(live, clock, None)
    assert [(a.kind, a.cleared) for a in alarms] == [("camera_lost", False)]
    back = step(live, clock, noisy(3))
    assert [(a.kind, a.cleared) for a in back] == [("camera_lost", True)]


def test_dark_camera_alarms_after_n_seconds_but_keeps_the_watchdog() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    dark = []
    for i in range(25):
        dark += step(live, clock, noisy(i, level=3))
    assert [(a.kind, a.cleared) for a in dark] == [("camera_dark", False)]
    assert dark[0].at == 10.5  # dark since the first frame at 0.5 s
    assert live.should_ping()  # a covered lens is not fixed by a restart
    light = step(live, clock, noisy(99))
    assert [(a.kind, a.cleared) for a in light] == [("camera_dark", True)]


def test_frozen_camera_is_an_alarm_not_a_restart_of_the_daemon() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    same = noisy(7)
    alarms = []
    for _ in range(20):  # first frame at 0.5 s, last at 10.0 s: 9.5 s of one picture
        alarms += step(live, clock, same)
    assert alarms == []
    alarms += step(live, clock, same)  # 10.0 s of one picture
    assert [(a.kind, a.cleared) for a in alarms] == [("camera_frozen", False)]
    assert live.healthy() == (True, "ok")  # the face way restarts the camera itself
    alarms = step(live, clock, noisy(8))
    assert [(a.kind, a.cleared) for a in alarms] == [("camera_frozen", True)]


def test_loop_stall_is_reported() -> None:
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    step(live, clock, noisy(1))
    clock.advance(3.0)
    alarms = live.tick()
    assert [a.kind for a in alarms] == ["loop_stalled"]
    assert alarms[0].detail == {"gap_s": 3.0}


def test_a_slow_start_is_not_a_loop_stall() -> None:
    """Issue 17: models and camera take seconds to open between Health() and the first tick;
    every start raised loop_stalled. The check starts with the loop's first turn."""
    clock = FakeClock()
    live = Health(CFG, clock=clock)
    clock.advance(5.0)  # loading models
    assert [a.kind for a in live.tick(expect_frames=False)] == []
    clock.advance(3.0)
    assert [a.kind for a in live.tick(expect_frames=False)] == ["loop_stalled"]


def test_clock_jump_once_per_jump() -> None:
    clock = JumpClock()
    live = Health(CFG, clock=clock)
    step(live, clock, noisy(1))
    clock.jump_wall(1.5)  # within tolerance (NTP slew)
    assert step(live, clock, noisy(2)) == []
    clock.jump_wall(-3600.0)
    alarms = step(live, clock, noisy(3))
    assert [a.kind for a in alarms] == ["clock_jump"]
    assert alarms[0].detail["jump_s"] == -3598.5
    assert step(live, clock, noisy(4)) == []


def test_frame_stats() -> None:
    black = np.zeros((480, 640), np.uint8)
    s = frame_stats(black)
    assert s.brightness == 0.0 and len(s.digest) == 16
    assert frame_stats(noisy(1)).digest != frame_stats(noisy(2)).digest
