"""Working-day calendar (días hábiles) for legal terms under Ley 39/2015, arts. 30 and 31.

Pure functions over dates and aware datetimes: no I/O, no database. Callers load the municipality's
local holidays and the administrators' corrections and build a `WorkingCalendar` once per
computation. Every instant is interpreted in Madrid local time, the legal time of the office.
Arithmetic between instants is done in UTC, because Python subtracts and compares two datetimes
that share a tzinfo by wall clock, which is off by an hour across a DST change.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from app.core.time import MADRID

_ONE_DAY = timedelta(days=1)
_END_OF_DAY = time(23, 59, 59)
_OFFICE_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarRangeError(ValueError):
    """A date outside the years the calendar was built for: its holidays are unknown."""


@dataclass(frozen=True)
class OfficeHours:
    """Daily opening hours (Madrid wall clock) that bound working-hour terms."""

    start: time = time(8, 0)
    end: time = time(15, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("el horario de oficina se expresa en hora local, sin zona horaria")
        if self.end <= self.start:
            raise ValueError("la hora de cierre debe ser posterior a la de apertura")

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """Reads "HH:MM-HH:MM", the form used in settings and admin forms."""
        match = _OFFICE_HOURS_RE.match(text)
        if match is None:
            raise ValueError(f"horario de oficina no válido: {text!r} (formato HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError as exc:
            raise ValueError(f"horario de oficina no válido: {text!r} (hora inexistente)") from exc
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@lru_cache(maxsize=64)
def _official_holidays_of(year: int) -> tuple[tuple[date, str], ...]:
    # Spain with subdiv EX: national days, Extremadura's own (8 September) and the regional
    # choices among the substitutable days (e.g. the Monday after a Sunday holiday). Imported
    # here: the package costs over half a second at start-up and is needed once per year.
    import holidays as holidays_lib

    table = holidays_lib.country_holidays("ES", subdiv="EX", years=year, language="es")
    return tuple(sorted((d, str(name)) for d, name in table.items()))


def official_holidays(years: Iterable[int]) -> dict[date, str]:
    """National and Extremadura holidays with their Spanish names, per the `holidays` package."""
    result: dict[date, str] = {}
    for year in sorted(set(years)):
        result.update(_official_holidays_of(year))
    return result


def calendar_years(*dts: date | datetime, span: int = 2) -> range:
    """Years a computation starting at these instants may touch, so callers load enough holidays.

    `span` extra years after the latest one cover terms that run past a year end.
    """
    if not dts:
        raise ValueError("se necesita al menos una fecha")
    if span < 0:
        raise ValueError("span no puede ser negativo")
    years = [_local_date(d).year if isinstance(d, datetime) else d.year for d in dts]
    return range(min(years), max(years) + span + 1)


def months_later(start: date, n: int) -> date:
    """Same day number `n` months after `start`, or that month's last day (art. 30.4), before any
    move to a working day."""
    month_index = start.month - 1 + n
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("se requiere una fecha y hora con zona horaria")


def _local_date(dt: datetime) -> date:
    """Madrid calendar date of an aware datetime (naive ones are taken as Madrid wall clock)."""
    if dt.tzinfo is None:
        return dt.date()
    return dt.astimezone(MADRID).date()


def _at(d: date, t: time) -> datetime:
    """The UTC instant of Madrid wall-clock time `t` on `d`."""
    return datetime.combine(d, t, tzinfo=MADRID).astimezone(UTC)


def _weekdays_between(first: date, last: date) -> int:
    """Mondays to Fridays in [first, last] (0 if empty)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    weekday = first.weekday()
    for offset in range(rest):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


@dataclass(frozen=True)
class WorkingCalendar:
    """Días hábiles: Monday to Friday except `holidays` (art. 30.2), plus office hours.

    `years`, when not empty, are the years whose holidays were loaded; asking about a date
    outside them raises `CalendarRangeError` instead of silently treating an unknown holiday as
    a working day. `build` fills it; a calendar built by hand with no years is not checked.
    """

    holidays: frozenset[date]
    office_hours: OfficeHours = OfficeHours()
    years: frozenset[int] = field(default=frozenset())

    @classmethod
    def build(
        cls,
        years: Iterable[int],
        *,
        local: Iterable[date] = (),
        added: Iterable[date] = (),
        removed: Iterable[date] = (),
        office_hours: OfficeHours | None = None,
    ) -> WorkingCalendar:
        """Official holidays of `years` plus the municipality's local ones and admin corrections.

        `removed` wins over everything else: an administrator who says a date is working (e.g. a
        regional holiday moved by decree) overrides the package and the local list.
        """
        year_set = frozenset(years)
        if not year_set:
            raise ValueError("se necesita al menos un año")
        dates = set(official_holidays(year_set)) | set(local) | set(added)
        dates -= set(removed)
        return cls(
            holidays=frozenset(dates),
            office_hours=office_hours if office_hours is not None else OfficeHours(),
            years=year_set,
        )

    def _check(self, d: date) -> None:
        if self.years and d.year not in self.years:
            raise CalendarRangeError(
                f"el calendario no incluye el año {d.year} (años cargados: "
                f"{', '.join(str(y) for y in sorted(self.years))})"
            )

    # -- days ---------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        self._check(d)
        return d.weekday() < 5 and d not in self.holidays

    def next_working_day(self, d: date) -> date:
        """`d` itself if working, else the first working day after it (art. 30.5)."""
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start`: counting begins the day after (art. 30.3).

        The result is always a working day, so a term never ends on a weekend or holiday.
        """
        if n < 1:
            raise ValueError("el plazo debe ser de al menos un día hábil")
        d = start
        remaining = n
        while remaining:
            d += _ONE_DAY
            if self.is_working_day(d):
                remaining -= 1
        return d

    def add_months(self, start: date, n: int) -> date:
        """End of a term of `n` months notified on `start` (art. 30.4 and 30.5).

        Date to date: the same day number n months later, or that month's last day if it has no
        such day; moved to the next working day if that date is not one.
        """
        if n < 1:
            raise ValueError("el plazo debe ser de al menos un mes")
        return self.next_working_day(months_later(start, n))

    def working_days_in(self, first: date, last: date) -> int:
        """Working days d with first <= d <= last (0 if last < first)."""
        if last < first:
            return 0
        self._check(first)
        self._check(last)
        off = sum(1 for h in self.holidays if first <= h <= last and h.weekday() < 5)
        return _weekdays_between(first, last) - off

    # -- instants -----------------------------------------------------------------------------

    def effective_start(self, at: datetime) -> datetime:
        """When a filing counts as received (art. 31.2.b): on a non-working day, at 00:00 of the
        next working day; otherwise as is. Always returned in Madrid time."""
        _require_aware(at)
        local = at.astimezone(MADRID)
        if self.is_working_day(local.date()):
            return local
        return datetime.combine(self.next_working_day(local.date()), time(0), tzinfo=MADRID)

    def end_of_day(self, d: date) -> datetime:
        """Last second of `d` in Madrid: the due instant of a term counted in days."""
        return datetime.combine(d, _END_OF_DAY, tzinfo=MADRID)

    def due_in_working_days(self, received_at: datetime, n: int) -> datetime:
        """Due instant of an n-working-day term for something received at `received_at`."""
        start = self.effective_start(received_at).date()
        return self.end_of_day(self.add_working_days(start, n))

    def _office_window(self, d: date) -> tuple[datetime, datetime]:
        """Opening and closing of `d` as UTC instants (wall clock converted with zoneinfo)."""
        return _at(d, self.office_hours.start), _at(d, self.office_hours.end)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """Walks `seconds` of office time forward from `start`, skipping nights and non-working
        days. Outside office hours (closing time included) counting starts at the next opening."""
        _require_aware(start)
        if seconds < 0:
            raise ValueError("los segundos no pueden ser negativos")
        cursor = start.astimezone(UTC)
        remaining = float(seconds)
        d = _local_date(start)
        while True:
            if self.is_working_day(d):
                opening, closing = self._office_window(d)
                begin = max(opening, cursor)
                if begin < closing:
                    available = (closing - begin).total_seconds()
                    if remaining <= available:
                        return (begin + timedelta(seconds=remaining)).astimezone(MADRID)
                    remaining -= available
            d += _ONE_DAY

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_working_seconds(start, hours * 3600)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Office-hours seconds on working days within [a, b) (0 if b <= a)."""
        _require_aware(a)
        _require_aware(b)
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        if b_utc <= a_utc:
            return 0.0
        total = 0.0
        d, last = _local_date(a), _local_date(b)
        while d <= last:
            if self.is_working_day(d):
                opening, closing = self._office_window(d)
                begin, end = max(opening, a_utc), min(closing, b_utc)
                if begin < end:
                    total += (end - begin).total_seconds()
            d += _ONE_DAY
        return total

    def paused_working_days(self, paused_at: datetime, resumed_at: datetime) -> int:
        """Working days d with date(paused_at) <= d < date(resumed_at), in Madrid dates: how far
        a day-based due date moves after waiting on the municipality."""
        _require_aware(paused_at)
        _require_aware(resumed_at)
        first, resumed = _local_date(paused_at), _local_date(resumed_at)
        if resumed <= first:
            return 0
        return self.working_days_in(first, resumed - _ONE_DAY)

    def fraction_point(self, start: datetime, due: datetime, fraction: float) -> datetime:
        """The instant `fraction` of the way from `start` to `due`, for warning thresholds.

        Deliberately simple: start + fraction * (due - start) in absolute (UTC) time, ignoring
        the calendar, so a 75 % warning may fall on a night or a weekend.
        """
        _require_aware(start)
        _require_aware(due)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("la fracción debe estar entre 0 y 1")
        a_utc, b_utc = start.astimezone(UTC), due.astimezone(UTC)
        return (a_utc + (b_utc - a_utc) * fraction).astimezone(MADRID)
