"""Weekly schedules, holidays and validity periods, evaluated on a supplied local time.

Nothing here reads a clock: the caller passes a timezone-aware ``datetime`` (``decide()``
builds it from ``clock.time()`` and the site's ``zoneinfo`` zone). Rules:

* A :class:`TimeWindow` is ``[start, end)`` in wall-clock minutes. ``end <= start`` means the
  window crosses midnight (``22:00-06:00``); ``00:00-24:00`` is the whole day.
* A window belongs to the day it *starts*: Friday's ``22:00-02:00`` still lets people in at
  01:00 on Saturday, and a holiday on Saturday does not cut it short. The holiday replaces the
  windows that *start* on that date.
* A :class:`Holiday` gives, for one date, the windows of the schedules it names (or of every
  schedule): none means closed all day.
* Schedules are wall-clock rules, which is what an installer means by "07:00-22:00": across a
  DST change the window opens and closes at those wall times. In the spring-forward gap the
  missing wall times simply never occur; in the repeated autumn hour both passes through it
  are judged by the same wall time.
* :class:`Validity` compares instants in UTC, never wall times, so a pass expiring at
  02:30 local on the night clocks go back does not last an extra hour by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, TypeAlias

from ..config.calendar import ALWAYS, MINUTES_PER_DAY, WEEKDAYS, parse_window

__all__ = [
    "ALWAYS",
    "WEEKDAYS",
    "Holiday",
    "ScheduleBook",
    "TimeWindow",
    "Validity",
    "ValidityStatus",
    "WeeklySchedule",
    "local_time",
]


ValidityStatus: TypeAlias = Literal["valid", "not_yet_valid", "expired"]


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return value


def local_time(epoch_seconds: float, tz: tzinfo) -> datetime:
    """The local wall time in ``tz`` for a Unix time (DST resolved by ``zoneinfo``)."""
    return datetime.fromtimestamp(epoch_seconds, tz)


@dataclass(slots=True, frozen=True)
class TimeWindow:
    """Wall-clock minutes ``[start, end)``; ``end <= start`` crosses midnight.

    Attributes:
        start: minutes after midnight, 0-1439.
        end: minutes after midnight, 1-1440 (1440 = midnight at the end of the day).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < MINUTES_PER_DAY or not 0 < self.end <= MINUTES_PER_DAY:
            raise ValueError("a time window runs from 00:00-23:59 to 00:01-24:00")
        if self.start == self.end:
            raise ValueError("a time window cannot start and end at the same time")

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        """``"07:00-22:00"`` or ``"22:00-06:00"`` (crossing midnight) or ``"00:00-24:00"``."""
        return cls(*parse_window(text))

    @property
    def crosses_midnight(self) -> bool:
        """Whether the window continues into the next day."""
        return self.end <= self.start

    def open_on_start_day(self, minute: float) -> bool:
        """Whether ``minute`` (of the day the window starts) is inside the window."""
        if self.crosses_midnight:
            return minute >= self.start
        return self.start <= minute < self.end

    def open_on_next_day(self, minute: float) -> bool:
        """Whether ``minute`` of the following day is inside the window's tail."""
        return self.crosses_midnight and minute < self.end

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


@dataclass(slots=True, frozen=True)
class WeeklySchedule:
    """Time windows per weekday (index 0 = Monday).

    Attributes:
        name: the schedule's name, referenced by doors and people.
        days: seven tuples of windows.
    """

    name: str
    days: tuple[tuple[TimeWindow, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"schedule {self.name!r} needs windows for 7 weekdays")

    @classmethod
    def build(cls, name: str, windows: Mapping[str, Iterable[str]]) -> WeeklySchedule:
        """From weekday names (``mon`` … ``sun``) to window strings.

        Example: ``WeeklySchedule.build("office", {"mon": ["08:00-18:00"], ...})``.
        """
        unknown = set(windows) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"schedule {name!r}: unknown weekday(s) {sorted(unknown)}")
        return cls(
            name,
            tuple(tuple(TimeWindow.parse(w) for w in windows.get(day, ())) for day in WEEKDAYS),
        )


@dataclass(slots=True, frozen=True)
class Holiday:
    """One date on which some schedules close or follow holiday windows.

    Attributes:
        day: the local date.
        name: a label for the admin (e.g. ``Spring Festival``).
        schedules: the schedules it applies to; ``None`` means every schedule.
        windows: the windows that replace the weekday's windows; empty = closed all day.
    """

    day: date
    name: str = ""
    schedules: frozenset[str] | None = None
    windows: tuple[TimeWindow, ...] = ()

    def applies_to(self, schedule: str) -> bool:
        """Whether this holiday changes ``schedule``."""
        return self.schedules is None or schedule in self.schedules


@dataclass(slots=True, frozen=True)
class ScheduleBook:
    """All named schedules and the holiday calendar.

    Attributes:
        schedules: name → weekly schedule.
        holidays: the holiday calendar (at most one entry per date and schedule counts; the
            first matching entry wins).
    """

    schedules: Mapping[str, WeeklySchedule] = field(default_factory=dict)
    holidays: tuple[Holiday, ...] = ()

    def __contains__(self, name: object) -> bool:
        return name == ALWAYS or name in self.schedules

    def windows_for(self, name: str, day: date) -> tuple[TimeWindow, ...]:
        """The windows of schedule ``name`` that start on ``day`` (holidays applied).

        Raises:
            KeyError: unknown schedule.
        """
        if name == ALWAYS:
            return (TimeWindow(0, MINUTES_PER_DAY),)
        schedule = self.schedules[name]
        for holiday in self.holidays:
            if holiday.day == day and holiday.applies_to(name):
                return holiday.windows
        return schedule.days[day.weekday()]

    def is_open(self, name: str, local: datetime) -> bool:
        """Whether schedule ``name`` is open at the aware local time ``local``.

        Raises:
            KeyError: unknown schedule.
            ValueError: ``local`` is naive.
        """
        _aware(local, "the local time")
        if name == ALWAYS:
            return True
        minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
        today = local.date()
        if any(w.open_on_start_day(minute) for w in self.windows_for(name, today)):
            return True
        yesterday = today - timedelta(days=1)
        return any(w.open_on_next_day(minute) for w in self.windows_for(name, yesterday))

    def first_open(self, names: Sequence[str], local: datetime) -> str | None:
        """The first of ``names`` open at ``local``, or ``None``."""
        for name in names:
            if self.is_open(name, local):
                return name
        return None


@dataclass(slots=True, frozen=True)
class Validity:
    """When a person's access is valid: ``[valid_from, valid_until)``, either end open.

    Instants are normalised to UTC so comparisons never depend on a zone's DST rules.
    """

    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.valid_from is not None:
            object.__setattr__(
                self, "valid_from", _aware(self.valid_from, "valid_from").astimezone(UTC)
            )
        if self.valid_until is not None:
            object.__setattr__(
                self, "valid_until", _aware(self.valid_until, "valid_until").astimezone(UTC)
            )
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until <= self.valid_from
        ):
            raise ValueError("valid_until must be after valid_from")

    @classmethod
    def day_pass(cls, day: date, tz: tzinfo) -> Validity:
        """A visitor pass for one local day: local midnight to the next local midnight.

        On a DST change day that is 23 or 25 hours, as the visitor would expect.
        """
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        return cls(start, end)

    def status(self, now: datetime) -> ValidityStatus:
        """``valid``, ``not_yet_valid`` or ``expired`` at the aware instant ``now``."""
        instant = _aware(now, "now").astimezone(UTC)
        if self.valid_from is not None and instant < self.valid_from:
            return "not_yet_valid"
        if self.valid_until is not None and instant >= self.valid_until:
            return "expired"
        return "valid"
