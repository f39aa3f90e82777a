# mypy: disable-error-code="arg-type, union-attr"
"""iCalendar rendering: valid RFC 5545 that parses back, with recurrences that match ours."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from dateutil.rrule import rrulestr
from icalendar import Calendar

from app.core.time import MADRID
from app.models.calendar import CalendarEntry
from app.services.calendar import ical
from app.services.calendar.recurrence import occurrences

BASE = "https://oaaa.example.org"


def _entry(**kwargs) -> CalendarEntry:
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    values = {
        "id": uuid.uuid4(),
        "kind": "event",
        "title": "Jornada",
        "starts_at": datetime(2026, 10, 6, 10, tzinfo=MADRID),
        "ends_at": datetime(2026, 10, 6, 12, tzinfo=MADRID),
        "status": "published",
        "created_at": now,
        "updated_at": now,
    } | kwargs
    return CalendarEntry(**values)


def _parse(body: bytes) -> Calendar:
    cal = Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == ical.PRODID
    assert str(cal["CALSCALE"]) == "GREGORIAN"
    tz = [c for c in cal.walk("VTIMEZONE")]
    assert [str(t["TZID"]) for t in tz] == ["Europe/Madrid"]
    return cal


def test_recurring_event_round_trip_matches_expansion() -> None:
    excluded = datetime(2026, 10, 20, 10, tzinfo=MADRID)
    entry = _entry(
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=10",
        exdates=[excluded],
        online_url="https://meet.example.org/abc",
        location="Salón de plenos",
        sequence=3,
    )
    cal = _parse(ical.render([entry], base_url=BASE, name="Prueba"))
    (ev,) = cal.walk("VEVENT")
    assert str(ev["UID"]) == f"{entry.id}@oaaa.dip-badajoz.es"
    assert int(ev["SEQUENCE"]) == 3
    assert "DTSTAMP" in ev
    assert ev["DTSTART"].params["TZID"] == "Europe/Madrid"
    assert f"{BASE}/punto-informativo/{entry.id}" in str(ev["DESCRIPTION"])
    assert "https://meet.example.org/abc" in str(ev["DESCRIPTION"])
    dtstart = ev.decoded("DTSTART")
    rule = rrulestr(ev["RRULE"].to_ical().decode(), dtstart=dtstart)
    exdates = {
        d.dt
        for x in ([ev["EXDATE"]] if not isinstance(ev["EXDATE"], list) else ev["EXDATE"])
        for d in x.dts
    }
    parsed = [d for d in rule if d not in exdates]
    ours = occurrences(entry, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))
    assert [d.astimezone(UTC) for d in parsed] == [o.start for o in ours]
    assert len(ours) == 9


def test_all_day_cancelled_and_grant_call_closing() -> None:
    cancelled = _entry(status="cancelled", sequence=2)
    grant = _entry(
        kind="grant_call",
        title="Subvenciones de eficiencia energética",
        all_day=True,
        starts_at=datetime(2026, 11, 2, tzinfo=MADRID),
        ends_at=datetime(2026, 11, 27, tzinfo=MADRID),
        application_opens_on=date(2026, 11, 2),
        application_closes_on=date(2026, 11, 27),
        bulletin_url="https://bop.dip-badajoz.es/123",
    )
    reminders = {grant.id: [date(2026, 11, 20), date(2026, 11, 26)]}
    cal = _parse(ical.render([cancelled, grant], base_url=BASE, name="Prueba", reminders=reminders))
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert str(events[f"{cancelled.id}@oaaa.dip-badajoz.es"]["STATUS"]) == "CANCELLED"
    main = events[f"{grant.id}@oaaa.dip-badajoz.es"]
    assert main.decoded("DTSTART") == date(2026, 11, 2)
    assert main.decoded("DTEND") == date(2026, 11, 28)
    closing = events[f"{grant.id}-cierre@oaaa.dip-badajoz.es"]
    assert closing.decoded("DTSTART") == date(2026, 11, 27)
    alarms = closing.walk("VALARM")
    assert len(alarms) == 2
    triggers = sorted(a.decoded("TRIGGER") for a in alarms)
    assert triggers[0] == datetime(2026, 11, 20, 9, tzinfo=MADRID)
    assert "https://bop.dip-badajoz.es/123" in str(closing["DESCRIPTION"])


def test_empty_feed_is_valid() -> None:
    cal = _parse(ical.render([], base_url=BASE, name="Vacío"))
    assert cal.walk("VEVENT") == []
    assert timedelta(hours=1) == cal.decoded("REFRESH-INTERVAL")
