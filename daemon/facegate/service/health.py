"""``Health``: when to feed the systemd watchdog, and camera/clock alarms. Pure, clocked.

Health of the camera and the loop, not anti-spoofing (that is the face path's liveness judge,
:mod:`facegate.vision.liveness`).

The watchdog is fed (``WATCHDOG=1``) while the main loop keeps turning (the last tick is
younger than ``tick_stale_s``): that loop serves the card readers, keypads and door inputs,
so while it turns PIN and card work, whatever the camera does. If it stops, systemd restarts
the daemon after ``WatchdogSec=``. The camera has its own alarms below and its own bounded
restarts (``service/face_way.py``); a lost or frozen camera takes only face down.

Alarms (edge-triggered: one when a condition starts, one ``cleared`` when it ends):

- ``camera_lost``: no frame for ``frame_stale_s``;
- ``camera_dark``: mean brightness below ``dark_level`` for ``dark_s`` (covered lens, lights out)
  — the daemon stays up, restarting would not help;
- ``camera_frozen``: identical frames for ``frozen_s`` (a wedged driver; a restart may help);
- ``loop_stalled``: no tick for ``tick_stale_s`` (reported when the loop turns again);
- ``clock_jump``: wall time moved against the monotonic clock by more than ``clock_tolerance_s``
  (NTP step, RTC reset, tampering): records and schedules may be wrong around it.

Feed it values; it never reads a camera or sleeps. Tests drive it with ``FakeClock``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..clock import Clock
from ..config.appliance import WatchdogConfig

__all__ = ["FrameStats", "Health", "HealthAlarm", "HealthConfig", "frame_stats"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class HealthConfig:
    """Thresholds of the health rules (seconds unless noted)."""

    frame_stale_s: float = 5.0
    tick_stale_s: float = 2.0
    dark_level: float = 12.0  # mean 8-bit brightness
    dark_s: float = 10.0
    frozen_s: float = 10.0
    clock_tolerance_s: float = 2.0
    ping_every_s: float = 5.0  # set to half of WatchdogSec= or less


@dataclass(slots=True, frozen=True)
class HealthAlarm:
    """A health condition that started (or ``cleared``)."""

    kind: str
    at: float
    cleared: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class FrameStats:
    """What the health rules need from a frame: mean brightness and a digest of a subsample."""

    brightness: float
    digest: bytes


def frame_stats(image: np.ndarray, step: int = 8) -> FrameStats:
    """Cheap statistics of an 8-bit image (every ``step``-th pixel in each direction)."""
    sample = np.ascontiguousarray(image[::step, ::step])
    return FrameStats(
        float(sample.mean()) if sample.size else 0.0,
        hashlib.blake2b(sample.tobytes(), digest_size=16).digest(),
    )


class Health:
    """Decides when to send ``WATCHDOG=1`` and raises camera and clock alarms.

    Args:
        config: thresholds.
        clock: time source (monotonic for ages, wall time for the clock-jump check).
    """

    @classmethod
    def from_config(
        cls, watchdog: WatchdogConfig, *, clock: Clock, interval_s: float | None = None
    ) -> Health:
        """The rules ``watchdog`` configures; ping at half of ``WatchdogSec=`` (``interval_s``)."""
        config = HealthConfig(
            frame_stale_s=watchdog.frame_stale_s,
            tick_stale_s=watchdog.tick_stale_s,
            dark_level=watchdog.dark_level,
            dark_s=watchdog.dark_s,
            frozen_s=watchdog.frozen_s,
            clock_tolerance_s=watchdog.clock_tolerance_s,
            ping_every_s=interval_s / 2 if interval_s else 5.0,
        )
        return cls(config, clock=clock)

    def __init__(self, config: HealthConfig | None = None, *, clock: Clock) -> None:
        self.config = config or HealthConfig()
        self.clock = clock
        now = clock.monotonic()
        self._started = now
        self._last_frame: float | None = None
        # None until the loop first turns: start-up (models, camera) is not a stall.
        self._last_tick: float | None = None
        self._last_ping: float | None = None
        self._dark_since: float | None = None
        self._same_since: float | None = None
        self._digest: bytes | None = None
        self._offset = clock.time() - now
        self.active: set[str] = set()

    # -- inputs ---------------------------------------------------------------------------

    def frame(
        self, image: np.ndarray | None = None, *, stats: FrameStats | None = None
    ) -> list[HealthAlarm]:
        """Note a captured frame (pass the image or precomputed ``stats``)."""
        if stats is None:
            if image is None:
                raise ValueError("frame() needs an image or stats")
            stats = frame_stats(image)
        now = self.clock.monotonic()
        self._last_frame = now
        cfg = self.config
        if stats.brightness < cfg.dark_level:
            self._dark_since = now if self._dark_since is None else self._dark_since
        else:
            self._dark_since = None
        if stats.digest != self._digest:  # frozen: the same picture since it first appeared
            self._same_since = now
            self._digest = stats.digest
        alarms: list[HealthAlarm] = []
        self._set(alarms, "camera_lost", False, now)
        dark = self._dark_since is not None and now - self._dark_since >= cfg.dark_s
        self._set(alarms, "camera_dark", dark, now, brightness=round(stats.brightness, 1))
        frozen = self._same_since is not None and now - self._same_since >= cfg.frozen_s
        self._set(alarms, "camera_frozen", frozen, now)
        return alarms

    def tick(self, *, expect_frames: bool = True) -> list[HealthAlarm]:
        """Note one turn of the main loop; checks staleness and the wall clock.

        ``expect_frames``: a camera is open and should be sending frames (not while face is
        down by a rule or the camera is closed for a restart).
        """
        now = self.clock.monotonic()
        cfg = self.config
        alarms: list[HealthAlarm] = []
        if self._last_tick is not None:
            gap = now - self._last_tick
            if gap >= cfg.tick_stale_s:
                alarms.append(HealthAlarm("loop_stalled", now, detail={"gap_s": round(gap, 3)}))
        self._last_tick = now
        offset = self.clock.time() - now
        jump = offset - self._offset
        if abs(jump) > cfg.clock_tolerance_s:
            alarms.append(HealthAlarm("clock_jump", now, detail={"jump_s": round(jump, 3)}))
            self._offset = offset  # re-baseline: one alarm per jump
        if expect_frames:
            since = self._last_frame if self._last_frame is not None else self._started
            self._set(alarms, "camera_lost", now - since >= cfg.frame_stale_s, now)
        return alarms

    def camera_opened(self) -> list[HealthAlarm]:
        """A camera was (re)opened: its frames are awaited afresh, old camera alarms clear."""
        now = self.clock.monotonic()
        self._started, self._last_frame, self._same_since, self._digest = now, None, None, None
        alarms: list[HealthAlarm] = []
        for kind in ("camera_lost", "camera_frozen"):
            self._set(alarms, kind, False, now)
        return alarms

    # -- outputs --------------------------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        """Whether the watchdog may be fed now (the loop turns), and why not."""
        last = self._started if self._last_tick is None else self._last_tick
        if self.clock.monotonic() - last >= self.config.tick_stale_s:
            return False, "loop stalled"
        return True, "ok"

    def should_ping(self) -> bool:
        """True when ``WATCHDOG=1`` is due and deserved; marks it as sent."""
        ok, _ = self.healthy()
        if not ok:
            return False
        now = self.clock.monotonic()
        if self._last_ping is not None and now - self._last_ping < self.config.ping_every_s:
            return False
        self._last_ping = now
        return True

    def _set(self, out: list[HealthAlarm], kind: str, on: bool, now: float, **detail: Any) -> None:
        if on and kind not in self.active:
            self.active.add(kind)
            out.append(HealthAlarm(kind, now, detail=detail))
        elif not on and kind in self.active:
            self.active.discard(kind)
            out.append(HealthAlarm(kind, now, cleared=True))
