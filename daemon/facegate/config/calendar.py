"""``calendar:`` — the local time zone, weekly schedules and holidays the doors' rules use.

.. code-block:: yaml

    calendar:
      timezone: Asia/Shanghai
      schedules:
        - name: daytime
          windows: {daily: ["07:00-22:00"]}
        - name: cleaners
          windows: {weekdays: ["08:00-12:00"], sat: ["22:00-02:00"]}
      holidays:
        - {date: 2026-02-17, name: Spring Festival, schedules: [cleaners]}   # closed

The text forms (weekday keys, ``HH:MM-HH:MM`` windows) are defined and checked here;
``facegate.policy.schedule`` turns a validated section into its pure values.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator

from .base import Section

__all__ = [
    "ALWAYS",
    "DAY_GROUPS",
    "MINUTES_PER_DAY",
    "NAME_PATTERN",
    "WEEKDAYS",
    "CalendarConfig",
    "HolidayConfig",
    "ScheduleConfig",
    "parse_window",
]

ALWAYS = "always"
"""A built-in schedule name that is open at all times, holidays included."""

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names in ``datetime.weekday()`` order."""

DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "daily": WEEKDAYS,
    "weekdays": WEEKDAYS[:5],
    "weekend": WEEKDAYS[5:],
    **{day: (day,) for day in WEEKDAYS},
}
"""A ``windows:`` key → the weekdays it stands for."""

DayKey = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily", "weekdays", "weekend"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
"""Schedule and door names: lower case, digits, ``_`` and ``-``, at most 32 characters."""

MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(text: str) -> int:
    if not _HHMM.match(text):
        raise ValueError(f"{text!r} is not a time of day HH:MM (00:00 to 24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_window(text: str) -> tuple[int, int]:
    """``"07:00-22:00"`` → ``(420, 1320)``: wall-clock minutes ``[start, end)``.

    ``end <= start`` crosses midnight (``22:00-06:00``); ``00:00-24:00`` is the whole day and
    ``22:00-00:00`` means until midnight.

    Raises:
        ValueError: not a window, or one that starts and ends at the same time.
    """
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a window HH:MM-HH:MM")
    start_min, end_min = _minutes(start.strip()), _minutes(end.strip())
    if start_min == MINUTES_PER_DAY:
        raise ValueError(f"{text!r}: a window cannot start at 24:00")
    if end_min == 0:
        end_min = MINUTES_PER_DAY  # "22:00-00:00" means until midnight
    if start_min == end_min:
        raise ValueError("a time window cannot start and end at the same time")
    return start_min, end_min


class ScheduleConfig(Section):
    """A named weekly schedule."""

    name: str = Field(
        pattern=NAME_PATTERN, description="Name referenced by doors and people, e.g. `daytime`."
    )
    windows: dict[DayKey, list[str]] = Field(
        min_length=1,
        description=(
            "Weekday (`mon`…`sun`, or `daily`, `weekdays`, `weekend`) → time windows "
            "`HH:MM-HH:MM`; `22:00-06:00` crosses midnight, `00:00-24:00` is all day."
        ),
    )

    @field_validator("windows")
    @classmethod
    def _parse_windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, texts in value.items():
            if len(texts) > 8:
                raise ValueError(f"{day}: at most 8 windows per day")
            for text in texts:
                try:
                    parse_window(text)
                except ValueError as exc:
                    raise ValueError(f"{day}: {exc}") from None
        return value

    def per_day(self) -> dict[str, list[str]]:
        """Weekday (``mon`` … ``sun``) → its window texts, the day groups spelled out."""
        days: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
        for key, texts in self.windows.items():
            for day in DAY_GROUPS[key]:
                days[day].extend(texts)
        return days


class HolidayConfig(Section):
    """A date on which schedules close or follow holiday windows."""

    date: dt.date = Field(description="The local date, `YYYY-MM-DD`.")
    name: str = Field(default="", max_length=64, description="Label shown to the admin.")
    schedules: list[str] | None = Field(
        default=None,
        max_length=64,
        description="Schedules it applies to; omitted = every schedule.",
    )
    windows: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Time windows that replace the weekday's on this date; empty = closed.",
    )

    @field_validator("windows")
    @classmethod
    def _parse_windows(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_window(text)
        return value


class CalendarConfig(Section):
    """Named schedules (weekly time windows) and holidays; `always` is built in."""

    timezone: str = Field(
        default="Asia/Shanghai",
        max_length=64,
        description="IANA time zone the windows are written in.",
    )
    schedules: list[ScheduleConfig] = Field(
        default_factory=list, max_length=64, description="Named weekly schedules."
    )
    holidays: list[HolidayConfig] = Field(
        default_factory=list,
        max_length=366,
        description="Dates on which schedules close or change.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The site's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def problems(self) -> list[str]:
        """Repeated or reserved schedule names, and holidays naming unknown schedules."""
        problems: list[str] = []
        names = [s.name for s in self.schedules]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"schedules: {name!r} is defined more than once")
        if ALWAYS in names:
            problems.append(f"schedules: {ALWAYS!r} is built in and cannot be redefined")
        known = self.names()
        for i, holiday in enumerate(self.holidays):
            for name in holiday.schedules or ():
                if name not in known:
                    problems.append(f"holidays -> [{i}] -> schedules: unknown schedule {name!r}")
        return problems

    def names(self) -> set[str]:
        """Every schedule name a rule may use, ``always`` included."""
        return {s.name for s in self.schedules} | {ALWAYS}
