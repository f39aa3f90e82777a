"""Scope isolation: a municipality never sees another's people; an área only its own."""

from __future__ import annotations

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem


async def _two_municipalities(session):
    almendralejo = await f.municipality(session, "06011")
    merida = await f.municipality(session, "06083")
    a1 = await f.user(session, Role.municipal_user, municipality_id=almendralejo.id)
    a2 = await f.user(session, Role.municipal_user, municipality_id=almendralejo.id)
    m1 = await f.user(session, Role.municipal_user, municipality_id=merida.id)
    return a1, a2, m1


async def test_municipal_user_lists_only_own_municipality_people(client, session):
    a1, a2, m1 = await _two_municipalities(session)
    await f.user(session, Role.oaaa_staff)
    r = await client.get("/api/v1/users", headers=await f.auth_headers(client, a1))
    assert r.status_code == 200
    assert {u["id"] for u in r.json()["items"]} == {str(a1.id), str(a2.id)}


async def test_municipal_user_gets_404_for_another_municipality_user(client, session):
    a1, _, m1 = await _two_municipalities(session)
    r = await client.get(f"/api/v1/users/{m1.id}", headers=await f.auth_headers(client, a1))
    body = assert_problem(r, 404, "not-found")
    assert "Mérida" not in r.text
    assert body["detail"] == f"El usuario {m1.id} no existe"


async def test_missing_and_foreign_objects_look_the_same(client, session):
    import uuid

    a1, _, m1 = await _two_municipalities(session)
    headers = await f.auth_headers(client, a1)
    foreign = await client.get(f"/api/v1/users/{m1.id}", headers=headers)
    missing_id = uuid.uuid4()
    missing = await client.get(f"/api/v1/users/{missing_id}", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"].replace(str(m1.id), "") == missing.json()["detail"].replace(
        str(missing_id), ""
    )


async def test_filtering_by_another_municipality_returns_nothing(client, session):
    a1, _, m1 = await _two_municipalities(session)
    r = await client.get(
        "/api/v1/users",
        params={"municipality_id": str(m1.municipality_id)},
        headers=await f.auth_headers(client, a1),
    )
    assert r.json()["items"] == []


async def test_area_staff_sees_only_own_area_staff(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    s1 = await f.user(session, Role.area_staff, area_id=fomento.id)
    s2 = await f.user(session, Role.area_staff, area_id=cultura.id)
    headers = await f.auth_headers(client, s1)
    r = await client.get("/api/v1/users", headers=headers)
    assert {u["id"] for u in r.json()["items"]} == {str(s1.id)}
    assert_problem(await client.get(f"/api/v1/users/{s2.id}", headers=headers), 404)


async def test_office_staff_sees_everyone(client, session):
    a1, a2, m1 = await _two_municipalities(session)
    staff = await f.user(session, Role.oaaa_staff)
    r = await client.get("/api/v1/users", headers=await f.auth_headers(client, staff))
    assert {u["id"] for u in r.json()["items"]} >= {str(a1.id), str(a2.id), str(m1.id)}


async def test_integration_sees_no_people(client, session):
    fomento = await f.area(session, "fomento")
    await f.user(session, Role.area_staff, area_id=fomento.id)
    c = await f.integration_client(session, fomento.id, secret="integration-secret-xyz-123")
    token = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": "integration-secret-xyz-123",
            },
        )
    ).json()["access_token"]
    r = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["items"] == []


async def test_municipal_user_cannot_modify_another_municipality_user(client, session):
    a1, _, m1 = await _two_municipalities(session)
    r = await client.patch(
        f"/api/v1/users/{m1.id}",
        json={"full_name": "Cambiado"},
        headers=await f.auth_headers(client, a1),
    )
    assert r.status_code in (403, 404)
    await session.refresh(m1)
    assert m1.full_name != "Cambiado"


async def test_anonymous_cannot_list_users(client):
    assert_problem(await client.get("/api/v1/users"), 401)
