"""RFC 5545 recurrence rules of calendar entries: validation and bounded expansion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrule, rrulestr

from app.core.errors import (
    invalid_field,
)
from app.core.time import MADRID
from app.models.calendar import (
    CalendarEntry,
)

MAX_OCCURRENCES = 5000


def normalise_rrule(value: str) -> str:
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return text.upper()


def parse_rrule(value: str, dtstart: datetime) -> rrule:
    """The rule `value` (RFC 5545 RRULE) anchored at `dtstart` (Madrid wall time)."""
    text = normalise_rrule(value)
    if not text or "\n" in text or "DTSTART" in text or ":" in text:
        raise ValueError("solo se admite una regla RRULE")
    rule = rrulestr(text, dtstart=dtstart.astimezone(MADRID))
    if not isinstance(rule, rrule):
        raise ValueError("solo se admite una regla RRULE")
    # A calendar of meetings and calls repeats daily at most often; finer rules would expand
    # into millions of occurrences.
    freq = re.search(r"FREQ=([A-Z]+)", text.upper())
    if freq is None or freq.group(1) not in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"):
        raise ValueError("la repetición más frecuente admitida es diaria (FREQ=DAILY)")
    return rule


def validate_rrule(value: str, dtstart: datetime) -> str:
    try:
        parse_rrule(value, dtstart)
    except (ValueError, TypeError) as exc:
        raise invalid_field("rrule", f"la regla de repetición no es válida ({exc})") from exc
    return normalise_rrule(value)


@dataclass(frozen=True)
class Occurrence:
    entry: CalendarEntry
    start: datetime
    end: datetime


def _overlaps(a_start: datetime, a_end: datetime, start: datetime, end: datetime) -> bool:
    """[a_start, a_end) meets [start, end); an instant (a_start == a_end) counts if inside."""
    return a_start < end and (a_end > start or a_start >= start)


def _wall(dt: datetime) -> datetime:
    return dt.astimezone(MADRID).replace(tzinfo=None)


def occurrences(entry: CalendarEntry, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of `entry` overlapping [start, end): recurring ones expanded in Madrid wall
    time (10:00 stays 10:00 across DST changes), EXDATEs removed."""
    if not entry.rrule:
        if _overlaps(entry.starts_at, entry.ends_at, start, end):
            return [Occurrence(entry, entry.starts_at, entry.ends_at)]
        return []
    # Wall-clock duration, so that a 10:00-12:00 session stays 10:00-12:00 after a DST change.
    duration = _wall(entry.ends_at) - _wall(entry.starts_at)
    rule = parse_rrule(entry.rrule, entry.starts_at)
    excluded = {d.astimezone(UTC) for d in entry.exdates}
    out: list[Occurrence] = []
    window_start = (start - duration - timedelta(days=1)).astimezone(MADRID)
    window_end = end.astimezone(MADRID)
    # Lazily, and never more than a listing can show: stored rules are bounded to daily
    # repetition, but the iteration itself must not depend on that.
    for occ in rule.xafter(window_start, inc=True):
        if occ > window_end or len(out) > MAX_OCCURRENCES:
            break
        occ_start = occ.replace(tzinfo=MADRID)
        if occ_start.astimezone(UTC) in excluded:
            continue
        occ_end = (occ.replace(tzinfo=None) + duration).replace(tzinfo=MADRID)
        if not _overlaps(occ_start, occ_end, start, end):
            continue
        out.append(Occurrence(entry, occ_start.astimezone(UTC), occ_end.astimezone(UTC)))
    return out


# How far the rule is followed to find the occurrences that EXDATEs name (daily: 54 years).
EXDATE_SEARCH_LIMIT = 20_000


def unmatched_exdates(rrule_text: str, starts_at: datetime, exdates: list[datetime]) -> list[int]:
    """Positions in `exdates` of the instants that are not an occurrence of the rule (so
    excluding them would silently exclude nothing)."""
    wanted = {d.astimezone(UTC) for d in exdates}
    if not wanted:
        return []
    last = max(wanted)
    found: set[datetime] = set()
    rule = parse_rrule(rrule_text, starts_at)
    for n, occ in enumerate(rule):
        instant = occ.replace(tzinfo=MADRID).astimezone(UTC)
        if instant > last or n >= EXDATE_SEARCH_LIMIT:
            break
        if instant in wanted:
            found.add(instant)
            if found == wanted:
                break
    return [i for i, d in enumerate(exdates) if d.astimezone(UTC) not in found]


def is_occurrence(entry: CalendarEntry, instant: datetime) -> bool:
    return any(
        o.start == instant
        for o in occurrences(entry, instant - timedelta(seconds=1), instant + timedelta(seconds=1))
    )
