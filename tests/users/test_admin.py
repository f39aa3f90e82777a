"""Administration: users, integration clients, áreas, catalogue, comarcas, ELMs, audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem


async def _audit(session, action: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        text("SELECT actor_id, entity_id, changes FROM audit_log WHERE action = :a ORDER BY id"),
        {"a": action},
    )
    return [dict(r._mapping) for r in rows]


async def test_admin_creates_a_municipal_user_who_can_log_in(client, session):
    admin = await f.user(session, Role.admin)
    headers = await f.auth_headers(client, admin)
    zafra = await f.municipality(session, "06158")
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "Alcaldia@Zafra.example.org",
            "full_name": "Alcaldía de Zafra",
            "role": "municipal_user",
            "municipality_id": str(zafra.id),
            "password": "Una-clave-segura-1",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "alcaldia@zafra.example.org"
    assert "password" not in body
    assert "password_hash" not in body
    await f.login(client, "alcaldia@zafra.example.org", "Una-clave-segura-1")
    [entry] = await _audit(session, "user.create")
    assert entry["actor_id"] == admin.id
    assert entry["entity_id"] == body["id"]
    assert "password" not in str(entry["changes"])
    assert "argon2" not in str(entry["changes"])


async def test_duplicate_email_is_409_and_changes_nothing(client, session):
    headers = await f.admin_headers(client, session)
    payload = {
        "email": "dup@example.org",
        "full_name": "Primera",
        "role": "oaaa_staff",
        "password": "Una-clave-segura-1",
    }
    assert (await client.post("/api/v1/users", json=payload, headers=headers)).status_code == 201
    again = await client.post(
        "/api/v1/users", json=payload | {"full_name": "Segunda"}, headers=headers
    )
    body = assert_problem(again, 409, "conflict")
    assert "correo" in body["detail"]
    names = (
        (
            await session.execute(
                text("SELECT full_name FROM user_account WHERE email = 'dup@example.org'")
            )
        )
        .scalars()
        .all()
    )
    assert names == ["Primera"]
    assert len(await _audit(session, "user.create")) == 1


async def test_role_and_scope_must_agree(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "x@example.org",
            "full_name": "Sin municipio",
            "role": "municipal_user",
            "password": "Una-clave-segura-1",
        },
        headers=headers,
    )
    body = assert_problem(r, 422)
    assert "municipality_id" in body["errors"][0]["message"]


async def test_unknown_municipality_reference_is_422(client, session):
    import uuid

    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "x@example.org",
            "full_name": "Municipio inexistente",
            "role": "municipal_user",
            "municipality_id": str(uuid.uuid4()),
            "password": "Una-clave-segura-1",
        },
        headers=headers,
    )
    assert_problem(r, 422)


async def test_short_password_is_rejected(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "x@example.org",
            "full_name": "X Y",
            "role": "oaaa_staff",
            "password": "123",
        },
        headers=headers,
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == "/password"


async def test_disabling_a_user_records_the_change(client, session):
    admin = await f.user(session, Role.admin)
    headers = await f.auth_headers(client, admin)
    target = await f.user(session, Role.oaaa_staff)
    r = await client.patch(f"/api/v1/users/{target.id}", json={"is_active": False}, headers=headers)
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    [entry] = await _audit(session, "user.update")
    assert entry["changes"] == {"is_active": {"from": True, "to": False}}


async def test_changing_role_to_one_that_needs_an_area_without_it_is_422(client, session):
    headers = await f.admin_headers(client, session)
    target = await f.user(session, Role.oaaa_staff)
    r = await client.patch(
        f"/api/v1/users/{target.id}", json={"role": "area_staff"}, headers=headers
    )
    assert_problem(r, 422)
    await session.refresh(target)
    assert target.role == "oaaa_staff"


async def test_password_change_is_audited_without_the_secret(client, session):
    headers = await f.admin_headers(client, session)
    target = await f.user(session, Role.oaaa_staff)
    r = await client.patch(
        f"/api/v1/users/{target.id}", json={"password": "Nueva-clave-segura-2"}, headers=headers
    )
    assert r.status_code == 200
    await f.login(client, target.email, "Nueva-clave-segura-2")
    [entry] = await _audit(session, "user.update")
    assert entry["changes"] == {"password_hash": {"changed": True}}


async def test_integration_client_secret_is_shown_once_and_works(client, session):
    headers = await f.admin_headers(client, session)
    fomento = await f.area(session, "fomento")
    r = await client.post(
        "/api/v1/integration-clients",
        json={
            "name": "Gestor de Fomento",
            "area_id": str(fomento.id),
            "scopes": ["expedientes:write"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert token.status_code == 200
    listed = (await client.get("/api/v1/integration-clients", headers=headers)).json()
    assert "client_secret" not in listed["items"][0]
    rotated = await client.post(
        f"/api/v1/integration-clients/{created['id']}/rotate-secret", headers=headers
    )
    assert rotated.json()["client_secret"] != created["client_secret"]
    old = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert_problem(old, 401)


async def test_unknown_integration_scope_is_422(client, session):
    headers = await f.admin_headers(client, session)
    fomento = await f.area(session, "fomento")
    r = await client.post(
        "/api/v1/integration-clients",
        json={"name": "Gestor", "area_id": str(fomento.id), "scopes": ["everything"]},
        headers=headers,
    )
    assert_problem(r, 422)


async def test_area_and_catalogue_lifecycle(client, session):
    headers = await f.admin_headers(client, session)
    area = await client.post(
        "/api/v1/areas",
        json={"code": "fomento", "name": "Área de Fomento", "email": "fomento@example.org"},
        headers=headers,
    )
    assert area.status_code == 201
    area_id = area.json()["id"]
    dup = await client.post(
        "/api/v1/areas", json={"code": "fomento", "name": "Otra"}, headers=headers
    )
    assert_problem(dup, 409)
    service = await client.post(
        "/api/v1/services",
        json={
            "area_id": area_id,
            "code": "caminos",
            "name": "Arreglo de caminos rurales",
            "channels": ["web", "phone"],
        },
        headers=headers,
    )
    assert service.status_code == 201, service.text
    assert service.json()["channels"] == ["web", "phone"]
    listed = await client.get("/api/v1/services", params={"area_id": area_id, "q": "CAMINOS"})
    assert [s["code"] for s in listed.json()["items"]] == ["caminos"]
    off = await client.patch(
        f"/api/v1/services/{service.json()['id']}", json={"is_active": False}, headers=headers
    )
    assert off.json()["is_active"] is False
    assert (await client.get("/api/v1/services")).json()["items"] == []
    bad_channel = await client.post(
        "/api/v1/services",
        json={"area_id": area_id, "code": "otro", "name": "Otro", "channels": ["fax"]},
        headers=headers,
    )
    assert_problem(bad_channel, 422)


async def test_comarca_grouping_and_elm_with_parent(client, session):
    headers = await f.admin_headers(client, session)
    comarca = await client.post(
        "/api/v1/comarcas", json={"name": "Tierra de Barros"}, headers=headers
    )
    assert comarca.status_code == 201
    almendralejo = await f.municipality(session, "06011")
    moved = await client.patch(
        f"/api/v1/municipalities/{almendralejo.id}",
        json={"comarca_id": comarca.json()["id"]},
        headers=headers,
    )
    assert moved.json()["comarca_id"] == comarca.json()["id"]
    in_comarca = await client.get(
        "/api/v1/municipalities", params={"comarca_id": comarca.json()["id"]}
    )
    assert [m["ine_code"] for m in in_comarca.json()["items"]] == ["06011"]
    badajoz = await f.municipality(session, "06015")
    elm = await client.post(
        "/api/v1/municipalities",
        json={"name": "Gévora", "kind": "elm", "parent_id": str(badajoz.id)},
        headers=headers,
    )
    assert elm.status_code == 201, elm.text
    children = await client.get("/api/v1/municipalities", params={"parent_id": str(badajoz.id)})
    assert [m["name"] for m in children.json()["items"]] == ["Gévora"]
    orphan = await client.post(
        "/api/v1/municipalities", json={"name": "Huérfana", "kind": "elm"}, headers=headers
    )
    assert_problem(orphan, 422)


async def test_a_municipality_needs_a_badajoz_ine_code(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/municipalities",
        json={"name": "Cáceres", "kind": "municipality", "ine_code": "10037"},
        headers=headers,
    )
    assert_problem(r, 422)
    dup = await client.post(
        "/api/v1/municipalities",
        json={"name": "Otra Mérida", "kind": "municipality", "ine_code": "06083"},
        headers=headers,
    )
    assert_problem(dup, 409)


async def test_audit_log_lists_newest_first_with_filters(client, session):
    admin = await f.user(session, Role.admin)
    headers = await f.auth_headers(client, admin)
    for code in ("uno", "dos", "tres"):
        await client.post(
            "/api/v1/areas", json={"code": code, "name": f"Área {code}"}, headers=headers
        )
    r = await client.get(
        "/api/v1/audit-log", params={"entity_type": "area", "limit": 2}, headers=headers
    )
    page1 = r.json()
    assert [e["action"] for e in page1["items"]] == ["area.create", "area.create"]
    assert page1["items"][0]["changes"]["code"] == "tres"
    page2 = (
        await client.get(
            "/api/v1/audit-log",
            params={"entity_type": "area", "limit": 2, "cursor": page1["next_cursor"]},
            headers=headers,
        )
    ).json()
    assert [e["changes"]["code"] for e in page2["items"]] == ["uno"]
    assert page2["next_cursor"] is None
    by_actor = await client.get(
        "/api/v1/audit-log",
        params={"actor_id": str(admin.id), "action": "auth.login"},
        headers=headers,
    )
    assert len(by_actor.json()["items"]) == 1


async def test_oaaa_staff_cannot_read_the_audit_log(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    assert_problem(
        await client.get("/api/v1/audit-log", headers=await f.auth_headers(client, staff)), 403
    )
