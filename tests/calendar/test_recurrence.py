"""Recurrence expansion in Madrid wall time, across daylight-saving changes, with EXDATEs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.core.time import MADRID
from app.models.calendar import CalendarEntry
from app.services.calendar.recurrence import occurrences, validate_rrule


def _entry(start: datetime, end: datetime, rrule: str | None, exdates=()) -> CalendarEntry:
    now = datetime.now(UTC)
    return CalendarEntry(
        id=uuid.uuid4(),
        kind="event",
        title="Sesión semanal",
        starts_at=start,
        ends_at=end,
        rrule=rrule,
        exdates=list(exdates),
        created_at=now,
        updated_at=now,
    )


def test_weekly_event_keeps_local_time_across_october_dst_change() -> None:
    start = datetime(2026, 10, 6, 10, 0, tzinfo=MADRID)  # a Tuesday, summer time (UTC+2)
    excluded = datetime(2026, 10, 20, 10, 0, tzinfo=MADRID)
    entry = _entry(start, start + timedelta(hours=2), "FREQ=WEEKLY;BYDAY=TU", [excluded])
    found = occurrences(
        entry, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)
    )
    local = [o.start.astimezone(MADRID) for o in found]
    assert [d.date().isoformat() for d in local] == [
        "2026-10-06",
        "2026-10-13",
        "2026-10-27",
        "2026-11-03",
        "2026-11-10",
    ]
    assert all((d.hour, d.minute) == (10, 0) for d in local)
    assert all(o.end.astimezone(MADRID).hour == 12 for o in found)
    # Same wall time, different UTC instant: 08:00Z in summer, 09:00Z in winter.
    assert found[0].start.astimezone(UTC).hour == 8
    assert found[2].start.astimezone(UTC).hour == 9


def test_march_change_and_count() -> None:
    start = datetime(2027, 3, 22, 18, 30, tzinfo=MADRID)
    entry = _entry(start, start + timedelta(minutes=90), "FREQ=DAILY;COUNT=14")
    found = occurrences(entry, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
    assert len(found) == 14
    assert {
        (o.start.astimezone(MADRID).hour, o.start.astimezone(MADRID).minute) for o in found
    } == {(18, 30)}


def test_range_clips_and_non_recurring() -> None:
    start = datetime(2026, 10, 6, 10, 0, tzinfo=MADRID)
    entry = _entry(start, start + timedelta(hours=2), None)
    assert len(occurrences(entry, start - timedelta(days=1), start + timedelta(hours=1))) == 1
    assert occurrences(entry, start + timedelta(hours=3), start + timedelta(days=1)) == []


def test_until_in_utc() -> None:
    start = datetime(2026, 10, 6, 10, 0, tzinfo=MADRID)
    entry = _entry(start, start + timedelta(hours=1), "FREQ=WEEKLY;UNTIL=20261101T000000Z")
    found = occurrences(entry, start - timedelta(days=1), start + timedelta(days=60))
    assert len(found) == 4


@pytest.mark.parametrize(
    "rule", ["FREQ=SOMETIMES", "BYDAY=TU", "FREQ=WEEKLY;BYDAY=XX", "DTSTART:20260101\nRRULE:X"]
)
def test_invalid_rules_rejected(rule: str) -> None:
    from app.core.errors import UnprocessableEntity

    with pytest.raises(UnprocessableEntity) as info:
        validate_rrule(rule, datetime(2026, 10, 6, 10, 0, tzinfo=MADRID))
    assert info.value.errors
    assert info.value.errors[0].loc[-1] == "rrule"
