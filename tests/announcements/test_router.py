"""Announcements: audience scoping, publication notifications, read acknowledgement."""

from __future__ import annotations

from sqlalchemy import text

from app.models.base import Role
from app.models.municipality import Comarca
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/announcements"


async def _setup(client, session):
    fomento = await f.area(session, "fomento")
    comarca = Comarca(name="Tierra de Barros")
    session.add(comarca)
    await session.commit()
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    bad = await f.municipality(session, "06015")
    alm.comarca_id = comarca.id
    session.add(alm)
    await session.commit()
    people = {
        "office": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "alm": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "mer": await f.user(session, Role.municipal_user, municipality_id=mer.id),
        "bad": await f.user(session, Role.municipal_user, municipality_id=bad.id),
    }
    headers = {k: await f.auth_headers(client, u) for k, u in people.items()}
    places = {"fomento": fomento, "comarca": comarca, "alm": alm, "mer": mer, "bad": bad}
    return places, people, headers


async def _draft(client, headers, **extra):
    body = {"title": "Corte de carretera", "body": "La EX-105 estará cortada."} | extra
    r = await client.post(URL, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_audience_scoping_and_publication(client, session):
    places, people, h = await _setup(client, session)
    a = await _draft(
        client,
        h["fomento"],
        audience="municipalities",
        municipality_ids=[str(places["alm"].id), str(places["mer"].id)],
    )
    assert a["status"] == "draft"
    assert a["area_id"] == str(places["fomento"].id)
    # A draft is invisible to municipalities.
    assert_problem(await client.get(f"{URL}/{a['id']}", headers=h["alm"]), 404)

    r = await client.post(f"{URL}/{a['id']}/publish", headers=h["fomento"])
    assert r.status_code == 200, r.text
    assert r.json()["published_at"]
    assert_problem(await client.post(f"{URL}/{a['id']}/publish", headers=h["fomento"]), 409)

    assert (await client.get(f"{URL}/{a['id']}", headers=h["alm"])).status_code == 200
    assert (await client.get(f"{URL}/{a['id']}", headers=h["mer"])).status_code == 200
    assert_problem(await client.get(f"{URL}/{a['id']}", headers=h["bad"]), 404)
    listed = (await client.get(URL, headers=h["bad"])).json()["items"]
    assert listed == []
    assert [x["id"] for x in (await client.get(URL, headers=h["alm"])).json()["items"]] == [a["id"]]
    # Audience of a published announcement is frozen.
    r = await client.patch(f"{URL}/{a['id']}", json={"audience": "all"}, headers=h["office"])
    assert_problem(r, 409)
    # Not public: the anonymous list does not show it.
    assert (await client.get("/api/v1/public/announcements")).json()["items"] == []


async def test_notifications_reach_only_addressed_municipalities(client, session):
    places, people, h = await _setup(client, session)
    a = await _draft(client, h["office"], audience="comarca", comarca_id=str(places["comarca"].id))
    r = await client.post(f"{URL}/{a['id']}/publish", headers=h["office"])
    assert r.status_code == 200, r.text
    rows = (
        await session.execute(
            text(
                "SELECT n.user_id FROM notification n JOIN notification_event e"
                " ON e.id = n.event_id WHERE e.kind = 'announcement.published'"
            )
        )
    ).all()
    assert {row[0] for row in rows} == {people["alm"].id}
    # The comarca's municipality sees it; the others do not.
    assert (await client.get(f"{URL}/{a['id']}", headers=h["alm"])).status_code == 200
    assert_problem(await client.get(f"{URL}/{a['id']}", headers=h["mer"]), 404)
    feed = (await client.get("/api/v1/notifications", headers=h["alm"])).json()["items"]
    assert len(feed) == 1


async def test_read_acknowledgement_and_unread_counts(client, session):
    places, people, h = await _setup(client, session)
    first = await _draft(client, h["office"], is_public=True)
    second = await _draft(client, h["office"], title="Segundo comunicado")
    for a in (first, second):
        assert (
            await client.post(f"{URL}/{a['id']}/publish", headers=h["office"])
        ).status_code == 200

    count = await client.get(f"{URL}/unread-count", headers=h["alm"])
    assert count.json() == {"unread": 2}
    r1 = await client.post(f"{URL}/{first['id']}/read", headers=h["alm"])
    assert r1.status_code == 200, r1.text
    r2 = await client.post(f"{URL}/{first['id']}/read", headers=h["alm"])
    assert r2.json()["read_at"] == r1.json()["read_at"]
    assert (await client.get(f"{URL}/unread-count", headers=h["alm"])).json() == {"unread": 1}
    assert (await client.get(f"{URL}/unread-count", headers=h["mer"])).json() == {"unread": 2}
    unread = (await client.get(URL, params={"unread_only": True}, headers=h["alm"])).json()
    assert [x["id"] for x in unread["items"]] == [second["id"]]
    got = (await client.get(f"{URL}/{first['id']}", headers=h["alm"])).json()
    assert got["read_at"] == r1.json()["read_at"]

    report = (await client.get(f"{URL}/{first['id']}/reads", headers=h["office"])).json()
    read = {row["municipality_id"]: row["read_at"] for row in report["items"]}
    assert report["read"] == 1
    assert report["addressed"] == len(read) > 100
    assert read[str(places["alm"].id)] is not None
    assert read[str(places["mer"].id)] is None
    assert_problem(await client.get(f"{URL}/{first['id']}/reads", headers=h["alm"]), 403)
    assert_problem(await client.post(f"{URL}/{first['id']}/read", headers=h["office"]), 403)
    assert_problem(await client.get(f"{URL}/unread-count", headers=h["office"]), 403)

    public = (await client.get("/api/v1/public/announcements")).json()["items"]
    assert [x["id"] for x in public] == [first["id"]]
    assert "municipality_ids" not in public[0]
    audit = (
        await session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'announcement.read'")
        )
    ).scalar_one()
    assert audit == 1


async def test_area_staff_writes_only_for_their_area_and_input_is_validated(client, session):
    places, people, h = await _setup(client, session)
    other = await f.area(session, "cultura")
    r = await client.post(
        URL, json={"title": "Otro", "body": "x", "area_id": str(other.id)}, headers=h["fomento"]
    )
    assert_problem(r, 403)
    assert_problem(
        await client.post(URL, json={"title": "Hola", "body": "x"}, headers=h["alm"]), 403
    )
    r = await client.post(
        URL, json={"title": "Hola", "body": "x", "audience": "comarca"}, headers=h["office"]
    )
    assert_problem(r, 422)
    r = await client.post(
        URL,
        json={
            "title": "Hola",
            "body": "x",
            "audience": "municipalities",
            "municipality_ids": ["00000000-0000-0000-0000-000000000000"],
        },
        headers=h["office"],
    )
    assert_problem(r, 422)
    a = await _draft(client, h["office"])
    # An office draft is not the área's: invisible to it.
    assert_problem(await client.post(f"{URL}/{a['id']}/publish", headers=h["fomento"]), 404)
    await client.post(f"{URL}/{a['id']}/publish", headers=h["office"])
    # Published: the área sees it but may not manage it.
    r = await client.patch(f"{URL}/{a['id']}", json={"title": "Cambio"}, headers=h["fomento"])
    assert_problem(r, 403)
