"""Punto Informativo calendar: scoping, recurrences, feeds, registrations, grant calls."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlmodel import col, select

from app.core.time import MADRID
from app.models.base import Role
from app.models.calendar import CalendarEntry
from app.models.municipality import Comarca
from app.models.notification import NotificationEvent
from app.services.calendar import reminders
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/events"
FUTURE = datetime.now(UTC) + timedelta(days=30)


async def _setup(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    comarca = Comarca(name="Tierra de Barros")
    session.add(comarca)
    await session.commit()
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    alm.comarca_id = comarca.id
    await session.commit()
    people = {
        "office": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "cultura": await f.user(session, Role.area_staff, area_id=cultura.id),
        "alm": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "mer": await f.user(session, Role.municipal_user, municipality_id=mer.id),
    }
    headers = {k: await f.auth_headers(client, u) for k, u in people.items()}
    places = {"fomento": fomento, "cultura": cultura, "comarca": comarca, "alm": alm, "mer": mer}
    return places, headers


async def _create(client, headers, publish=True, start=FUTURE, **body):
    """An entry of two hours from `start` (published unless `publish` is false)."""
    payload = {
        "kind": "event",
        "title": "Jornada de contratación pública",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
    } | body
    r = await client.post(URL, json=payload, headers=headers)
    assert r.status_code == 201, r.text
    if publish:
        p = await client.post(f"{URL}/{r.json()['id']}/publish", headers=headers)
        assert p.status_code == 200, p.text
        return p.json()
    return r.json()


def _range(start: datetime, days: int = 60) -> dict[str, str]:
    return {"from": start.isoformat(), "to": (start + timedelta(days=days)).isoformat()}


async def test_audience_scoping(client, session):
    places, h = await _setup(client, session)
    to_mer = await _create(
        client, h["fomento"], audience="municipalities", municipality_ids=[str(places["mer"].id)]
    )
    to_comarca = await _create(
        client, h["office"], audience="comarca", comarca_id=str(places["comarca"].id)
    )
    public = await _create(client, h["office"], is_public=True)
    draft = await _create(client, h["fomento"], publish=False)
    params = _range(FUTURE - timedelta(days=1))

    async def ids(headers):
        r = await client.get(URL, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {i["entry_id"] for i in r.json()["items"]}

    assert await ids(h["alm"]) == {to_comarca["id"], public["id"]}
    assert await ids(h["mer"]) == {to_mer["id"], public["id"]}
    assert await ids({}) == {public["id"]}
    assert await ids(h["office"]) == {to_mer["id"], to_comarca["id"], public["id"], draft["id"]}
    assert await ids(h["fomento"]) >= {draft["id"], to_mer["id"]}
    assert draft["id"] not in await ids(h["cultura"])
    assert_problem(await client.get(f"{URL}/{to_mer['id']}", headers=h["alm"]), 404)
    assert_problem(await client.get(f"{URL}/{draft['id']}", headers=h["mer"]), 404)
    assert_problem(await client.get(f"{URL}/{to_mer['id']}"), 404)
    assert (await client.get(f"{URL}/{public['id']}")).status_code == 200
    assert (await client.get(f"{URL}/{to_mer['id']}", headers=h["mer"])).status_code == 200
    # Office filter by addressed municipality; others may not use it.
    r = await client.get(
        URL, params=params | {"municipality_id": str(places["alm"].id)}, headers=h["office"]
    )
    assert {i["entry_id"] for i in r.json()["items"]} == {
        to_comarca["id"],
        public["id"],
        draft["id"],
    }
    assert_problem(
        await client.get(
            URL, params=params | {"municipality_id": str(places["alm"].id)}, headers=h["alm"]
        ),
        403,
    )
    # Área staff cannot write another área's entries.
    other = await _create(client, h["cultura"], publish=False)
    r = await client.patch(f"{URL}/{other['id']}", json={"title": "Otro"}, headers=h["fomento"])
    assert_problem(r, 404)
    r = await client.post(
        URL,
        json={
            "kind": "event",
            "title": "De otra área",
            "starts_at": FUTURE.isoformat(),
            "area_id": str(places["cultura"].id),
        },
        headers=h["fomento"],
    )
    assert_problem(r, 403)
    assert_problem(
        await client.post(
            URL,
            json={"kind": "event", "title": "Municipal", "starts_at": FUTURE.isoformat()},
            headers=h["alm"],
        ),
        403,
    )


async def test_recurrence_across_october_dst_and_invalid_rrule(client, session):
    places, h = await _setup(client, session)
    start = datetime(2026, 10, 6, 10, tzinfo=MADRID)
    r = await client.post(
        URL,
        json={
            "kind": "event",
            "title": "Atención semanal",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "rrule": "RRULE:FREQ=WEEKLY;BYDAY=TU",
            "exdates": [datetime(2026, 10, 20, 10, tzinfo=MADRID).isoformat()],
            "is_public": True,
        },
        headers=h["office"],
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["rrule"] == "FREQ=WEEKLY;BYDAY=TU"
    await client.post(f"{URL}/{entry['id']}/publish", headers=h["office"])
    r = await client.get(
        URL, params={"from": "2026-10-01T00:00:00+02:00", "to": "2026-11-15T00:00:00+01:00"}
    )
    assert r.status_code == 200, r.text
    starts = [
        datetime.fromisoformat(i["occurrence_start"]).astimezone(MADRID) for i in r.json()["items"]
    ]
    assert [s.day for s in starts] == [6, 13, 27, 3, 10]
    assert all((s.hour, s.minute) == (10, 0) for s in starts)
    assert starts == sorted(starts)

    bad = await client.post(
        URL,
        json={
            "kind": "event",
            "title": "Mal",
            "starts_at": start.isoformat(),
            "rrule": "FREQ=NUNCA",
        },
        headers=h["office"],
    )
    body = assert_problem(bad, 422)
    assert body["errors"][0]["loc"][-1] == "rrule"
    assert_problem(
        await client.get(
            URL, params={"from": "2026-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"}
        ),
        422,
    )


async def _ics(client, url, **kw):
    r = await client.get(url, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(r.content)
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Madrid"]
    return cal


async def test_feeds_parse_back_and_match_api_expansion(client, session):
    places, h = await _setup(client, session)
    start = datetime(2026, 10, 6, 10, tzinfo=MADRID)
    weekly = await _create(
        client,
        h["office"],
        title="Taller semanal",
        start=start,
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=12",
        exdates=[datetime(2026, 10, 27, 10, tzinfo=MADRID).isoformat()],
        online_url="https://meet.example.org/taller",
        is_public=True,
    )
    private = await _create(
        client, h["office"], audience="municipalities", municipality_ids=[str(places["alm"].id)]
    )
    cal = await _ics(client, "/api/v1/calendar.ics")
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"{weekly['id']}@oaaa.dip-badajoz.es"}
    ev = events[f"{weekly['id']}@oaaa.dip-badajoz.es"]
    assert "https://meet.example.org/taller" in str(ev["DESCRIPTION"])
    assert f"/punto-informativo/{weekly['id']}" in str(ev["DESCRIPTION"])
    rule = rrulestr(ev["RRULE"].to_ical().decode(), dtstart=ev.decoded("DTSTART"))
    ex = ev["EXDATE"] if isinstance(ev["EXDATE"], list) else [ev["EXDATE"]]
    excluded = {d.dt for x in ex for d in x.dts}
    window = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    from_feed = [d.astimezone(UTC) for d in rule.between(*window, inc=True) if d not in excluded]
    r = await client.get(URL, params={"from": window[0].isoformat(), "to": window[1].isoformat()})
    from_api = [
        datetime.fromisoformat(i["occurrence_start"])
        for i in r.json()["items"]
        if i["entry_id"] == weekly["id"]
    ]
    assert from_feed == from_api
    assert len(from_api) == 11

    # SEQUENCE grows on each change; cancelled entries stay with STATUS:CANCELLED.
    seq0 = int(ev["SEQUENCE"])
    r = await client.patch(
        f"{URL}/{weekly['id']}", json={"location": "Sala 2"}, headers=h["office"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["sequence"] == seq0 + 1
    r = await client.patch(
        f"{URL}/{weekly['id']}", json={"status": "cancelled"}, headers=h["office"]
    )
    assert r.json()["sequence"] == seq0 + 2
    ev = (await _ics(client, f"{URL}/{weekly['id']}.ics")).walk("VEVENT")[0]
    assert str(ev["STATUS"]) == "CANCELLED"
    assert int(ev["SEQUENCE"]) == seq0 + 2
    ev = (await _ics(client, "/api/v1/calendar.ics")).walk("VEVENT")[0]
    assert str(ev["STATUS"]) == "CANCELLED"

    # Private feed by token; another municipality's token does not see it; revocation = 404.
    r = await client.post(
        "/api/v1/calendar/feed-tokens", json={"label": "Outlook"}, headers=h["alm"]
    )
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    token_id = r.json()["id"]
    path = url[url.index("/api/v1/") :]
    uids = {str(e["UID"]) for e in (await _ics(client, path)).walk("VEVENT")}
    assert f"{private['id']}@oaaa.dip-badajoz.es" in uids
    r = await client.post("/api/v1/calendar/feed-tokens", headers=h["mer"])
    mer_url = r.json()["url"]
    uids = {
        str(e["UID"])
        for e in (await _ics(client, mer_url[mer_url.index("/api/v1/") :])).walk("VEVENT")
    }
    assert f"{private['id']}@oaaa.dip-badajoz.es" not in uids
    assert_problem(
        await client.delete(f"/api/v1/calendar/feed-tokens/{token_id}", headers=h["mer"]), 404
    )
    r = await client.delete(f"/api/v1/calendar/feed-tokens/{token_id}", headers=h["alm"])
    assert r.status_code == 204
    assert_problem(await client.get(path), 404)
    assert_problem(await client.get("/api/v1/calendar/not-a-token.ics"), 404)
    # The single-entry file is scoped too.
    assert_problem(await client.get(f"{URL}/{private['id']}.ics", headers=h["mer"]), 404)


@pytest.mark.committed
async def test_registration_capacity_under_concurrent_signups(client, session):
    places, h = await _setup(client, session)
    entry = await _create(client, h["fomento"], registration_required=True, capacity=3)
    municipal = []
    for _ in range(10):
        u = await f.user(session, Role.municipal_user, municipality_id=places["alm"].id)
        municipal.append(await f.auth_headers(client, u))

    async def sign_up(i, headers):
        return await client.post(
            f"{URL}/{entry['id']}/registrations",
            json={"attendee_name": f"Persona {i}", "attendee_role": "Concejal"},
            headers=headers,
        )

    results = await asyncio.gather(*(sign_up(i, hd) for i, hd in enumerate(municipal)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [409] * 7, [r.text for r in results]
    full = next(r for r in results if r.status_code == 409)
    assert "completa" in assert_problem(full, 409)["detail"]
    detail = (await client.get(f"{URL}/{entry['id']}", headers=h["alm"])).json()
    assert (detail["registered"], detail["remaining"]) == (3, 0)

    # The municipality sees its own; another sees none; the área all.
    regs = (await client.get(f"{URL}/{entry['id']}/registrations", headers=h["alm"])).json()
    assert len(regs) == 3
    assert (await client.get(f"{URL}/{entry['id']}/registrations", headers=h["mer"])).json() == []
    assert (
        len((await client.get(f"{URL}/{entry['id']}/registrations", headers=h["fomento"])).json())
        == 3
    )
    assert_problem(
        await client.post(
            f"{URL}/{entry['id']}/registrations/{regs[0]['id']}/cancel", headers=h["mer"]
        ),
        404,
    )
    r = await client.post(
        f"{URL}/{entry['id']}/registrations/{regs[0]['id']}/cancel", headers=h["alm"]
    )
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    detail = (await client.get(f"{URL}/{entry['id']}", headers=h["office"])).json()
    assert detail["remaining"] == 1
    assert (await sign_up(99, h["mer"])).status_code == 201

    # Past the registration deadline.
    closed = await _create(
        client,
        h["office"],
        registration_required=True,
        registration_deadline=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    )
    r = await client.post(
        f"{URL}/{closed['id']}/registrations", json={"attendee_name": "Ana"}, headers=h["alm"]
    )
    assert "plazo" in assert_problem(r, 409)["detail"]


async def test_the_sessions_an_entity_is_registered_for_in_one_request(client, session):
    places, h = await _setup(client, session)
    single = await _create(client, h["fomento"], title="Jornada única", registration_required=True)
    # Sessions of a recurrence start on whole seconds.
    weekly_start = FUTURE.replace(microsecond=0)
    weekly = await _create(
        client,
        h["office"],
        title="Taller semanal",
        start=weekly_start,
        rrule="FREQ=WEEKLY;COUNT=4",
        registration_required=True,
    )
    other = await _create(client, h["cultura"], title="Otra jornada", registration_required=True)
    second_week = weekly_start + timedelta(days=7)

    async def sign_up(entry, headers, occurrence_start=None):
        body: dict[str, Any] = {"attendee_name": "Ana Pérez"}
        if occurrence_start is not None:
            body["occurrence_start"] = occurrence_start.isoformat()
        r = await client.post(f"{URL}/{entry['id']}/registrations", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    await sign_up(single, h["alm"])
    await sign_up(weekly, h["alm"], second_week)
    dropped = await sign_up(weekly, h["alm"], weekly_start + timedelta(days=14))
    cancel = f"{URL}/{weekly['id']}/registrations/{dropped['id']}/cancel"
    assert (await client.post(cancel, headers=h["alm"])).status_code == 200
    await sign_up(other, h["mer"])

    window = _range(FUTURE - timedelta(days=1))

    async def registered(headers):
        r = await client.get(URL, params=window | {"registered": "true"}, headers=headers)
        assert r.status_code == 200, r.text
        return [(i["title"], i["occurrence_start"]) for i in r.json()["items"]]

    # Only the sessions with an active registration of the caller's own entity: one of the
    # four weekly sessions, not the cancelled one, nothing of another entity's.
    mine = await registered(h["alm"])
    assert [title for title, _ in mine] == ["Jornada única", "Taller semanal"]
    assert datetime.fromisoformat(mine[1][1]) == second_week
    assert [title for title, _ in await registered(h["mer"])] == ["Otra jornada"]
    everything = await client.get(URL, params=window, headers=h["alm"])
    assert len(everything.json()["items"]) == 6

    # A session under way when the range begins is still one of them.
    during = _range(FUTURE + timedelta(hours=1)) | {"registered": "true"}
    r = await client.get(URL, params=during, headers=h["alm"])
    assert [i["title"] for i in r.json()["items"]] == ["Jornada única", "Taller semanal"]

    # Outside the range, nothing; an entity with no registrations, nothing.
    later = _range(FUTURE + timedelta(days=60)) | {"registered": "true"}
    assert (await client.get(URL, params=later, headers=h["alm"])).json()["items"] == []
    third = await f.municipality(session, "06015")
    nobody = await f.user(session, Role.municipal_user, municipality_id=third.id)
    assert await registered(await f.auth_headers(client, nobody)) == []

    # The office, an área and anonymous callers have no registrations of their own.
    anonymous: dict[str, str] = {}
    for headers in (h["office"], h["fomento"], anonymous):
        r = await client.get(URL, params=window | {"registered": "true"}, headers=headers)
        assert "inscripciones" in assert_problem(r, 403)["detail"]


async def test_grant_call_closing_from_working_days_and_reminders_once(client, session):
    places, h = await _setup(client, session)
    # 2026-12-01 + 10 working days: weekends and Dec 7 and 8 (holidays in Extremadura) skipped.
    r = await client.post(
        URL,
        json={
            "kind": "grant_call",
            "title": "Plan de obras municipales",
            "starts_at": datetime(2026, 12, 1, tzinfo=MADRID).isoformat(),
            "all_day": True,
            "application_opens_on": "2026-12-01",
            "closing_term_working_days": 10,
            "reminder_working_days": [5, 1],
            "bulletin_url": "https://bop.dip-badajoz.es/2026/1",
            "budget": "150000.00",
        },
        headers=h["fomento"],
    )
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["application_closes_on"] == "2026-12-17"
    await client.post(f"{URL}/{call['id']}/publish", headers=h["fomento"])
    cal = await _ics(client, f"{URL}/{call['id']}.ics", headers=h["alm"])
    closing = next(e for e in cal.walk("VEVENT") if "cierre" in str(e["UID"]))
    assert closing.decoded("DTSTART") == date(2026, 12, 17)
    assert len(closing.walk("VALARM")) == 2

    # 5 working days before Dec 17 is Dec 10; 1 working day before is Dec 16.
    before = datetime(2026, 12, 9, 12, tzinfo=MADRID)
    scan = await reminders.grant_call_reminders(session, before)
    assert scan.processed == 0
    day = datetime(2026, 12, 10, 12, tzinfo=MADRID)
    scan = await reminders.grant_call_reminders(session, day)
    await session.commit()
    # One for the office and the área, one for each addressed municipality with people.
    assert scan.processed == 3
    assert (await reminders.grant_call_reminders(session, day)).processed == 0
    await session.commit()
    scan = await reminders.grant_call_reminders(session, datetime(2026, 12, 16, 9, tzinfo=MADRID))
    await session.commit()
    assert scan.processed == 3
    assert (
        await reminders.grant_call_reminders(session, datetime(2026, 12, 17, 9, tzinfo=MADRID))
    ).processed == 0
    assert (
        await reminders.grant_call_reminders(session, datetime(2026, 12, 18, 9, tzinfo=MADRID))
    ).processed == 0
    keys = (
        (
            await session.execute(
                select(NotificationEvent.dedupe_key).where(
                    col(NotificationEvent.kind) == "grant_call.closing"
                )
            )
        )
        .scalars()
        .all()
    )
    expected = []
    for n in (5, 1):
        base = f"grant_call:{call['id']}:closing:{n}:2026-12-17"
        expected += [base, f"{base}:{places['alm'].id}", f"{base}:{places['mer'].id}"]
    assert sorted(keys) == sorted(expected)
    mayor_feed = await client.get(
        "/api/v1/notifications", params={"kind": "grant_call.closing"}, headers=h["mer"]
    )
    assert len(mayor_feed.json()["items"]) == 2

    # Changing the term recomputes the closing date and bumps SEQUENCE.
    r = await client.patch(
        f"{URL}/{call['id']}", json={"closing_term_working_days": 5}, headers=h["fomento"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["application_closes_on"] == "2026-12-10"
    assert r.json()["sequence"] == call["sequence"] + 2
    stored = await session.get(CalendarEntry, call["id"])
    assert stored is not None


async def test_public_calendar_lists_only_public_published_entries(client, session):
    places, h = await _setup(client, session)
    public = await _create(client, h["fomento"], is_public=True, title="Jornada abierta")
    await _create(client, h["fomento"], title="Reunión interna de alcaldes")
    await _create(client, h["fomento"], publish=False, is_public=True, title="Borrador")
    r = await client.get("/api/v1/public/events", params=_range(FUTURE - timedelta(days=1)))
    assert r.status_code == 200, r.text
    assert [o["entry_id"] for o in r.json()["items"]] == [public["id"]]
    # A token changes nothing: the public calendar is the same for everyone.
    r2 = await client.get(
        "/api/v1/public/events", params=_range(FUTURE - timedelta(days=1)), headers=h["office"]
    )
    assert [o["entry_id"] for o in r2.json()["items"]] == [public["id"]]


async def test_grant_call_terms_in_natural_days_and_months(client, session):
    _, h = await _setup(client, session)

    async def call(term: int, unit: str, opens: str = "2026-12-01") -> Any:
        return await client.post(
            URL,
            json={
                "kind": "grant_call",
                "title": "Ayudas en días naturales o meses",
                "starts_at": datetime(2026, 12, 1, tzinfo=MADRID).isoformat(),
                "all_day": True,
                "application_opens_on": opens,
                "closing_term_working_days": term,
                "closing_term_unit": unit,
            },
            headers=h["fomento"],
        )

    # 1 Dec + 7 natural days = Tuesday 8 December (Inmaculada): Wednesday 9.
    r = await call(7, "natural_days")
    assert r.status_code == 201, r.text
    assert r.json()["application_closes_on"] == "2026-12-09"
    assert r.json()["closing_term_unit"] == "natural_days"
    # 31 August + 1 month = 30 September (no 31st), a Wednesday.
    r = await call(1, "months", "2026-08-31")
    assert r.json()["application_closes_on"] == "2026-09-30"
    # Switching the unit recounts the window: 1 Dec + 1 working day = 2 December.
    r = await client.patch(
        f"{URL}/{r.json()['id']}",
        json={"closing_term_unit": "working_days", "application_opens_on": "2026-12-01"},
        headers=h["fomento"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["application_closes_on"] == "2026-12-02"
    problem = assert_problem(await call(37, "months"), 422)
    assert problem["errors"][0]["loc"][-1] == "closing_term_working_days"


async def test_an_unknown_area_or_comarca_in_a_change_is_a_422_and_changes_nothing(client, session):
    _, h = await _setup(client, session)
    entry = await _create(client, h["office"])
    url = f"{URL}/{entry['id']}"
    for field in ("area_id", "comarca_id"):
        r = await client.patch(
            url, json={field: str(uuid.uuid4()), "title": "Otro"}, headers=h["office"]
        )
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["loc"][-1] == field
    after = await client.get(url, headers=h["office"])
    assert after.json()["title"] == entry["title"]
    assert after.json()["sequence"] == entry["sequence"]
