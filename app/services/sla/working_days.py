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
from collections.abc import Iterable, Mapping
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


@lru_cache(maxsize=64)
def _national_holidays_of(year: int) -> frozenset[date]:
    # Spain without a subdivision: the days that are holidays everywhere in the country.
    import holidays as holidays_lib

    return frozenset(holidays_lib.country_holidays("ES", years=year))


class DayKind:
    """Why a day is not a working day, as reported to people."""

    weekend = "weekend"
    national = "national"
    regional = "regional"
    local = "local"
    seat = "seat"
    correction = "correction"


@dataclass(frozen=True)
class NonWorkingDay:
    day: date
    kind: str  # one of DayKind
    description: str


_WEEKDAY_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


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
    # Why each holiday is one (kind, description in Spanish); filled by `build`.
    reasons: Mapping[date, tuple[str, str]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def build(
        cls,
        years: Iterable[int],
        *,
        local: Iterable[date] | Mapping[date, str] = (),
        added: Iterable[date] | Mapping[date, str] = (),
        removed: Iterable[date] = (),
        seat: Iterable[date] | Mapping[date, str] = (),
        office_hours: OfficeHours | None = None,
        local_name: str | None = None,
        seat_name: str | None = None,
    ) -> WorkingCalendar:
        """Official holidays of `years` plus the municipality's local ones, the local ones of the
        organ's seat (art. 30.6: non-working in either place is non-working) and admin
        corrections.

        `removed` wins over everything else: an administrator who says a date is working (e.g. a
        regional holiday moved by decree) overrides the package and the local list. Mappings
        give each date its name, for explanations; plain iterables are accepted too.
        """
        year_set = frozenset(years)
        if not year_set:
            raise ValueError("se necesita al menos un año")
        reasons: dict[date, tuple[str, str]] = {}

        def named(days: Iterable[date] | Mapping[date, str]) -> dict[date, str]:
            if isinstance(days, Mapping):
                return dict(days)
            return {d: "festivo" for d in days}

        # Lowest precedence first: a later source overwrites the reason of the same date.
        for d, name in named(seat).items():
            where = f" de {seat_name}" if seat_name else ""
            reasons[d] = (DayKind.seat, f"Fiesta local{where}, sede del órgano: {name}")
        for d, name in named(local).items():
            where = f" de {local_name}" if local_name else ""
            reasons[d] = (DayKind.local, f"Fiesta local{where}: {name}")
        for d, name in named(added).items():
            reasons[d] = (DayKind.correction, f"Día inhábil en toda la provincia: {name}")
        for d, name in official_holidays(year_set).items():
            if d in _national_holidays_of(d.year):
                reasons[d] = (DayKind.national, f"Fiesta nacional: {name}")
            else:
                reasons[d] = (DayKind.regional, f"Fiesta de Extremadura: {name}")
        for d in removed:
            reasons.pop(d, None)
        return cls(
            holidays=frozenset(reasons),
            office_hours=office_hours if office_hours is not None else OfficeHours(),
            years=year_set,
            reasons=reasons,
        )

    def non_working_reason(self, d: date) -> NonWorkingDay | None:
        """Why `d` is not a working day (None: it is one). A holiday on a weekend is reported
        as the holiday."""
        self._check(d)
        if d in self.holidays:
            kind, text = self.reasons.get(d, (DayKind.correction, "Día inhábil"))
            return NonWorkingDay(d, kind, text)
        if d.weekday() >= 5:
            return NonWorkingDay(d, DayKind.weekend, _WEEKDAY_NAMES[d.weekday()].capitalize())
        return None

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

    # -- terms of every unit ------------------------------------------------------------------

    def term_end(self, start_day: date, n: int, unit: str) -> date:
        """Last day of a day-based term of `n` `unit`s counted from `start_day` (the day of the
        notification, publication or deemed reception; counting begins the day after)."""
        if unit == TermUnit.working_days:
            return self.add_working_days(start_day, n)
        if unit == TermUnit.natural_days:
            if n < 1:
                raise ValueError("el plazo debe ser de al menos un día")
            return self.next_working_day(start_day + timedelta(days=n))
        if unit == TermUnit.months:
            return self.add_months(start_day, n)
        raise ValueError(f"unidad de plazo sin fin de día: {unit}")

    def due_instant(self, start: datetime, n: int, unit: str, *, extra_days: int = 0) -> datetime:
        """Due instant (Madrid) of a term of `n` `unit`s running from `start`.

        Day-based terms end at the last second of their last day; `extra_days` working days are
        added after it (time spent suspended). Hour terms walk office hours of working days."""
        _require_aware(start)
        if unit == TermUnit.working_hours:
            return self.add_working_hours(start, n)
        end = self.term_end(start.astimezone(MADRID).date(), n, unit)
        if extra_days > 0:
            end = self.add_working_days(end, extra_days)
        return self.end_of_day(end)

    def compute_term(
        self, at: datetime, n: int, unit: str, *, submission: bool = False
    ) -> ComputedTerm:
        """A term explained: when it starts, when it ends, which days it skipped and why.

        `submission`: `at` is when something was filed with the administration, deemed received
        at the first hour of the next working day if filed on a non-working one (art. 31.2.b).
        Otherwise `at` is a notification or publication, from whose next day the term runs."""
        _require_aware(at)
        received = at.astimezone(MADRID)
        start = self.effective_start(received) if submission else received
        due = self.due_instant(start, n, unit)
        first, last = received.date(), due.date()
        if unit in (TermUnit.working_days, TermUnit.working_hours):
            window = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        else:
            moved_from = (
                start.date() + timedelta(days=n)
                if unit == TermUnit.natural_days
                else months_later(start.date(), n)
            )
            window = [first + timedelta(days=i) for i in range((start.date() - first).days)]
            window += [moved_from + timedelta(days=i) for i in range((last - moved_from).days)]
        skipped = tuple(r for d in window if (r := self.non_working_reason(d)) is not None)
        basis = [_BASIS_START] if start != received else []
        basis.append(_BASIS_COUNT[unit])
        if unit == TermUnit.working_hours:
            basis.append(f"Horario de cómputo: {self.office_hours} de los días hábiles.")
        else:
            basis.append(_BASIS_END)
        basis.append(_BASIS_PLACES)
        return ComputedTerm(
            received_at=received,
            deemed_start=start,
            due_at=due,
            skipped=skipped,
            legal_basis=tuple(basis),
        )


class TermUnit:
    """Units in which a legal term or service target is expressed."""

    working_days = "working_days"
    working_hours = "working_hours"
    natural_days = "natural_days"
    months = "months"

    all = ("working_days", "working_hours", "natural_days", "months")


@dataclass(frozen=True)
class ComputedTerm:
    received_at: datetime
    deemed_start: datetime
    due_at: datetime
    skipped: tuple[NonWorkingDay, ...]
    legal_basis: tuple[str, ...]


_LAW = "Ley 39/2015"
_BASIS_START = (
    f"Art. 31.2.b) {_LAW}: la presentación en un día inhábil se entiende realizada en la "
    "primera hora del primer día hábil siguiente."
)
_BASIS_COUNT = {
    TermUnit.working_days: (
        f"Art. 30.2 y 30.3 {_LAW}: plazo en días hábiles, contados a partir del día siguiente; "
        "se excluyen los sábados, los domingos y los declarados festivos."
    ),
    TermUnit.natural_days: (
        f"Art. 30.2 {_LAW}: plazo en días naturales porque así lo declara la norma; se cuentan "
        "todos los días a partir del día siguiente."
    ),
    TermUnit.months: (
        f"Art. 30.4 {_LAW}: plazo en meses, de fecha a fecha desde el día siguiente; si en el "
        "mes de vencimiento no hay día equivalente, vence el último día del mes."
    ),
    TermUnit.working_hours: (
        f"Art. 30.1 {_LAW}: plazo en horas hábiles; se excluyen las horas de los días inhábiles."
    ),
}
_BASIS_END = (
    f"Art. 30.5 {_LAW}: si el último día del plazo es inhábil, se prorroga al primer día hábil "
    "siguiente."
)
_BASIS_PLACES = (
    f"Art. 30.6 {_LAW}: es inhábil el día que lo sea en el municipio del interesado o en el de "
    "la sede del órgano."
)
