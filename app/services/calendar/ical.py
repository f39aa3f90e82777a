"""RFC 5545 rendering of calendar entries with the `icalendar` package."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from app.core.time import MADRID
from app.models.calendar import CalendarEntry, EntryKind, EntryStatus

if TYPE_CHECKING:
    from icalendar import Event, Timezone

# `icalendar` is imported where a feed is rendered: it costs half a second at start-up.

PRODID = "-//Diputación de Badajoz//OAAA Punto Informativo//ES"
UID_DOMAIN = "oaaa.dip-badajoz.es"
TZID = "Europe/Madrid"
MEDIA_TYPE = "text/calendar; charset=utf-8"

_STATUS = {
    EntryStatus.published: "CONFIRMED",
    EntryStatus.cancelled: "CANCELLED",
    EntryStatus.draft: "TENTATIVE",
}
_KIND_LABEL = {
    EntryKind.event: "Evento",
    EntryKind.grant_call: "Convocatoria",
    EntryKind.participation: "Participación",
    EntryKind.announcement: "Anuncio",
}


def madrid_vtimezone() -> Timezone:
    """Europe/Madrid as calendar programs write it: one STANDARD and one DAYLIGHT rule (the EU
    rule in force since 1996: summer time from the last Sunday of March at 02:00 to the last
    Sunday of October at 03:00), each DTSTART in the local time before its change.

    A list of dated transitions (what `Timezone.from_tzid` writes) made vobject place summer
    events an hour off; rules are understood by every parser."""
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0))
    daylight.add("rrule", vRecur(freq="YEARLY", bymonth=3, byday="-1SU"))
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0))
    standard.add("rrule", vRecur(freq="YEARLY", bymonth=10, byday="-1SU"))
    tz = Timezone()
    tz.add("tzid", TZID)
    tz.add("x-lic-location", TZID)
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def uid(entry_id: uuid.UUID, suffix: str = "") -> str:
    return f"{entry_id}{suffix}@{UID_DOMAIN}"


def _local(dt: datetime) -> datetime:
    return dt.astimezone(MADRID)


def _description(entry: CalendarEntry, link: str) -> str:
    parts: list[str] = []
    if entry.description:
        parts.append(entry.description)
    if entry.kind == EntryKind.grant_call:
        if entry.application_opens_on:
            parts.append(f"Apertura de solicitudes: {entry.application_opens_on:%d/%m/%Y}")
        if entry.application_closes_on:
            parts.append(f"Cierre de solicitudes: {entry.application_closes_on:%d/%m/%Y}")
        if entry.budget is not None:
            parts.append(f"Presupuesto: {entry.budget} €")
        if entry.beneficiaries:
            parts.append(f"Beneficiarios: {entry.beneficiaries}")
        if entry.bulletin_url:
            parts.append(f"Boletín oficial: {entry.bulletin_url}")
    if entry.location:
        parts.append(f"Lugar: {entry.location}")
    if entry.online_url:
        parts.append(f"Enlace en línea: {entry.online_url}")
    for attachment in entry.attachments:
        parts.append(f"{attachment.get('title', 'Documento')}: {attachment.get('url', '')}")
    if entry.status == EntryStatus.cancelled:
        parts.insert(0, "CANCELADO.")
    parts.append(f"Más información: {link}")
    return "\n\n".join(parts)


def _common(ev: Event, entry: CalendarEntry, link: str) -> None:
    ev.add("sequence", entry.sequence)
    ev.add("dtstamp", entry.updated_at.astimezone(UTC))
    ev.add("created", entry.created_at.astimezone(UTC))
    ev.add("last-modified", entry.updated_at.astimezone(UTC))
    ev.add("status", _STATUS.get(EntryStatus(entry.status), "CONFIRMED"))
    ev.add("url", entry.online_url or link)
    ev.add("categories", [_KIND_LABEL.get(EntryKind(entry.kind), entry.kind)])
    ev.add("class", "PUBLIC" if entry.is_public else "PRIVATE")


def entry_event(entry: CalendarEntry, link: str) -> Event:
    """The VEVENT of an entry: local times with TZID (dates when all-day), RRULE and EXDATE."""
    from icalendar import Event, vRecur

    ev = Event()
    ev.add("uid", uid(entry.id))
    ev.add("summary", entry.title)
    ev.add("description", _description(entry, link))
    if entry.location:
        ev.add("location", entry.location)
    if entry.all_day:
        first = _local(entry.starts_at).date()
        last = _local(entry.ends_at).date()
        ev.add("dtstart", first)
        ev.add("dtend", max(last, first) + timedelta(days=1))
    else:
        ev.add("dtstart", _local(entry.starts_at))
        ev.add("dtend", _local(entry.ends_at))
    if entry.rrule:
        ev.add("rrule", vRecur.from_ical(entry.rrule))
        if entry.exdates:
            if entry.all_day:
                ev.add("exdate", [_local(d).date() for d in entry.exdates])
            else:
                ev.add("exdate", [_local(d) for d in entry.exdates])
    _common(ev, entry, link)
    return ev


def closing_event(entry: CalendarEntry, link: str, reminders: Sequence[date]) -> Event:
    """A grant call's closing date as an all-day entry with an alarm per reminder day."""
    closes_on = entry.application_closes_on
    assert closes_on is not None
    from icalendar import Alarm, Event

    ev = Event()
    ev.add("uid", uid(entry.id, "-cierre"))
    ev.add("summary", f"Cierre de plazo: {entry.title}")
    ev.add("description", _description(entry, link))
    ev.add("dtstart", closes_on)
    ev.add("dtend", closes_on + timedelta(days=1))
    ev.add("transp", "TRANSPARENT")
    _common(ev, entry, link)
    days = list(reminders) or [closes_on - timedelta(days=1)]
    for day in days:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"La convocatoria «{entry.title}» cierra el {closes_on:%d/%m/%Y}")
        at = datetime.combine(day, time(9, 0), tzinfo=MADRID).astimezone(UTC)
        # An absolute trigger must say so (RFC 5545 §3.8.6.3); parsers such as ics-py refuse
        # a date-time where the default value type, a duration, is expected.
        alarm.add("trigger", at, parameters={"VALUE": "DATE-TIME"})
        ev.add_component(alarm)
    return ev


def render(
    entries: Sequence[CalendarEntry],
    *,
    base_url: str,
    name: str,
    reminders: Mapping[uuid.UUID, Sequence[date]] | None = None,
) -> bytes:
    """A VCALENDAR with one VEVENT per entry (plus closing dates of grant calls)."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", TZID)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    cal.add_component(madrid_vtimezone())
    base = base_url.rstrip("/")
    for entry in entries:
        link = f"{base}/punto-informativo/{entry.id}"
        cal.add_component(entry_event(entry, link))
        if entry.kind == EntryKind.grant_call and entry.application_closes_on is not None:
            days = (reminders or {}).get(entry.id, [])
            cal.add_component(closing_event(entry, link, days))
    data: bytes = cal.to_ical()
    return data
