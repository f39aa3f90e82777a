"""Suggestions and requests for new services: filed by municipalities, answered by the office."""

from __future__ import annotations

from sqlalchemy import text

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem

IDEA = {
    "kind": "new_service",
    "title": "Asesoría en eficiencia energética",
    "body": "Nos iría bien.",
}


async def _municipal(client, session, ine="06011"):
    mun = await f.municipality(session, ine)
    u = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    return mun, await f.auth_headers(client, u)


async def _office(client, session):
    return await f.auth_headers(client, await f.user(session, Role.oaaa_staff))


async def test_municipality_files_a_suggestion_for_itself(client, session):
    mun, headers = await _municipal(client, session)
    r = await client.post("/api/v1/suggestions", json=IDEA, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["municipality_id"] == str(mun.id)
    assert body["status"] == "received"
    assert body["kind"] == "new_service"
    assert body["public_answer"] is None
    r = await client.post(
        "/api/v1/suggestions", json=IDEA | {"municipality_id": str(mun.id)}, headers=headers
    )
    assert r.status_code == 201
    actions = await session.execute(
        text("SELECT action FROM audit_log WHERE entity_type = 'suggestion'")
    )
    assert list(actions.scalars()) == ["suggestion.create"] * 2


async def test_municipality_cannot_file_for_another(client, session):
    merida = await f.municipality(session, "06083")
    _, headers = await _municipal(client, session, "06011")
    r = await client.post(
        "/api/v1/suggestions", json=IDEA | {"municipality_id": str(merida.id)}, headers=headers
    )
    assert_problem(r, 422)
    count = await session.execute(text("SELECT count(*) FROM suggestion"))
    assert count.scalar_one() == 0


async def test_office_must_name_the_municipality(client, session):
    headers = await _office(client, session)
    assert_problem(await client.post("/api/v1/suggestions", json=IDEA, headers=headers), 422)
    mun = await f.municipality(session, "06158")
    r = await client.post(
        "/api/v1/suggestions", json=IDEA | {"municipality_id": str(mun.id)}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["municipality_id"] == str(mun.id)


async def test_area_staff_and_anonymous_cannot_file(client, session):
    area = await f.area(session, "fomento")
    staff = await f.auth_headers(client, await f.user(session, Role.area_staff, area_id=area.id))
    assert_problem(await client.post("/api/v1/suggestions", json=IDEA, headers=staff), 403)
    assert_problem(await client.post("/api/v1/suggestions", json=IDEA), 401)


async def test_bodies_are_strict(client, session):
    _, headers = await _municipal(client, session)
    r = await client.post(
        "/api/v1/suggestions", json=IDEA | {"status": "accepted"}, headers=headers
    )
    assert assert_problem(r, 422)["errors"][0]["pointer"] == "/status"
    r = await client.post("/api/v1/suggestions", json=IDEA | {"kind": "complaint"}, headers=headers)
    assert_problem(r, 422)


async def test_each_municipality_sees_only_its_own(client, session):
    almendralejo, a_headers = await _municipal(client, session, "06011")
    merida, m_headers = await _municipal(client, session, "06083")
    mine = await client.post("/api/v1/suggestions", json=IDEA, headers=a_headers)
    theirs = await client.post(
        "/api/v1/suggestions", json=IDEA | {"kind": "suggestion"}, headers=m_headers
    )
    listed = (await client.get("/api/v1/suggestions", headers=a_headers)).json()["items"]
    assert [s["id"] for s in listed] == [mine.json()["id"]]
    # Filtering by another municipality does not widen the scope.
    r = await client.get(
        "/api/v1/suggestions", params={"municipality_id": str(merida.id)}, headers=a_headers
    )
    assert r.json()["items"] == []
    assert_problem(
        await client.get(f"/api/v1/suggestions/{theirs.json()['id']}", headers=a_headers), 404
    )
    got = await client.get(f"/api/v1/suggestions/{mine.json()['id']}", headers=a_headers)
    assert got.status_code == 200
    office = await _office(client, session)
    everything = (await client.get("/api/v1/suggestions", headers=office)).json()["items"]
    assert [s["id"] for s in everything] == [theirs.json()["id"], mine.json()["id"]]
    only_ideas = await client.get(
        "/api/v1/suggestions", params={"kind": "suggestion"}, headers=office
    )
    assert [s["id"] for s in only_ideas.json()["items"]] == [theirs.json()["id"]]


async def test_office_answers_and_the_municipality_reads_the_answer(client, session):
    _, headers = await _municipal(client, session)
    created = (await client.post("/api/v1/suggestions", json=IDEA, headers=headers)).json()
    office = await _office(client, session)
    url = f"/api/v1/suggestions/{created['id']}"
    r = await client.patch(url, json={"status": "under_review"}, headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["answered_at"] is None
    r = await client.patch(
        url,
        json={"status": "accepted", "public_answer": "Se incluirá en el catálogo de 2027."},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert r.json()["answered_at"] is not None
    seen = (await client.get(url, headers=headers)).json()
    assert seen["status"] == "accepted"
    assert seen["public_answer"] == "Se incluirá en el catálogo de 2027."
    filtered = await client.get(
        "/api/v1/suggestions", params={"status": "accepted"}, headers=headers
    )
    assert len(filtered.json()["items"]) == 1
    assert_problem(await client.patch(url, json={"status": None}, headers=office), 422)
    assert_problem(await client.patch(url, json={"status": "forgotten"}, headers=office), 422)
    actions = await session.execute(
        text("SELECT action FROM audit_log WHERE entity_type = 'suggestion' ORDER BY id")
    )
    assert list(actions.scalars()) == [
        "suggestion.create",
        "suggestion.update",
        "suggestion.update",
    ]


async def test_only_the_office_updates(client, session):
    _, headers = await _municipal(client, session)
    created = (await client.post("/api/v1/suggestions", json=IDEA, headers=headers)).json()
    r = await client.patch(
        f"/api/v1/suggestions/{created['id']}", json={"status": "accepted"}, headers=headers
    )
    assert_problem(r, 403)
