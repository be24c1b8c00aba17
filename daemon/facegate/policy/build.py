"""The pure policy values ``decide()`` uses, derived from the validated configuration.

The configuration (``facegate.config``) is the one validated form of a door and of the
calendar; nothing here validates again, it only converts.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config.access import AntiPassbackConfig, FaceLimitConfig, LockoutConfig
from ..config.calendar import CalendarConfig, HolidayConfig, ScheduleConfig
from ..config.doors import DoorConfig
from .lockout import AntiPassbackPolicy, FaceLimitPolicy, LockoutPolicy
from .schedule import Holiday, ScheduleBook, TimeWindow, WeeklySchedule
from .snapshot import DoorPolicy, ModeRule

__all__ = [
    "anti_passback_policy",
    "door_policies",
    "door_policy",
    "face_limit_policy",
    "holiday",
    "lockout_policy",
    "schedule_book",
    "weekly_schedule",
]


def weekly_schedule(cfg: ScheduleConfig) -> WeeklySchedule:
    """The pure schedule value."""
    return WeeklySchedule.build(cfg.name, cfg.per_day())


def holiday(cfg: HolidayConfig) -> Holiday:
    """The pure holiday value."""
    return Holiday(
        day=cfg.date,
        name=cfg.name,
        schedules=None if cfg.schedules is None else frozenset(cfg.schedules),
        windows=tuple(TimeWindow.parse(t) for t in cfg.windows),
    )


def schedule_book(calendar: CalendarConfig) -> ScheduleBook:
    """The pure schedules and holidays."""
    return ScheduleBook(
        {s.name: weekly_schedule(s) for s in calendar.schedules},
        tuple(holiday(h) for h in calendar.holidays),
    )


def lockout_policy(cfg: LockoutConfig) -> LockoutPolicy:
    """The pure reader-lockout policy."""
    return LockoutPolicy(cfg.max_failures, cfg.base_backoff_s, cfg.max_backoff_s, cfg.reset_after_s)


def face_limit_policy(cfg: FaceLimitConfig) -> FaceLimitPolicy:
    """The pure unknown-face rate limit."""
    return FaceLimitPolicy(cfg.max_unknown, cfg.window_s, cfg.cooldown_s)


def anti_passback_policy(cfg: AntiPassbackConfig) -> AntiPassbackPolicy:
    """The pure anti-passback policy."""
    return AntiPassbackPolicy(cfg.enabled, frozenset(cfg.out_readers), cfg.reset_s)


def door_policy(door: DoorConfig) -> DoorPolicy:
    """The pure door policy used by ``decide()``."""
    return DoorPolicy(
        door=door.id,
        rules=tuple(ModeRule(r.schedule, tuple(r.modes)) for r in door.access.rules),
        default_modes=tuple(door.access.default),
        second_factor_s=door.access.second_factor_s,
        lockout=lockout_policy(door.lockout),
        face_limit=face_limit_policy(door.face_limit),
        anti_passback=anti_passback_policy(door.anti_passback),
    )


def door_policies(doors: Iterable[DoorConfig]) -> dict[str, DoorPolicy]:
    """Door id → the pure policy used by ``decide()``."""
    return {d.id: door_policy(d) for d in doors}
