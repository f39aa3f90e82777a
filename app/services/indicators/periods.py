"""Reporting periods: a month, a quarter, a year or a bounded custom range of days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.core.errors import invalid_field
from app.core.time import MADRID, day_bounds

EARLIEST_YEAR = 2000
MAX_RANGE_DAYS = 731
_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>\d{2})))?$")


def today() -> date:
    return datetime.now(UTC).astimezone(MADRID).date()


@dataclass(frozen=True)
class Period:
    kind: str  # year, quarter, month, range
    label: str
    first_day: date
    last_day: date

    @property
    def year(self) -> int:
        return self.first_day.year

    @property
    def whole_months(self) -> bool:
        return self.kind != "range"

    def params(self) -> dict[str, object]:
        start, end = day_bounds(self.first_day, self.last_day)
        return {
            "start": start,
            "end": end,
            "start_day": self.first_day,
            "end_day": self.last_day,
            "first_month": self.first_day.replace(day=1),
            "last_month": self.last_day.replace(day=1),
            "today": today(),
        }


def _latest_year() -> int:
    return today().year + 1


def year(value: int) -> Period:
    if not EARLIEST_YEAR <= value <= _latest_year():
        raise invalid_field(
            "year", f"el año debe estar entre {EARLIEST_YEAR} y {_latest_year()}", "path"
        )
    return Period("year", str(value), date(value, 1, 1), date(value, 12, 31))


def parse(period: str | None, from_day: date | None, to_day: date | None) -> Period:
    """`period` (2026, 2026-Q2, 2026-03) or an inclusive range `from`–`to`; default this year."""
    if period is not None and (from_day is not None or to_day is not None):
        raise invalid_field(
            "period", "indique un periodo o un intervalo from/to, no ambos", "query"
        )
    if from_day is not None or to_day is not None:
        if from_day is None or to_day is None:
            missing = "from" if from_day is None else "to"
            raise invalid_field(missing, "un intervalo necesita from y to", "query")
        for name, day in (("from", from_day), ("to", to_day)):
            if not EARLIEST_YEAR <= day.year <= _latest_year():
                raise invalid_field(
                    name, f"la fecha debe estar entre {EARLIEST_YEAR} y {_latest_year()}", "query"
                )
        if from_day > to_day:
            raise invalid_field("from", "la fecha inicial es posterior a la final", "query")
        if (to_day - from_day).days + 1 > MAX_RANGE_DAYS:
            raise invalid_field(
                "to", f"el intervalo no puede superar {MAX_RANGE_DAYS} días", "query"
            )
        label = f"{from_day.isoformat()}/{to_day.isoformat()}"
        return Period("range", label, from_day, to_day)
    if period is None:
        return year(today().year)
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise invalid_field(
            "period", "use AAAA (año), AAAA-Qn (trimestre) o AAAA-MM (mes)", "query"
        )
    y = int(match["year"])
    if not EARLIEST_YEAR <= y <= _latest_year():
        raise invalid_field(
            "period", f"el año debe estar entre {EARLIEST_YEAR} y {_latest_year()}", "query"
        )
    if match["quarter"]:
        q = int(match["quarter"])
        first = date(y, 3 * q - 2, 1)
        last = (date(y + 1, 1, 1) if q == 4 else date(y, 3 * q + 1, 1)) - timedelta(days=1)
        return Period("quarter", f"{y}-Q{q}", first, last)
    if match["month"]:
        m = int(match["month"])
        if not 1 <= m <= 12:
            raise invalid_field("period", "el mes debe estar entre 01 y 12", "query")
        first = date(y, m, 1)
        last = (date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1)) - timedelta(days=1)
        return Period("month", f"{y}-{m:02d}", first, last)
    return year(y)
