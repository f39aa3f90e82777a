"""Time helpers: the office's time zone and date ranges given by people (inclusive days in
Europe/Madrid) as instants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import UnprocessableEntity

MADRID = ZoneInfo("Europe/Madrid")


def day_bounds(
    from_date: date | None, to_date: date | None
) -> tuple[datetime | None, datetime | None]:
    """[start, end) instants of an inclusive range of days in Europe/Madrid."""
    if from_date and to_date and from_date > to_date:
        raise UnprocessableEntity("La fecha inicial (from) es posterior a la final (to)")
    start = datetime.combine(from_date, time.min, MADRID) if from_date else None
    end = datetime.combine(to_date + timedelta(days=1), time.min, MADRID) if to_date else None
    return start, end
