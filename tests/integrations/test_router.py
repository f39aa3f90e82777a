"""The integration API through HTTP: upsert by external reference, stage events, batches,
Idempotency-Key, scope isolation and the audit trail of the áreas' systems."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.models.base import Role
from app.models.expediente import ProcedureType, StageDefinition
from tests import factories as f
from tests.factories import assert_problem

BASE = "/api/v1/integrations"
EXP = BASE + "/expedientes"
WRITE = ["expedientes:read", "expedientes:write"]
SECRET = "integration-secret-" + "q" * 20

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


async def _procedure(session, area_id, code="obras"):
    p = ProcedureType(area_id=area_id, code=code, name="Licencias de obra")
    session.add(p)
    await session.flush()
    for position, (stage, name, days) in enumerate(
        [("INI", "Inicio", 5), ("TRA", "Tramitación", 10), ("RES", "Resolución", None)], start=1
    ):
        session.add(
            StageDefinition(
                procedure_type_id=p.id,
                position=position,
                code=stage,
                name=name,
                expected_working_days=days,
            )
        )
    await session.commit()
    return p


async def _client(client, session, area, scopes=WRITE):
    c = await f.integration_client(session, area.id, secret=SECRET, scopes=scopes)
    r = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": SECRET,
        },
    )
    assert r.status_code == 200, r.text
    return c, {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _world(client, session):
    """Two áreas with the same procedure code, one integration client each."""
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    await _procedure(session, fomento.id)
    await _procedure(session, cultura.id)
    a, ha = await _client(client, session, fomento)
    b, hb = await _client(client, session, cultura)
    return {"fomento": fomento, "cultura": cultura, "a": a, "b": b, "ha": ha, "hb": hb}


def _body(**changes):
    return {
        "municipality_ine_code": "06011",
        "procedure_code": "obras",
        "title": "Licencia de obra menor en la calle Mayor",
        "opened_at": T0.isoformat(),
    } | changes


def _event(event_id, stage, hours, **extra):
    return {"event_id": event_id, "stage_code": stage, "occurred_at": _at(hours)} | extra


async def _scalar(session, sql, **params):
    return (await session.execute(text(sql), params)).scalar_one()


async def _audit_rows(session, expediente_id):
    rows = await session.execute(
        text(
            "SELECT action, actor_type, actor_id, changes FROM audit_log"
            " WHERE entity_type = 'expediente' AND entity_id = :id ORDER BY id"
        ),
        {"id": str(expediente_id)},
    )
    return rows.all()


async def _put(client, headers, ref, body=None, **extra_headers):
    return await client.put(f"{EXP}/{ref}", json=body or _body(), headers=headers | extra_headers)


# ---- upsert -----------------------------------------------------------------------------------


async def test_upsert_creates_updates_and_ignores_the_same_body(client, session):
    w = await _world(client, session)
    created = await _put(client, w["ha"], "OBR-2026-1")
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"{EXP}/OBR-2026-1"
    assert body["external_ref"] == "OBR-2026-1"
    assert body["area_id"] == str(w["fomento"].id)
    assert body["version"] == 1
    assert body["timeline"] == []

    again = await _put(client, w["ha"], "OBR-2026-1")
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'
    assert again.json() == body
    # The same body twice records nothing twice.
    audit = await _audit_rows(session, body["id"])
    assert [r.action for r in audit] == ["expediente.create"]
    assert audit[0].actor_type == "integration"
    assert audit[0].actor_id == w["a"].id
    # The row as created, but not what PostgreSQL derives from it (the search vector).
    assert audit[0].changes["title"] == body["title"]
    assert "search_vector" not in audit[0].changes

    changed = await _put(client, w["ha"], "OBR-2026-1", _body(title="Licencia de obra mayor"))
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert changed.headers["etag"] == '"2"'
    audit = await _audit_rows(session, body["id"])
    assert [r.action for r in audit] == ["expediente.create", "expediente.upsert"]
    assert {(r.actor_type, r.actor_id) for r in audit} == {("integration", w["a"].id)}
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 1


async def test_reference_may_contain_slashes_sent_plain_or_encoded(client, session):
    w = await _world(client, session)
    r = await _put(client, w["ha"], "2026/SUB/17")
    assert r.status_code == 201, r.text
    assert r.json()["external_ref"] == "2026/SUB/17"
    got = await client.get(f"{EXP}/2026%2FSUB%2F17", headers=w["ha"])
    assert got.status_code == 200
    assert got.json()["id"] == r.json()["id"]
    ev = await client.post(
        f"{EXP}/2026/SUB/17/events", json=_event("e1", "INI", 1), headers=w["ha"]
    )
    assert ev.status_code == 201, ev.text
    # The events collection is not another reference: only POST is offered there.
    for method in ("GET", "PUT", "OPTIONS"):
        other = await client.request(method, f"{EXP}/2026/SUB/17/events", headers=w["ha"])
        assert other.status_code == 405, other.text
        assert other.headers["allow"] == "POST"


async def test_invalid_reference_and_unknown_procedure_are_422(client, session):
    w = await _world(client, session)
    bad = assert_problem(await _put(client, w["ha"], "-leading-dash"), 422)
    assert bad["errors"][0]["loc"] == ["path", "external_ref"]
    unknown = assert_problem(
        await _put(client, w["ha"], "OBR-1", _body(procedure_code="nada")), 422
    )
    assert "nada" in unknown["detail"]
    naive = assert_problem(
        await _put(client, w["ha"], "OBR-1", _body(opened_at="2026-03-02T09:00:00")), 422
    )
    assert naive["errors"][0]["pointer"] == "/opened_at"
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 0


# ---- scope isolation --------------------------------------------------------------------------


async def test_another_areas_expediente_is_invisible_and_untouched(client, session):
    w = await _world(client, session)
    theirs = (await _put(client, w["hb"], "REF-1")).json()
    await client.post(f"{EXP}/REF-1/events", json=_event("b1", "INI", 1), headers=w["hb"])

    assert_problem(await client.get(f"{EXP}/REF-1", headers=w["ha"]), 404, "not-found")
    missing = await client.post(f"{EXP}/REF-1/events", json=_event("a1", "TRA", 2), headers=w["ha"])
    assert_problem(missing, 404)
    # External references are per área: the same reference in A is a different expediente.
    ours = await _put(client, w["ha"], "REF-1", _body(title="Otro expediente de Fomento"))
    assert ours.status_code == 201
    assert ours.json()["id"] != theirs["id"]
    assert ours.json()["area_id"] == str(w["fomento"].id)
    batch = await client.post(
        f"{BASE}/batch",
        json={"items": [{"op": "event", "external_ref": "NOPE", "event": _event("x", "INI", 1)}]},
        headers=w["ha"],
    )
    assert batch.json()["items"][0]["error"]["status"] == 404

    after = (await client.get(f"{EXP}/REF-1", headers=w["hb"])).json()
    assert after["title"] == theirs["title"]
    assert after["version"] == 2  # created, then its own event
    assert [e["external_event_id"] for e in after["timeline"]] == ["b1"]
    assert {r.actor_id for r in await _audit_rows(session, theirs["id"])} == {w["b"].id}


async def test_scopes_and_integration_identity_are_required(client, session):
    w = await _world(client, session)
    await _put(client, w["ha"], "REF-1")
    _, read_only = await _client(client, session, w["fomento"], scopes=["expedientes:read"])
    _, write_only = await _client(client, session, w["fomento"], scopes=["expedientes:write"])
    assert_problem(await _put(client, read_only, "REF-2"), 403, "forbidden")
    assert_problem(
        await client.post(f"{EXP}/REF-1/events", json=_event("e", "INI", 1), headers=read_only),
        403,
    )
    assert_problem(await client.post(f"{BASE}/batch", json={"items": [{}]}, headers=read_only), 403)
    assert (await client.get(f"{EXP}/REF-1", headers=read_only)).status_code == 200
    assert_problem(await client.get(f"{EXP}/REF-1", headers=write_only), 403)
    staff = await f.user(session, Role.area_staff, area_id=w["fomento"].id)
    admin = await f.user(session, Role.admin)
    for person in (staff, admin):
        headers = await f.auth_headers(client, person)
        assert_problem(await client.get(f"{EXP}/REF-1", headers=headers), 403)
        assert_problem(await _put(client, headers, "REF-1"), 403)
    assert_problem(await client.get(f"{EXP}/REF-1"), 401)
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 1


# ---- stage events -----------------------------------------------------------------------------


async def test_out_of_order_events_fall_into_time_order(client, session):
    w = await _world(client, session)
    await _put(client, w["ha"], "OBR-1")
    for event in (_event("e1", "INI", 1), _event("e3", "RES", 30), _event("e2", "TRA", 5)):
        r = await client.post(f"{EXP}/OBR-1/events", json=event, headers=w["ha"])
        assert r.status_code == 201, r.text
        assert r.json()["duplicate"] is False
    exp = r.json()["expediente"]
    assert r.headers["etag"] == f'"{exp["version"]}"'
    timeline = exp["timeline"]
    assert [e["stage_code"] for e in timeline] == ["INI", "TRA", "RES"]
    entered = [datetime.fromisoformat(e["entered_at"]) for e in timeline]
    assert entered == [T0 + timedelta(hours=h) for h in (1, 5, 30)]
    left = [e["left_at"] and datetime.fromisoformat(e["left_at"]) for e in timeline]
    assert left == [entered[1], entered[2], None]
    assert exp["current_stage_code"] == "RES"
    assert datetime.fromisoformat(exp["current_stage_entered_at"]) == entered[2]
    assert {e["actor_type"] for e in timeline} == {"integration"}
    assert exp["version"] == 4


async def test_duplicate_and_replayed_event_ids_are_ignored(client, session):
    w = await _world(client, session)
    created = (await _put(client, w["ha"], "OBR-1")).json()
    first = await client.post(f"{EXP}/OBR-1/events", json=_event("e1", "INI", 1), headers=w["ha"])
    assert first.status_code == 201
    audit_before = len(await _audit_rows(session, created["id"]))
    for replay in (_event("e1", "INI", 1), _event("e1", "TRA", 9, comment="otra cosa")):
        r = await client.post(f"{EXP}/OBR-1/events", json=replay, headers=w["ha"])
        assert r.status_code == 200, r.text
        assert r.json()["duplicate"] is True
        assert r.json()["expediente"] == first.json()["expediente"]
    assert len(await _audit_rows(session, created["id"])) == audit_before
    assert await _scalar(session, "SELECT count(*) FROM expediente_stage_entry") == 1


async def test_event_id_is_required_and_stage_must_exist(client, session):
    w = await _world(client, session)
    await _put(client, w["ha"], "OBR-1")
    body = assert_problem(
        await client.post(
            f"{EXP}/OBR-1/events",
            json={"stage_code": "INI", "occurred_at": _at(1)},
            headers=w["ha"],
        ),
        422,
    )
    assert [e["pointer"] for e in body["errors"]] == ["/event_id"]
    unknown = assert_problem(
        await client.post(f"{EXP}/OBR-1/events", json=_event("e", "ZZZ", 1), headers=w["ha"]),
        422,
    )
    assert unknown["allowed"] == ["INI", "RES", "TRA"]
    future = datetime.now(UTC) + timedelta(days=1)
    ahead = await client.post(
        f"{EXP}/OBR-1/events",
        json={"event_id": "f", "stage_code": "INI", "occurred_at": future.isoformat()},
        headers=w["ha"],
    )
    assert_problem(ahead, 422)
    assert await _scalar(session, "SELECT count(*) FROM expediente_stage_entry") == 0


async def test_timeline_after_a_stage_is_re_entered(client, session):
    w = await _world(client, session)
    await _put(client, w["ha"], "OBR-1")
    for event in (_event("e1", "INI", 1), _event("e2", "TRA", 4), _event("e3", "INI", 8)):
        r = await client.post(f"{EXP}/OBR-1/events", json=event, headers=w["ha"])
        assert r.status_code == 201, r.text
    exp = (await client.get(f"{EXP}/OBR-1", headers=w["ha"])).json()
    timeline = exp["timeline"]
    assert [e["stage_code"] for e in timeline] == ["INI", "TRA", "INI"]
    assert [e["external_event_id"] for e in timeline] == ["e1", "e2", "e3"]
    assert timeline[0]["left_at"] == timeline[1]["entered_at"]
    assert timeline[1]["left_at"] == timeline[2]["entered_at"]
    assert timeline[2]["left_at"] is None
    assert exp["current_stage_code"] == "INI"
    assert exp["current_stage_entered_at"] == timeline[2]["entered_at"]
    assert datetime.fromisoformat(exp["current_stage_entered_at"]) == T0 + timedelta(hours=8)


# ---- batch ------------------------------------------------------------------------------------


async def test_batch_applies_valid_items_and_reports_each_failure(client, session):
    w = await _world(client, session)
    items = [
        {"op": "upsert", "external_ref": "B-1", "expediente": _body()},
        {"op": "upsert", "external_ref": "B-2", "expediente": _body(title="x")},
        {"op": "event", "external_ref": "B-1", "event": _event("e1", "INI", 1)},
        {"op": "event", "external_ref": "B-1", "event": _event("e1", "INI", 1)},
        {"op": "event", "external_ref": "B-9", "event": _event("e9", "INI", 1)},
        {"op": "event", "external_ref": "B-1", "event": {"stage_code": "TRA"}},
        "not an object",
        {"op": "delete", "external_ref": "B-1"},
        {"op": "upsert", "external_ref": "B-3", "expediente": _body(procedure_code="nada")},
        {"op": "upsert", "external_ref": "-bad", "expediente": _body()},
        {"op": "upsert", "external_ref": "B-4", "expediente": _body(), "extra": 1},
        {"op": "upsert", "external_ref": "B-1", "expediente": _body()},
        {"op": "upsert", "external_ref": "B-1", "expediente": _body(title="Título nuevo")},
        {"op": "event", "external_ref": "B-1", "event": _event("e2", "TRA", 3)},
        {"op": "upsert", "external_ref": "B-5/events", "expediente": _body()},
    ]
    r = await client.post(f"{BASE}/batch", json={"items": items}, headers=w["ha"])
    assert r.status_code == 200, r.text
    body = r.json()
    statuses = [i["status"] for i in body["items"]]
    assert statuses == [
        "created",
        "error",
        "placed",
        "duplicate",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "unchanged",
        "updated",
        "placed",
        "error",
    ]
    assert [i["index"] for i in body["items"]] == list(range(len(items)))
    assert body["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "placed": 2,
        "duplicate": 1,
        "error": 9,
    }
    res = body["items"]
    assert (res[0]["op"], res[0]["external_ref"], res[0]["version"]) == ("upsert", "B-1", 1)
    assert res[0]["expediente_id"]
    assert res[1]["error"]["status"] == 422
    assert res[1]["error"]["code"] == "validation-error"
    assert [e["pointer"] for e in res[1]["error"]["errors"]] == ["/items/1/expediente/title"]
    assert res[1]["error"]["errors"][0]["loc"] == ["body", "items", 1, "expediente", "title"]
    assert res[4]["error"]["status"] == 404
    assert {e["pointer"] for e in res[5]["error"]["errors"]} == {
        "/items/5/event/event_id",
        "/items/5/event/occurred_at",
    }
    assert res[6]["op"] is None
    assert res[6]["error"]["errors"][0]["pointer"] == "/items/6"
    assert res[7]["error"]["errors"][0]["pointer"] == "/items/7/op"
    assert res[8]["error"]["status"] == 422
    assert "nada" in res[8]["error"]["detail"]
    assert res[9]["error"]["errors"][0]["pointer"] == "/items/9/external_ref"
    assert res[10]["error"]["errors"][0]["code"] == "extra_forbidden"
    # A reference ending in /events could never be read back by its path.
    assert res[14]["error"]["errors"][0]["pointer"] == "/items/14/external_ref"
    assert "/events" in res[14]["error"]["errors"][0]["message"]

    exp = (await client.get(f"{EXP}/B-1", headers=w["ha"])).json()
    assert exp["title"] == "Título nuevo"
    assert [e["external_event_id"] for e in exp["timeline"]] == ["e1", "e2"]
    assert exp["version"] == res[13]["version"] == 4
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 1
    actors = await session.execute(
        text("SELECT DISTINCT actor_type, actor_id FROM audit_log WHERE entity_type = 'expediente'")
    )
    assert actors.all() == [("integration", w["a"].id)]


async def test_batch_size_is_bounded(client, session):
    w = await _world(client, session)
    item = {"op": "upsert", "external_ref": "B-1", "expediente": _body()}
    too_many = await client.post(f"{BASE}/batch", json={"items": [item] * 501}, headers=w["ha"])
    body = assert_problem(too_many, 422, "validation-error")
    assert body["errors"][0]["pointer"] == "/items"
    assert_problem(await client.post(f"{BASE}/batch", json={"items": []}, headers=w["ha"]), 422)
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 0
    full = await client.post(
        f"{BASE}/batch",
        json={
            "items": [
                {"op": "upsert", "external_ref": f"B-{i}", "expediente": _body()}
                for i in range(500)
            ]
        },
        headers=w["ha"],
    )
    assert full.status_code == 200, full.text
    assert full.json()["counts"]["created"] == 500


# ---- Idempotency-Key --------------------------------------------------------------------------


async def test_idempotency_key_replays_the_stored_response(client, session):
    w = await _world(client, session)
    created = (await _put(client, w["ha"], "OBR-1")).json()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(
        f"{EXP}/OBR-1/events", json=_event("e1", "INI", 1), headers=w["ha"] | key
    )
    assert first.status_code == 201
    assert "idempotency-replayed" not in first.headers
    audit = len(await _audit_rows(session, created["id"]))
    # Reformatted JSON with the keys in another order is the same request.
    raw = (
        '{ "occurred_at": "%s", "stage_code": "INI",  "event_id": "e1" }' % _at(1)  # noqa: UP031
    ).encode()
    replay = await client.post(
        f"{EXP}/OBR-1/events",
        content=raw,
        headers=w["ha"] | key | {"content-type": "application/json"},
    )
    # Not re-executed: the stored 201 comes back (a re-run would answer 200 "duplicate").
    assert replay.status_code == 201
    assert replay.headers["idempotency-replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.headers["etag"] == first.headers["etag"]
    assert len(await _audit_rows(session, created["id"])) == audit
    assert await _scalar(session, "SELECT count(*) FROM idempotency_record") == 1
    row = (
        await session.execute(
            text("SELECT client_id, method, path, status_code, expires_at FROM idempotency_record")
        )
    ).one()
    assert row.client_id == w["a"].id
    assert (row.method, row.path, row.status_code) == ("POST", f"{EXP}/OBR-1/events", 201)
    ttl = row.expires_at - datetime.now(UTC)
    assert timedelta(hours=23) < ttl <= timedelta(days=1)


async def test_same_key_with_another_body_is_409_and_changes_nothing(client, session):
    w = await _world(client, session)
    key = {"Idempotency-Key": "lote-2026-03-02-001"}
    item = {"op": "upsert", "external_ref": "B-1", "expediente": _body()}
    first = await client.post(f"{BASE}/batch", json={"items": [item]}, headers=w["ha"] | key)
    assert first.status_code == 200
    other = {"op": "upsert", "external_ref": "B-2", "expediente": _body()}
    r = await client.post(f"{BASE}/batch", json={"items": [other]}, headers=w["ha"] | key)
    assert_problem(r, 409, "idempotency-key-reused")
    # Another endpoint with the same key is another request too.
    put = await _put(client, w["ha"], "B-3", None, **key)
    assert_problem(put, 409, "idempotency-key-reused")
    refs = await session.execute(text("SELECT external_ref FROM expediente"))
    assert refs.scalars().all() == ["B-1"]
    # Keys belong to one client: another client may use the same key.
    _, other_client = await _client(client, session, w["fomento"])
    mine = await client.post(f"{BASE}/batch", json={"items": [other]}, headers=other_client | key)
    assert mine.status_code == 200
    assert mine.json()["items"][0]["status"] == "created"


async def test_expired_key_is_a_new_key(client, session):
    w = await _world(client, session)
    key = {"Idempotency-Key": "k-expira"}
    item = {"op": "upsert", "external_ref": "B-1", "expediente": _body()}
    first = await client.post(f"{BASE}/batch", json={"items": [item]}, headers=w["ha"] | key)
    assert first.json()["items"][0]["status"] == "created"
    await session.execute(
        text("UPDATE idempotency_record SET expires_at = now() - interval '1 second'")
    )
    await session.commit()
    again = await client.post(f"{BASE}/batch", json={"items": [item]}, headers=w["ha"] | key)
    assert again.status_code == 200
    assert "idempotency-replayed" not in again.headers
    assert again.json()["items"][0]["status"] == "unchanged"  # executed again
    expires = await _scalar(session, "SELECT expires_at FROM idempotency_record")
    assert expires > datetime.now(UTC) + timedelta(hours=23)


async def test_a_failed_request_stores_nothing_under_its_key(client, session):
    w = await _world(client, session)
    await _put(client, w["ha"], "OBR-1")
    key = {"Idempotency-Key": "k-falla"}
    bad = await client.post(
        f"{EXP}/OBR-1/events", json=_event("e1", "ZZZ", 1), headers=w["ha"] | key
    )
    assert_problem(bad, 422)
    assert await _scalar(session, "SELECT count(*) FROM idempotency_record") == 0
    good = await client.post(
        f"{EXP}/OBR-1/events", json=_event("e1", "INI", 1), headers=w["ha"] | key
    )
    assert good.status_code == 201


async def test_idempotency_key_on_put_and_malformed_keys(client, session):
    w = await _world(client, session)
    key = {"Idempotency-Key": "put-1"}
    first = await _put(client, w["ha"], "OBR-1", None, **key)
    replay = await _put(client, w["ha"], "OBR-1", None, **key)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotency-replayed"] == "true"
    assert replay.headers["etag"] == '"1"'
    assert replay.json() == first.json()
    for bad in ("con espacios", "x" * 201):
        r = await _put(client, w["ha"], "OBR-2", None, **{"Idempotency-Key": bad})
        assert_problem(r, 422)
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 1


@pytest.mark.committed
async def test_concurrent_requests_with_one_key_execute_once(client, session):
    w = await _world(client, session)
    key = {"Idempotency-Key": "k-simultanea"}
    items = [
        {"op": "upsert", "external_ref": "C-1", "expediente": _body()},
        {"op": "event", "external_ref": "C-1", "event": _event("e1", "INI", 1)},
    ]
    responses = await asyncio.gather(
        *[
            client.post(f"{BASE}/batch", json={"items": items}, headers=w["ha"] | key)
            for _ in range(4)
        ]
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert sum(r.headers.get("idempotency-replayed") == "true" for r in responses) == 3
    assert all(r.json() == responses[0].json() for r in responses)
    assert [i["status"] for i in responses[0].json()["items"]] == ["created", "placed"]
    exp_id = responses[0].json()["items"][0]["expediente_id"]
    audit = await _audit_rows(session, exp_id)
    assert [r.action for r in audit] == ["expediente.create", "expediente.stage"]


@pytest.mark.committed
async def test_simultaneous_first_upserts_without_a_key_create_one_expediente(client, session):
    w = await _world(client, session)
    responses = await asyncio.gather(*[_put(client, w["ha"], "C-2") for _ in range(3)])
    assert sorted(r.status_code for r in responses) == [200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _scalar(session, "SELECT count(*) FROM expediente") == 1
    assert len(await _audit_rows(session, responses[0].json()["id"])) == 1
