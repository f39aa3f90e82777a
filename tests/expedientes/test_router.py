"""Expedientes for people: scoping, timeline, edits with ETag, summary, stalled detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.db import get_sessionmaker
from app.models.base import Role
from app.services import expedientes as service
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/expedientes"


async def _setup(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    admin = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/procedure-types",
        json={
            "area_id": str(fomento.id),
            "code": "obra-menor",
            "name": "Subvención de obra menor",
            "legal_term_days": 60,
            "stages": [
                {"code": "registro", "name": "Registro", "expected_working_days": 2},
                {"code": "subsanacion", "name": "Subsanación", "waits_on_municipality": True},
                {"code": "informe", "name": "Informe técnico", "expected_working_days": 10},
                {"code": "resolucion", "name": "Resolución"},
            ],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    people = {
        "office": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "cultura": await f.user(session, Role.area_staff, area_id=cultura.id),
        "alm": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "mer": await f.user(session, Role.municipal_user, municipality_id=mer.id),
    }
    headers = {k: await f.auth_headers(client, u) for k, u in people.items()}
    return r.json(), {"fomento": fomento, "cultura": cultura, "alm": alm, "mer": mer}, headers


async def _create(client, headers, procedure, places, ref="EXP-2026-001", **extra):
    body = {
        "municipality_id": str(places["alm"].id),
        "area_id": str(places["fomento"].id),
        "procedure_type_id": procedure["id"],
        "external_ref": ref,
        "title": "Pavimentación de la calle Mayor",
        "documents": [
            {
                "title": "Solicitud",
                "url": "https://sede.dip-badajoz.es/doc/123",
                "verification_code": "ABC123",
            }
        ],
    } | extra
    r = await client.post(URL, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r


async def test_area_creates_and_scoping_holds(client, session):
    procedure, places, h = await _setup(client, session)
    created = (await _create(client, h["fomento"], procedure, places)).json()
    assert created["current_stage_code"] == "registro"
    assert [e["stage_code"] for e in created["timeline"]] == ["registro"]
    assert created["documents"][0]["verification_code"] == "ABC123"
    eid = created["id"]
    assert (await client.get(f"{URL}/{eid}", headers=h["alm"])).status_code == 200
    assert_problem(await client.get(f"{URL}/{eid}", headers=h["mer"]), 404)
    assert_problem(await client.get(f"{URL}/{eid}", headers=h["cultura"]), 404)
    assert (await client.get(URL, headers=h["mer"])).json()["items"] == []
    assert [e["id"] for e in (await client.get(URL, headers=h["alm"])).json()["items"]] == [eid]
    # Municipalities and other áreas cannot create for this área.
    for who in ("alm", "cultura"):
        r = await client.post(
            URL,
            json={
                "municipality_id": str(places["alm"].id),
                "area_id": str(places["fomento"].id),
                "procedure_type_id": procedure["id"],
                "external_ref": "X-1",
                "title": "Intento",
            },
            headers=h[who],
        )
        assert_problem(r, 403)


async def test_edit_requires_etag_and_is_audited(client, session):
    procedure, places, h = await _setup(client, session)
    created = await _create(client, h["office"], procedure, places)
    eid = created.json()["id"]
    etag = created.headers["etag"]
    assert_problem(
        await client.patch(f"{URL}/{eid}", json={"title": "Nuevo"}, headers=h["office"]), 428
    )
    ok = await client.patch(
        f"{URL}/{eid}",
        json={"title": "Pavimentación y alumbrado"},
        headers=h["office"] | {"If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    stale = await client.patch(
        f"{URL}/{eid}", json={"title": "Otro"}, headers=h["office"] | {"If-Match": etag}
    )
    assert_problem(stale, 412)
    assert_problem(
        await client.patch(
            f"{URL}/{eid}",
            json={"title": "x" * 5},
            headers=h["alm"] | {"If-Match": ok.headers["etag"]},
        ),
        403,
    )
    changes = (
        await session.execute(
            text("SELECT changes FROM audit_log WHERE action = 'expediente.update'")
        )
    ).scalar_one()
    assert changes["title"]["to"] == "Pavimentación y alumbrado"


async def test_timeline_orders_late_events_and_reentries(client, session):
    procedure, places, h = await _setup(client, session)
    t0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
    created = await _create(client, h["fomento"], procedure, places, opened_at=t0.isoformat())
    eid = created.json()["id"]

    async def stage(code, when):
        r = await client.post(
            f"{URL}/{eid}/stages",
            json={"stage_code": code, "occurred_at": when.isoformat()},
            headers=h["fomento"],
        )
        assert r.status_code == 200, r.text
        return r.json()

    await stage("informe", t0 + timedelta(days=10))
    late = await stage("subsanacion", t0 + timedelta(days=3))  # arrives after, happened before
    assert [e["stage_code"] for e in late["timeline"]] == ["registro", "subsanacion", "informe"]
    assert late["current_stage_code"] == "informe"
    lefts = [e["left_at"] for e in late["timeline"]]
    entered = [e["entered_at"] for e in late["timeline"]]
    assert lefts[:2] == entered[1:]
    assert lefts[2] is None
    again = await stage("subsanacion", t0 + timedelta(days=12))  # re-entered
    assert [e["stage_code"] for e in again["timeline"]] == [
        "registro", "subsanacion", "informe", "subsanacion",
    ]  # fmt: skip
    assert again["current_stage_code"] == "subsanacion"
    assert again["stage_due_at"] is None  # waiting on the municipality never stalls
    bad = await client.post(
        f"{URL}/{eid}/stages",
        json={"stage_code": "inventada", "occurred_at": t0.isoformat()},
        headers=h["fomento"],
    )
    body = assert_problem(bad, 422)
    assert "registro" in body["allowed"]


@pytest.mark.committed
async def test_stalled_stage_is_flagged_and_notified_once(client, session):
    procedure, places, h = await _setup(client, session)
    opened = datetime.now(UTC) - timedelta(days=30)
    created = await _create(client, h["fomento"], procedure, places, opened_at=opened.isoformat())
    eid = created.json()["id"]
    assert created.json()["stage_due_at"] is not None
    assert created.json()["stalled"] is False
    for _ in range(3):
        async with get_sessionmaker()() as s:
            await service.detect_stalled(s)
            await s.commit()
    detail = (await client.get(f"{URL}/{eid}", headers=h["alm"])).json()
    assert detail["stalled"] is True
    events = (
        await session.execute(
            text("SELECT kind, entity_id FROM notification_event WHERE kind = 'expediente.stalled'")
        )
    ).all()
    assert events == [("expediente.stalled", eid)]
    recipients = set(
        (
            await session.execute(
                text(
                    "SELECT n.user_id FROM notification n JOIN notification_event e"
                    " ON e.id = n.event_id WHERE e.kind = 'expediente.stalled'"
                )
            )
        )
        .scalars()
        .all()
    )
    mayor = await _user_of(session, places["alm"].id)
    other_mayor = await _user_of(session, places["mer"].id)
    assert mayor in recipients
    assert other_mayor not in recipients
    stalled = await client.get(URL, params={"stalled": True}, headers=h["office"])
    assert [e["id"] for e in stalled.json()["items"]] == [eid]
    # Moving on clears the stall.
    moved = await client.post(
        f"{URL}/{eid}/stages",
        json={"stage_code": "informe", "occurred_at": datetime.now(UTC).isoformat()},
        headers=h["fomento"],
    )
    assert moved.json()["stalled"] is False


async def _user_of(session, municipality_id):
    return (
        await session.execute(
            text("SELECT id FROM user_account WHERE municipality_id = :m"), {"m": municipality_id}
        )
    ).scalar_one()


async def test_summary_and_filters(client, session):
    procedure, places, h = await _setup(client, session)
    soon = (datetime.now(UTC) + timedelta(days=10)).date()
    await _create(client, h["office"], procedure, places, "A-1", deadline_date=soon.isoformat())
    await _create(client, h["office"], procedure, places, "A-2")
    summary = await client.get(
        f"{URL}/summary", params={"municipality_id": str(places["alm"].id)}, headers=h["alm"]
    )
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["open"] == 2
    assert body["by_stage"] == [{"stage_code": "registro", "open": 2, "stalled": 0}]
    assert [e["external_ref"] for e in body["next_deadlines"]] == ["A-1"]
    assert_problem(
        await client.get(
            f"{URL}/summary", params={"municipality_id": str(places["alm"].id)}, headers=h["mer"]
        ),
        404,
    )
    by_text = await client.get(URL, params={"q": "pavimentacion"}, headers=h["office"])
    assert len(by_text.json()["items"]) == 2
    by_ref = await client.get(URL, params={"q": "A-2"}, headers=h["office"])
    assert [e["external_ref"] for e in by_ref.json()["items"]] == ["A-2"]
    by_deadline = await client.get(
        URL, params={"deadline_to": soon.isoformat()}, headers=h["office"]
    )
    assert [e["external_ref"] for e in by_deadline.json()["items"]] == ["A-1"]


async def test_related_consultations_both_ways(client, session):
    procedure, places, h = await _setup(client, session)
    c = await f.consultation(session, places["alm"].id)
    other = await f.consultation(session, places["mer"].id)
    created = await _create(client, h["office"], procedure, places, consultation_ids=[str(c.id)])
    assert created.json()["consultation_ids"] == [str(c.id)]
    linked = await client.get(URL, params={"consultation_id": str(c.id)}, headers=h["alm"])
    assert [e["id"] for e in linked.json()["items"]] == [created.json()["id"]]
    wrong = await _create_fail(client, h["office"], procedure, places, [str(other.id)])
    assert_problem(wrong, 422)


async def _create_fail(client, headers, procedure, places, consultation_ids):
    return await client.post(
        URL,
        json={
            "municipality_id": str(places["alm"].id),
            "area_id": str(places["fomento"].id),
            "procedure_type_id": procedure["id"],
            "external_ref": "B-9",
            "title": "Con consulta de otro municipio",
            "consultation_ids": consultation_ids,
        },
        headers=headers,
    )


async def test_duplicate_external_ref_in_the_same_area_is_409(client, session):
    procedure, places, h = await _setup(client, session)
    await _create(client, h["office"], procedure, places, "DUP-1")
    r = await client.post(
        URL,
        json={
            "municipality_id": str(places["alm"].id),
            "area_id": str(places["fomento"].id),
            "procedure_type_id": procedure["id"],
            "external_ref": "DUP-1",
            "title": "Repetido",
        },
        headers=h["office"],
    )
    assert_problem(r, 409)
    count = (await session.execute(text("SELECT count(*) FROM expediente"))).scalar_one()
    assert count == 1


async def test_naive_or_ancient_opened_at_and_null_title_are_422(client, session):
    procedure, places, h = await _setup(client, session)
    for opened in ("2025-01-01T10:00:00", "0001-01-01T00:00:00+00:00"):
        r = await client.post(
            URL,
            json={
                "municipality_id": str(places["alm"].id),
                "area_id": str(places["fomento"].id),
                "procedure_type_id": procedure["id"],
                "external_ref": "T-1",
                "title": "Fechas",
                "opened_at": opened,
            },
            headers=h["office"],
        )
        assert_problem(r, 422)
    created = await _create(client, h["office"], procedure, places)
    r = await client.patch(
        f"{URL}/{created.json()['id']}",
        json={"title": None},
        headers=h["office"] | {"If-Match": created.headers["etag"]},
    )
    assert_problem(r, 422)
