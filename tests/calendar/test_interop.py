"""The feeds read the same in parsers other than the one that writes them (vobject, ics-py),
down to the instant of every occurrence across clock changes; conditional GETs; EXDATEs that
exclude nothing are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ics
import pytest
import vobject
from icalendar import Calendar

from app.core.time import MADRID
from app.models.base import Role
from app.models.calendar import CalendarEntry
from app.services.calendar import ical
from app.services.calendar.recurrence import occurrences
from tests import factories as f
from tests.factories import assert_problem

BASE = "https://oaaa.example.org"
URL = "/api/v1/events"
FAR = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _entry(start: datetime, hours: int = 2, **kwargs: Any) -> CalendarEntry:
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "kind": "event",
        "title": "Jornada",
        "starts_at": start,
        "ends_at": start + timedelta(hours=hours),
        "status": "published",
        "created_at": now,
        "updated_at": now,
    } | kwargs
    return CalendarEntry(**values)


def _entries() -> list[CalendarEntry]:
    return [
        _entry(datetime(2026, 7, 15, 10, tzinfo=MADRID), title="Verano"),
        _entry(datetime(2026, 12, 15, 10, tzinfo=MADRID), title="Invierno"),
        # Weekly across the October change, with one session excluded.
        _entry(
            datetime(2026, 10, 6, 10, tzinfo=MADRID),
            title="Taller de otoño",
            rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=10",
            exdates=[datetime(2026, 10, 20, 10, tzinfo=MADRID)],
        ),
        # Daily across the March change (Sunday 29 March 2026), late evening.
        _entry(
            datetime(2026, 3, 26, 23, 30, tzinfo=MADRID),
            hours=1,
            title="Guardia",
            rrule="FREQ=DAILY;COUNT=6",
        ),
        # Monthly for years, in both seasons.
        _entry(
            datetime(2026, 1, 31, 9, tzinfo=MADRID),
            title="Pleno",
            rrule="FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20291231T230000Z",
        ),
        _entry(
            datetime(2026, 11, 2, tzinfo=MADRID),
            hours=0,
            title="Convocatoria",
            kind="grant_call",
            all_day=True,
            application_closes_on=date(2026, 11, 30),
        ),
    ]


def _feed() -> tuple[list[CalendarEntry], str]:
    entries = _entries()
    reminders = {entries[-1].id: [date(2026, 11, 23), date(2026, 11, 27)]}
    body = ical.render(entries, base_url=BASE, name="Prueba", reminders=reminders)
    return entries, body.decode()


def _ours(entry: CalendarEntry) -> list[tuple[datetime, datetime]]:
    return [(o.start, o.end) for o in occurrences(entry, *FAR)]


def _utc(value: datetime) -> datetime:
    assert value.tzinfo is not None, value
    return value.astimezone(UTC)


def test_vobject_reads_every_occurrence_at_the_api_instants() -> None:
    entries, text = _feed()
    cal = vobject.readOne(text)
    by_uid = {str(ev.uid.value): ev for ev in cal.vevent_list}
    for entry in entries:
        if entry.all_day:
            continue
        ev = by_uid[ical.uid(entry.id)]
        duration = ev.dtend.value - ev.dtstart.value
        instants = [_utc(d) for d in ev.getrruleset(addRDate=True) or [ev.dtstart.value]]
        assert [(s, _utc(s + duration)) for s in instants] == _ours(entry), entry.title
    # The October workshop keeps its wall time: 08:00 UTC before the change, 09:00 after.
    workshop = [s for s, _ in _ours(entries[2])]
    assert workshop[0] == datetime(2026, 10, 6, 8, tzinfo=UTC)
    assert workshop[2] == datetime(2026, 10, 27, 9, tzinfo=UTC)
    assert datetime(2026, 10, 20, 8, tzinfo=UTC) not in workshop


def test_vobject_time_zone_block_matches_madrid_for_decades() -> None:
    _, text = _feed()
    cal = vobject.readOne(text)
    ev = next(e for e in cal.vevent_list if e.summary.value == "Verano")
    tz = ev.dtstart.value.tzinfo
    day = date(2000, 1, 1)
    while day < date(2045, 1, 1):
        for hour in (1, 4, 12):
            wall = datetime.combine(day, time(hour))
            assert tz.utcoffset(wall) == wall.replace(tzinfo=MADRID).utcoffset(), wall
        day += timedelta(days=5)


def test_ics_py_reads_the_feed_with_its_alarms() -> None:
    entries, text = _feed()
    cal = ics.Calendar(text)
    parsed = {ev.uid: ev for ev in cal.events}
    for entry in entries:
        ev = parsed[ical.uid(entry.id)]
        if entry.all_day:
            assert ev.all_day
            assert ev.begin.date() == entry.starts_at.astimezone(MADRID).date()
            continue
        assert ev.begin.datetime.astimezone(UTC) == entry.starts_at.astimezone(UTC)
        assert ev.end.datetime.astimezone(UTC) == entry.ends_at.astimezone(UTC)
    closing = parsed[ical.uid(entries[-1].id, "-cierre")]
    triggers = sorted(a.trigger.astimezone(UTC) for a in closing.alarms)
    assert triggers == [
        datetime(2026, 11, 23, 9, tzinfo=MADRID).astimezone(UTC),
        datetime(2026, 11, 27, 9, tzinfo=MADRID).astimezone(UTC),
    ]


def test_absolute_alarm_triggers_say_date_time() -> None:
    _, text = _feed()
    alarms = Calendar.from_ical(text).walk("VALARM")
    assert alarms
    for alarm in alarms:
        assert alarm["TRIGGER"].params["VALUE"] == "DATE-TIME"
    assert "TRIGGER;VALUE=DATE-TIME:20261123T080000Z" in text


def test_time_zone_block_has_one_rule_per_season() -> None:
    (tz,) = Calendar.from_ical(ical.render([], base_url=BASE, name="x")).walk("VTIMEZONE")
    seasons = {c.name: c for c in tz.subcomponents}
    assert set(seasons) == {"DAYLIGHT", "STANDARD"}
    summer, winter = seasons["DAYLIGHT"], seasons["STANDARD"]

    def text(component: Any, name: str) -> str:
        value = component[name].to_ical()
        return value.decode() if isinstance(value, bytes) else str(value)

    assert text(summer, "TZOFFSETFROM") == "+0100"
    assert text(summer, "TZOFFSETTO") == "+0200"
    assert text(summer, "DTSTART") == "19700329T020000"
    assert text(summer, "RRULE") == "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"
    assert text(winter, "TZOFFSETFROM") == "+0200"
    assert text(winter, "TZOFFSETTO") == "+0100"
    assert text(winter, "DTSTART") == "19701025T030000"
    assert text(winter, "RRULE") == "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"


# --- through the API -------------------------------------------------------------------------


async def _office(client: Any, session: Any) -> dict[str, str]:
    return await f.auth_headers(client, await f.user(session, Role.oaaa_staff))


async def _event(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    start = datetime(2026, 10, 6, 10, tzinfo=MADRID)
    payload = {
        "kind": "event",
        "title": "Taller semanal",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "is_public": True,
    } | body
    r = await client.post(URL, json=payload, headers=headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def _publish(client: Any, headers: dict[str, str], entry_id: str) -> None:
    r = await client.post(f"{URL}/{entry_id}/publish", headers=headers)
    assert r.status_code == 200, r.text


async def test_every_feed_answers_304_to_its_etag_and_200_after_a_change(client, session):
    office = await _office(client, session)
    entry = await _event(client, office, rrule="FREQ=WEEKLY;COUNT=4")
    await _publish(client, office, entry["id"])
    mun = await f.municipality(session, "06011")
    alm = await f.auth_headers(
        client, await f.user(session, Role.municipal_user, municipality_id=mun.id)
    )
    token_url = (await client.post("/api/v1/calendar/feed-tokens", headers=alm)).json()["url"]
    feeds = {
        "/api/v1/calendar.ics": "public",
        f"{URL}/{entry['id']}.ics": "private",
        token_url[token_url.index("/api/v1/") :]: "private",
    }
    etags = {}
    for path, visibility in feeds.items():
        first = await client.get(path)
        assert first.status_code == 200, path
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert first.headers["cache-control"].startswith(visibility)
        assert "max-age=300" in first.headers["cache-control"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        weak_list = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak_list.status_code == 304
        stale = await client.get(path, headers={"If-None-Match": '"something-else"'})
        assert stale.status_code == 200
        assert stale.content == first.content
        etags[path] = etag
    r = await client.patch(f"{URL}/{entry['id']}", json={"location": "Sala 2"}, headers=office)
    assert r.status_code == 200, r.text
    for path, etag in etags.items():
        changed = await client.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200, path
        assert changed.headers["etag"] != etag
        assert b"Sala 2" in changed.content


async def test_an_exdate_that_matches_no_occurrence_is_refused_naming_it(client, session):
    office = await _office(client, session)
    on_rule = datetime(2026, 10, 13, 10, tzinfo=MADRID).isoformat()
    wrong_time = datetime(2026, 10, 13, 11, tzinfo=MADRID).isoformat()
    after_end = datetime(2026, 12, 29, 10, tzinfo=MADRID).isoformat()
    r = await client.post(
        URL,
        json={
            "kind": "event",
            "title": "Taller",
            "starts_at": datetime(2026, 10, 6, 10, tzinfo=MADRID).isoformat(),
            "ends_at": datetime(2026, 10, 6, 12, tzinfo=MADRID).isoformat(),
            "rrule": "FREQ=WEEKLY;COUNT=4",
            "exdates": [on_rule, wrong_time, after_end],
        },
        headers=office,
    )
    body = assert_problem(r, 422, "validation-error")
    assert [e["pointer"] for e in body["errors"]] == ["/exdates/1", "/exdates/2"]
    assert body["errors"][0]["loc"] == ["body", "exdates", 1]
    assert "exdates" in body["detail"]
    listed = await client.get(
        URL, params={"from": "2026-10-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, headers=office
    )
    assert listed.json()["items"] == []


async def test_exdates_must_still_match_after_the_rule_changes(client, session):
    office = await _office(client, session)
    entry = await _event(
        client,
        office,
        rrule="FREQ=WEEKLY;COUNT=4",
        exdates=[datetime(2026, 10, 13, 10, tzinfo=MADRID).isoformat()],
    )
    r = await client.patch(
        f"{URL}/{entry['id']}", json={"rrule": "FREQ=WEEKLY;INTERVAL=2;COUNT=4"}, headers=office
    )
    assert [e["pointer"] for e in assert_problem(r, 422)["errors"]] == ["/exdates/0"]
    current = await client.get(f"{URL}/{entry['id']}", headers=office)
    assert current.json()["rrule"] == "FREQ=WEEKLY;COUNT=4"
    r = await client.patch(
        f"{URL}/{entry['id']}",
        json={"rrule": "FREQ=WEEKLY;INTERVAL=2;COUNT=4", "exdates": []},
        headers=office,
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("all_day", [False, True], ids=["timed", "all-day"])
async def test_exdates_need_a_recurrence_and_all_day_ones_count_by_day(client, session, all_day):
    office = await _office(client, session)
    day = datetime(2026, 10, 13, 10, tzinfo=MADRID).isoformat()
    single = await client.post(
        URL,
        json={
            "kind": "event",
            "title": "Una vez",
            "starts_at": datetime(2026, 10, 6, 10, tzinfo=MADRID).isoformat(),
            "ends_at": datetime(2026, 10, 6, 12, tzinfo=MADRID).isoformat(),
            "all_day": all_day,
            "exdates": [day],
        },
        headers=office,
    )
    assert [e["pointer"] for e in assert_problem(single, 422)["errors"]] == ["/exdates/0"]
    if all_day:
        entry = await _event(
            client, office, all_day=True, rrule="FREQ=WEEKLY;COUNT=4", exdates=[day]
        )
        assert [datetime.fromisoformat(d) for d in entry["exdates"]] == [
            datetime(2026, 10, 13, tzinfo=MADRID)
        ]
