"""``calendar:`` — the local time zone, weekly schedules and holidays the doors' rules use."""

from __future__ import annotations

from pydantic import Field

from ..policy.config import HolidayConfig, ScheduleConfig
from .base import Section

__all__ = ["CalendarConfig"]


class CalendarConfig(Section):
    """Named schedules (weekly time windows) and holidays; `always` is built in."""

    timezone: str = Field(
        default="Asia/Shanghai", description="IANA time zone the windows are written in."
    )
    schedules: list[ScheduleConfig] = Field(
        default_factory=list, description="Named weekly schedules."
    )
    holidays: list[HolidayConfig] = Field(
        default_factory=list, description="Dates on which schedules close or change."
    )
