"""Weekly schedules, holidays and validity, in Asia/Shanghai and across a US DST change."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from facegate.policy.schedule import (
    ALWAYS,
    Holiday,
    ScheduleBook,
    TimeWindow,
    Validity,
    WeeklySchedule,
    local_time,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def at(y: int, m: int, d: int, hh: int, mm: int = 0, tz: ZoneInfo = SH, fold: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz, fold=fold)


# 2026-01-05 is a Monday; 2026-01-09 a Friday.
BOOK = ScheduleBook(
    {
        "office": WeeklySchedule.build(
            "office",
            {d: ["08:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        ),
        "night": WeeklySchedule.build("night", {"fri": ["22:00-02:00"], "sun": ["23:00-01:00"]}),
        "allday": WeeklySchedule.build("allday", {"sat": ["00:00-24:00"]}),
    },
    (
        Holiday(date(2026, 1, 7), "closed day", frozenset({"office"})),
        Holiday(
            date(2026, 1, 8), "short day", frozenset({"office"}), (TimeWindow.parse("09:00-10:00"),)
        ),
        Holiday(date(2026, 1, 10), "everything closed"),
    ),
)


# -- Windows -------------------------------------------------------------------------------------


def test_parse_windows() -> None:
    assert TimeWindow.parse("07:00-22:00") == TimeWindow(420, 1320)
    assert TimeWindow.parse("22:00-06:00").crosses_midnight
    assert TimeWindow.parse("22:00-00:00") == TimeWindow(1320, 1440)  # until midnight
    assert not TimeWindow.parse("00:00-24:00").crosses_midnight
    assert str(TimeWindow.parse("22:00-06:00")) == "22:00-06:00"


@pytest.mark.parametrize(
    "bad", ["7:00-22:00", "07:00", "24:00-01:00", "10:00-10:00", "25:00-26:00", "07:60-08:00"]
)
def test_bad_windows(bad: str) -> None:
    with pytest.raises(ValueError):
        TimeWindow.parse(bad)


def test_unknown_weekday() -> None:
    with pytest.raises(ValueError, match="weekday"):
        WeeklySchedule.build("x", {"monday": ["08:00-09:00"]})
    with pytest.raises(ValueError):
        WeeklySchedule("x", ((),) * 6)


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (at(2026, 1, 5, 7, 59), False),
        (at(2026, 1, 5, 8, 0), True),  # start is inclusive
        (at(2026, 1, 5, 11, 59), True),
        (at(2026, 1, 5, 12, 0), False),  # end is exclusive
        (at(2026, 1, 5, 12, 30), False),  # lunch
        (at(2026, 1, 5, 13, 0), True),
        (at(2026, 1, 5, 18, 0), False),
        (at(2026, 1, 11, 10, 0), False),  # Sunday
    ],
)
def test_inside_and_outside_windows(when: datetime, open_: bool) -> None:
    assert BOOK.is_open("office", when) is open_


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (at(2026, 1, 9, 21, 59), False),  # Friday before
        (at(2026, 1, 9, 22, 0), True),
        (at(2026, 1, 9, 23, 59), True),
        (at(2026, 1, 10, 0, 0), True),  # Saturday, even though Saturday is a holiday
        (at(2026, 1, 10, 1, 59), True),
        (at(2026, 1, 10, 2, 0), False),
        (at(2026, 1, 11, 23, 30), True),  # Sunday 23:00-01:00 ...
        (at(2026, 1, 12, 0, 30), True),  # ... wraps into Monday
        (at(2026, 1, 12, 1, 0), False),
        (at(2026, 1, 5, 0, 30), True),  # Monday 00:30 after Sunday 4 Jan
    ],
)
def test_crossing_midnight(when: datetime, open_: bool) -> None:
    assert BOOK.is_open("night", when) is open_


def test_holidays() -> None:
    assert not BOOK.is_open("office", at(2026, 1, 7, 10, 0))  # closed day
    assert BOOK.is_open("office", at(2026, 1, 8, 9, 30))  # holiday window
    assert not BOOK.is_open("office", at(2026, 1, 8, 14, 0))
    assert BOOK.is_open("office", at(2026, 1, 6, 10, 0))  # a normal Tuesday
    assert not BOOK.is_open("allday", at(2026, 1, 10, 12, 0))  # holiday for every schedule
    assert BOOK.is_open("allday", at(2026, 1, 17, 12, 0))
    assert BOOK.is_open(ALWAYS, at(2026, 1, 10, 12, 0))  # built-in, never closed


def test_holiday_on_the_start_day_cuts_a_crossing_window() -> None:
    book = ScheduleBook(BOOK.schedules, (Holiday(date(2026, 1, 9)),))
    assert not book.is_open("night", at(2026, 1, 9, 23, 0))
    assert not book.is_open("night", at(2026, 1, 10, 1, 0))  # the window never started


def test_unknown_schedule_and_naive_time() -> None:
    with pytest.raises(KeyError):
        BOOK.is_open("nope", at(2026, 1, 5, 9))
    with pytest.raises(ValueError, match="aware"):
        BOOK.is_open("office", datetime(2026, 1, 5, 9))
    assert "office" in BOOK and ALWAYS in BOOK and "nope" not in BOOK
    assert BOOK.first_open(["night", "office"], at(2026, 1, 5, 9)) == "office"
    assert BOOK.first_open(["night"], at(2026, 1, 5, 9)) is None


# -- Local time and DST --------------------------------------------------------------------------


def test_local_time_in_shanghai() -> None:
    t = datetime(2026, 1, 5, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    local = local_time(t, SH)
    assert (local.hour, local.utcoffset()) == (9, timedelta(hours=8))
    assert BOOK.is_open("office", local)


def _ny(utc_hour: int, utc_minute: int, day: int, month: int) -> datetime:
    return local_time(
        datetime(2025, month, day, utc_hour, utc_minute, tzinfo=ZoneInfo("UTC")).timestamp(), NY
    )


def test_spring_forward_window_by_wall_clock() -> None:
    # 9 March 2025: 02:00 EST jumps to 03:00 EDT. Window 01:00-04:00 on Sunday.
    book = ScheduleBook({"early": WeeklySchedule.build("early", {"sun": ["01:00-04:00"]})})
    before = _ny(6, 30, 9, 3)  # 01:30 EST
    after = _ny(7, 30, 9, 3)  # 03:30 EDT, one real hour later
    end = _ny(8, 0, 9, 3)  # 04:00 EDT
    assert (before.hour, after.hour, end.hour) == (1, 3, 4)
    assert book.is_open("early", before) and book.is_open("early", after)
    assert not book.is_open("early", end)


def test_fall_back_repeated_hour_is_open_both_times() -> None:
    # 2 November 2025: 01:00-02:00 happens twice (EDT, then EST).
    book = ScheduleBook({"w": WeeklySchedule.build("w", {"sun": ["01:00-02:00"]})})
    first = _ny(5, 30, 2, 11)
    second = _ny(6, 30, 2, 11)
    assert first.hour == second.hour == 1 and (first.fold, second.fold) == (0, 1)
    assert book.is_open("w", first) and book.is_open("w", second)
    assert not book.is_open("w", _ny(7, 0, 2, 11))  # 02:00 EST


# -- Validity ------------------------------------------------------------------------------------


def test_day_pass_in_shanghai() -> None:
    v = Validity.day_pass(date(2026, 1, 7), SH)
    assert v.status(at(2026, 1, 6, 23, 59)) == "not_yet_valid"
    assert v.status(at(2026, 1, 7, 0, 0)) == "valid"
    assert v.status(at(2026, 1, 7, 23, 59)) == "valid"
    assert v.status(at(2026, 1, 8, 0, 0)) == "expired"
    # The same instant seen from another zone gives the same answer.
    assert v.status(at(2026, 1, 7, 12, 0).astimezone(NY)) == "valid"


def test_day_pass_on_dst_days_lasts_23_and_25_hours() -> None:
    spring = Validity.day_pass(date(2025, 3, 9), NY)
    autumn = Validity.day_pass(date(2025, 11, 2), NY)
    assert spring.valid_until - spring.valid_from == timedelta(hours=23)  # type: ignore[operator]
    assert autumn.valid_until - autumn.valid_from == timedelta(hours=25)  # type: ignore[operator]


def test_validity_compares_instants_not_wall_times() -> None:
    # Expires at the *first* 01:30 of the repeated hour; the second 01:30 is an hour later.
    v = Validity(None, datetime(2025, 11, 2, 1, 30, tzinfo=NY, fold=0))
    assert v.status(datetime(2025, 11, 2, 1, 29, tzinfo=NY, fold=0)) == "valid"
    assert v.status(datetime(2025, 11, 2, 1, 15, tzinfo=NY, fold=1)) == "expired"


def test_validity_open_ends_and_errors() -> None:
    assert Validity().status(at(2030, 1, 1, 0)) == "valid"
    with pytest.raises(ValueError, match="aware"):
        Validity(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="after"):
        Validity(at(2026, 1, 2, 0), at(2026, 1, 1, 0))
    with pytest.raises(ValueError, match="aware"):
        Validity().status(datetime(2026, 1, 1))
