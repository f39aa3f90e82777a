"""Working-day calendar (Ley 39/2015 arts. 30-31): pure date arithmetic, no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from app.core.time import MADRID
from app.services.sla.working_days import (
    CalendarRangeError,
    OfficeHours,
    WorkingCalendar,
    calendar_years,
    months_later,
    official_holidays,
)

# The `holidays` package (0.109, Spain subdiv EX) is the source of truth for these lists.
EXTREMADURA_2026 = {
    date(2026, 1, 1): "Año Nuevo",
    date(2026, 1, 6): "Epifanía del Señor",
    date(2026, 4, 2): "Jueves Santo",
    date(2026, 4, 3): "Viernes Santo",
    date(2026, 5, 1): "Fiesta del Trabajo",
    date(2026, 8, 15): "Asunción de la Virgen",
    date(2026, 9, 8): "Día de Extremadura",
    date(2026, 10, 12): "Fiesta Nacional de España",
    date(2026, 11, 2): "Lunes siguiente a Todos los Santos",
    date(2026, 12, 7): "Lunes siguiente a Día de la Constitución Española",
    date(2026, 12, 8): "Inmaculada Concepción",
    date(2026, 12, 25): "Natividad del Señor",
}
EXTREMADURA_2027 = {
    date(2027, 1, 1),
    date(2027, 1, 6),
    date(2027, 3, 25),
    date(2027, 3, 26),
    date(2027, 5, 1),
    date(2027, 9, 8),
    date(2027, 10, 12),
    date(2027, 11, 1),
    date(2027, 12, 6),
    date(2027, 12, 8),
    date(2027, 12, 25),
}
# Badajoz city's local days in 2026 (Carnaval Tuesday and San Juan), supplied by the caller.
LOCAL_2026 = (date(2026, 2, 17), date(2026, 6, 24))


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.build(range(2026, 2029))


def madrid(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=MADRID)


# -- official holidays ------------------------------------------------------------------------


def test_official_holidays_2026_are_exactly_the_packages_extremadura_list() -> None:
    assert official_holidays([2026]) == EXTREMADURA_2026


def test_official_holidays_2027_dates() -> None:
    assert set(official_holidays([2027])) == EXTREMADURA_2027


def test_official_holidays_merges_several_years() -> None:
    merged = official_holidays([2027, 2026, 2026])
    assert set(merged) == set(EXTREMADURA_2026) | EXTREMADURA_2027


def test_official_holidays_returns_a_fresh_dict() -> None:
    first = official_holidays([2026])
    first.clear()
    assert official_holidays([2026]) == EXTREMADURA_2026


# -- working days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 6), True),  # Friday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 3, 9), True),  # Monday
    ],
)
def test_weekends_are_not_working_days(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 5, 1),
        date(2026, 10, 12),
        date(2026, 12, 8),
        date(2026, 12, 25),
    ],
)
def test_national_holidays_on_weekdays_are_not_working_days(
    cal: WorkingCalendar, day: date
) -> None:
    assert day.weekday() < 5
    assert not cal.is_working_day(day)


def test_dia_de_extremadura_is_not_a_working_day(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2026, 9, 8))
    assert cal.is_working_day(date(2026, 9, 7))
    assert cal.is_working_day(date(2026, 9, 9))


@pytest.mark.parametrize("day", [date(2026, 11, 2), date(2026, 12, 7)])
def test_substitute_mondays_from_the_package_are_not_working_days(
    cal: WorkingCalendar, day: date
) -> None:
    assert not cal.is_working_day(day)


@pytest.mark.parametrize("day", LOCAL_2026)
def test_local_holidays_only_apply_when_given(day: date) -> None:
    assert WorkingCalendar.build([2026]).is_working_day(day)
    assert not WorkingCalendar.build([2026], local=LOCAL_2026).is_working_day(day)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 10), date(2026, 3, 10)),  # working: itself
        (date(2026, 3, 7), date(2026, 3, 9)),  # Saturday -> Monday
        (date(2026, 4, 2), date(2026, 4, 6)),  # Jueves Santo -> Easter Monday
        (date(2026, 12, 5), date(2026, 12, 9)),  # Sat, Sun, 7 and 8 Dec
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_next_working_day(cal: WorkingCalendar, day: date, expected: date) -> None:
    assert cal.next_working_day(day) == expected


# -- terms in days ----------------------------------------------------------------------------


def test_term_counts_from_the_day_after_received_friday_one_day_is_monday(
    cal: WorkingCalendar,
) -> None:
    assert cal.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 9), 1, date(2026, 3, 10)),  # the start day itself never counts
        (date(2026, 3, 2), 10, date(2026, 3, 16)),  # two weekends skipped
        (date(2026, 3, 7), 1, date(2026, 3, 9)),  # started on a Saturday
        (date(2026, 9, 7), 1, date(2026, 9, 9)),  # 8 Sep is skipped
        (date(2026, 4, 1), 1, date(2026, 4, 6)),  # Holy Thursday, Good Friday, weekend
        (date(2026, 10, 9), 1, date(2026, 10, 13)),  # weekend and 12 Oct
    ],
)
def test_add_working_days(cal: WorkingCalendar, start: date, n: int, expected: date) -> None:
    assert cal.add_working_days(start, n) == expected


def test_add_working_days_skips_local_holidays() -> None:
    local = WorkingCalendar.build([2026], local=LOCAL_2026)
    assert local.add_working_days(date(2026, 6, 23), 1) == date(2026, 6, 25)


def test_term_across_the_year_end_uses_both_years_holidays() -> None:
    # 24, 28, 29, 30, 31 Dec; 4, 5, 7, 8, 11 Jan (25 Dec, 1 and 6 Jan and weekends skipped).
    start = date(2026, 12, 23)
    cal = WorkingCalendar.build(calendar_years(start))
    assert cal.add_working_days(start, 5) == date(2026, 12, 31)
    assert cal.add_working_days(start, 6) == date(2027, 1, 4)
    assert cal.add_working_days(start, 8) == date(2027, 1, 7)
    assert cal.add_working_days(start, 10) == date(2027, 1, 11)


def test_calendar_without_the_next_year_refuses_instead_of_guessing() -> None:
    cal = WorkingCalendar.build([2026])
    with pytest.raises(CalendarRangeError, match="2027"):
        cal.add_working_days(date(2026, 12, 23), 10)


def test_hand_built_calendar_without_years_is_not_range_checked() -> None:
    cal = WorkingCalendar(holidays=frozenset({date(2030, 1, 1)}))
    assert cal.add_working_days(date(2029, 12, 31), 1) == date(2030, 1, 2)


@pytest.mark.parametrize("n", [0, -1])
def test_add_working_days_rejects_n_below_one(cal: WorkingCalendar, n: int) -> None:
    with pytest.raises(ValueError, match="al menos"):
        cal.add_working_days(date(2026, 3, 9), n)


# -- terms in months --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 3, 10), 1, date(2026, 4, 10)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 12, date(2027, 12, 15)),
    ],
)
def test_months_later_is_date_to_date(start: date, n: int, expected: date) -> None:
    assert months_later(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 10), 1, date(2026, 4, 10)),  # Friday: unchanged
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year, Tuesday
        (date(2026, 1, 31), 1, date(2026, 3, 2)),  # 28 Feb 2026 is a Saturday
        (date(2026, 3, 31), 2, date(2026, 6, 1)),  # 31 May 2026 is a Sunday
        (date(2026, 8, 8), 1, date(2026, 9, 9)),  # lands on Día de Extremadura
        (date(2026, 11, 25), 1, date(2026, 12, 28)),  # lands on Christmas (Friday)
        (date(2026, 11, 15), 2, date(2027, 1, 15)),  # across the year end
    ],
)
def test_add_months_moves_a_non_working_end_to_the_next_working_day(
    cal: WorkingCalendar, start: date, n: int, expected: date
) -> None:
    assert cal.add_months(start, n) == expected


def test_add_months_rejects_n_below_one(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="al menos"):
        cal.add_months(date(2026, 3, 10), 0)


# -- counting working days --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), 22),  # no holidays in March 2026
        (date(2026, 4, 1), date(2026, 4, 30), 20),  # 22 weekdays minus Holy Thursday/Friday
        (date(2026, 3, 9), date(2026, 3, 9), 1),
        (date(2026, 3, 7), date(2026, 3, 8), 0),
        (date(2026, 3, 10), date(2026, 3, 9), 0),  # last before first
    ],
)
def test_working_days_in(cal: WorkingCalendar, first: date, last: date, expected: int) -> None:
    assert cal.working_days_in(first, last) == expected


def test_working_days_in_agrees_with_day_by_day_count(cal: WorkingCalendar) -> None:
    first = date(2026, 1, 1)
    for length in range(0, 400, 7):
        last = first + timedelta(days=length)
        by_day = sum(
            cal.is_working_day(first + timedelta(days=i)) for i in range((last - first).days + 1)
        )
        assert cal.working_days_in(first, last) == by_day


def test_2026_has_the_expected_number_of_working_days(cal: WorkingCalendar) -> None:
    # 261 weekdays in 2026; every official holiday but 15 Aug (a Saturday) falls on one.
    assert cal.working_days_in(date(2026, 1, 1), date(2026, 12, 31)) == 261 - 11


# -- receipt instants and due instants --------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (madrid(2026, 3, 7, 10, 0), madrid(2026, 3, 9, 0, 0)),  # Saturday
        (madrid(2026, 3, 8, 23, 59), madrid(2026, 3, 9, 0, 0)),  # Sunday night
        (madrid(2026, 10, 12, 11, 0), madrid(2026, 10, 13, 0, 0)),  # Fiesta Nacional
        (madrid(2026, 12, 24, 20, 0), madrid(2026, 12, 24, 20, 0)),  # working day: unchanged
        # 23:30 UTC on Friday is already Saturday 00:30 in Madrid.
        (datetime(2026, 3, 6, 23, 30, tzinfo=UTC), madrid(2026, 3, 9, 0, 0)),
    ],
)
def test_effective_start(cal: WorkingCalendar, received: datetime, expected: datetime) -> None:
    result = cal.effective_start(received)
    assert result == expected
    assert result.tzinfo is MADRID


def test_effective_start_keeps_the_instant_on_a_working_day(cal: WorkingCalendar) -> None:
    received = datetime(2026, 3, 10, 9, 15, tzinfo=UTC)
    result = cal.effective_start(received)
    assert result == received
    assert (result.hour, result.minute) == (10, 15)


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(date(2026, 1, 15), 22), (date(2026, 7, 15), 21)],  # CET (+1) and CEST (+2)
)
def test_end_of_day_is_235959_madrid(cal: WorkingCalendar, day: date, utc_hour: int) -> None:
    end = cal.end_of_day(day)
    assert (end.date(), end.time()) == (day, time(23, 59, 59))
    assert end.astimezone(UTC) == datetime.combine(day, time(utc_hour, 59, 59), tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "n", "due_day"),
    [
        (madrid(2026, 3, 6, 10, 0), 1, date(2026, 3, 9)),  # Friday -> Monday
        (madrid(2026, 3, 7, 10, 0), 1, date(2026, 3, 10)),  # Saturday counts as Monday
        (madrid(2026, 9, 7, 14, 0), 3, date(2026, 9, 11)),  # 8 Sep skipped
        (madrid(2026, 12, 23, 9, 0), 10, date(2027, 1, 11)),
    ],
)
def test_due_in_working_days(
    cal: WorkingCalendar, received: datetime, n: int, due_day: date
) -> None:
    assert cal.due_in_working_days(received, n) == cal.end_of_day(due_day)


def test_due_in_working_days_rejects_n_below_one(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="al menos"):
        cal.due_in_working_days(madrid(2026, 3, 9, 10, 0), 0)


# -- working hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (madrid(2026, 3, 10, 9, 0), 2, madrid(2026, 3, 10, 11, 0)),  # same morning
        (madrid(2026, 3, 10, 14, 0), 1, madrid(2026, 3, 10, 15, 0)),  # exactly to closing
        (madrid(2026, 3, 10, 14, 0), 2, madrid(2026, 3, 11, 9, 0)),  # across a night
        (madrid(2026, 3, 6, 14, 0), 2, madrid(2026, 3, 9, 9, 0)),  # across a weekend
        (madrid(2026, 10, 9, 14, 30), 1, madrid(2026, 10, 13, 8, 30)),  # weekend + 12 Oct
        (madrid(2026, 3, 9, 8, 0), 35, madrid(2026, 3, 13, 15, 0)),  # a full week
        (madrid(2026, 3, 10, 6, 0), 1, madrid(2026, 3, 10, 9, 0)),  # before opening
        (madrid(2026, 3, 10, 16, 0), 1, madrid(2026, 3, 11, 9, 0)),  # after closing
        (madrid(2026, 3, 7, 10, 0), 0.5, madrid(2026, 3, 9, 8, 30)),  # from a Saturday
    ],
)
def test_add_working_hours(
    cal: WorkingCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    assert cal.add_working_hours(start, hours) == expected


def test_add_working_hours_across_the_october_dst_change(cal: WorkingCalendar) -> None:
    # Clocks go back on Sunday 25 Oct 2026: Friday is CEST (+2), Monday is CET (+1).
    result = cal.add_working_hours(madrid(2026, 10, 23, 14, 0), 2)
    assert (result.date(), result.time()) == (date(2026, 10, 26), time(9, 0))
    assert result.utcoffset() == timedelta(hours=1)
    assert result.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_add_working_hours_across_the_march_dst_change(cal: WorkingCalendar) -> None:
    # Clocks go forward on Sunday 29 Mar 2026: Friday is CET (+1), Monday is CEST (+2).
    result = cal.add_working_hours(madrid(2026, 3, 27, 14, 0), 2)
    assert (result.date(), result.time()) == (date(2026, 3, 30), time(9, 0))
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_add_working_seconds_zero_outside_hours_moves_to_the_next_opening(
    cal: WorkingCalendar,
) -> None:
    assert cal.add_working_seconds(madrid(2026, 3, 10, 20, 0), 0) == madrid(2026, 3, 11, 8, 0)
    assert cal.add_working_seconds(madrid(2026, 3, 10, 15, 0), 0) == madrid(2026, 3, 11, 8, 0)


def test_add_working_seconds_zero_inside_hours_is_the_start(cal: WorkingCalendar) -> None:
    start = madrid(2026, 3, 10, 10, 0)
    assert cal.add_working_seconds(start, 0) == start


def test_add_working_seconds_accepts_other_time_zones(cal: WorkingCalendar) -> None:
    # 13:00 UTC on Tuesday 10 March is 14:00 in Madrid: one office hour left that day.
    result = cal.add_working_seconds(datetime(2026, 3, 10, 13, 0, tzinfo=UTC), 5400)
    assert result == madrid(2026, 3, 11, 8, 30)
    assert result.tzinfo is MADRID


def test_add_working_seconds_uses_the_calendars_office_hours() -> None:
    cal = WorkingCalendar.build([2026], office_hours=OfficeHours.parse("09:00-14:00"))
    assert cal.add_working_hours(madrid(2026, 3, 10, 13, 0), 2) == madrid(2026, 3, 11, 10, 0)


def test_add_working_seconds_rejects_negative_amounts(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negativos"):
        cal.add_working_seconds(madrid(2026, 3, 10, 10, 0), -1)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (madrid(2026, 3, 10, 9, 0), madrid(2026, 3, 10, 11, 30), 2.5 * 3600),
        (madrid(2026, 3, 6, 14, 0), madrid(2026, 3, 9, 9, 0), 2 * 3600),  # weekend
        (madrid(2026, 10, 23, 14, 0), madrid(2026, 10, 26, 9, 0), 2 * 3600),  # DST back
        (madrid(2026, 3, 27, 14, 0), madrid(2026, 3, 30, 9, 0), 2 * 3600),  # DST forward
        (madrid(2026, 3, 10, 16, 0), madrid(2026, 3, 11, 7, 0), 0),  # only night
        (madrid(2026, 3, 10, 12, 0), madrid(2026, 3, 10, 12, 0), 0),  # empty
        (madrid(2026, 3, 10, 12, 0), madrid(2026, 3, 10, 10, 0), 0),  # reversed
    ],
)
def test_working_seconds_between(
    cal: WorkingCalendar, a: datetime, b: datetime, expected: float
) -> None:
    assert cal.working_seconds_between(a, b) == expected


INVERSE_STARTS = [
    madrid(2026, 3, 10, 9, 17, 3),
    madrid(2026, 3, 10, 15, 0),
    madrid(2026, 3, 10, 22, 45),
    madrid(2026, 3, 6, 13, 59),
    madrid(2026, 3, 27, 11, 0),
    madrid(2026, 10, 23, 12, 30),
    madrid(2026, 10, 11, 10, 0),
    madrid(2026, 12, 23, 14, 0),
    datetime(2026, 4, 1, 5, 0, tzinfo=timezone(timedelta(hours=-5))),
]
INVERSE_AMOUNTS = [0.0, 1.0, 1800.5, 7 * 3600.0, 7 * 3600.0 + 1, 40 * 3600.0, 123_456.789]


@pytest.mark.parametrize("start", INVERSE_STARTS)
def test_working_seconds_between_is_the_inverse_of_add_working_seconds(
    cal: WorkingCalendar, start: datetime
) -> None:
    for seconds in INVERSE_AMOUNTS:
        end = cal.add_working_seconds(start, seconds)
        assert end >= start
        assert cal.working_seconds_between(start, end) == pytest.approx(seconds, abs=1e-5)


# -- pauses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paused", "resumed", "expected"),
    [
        (madrid(2026, 3, 6, 10, 0), madrid(2026, 3, 9, 10, 0), 1),  # Friday only
        (madrid(2026, 3, 6, 10, 0), madrid(2026, 3, 10, 8, 0), 2),  # Friday and Monday
        (madrid(2026, 10, 9, 10, 0), madrid(2026, 10, 14, 10, 0), 2),  # Fri, (12 Oct), Tue
        (madrid(2026, 12, 4, 9, 0), madrid(2026, 12, 10, 9, 0), 2),  # Fri, (7, 8 Dec), Wed
        (madrid(2026, 3, 10, 9, 0), madrid(2026, 3, 10, 14, 0), 0),  # same day
        (madrid(2026, 3, 10, 9, 0), madrid(2026, 3, 9, 9, 0), 0),  # resumed before paused
        # 23:30 UTC on Friday is Saturday in Madrid: nothing lost before Monday.
        (datetime(2026, 3, 6, 23, 30, tzinfo=UTC), madrid(2026, 3, 9, 12, 0), 0),
    ],
)
def test_paused_working_days(
    cal: WorkingCalendar, paused: datetime, resumed: datetime, expected: int
) -> None:
    assert cal.paused_working_days(paused, resumed) == expected


# -- administrator corrections ----------------------------------------------------------------


def test_removed_makes_an_official_holiday_a_working_day() -> None:
    cal = WorkingCalendar.build([2026], removed=[date(2026, 9, 8)])
    assert cal.is_working_day(date(2026, 9, 8))
    assert cal.add_working_days(date(2026, 9, 7), 1) == date(2026, 9, 8)


def test_added_makes_a_date_non_working() -> None:
    cal = WorkingCalendar.build([2026], added=[date(2026, 3, 10)])
    assert not cal.is_working_day(date(2026, 3, 10))
    assert cal.add_working_days(date(2026, 3, 9), 1) == date(2026, 3, 11)


def test_removed_wins_over_a_local_holiday() -> None:
    cal = WorkingCalendar.build([2026], local=LOCAL_2026, removed=[LOCAL_2026[0]])
    assert cal.is_working_day(LOCAL_2026[0])
    assert not cal.is_working_day(LOCAL_2026[1])


def test_build_requires_years() -> None:
    with pytest.raises(ValueError, match="año"):
        WorkingCalendar.build([])


# -- office hours -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("08:00-15:00", time(8, 0), time(15, 0)),
        (" 9:30 - 14:00 ", time(9, 30), time(14, 0)),
        ("00:00-23:59", time(0, 0), time(23, 59)),
    ],
)
def test_office_hours_parse(text: str, start: time, end: time) -> None:
    assert OfficeHours.parse(text) == OfficeHours(start, end)


@pytest.mark.parametrize(
    "text",
    ["", "08:00", "8-15", "08:00-15", "08.00-15.00", "abc", "08:00-15:00-16:00", "25:00-26:00"],
)
def test_office_hours_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="horario de oficina no válido"):
        OfficeHours.parse(text)


@pytest.mark.parametrize("text", ["15:00-08:00", "08:00-08:00"])
def test_office_hours_parse_rejects_end_not_after_start(text: str) -> None:
    with pytest.raises(ValueError, match="posterior"):
        OfficeHours.parse(text)


def test_office_hours_parse_rejects_impossible_minutes() -> None:
    with pytest.raises(ValueError, match="hora inexistente"):
        OfficeHours.parse("08:60-15:00")


def test_office_hours_default_and_text_round_trip() -> None:
    assert OfficeHours() == OfficeHours(time(8, 0), time(15, 0))
    assert str(OfficeHours()) == "08:00-15:00"
    assert OfficeHours.parse(str(OfficeHours(time(9, 5), time(14, 30)))) == OfficeHours(
        time(9, 5), time(14, 30)
    )


# -- fractions and helpers --------------------------------------------------------------------


def test_fraction_point_is_linear_in_absolute_time(cal: WorkingCalendar) -> None:
    start, due = madrid(2026, 3, 9, 8, 0), madrid(2026, 3, 13, 8, 0)
    assert cal.fraction_point(start, due, 0) == start
    assert cal.fraction_point(start, due, 1) == due
    assert cal.fraction_point(start, due, 0.75) == madrid(2026, 3, 12, 8, 0)


def test_fraction_point_measures_absolute_time_across_dst(cal: WorkingCalendar) -> None:
    # 24 Oct 00:00 CEST to 26 Oct 00:00 CET is 49 real hours, not 48.
    start, due = madrid(2026, 10, 24, 0, 0), madrid(2026, 10, 26, 0, 0)
    half = cal.fraction_point(start, due, 0.5)
    assert half.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24, minutes=30)
    assert half.tzinfo is MADRID


@pytest.mark.parametrize("fraction", [-0.1, 1.1])
def test_fraction_point_rejects_fractions_outside_zero_to_one(
    cal: WorkingCalendar, fraction: float
) -> None:
    with pytest.raises(ValueError, match="fracción"):
        cal.fraction_point(madrid(2026, 3, 9, 8, 0), madrid(2026, 3, 10, 8, 0), fraction)


@pytest.mark.parametrize(
    ("dts", "span", "expected"),
    [
        ((date(2026, 12, 23),), 2, range(2026, 2029)),
        ((date(2026, 5, 1), date(2027, 2, 1)), 1, range(2026, 2029)),
        ((date(2026, 5, 1),), 0, range(2026, 2027)),
        # 31 Dec 23:30 UTC is already 1 Jan in Madrid.
        ((datetime(2026, 12, 31, 23, 30, tzinfo=UTC),), 2, range(2027, 2030)),
    ],
)
def test_calendar_years(dts: tuple[date, ...], span: int, expected: range) -> None:
    assert calendar_years(*dts, span=span) == expected


def test_calendar_years_needs_a_date() -> None:
    with pytest.raises(ValueError, match="al menos una fecha"):
        calendar_years()


# -- naive datetimes --------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 10, 10, 0)
AWARE = madrid(2026, 3, 10, 10, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.effective_start(NAIVE),
        lambda c: c.due_in_working_days(NAIVE, 1),
        lambda c: c.add_working_seconds(NAIVE, 60),
        lambda c: c.add_working_hours(NAIVE, 1),
        lambda c: c.working_seconds_between(NAIVE, AWARE),
        lambda c: c.working_seconds_between(AWARE, NAIVE),
        lambda c: c.paused_working_days(NAIVE, AWARE),
        lambda c: c.paused_working_days(AWARE, NAIVE),
        lambda c: c.fraction_point(NAIVE, AWARE, 0.5),
        lambda c: c.fraction_point(AWARE, NAIVE, 0.5),
    ],
)
def test_naive_datetimes_are_rejected(
    cal: WorkingCalendar, call: Callable[[WorkingCalendar], Any]
) -> None:
    with pytest.raises(ValueError, match="zona horaria"):
        call(cal)


# -- reasons, the seat and every unit of term (art. 30.2-30.6, 31.2.b) --------------------------


def _seat_cal() -> WorkingCalendar:
    return WorkingCalendar.build(
        range(2026, 2028),
        local={date(2026, 5, 21): "Fiesta local"},
        seat={date(2026, 2, 17): "Martes de Carnaval", date(2026, 5, 21): "Coincide"},
        added={date(2026, 3, 19): "San José"},
        removed=[date(2026, 10, 12)],
        local_name="Mérida",
        seat_name="Badajoz",
    )


def test_each_non_working_day_says_why() -> None:
    cal = _seat_cal()
    assert cal.non_working_reason(date(2026, 2, 16)) is None
    weekend = cal.non_working_reason(date(2026, 2, 14))
    assert weekend is not None
    assert (weekend.kind, weekend.description) == ("weekend", "Sábado")
    seat = cal.non_working_reason(date(2026, 2, 17))
    assert seat is not None
    assert seat.kind == "seat"
    assert seat.description == "Fiesta local de Badajoz, sede del órgano: Martes de Carnaval"
    # The municipality's own holiday wins over the seat's on the same date.
    local = cal.non_working_reason(date(2026, 5, 21))
    assert local is not None
    assert (local.kind, local.description) == ("local", "Fiesta local de Mérida: Fiesta local")
    national = cal.non_working_reason(date(2026, 1, 6))
    assert national is not None
    assert national.kind == "national"
    regional = cal.non_working_reason(date(2026, 9, 8))
    assert regional is not None
    assert (regional.kind, regional.description) == (
        "regional",
        "Fiesta de Extremadura: Día de Extremadura",
    )
    correction = cal.non_working_reason(date(2026, 3, 19))
    assert correction is not None
    assert correction.kind == "correction"
    # A removed official day is a working day (Monday 12 October here).
    assert cal.non_working_reason(date(2026, 10, 12)) is None


@pytest.mark.parametrize(
    ("start", "n", "unit", "submission", "due", "deemed"),
    [
        # 31 Jan + 1 month: 28 Feb (Saturday) → Monday 2 March.
        (datetime(2026, 1, 31, 9, 0, tzinfo=MADRID), 1, "months", False, date(2026, 3, 2), None),
        # 31 Mar + 1 month: 30 April (no 31st), a Thursday.
        (datetime(2026, 3, 31, 9, 0, tzinfo=MADRID), 1, "months", False, date(2026, 4, 30), None),
        # 2 Oct + 9 natural days: Sunday 11 → Monday 12 removed here, so Monday 12.
        (datetime(2026, 10, 2, tzinfo=MADRID), 9, "natural_days", False, date(2026, 10, 12), None),
        # Saturday 14 Feb submission: deemed Monday 16; 17 is the seat's; 18, 19, 20.
        (
            datetime(2026, 2, 14, 10, 0, tzinfo=MADRID), 3, "working_days", True,
            date(2026, 2, 20), datetime(2026, 2, 16, 0, 0, tzinfo=MADRID),
        ),
    ],
    ids=["months-31-jan", "months-31-mar", "natural-days", "saturday-submission"],
)  # fmt: skip
def test_compute_term(
    start: datetime,
    n: int,
    unit: str,
    submission: bool,
    due: date,
    deemed: datetime | None,
) -> None:
    term = _seat_cal().compute_term(start, n, unit, submission=submission)
    assert term.due_at.date() == due
    assert term.due_at.time() == time(23, 59, 59)
    assert term.deemed_start == (deemed or start)


def test_term_units_refuse_what_they_cannot_count() -> None:
    cal = _seat_cal()
    with pytest.raises(ValueError, match="al menos un día"):
        cal.term_end(date(2026, 3, 2), 0, "natural_days")
    with pytest.raises(ValueError, match="sin fin de día"):
        cal.term_end(date(2026, 3, 2), 1, "working_hours")
    with pytest.raises(CalendarRangeError):
        cal.compute_term(datetime(2027, 12, 1, tzinfo=MADRID), 2, "months")
