"""Consultations through the API: intake, scoping, lifecycle, thread, concurrency, tracking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/consultations"


async def _people(session):
    almendralejo = await f.municipality(session, "06011")
    merida = await f.municipality(session, "06083")
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    people = {
        "alm": await f.user(session, Role.municipal_user, municipality_id=almendralejo.id),
        "mer": await f.user(session, Role.municipal_user, municipality_id=merida.id),
        "staff": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "cultura": await f.user(session, Role.area_staff, area_id=cultura.id),
    }
    return people, {"alm": almendralejo, "mer": merida, "fomento": fomento, "cultura": cultura}


async def _headers(client, people):
    return {k: await f.auth_headers(client, u) for k, u in people.items()}


async def _ask(client, headers, subject="Arreglo del camino de la Fuente", body="¿Cómo se pide?"):
    r = await client.post(URL, json={"subject": subject, "body": body}, headers=headers)
    assert r.status_code == 201, r.text
    return r


async def test_municipality_asks_through_the_web(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    r = await _ask(client, h["alm"])
    body = r.json()
    year = datetime.now(UTC).year
    assert body["reference"] == f"OAAA-{year}-000001"
    assert len(body["access_code"]) == 10
    assert body["channel"] == "web"
    assert body["status"] == "received"
    assert body["sla_state"] == "on_track"
    assert body["municipality_id"] == str(people["alm"].municipality_id)
    assert body["first_response_due_at"] < body["resolution_due_at"]
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"{URL}/{body['id']}"
    second = (await _ask(client, h["alm"])).json()
    assert second["reference"] == f"OAAA-{year}-000002"
    listed = (await client.get(URL, headers=h["alm"])).json()
    assert "access_code" not in listed["items"][0]


async def test_office_records_a_phone_call_received_earlier(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    received = datetime.now(UTC) - timedelta(hours=3)
    r = await client.post(
        URL,
        json={
            "subject": "Llamada sobre el plan de empleo",
            "body": "Pregunta por plazos",
            "municipality_id": str(places["mer"].id),
            "channel": "phone",
            "received_at": received.isoformat(),
            "requester_name": "Secretaría",
        },
        headers=h["staff"],
    )
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["received_at"]) == received
    assert r.json()["channel"] == "phone"


async def test_received_at_in_the_future_is_rejected(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    future = datetime.now(UTC) + timedelta(days=1)
    r = await client.post(
        URL,
        json={
            "subject": "Llamada",
            "body": "Texto",
            "municipality_id": str(places["mer"].id),
            "channel": "phone",
            "received_at": future.isoformat(),
        },
        headers=h["staff"],
    )
    body = assert_problem(r, 422)
    assert "futura" in body["detail"]
    assert (await session.execute(text("SELECT count(*) FROM consultation"))).scalar_one() == 0
    assert (await session.execute(text("SELECT count(*) FROM reference_counter"))).scalar_one() == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"received_at": "2026-01-01T10:00:00+01:00"},
        {"channel": "phone"},
    ],
)
async def test_municipal_users_cannot_set_office_intake_fields(client, session, extra):
    people, _ = await _people(session)
    h = await _headers(client, people)
    r = await client.post(
        URL, json={"subject": "Asunto", "body": "Texto"} | extra, headers=h["alm"]
    )
    assert_problem(r, 422)


async def test_municipal_user_cannot_file_for_another_municipality(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    r = await client.post(
        URL,
        json={"subject": "Asunto", "body": "Texto", "municipality_id": str(places["mer"].id)},
        headers=h["alm"],
    )
    assert_problem(r, 422)


async def test_area_staff_and_integrations_cannot_create(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    r = await client.post(URL, json={"subject": "Asunto", "body": "Texto"}, headers=h["fomento"])
    assert_problem(r, 403)


async def test_another_municipality_consultation_is_404_everywhere(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    c = (await _ask(client, h["alm"])).json()
    cid = c["id"]
    m = h["mer"]
    assert_problem(await client.get(f"{URL}/{cid}", headers=m), 404)
    assert_problem(await client.get(f"{URL}/{cid}/messages", headers=m), 404)
    assert_problem(await client.get(f"{URL}/{cid}/history", headers=m), 404)
    assert_problem(
        await client.post(f"{URL}/{cid}/messages", json={"body": "hola"}, headers=m), 404
    )
    assert_problem(
        await client.post(f"{URL}/{cid}/transitions", json={"to": "closed"}, headers=m), 404
    )
    assert_problem(
        await client.patch(
            f"{URL}/{cid}", json={"priority": "high"}, headers=m | {"If-Match": '"1"'}
        ),
        404,
    )
    assert_problem(await client.post(f"{URL}/{cid}/access-code", headers=m), 404)
    assert (await client.get(URL, headers=m)).json()["items"] == []


async def test_area_sees_only_what_is_forwarded_to_it(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]
    assert_problem(await client.get(f"{URL}/{cid}", headers=h["fomento"]), 404)
    r = await client.post(
        f"{URL}/{cid}/transitions",
        json={"to": "forwarded", "area_id": str(places["fomento"].id)},
        headers=h["staff"],
    )
    assert r.status_code == 200, r.text
    assert (await client.get(f"{URL}/{cid}", headers=h["fomento"])).status_code == 200
    assert_problem(await client.get(f"{URL}/{cid}", headers=h["cultura"]), 404)
    listed = (await client.get(URL, headers=h["fomento"])).json()["items"]
    assert [c["id"] for c in listed] == [cid]
    await client.post(
        f"{URL}/{cid}/transitions",
        json={"to": "forwarded", "area_id": str(places["cultura"].id)},
        headers=h["staff"],
    )
    assert_problem(await client.get(f"{URL}/{cid}", headers=h["fomento"]), 404)
    assert (await client.get(f"{URL}/{cid}", headers=h["cultura"])).status_code == 200


async def test_internal_notes_never_reach_the_municipality(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    created = (await _ask(client, h["alm"])).json()
    cid = created["id"]
    await client.post(
        f"{URL}/{cid}/messages",
        json={"body": "NOTA INTERNA: el alcalde ya llamó", "visibility": "internal"},
        headers=h["staff"],
    )
    await client.post(
        f"{URL}/{cid}/transitions",
        json={"to": "forwarded", "area_id": str(places["fomento"].id), "note": "NOTA INTERNA 2"},
        headers=h["staff"],
    )
    await client.post(
        f"{URL}/{cid}/messages", json={"body": "Respuesta pública"}, headers=h["fomento"]
    )
    seen = (await client.get(f"{URL}/{cid}/messages", headers=h["alm"])).json()["items"]
    assert [m["body"] for m in seen] == ["Respuesta pública"]
    history = await client.get(f"{URL}/{cid}/history", headers=h["alm"])
    assert "NOTA INTERNA" not in history.text
    staff_view = (await client.get(f"{URL}/{cid}/messages", headers=h["staff"])).json()["items"]
    assert len(staff_view) == 3
    tracking = await client.get(
        f"/api/v1/public/consultations/{created['reference']}",
        params={"code": created["access_code"]},
    )
    assert tracking.status_code == 200
    assert "NOTA INTERNA" not in tracking.text
    assert [r["body"] for r in tracking.json()["replies"]] == ["Respuesta pública"]
    assert people["fomento"].email not in tracking.text
    internal = await client.post(
        f"{URL}/{cid}/messages", json={"body": "x", "visibility": "internal"}, headers=h["alm"]
    )
    assert_problem(internal, 403)


async def test_first_public_reply_from_the_office_is_the_first_response(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]
    await client.post(f"{URL}/{cid}/messages", json={"body": "Consulta"}, headers=h["alm"])
    assert (await client.get(f"{URL}/{cid}", headers=h["staff"])).json()[
        "first_responded_at"
    ] is None
    await client.post(f"{URL}/{cid}/messages", json={"body": "Respuesta"}, headers=h["staff"])
    assert (await client.get(f"{URL}/{cid}", headers=h["staff"])).json()["first_responded_at"]


async def test_lifecycle_and_illegal_transitions(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]

    async def move(to, who="staff", **extra):
        return await client.post(
            f"{URL}/{cid}/transitions", json={"to": to} | extra, headers=h[who]
        )

    bad = await move("closed")
    body = assert_problem(bad, 409, "invalid-transition")
    assert body["allowed"] == ["answered", "forwarded", "in_progress", "waiting_on_municipality"]
    assert (await move("in_progress")).json()["status"] == "in_progress"
    assert_problem(await move("forwarded"), 422)  # needs an área
    assert (await move("forwarded", area_id=str(places["fomento"].id))).status_code == 200
    forbidden_for_area = await move("forwarded", who="fomento", area_id=str(places["cultura"].id))
    assert_problem(forbidden_for_area, 409)
    assert_problem(await move("waiting_on_municipality", who="fomento"), 422)  # needs a reason
    w = await move("waiting_on_municipality", who="fomento", reason="Falta el proyecto técnico")
    assert w.json()["sla_state"] == "paused"
    assert w.json()["waiting_reason"] == "Falta el proyecto técnico"
    # The municipality's reply resumes it, back to the área.
    await client.post(f"{URL}/{cid}/messages", json={"body": "Adjunto enviado"}, headers=h["alm"])
    now = (await client.get(f"{URL}/{cid}", headers=h["fomento"])).json()
    assert now["status"] == "forwarded"
    assert now["sla_state"] != "paused"
    answered = await move("answered", who="fomento")
    assert answered.json()["sla_state"] == "met"
    assert_problem(await move("answered", who="alm"), 409)
    closed = await move("closed", who="alm")
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"]
    reopened = await move("in_progress", who="alm")
    assert reopened.json()["status"] == "in_progress"
    assert reopened.json()["closed_at"] is None
    events = (await client.get(f"{URL}/{cid}/history", headers=h["staff"])).json()["items"]
    statuses = [e["to_status"] for e in events if e["to_status"]]
    assert statuses == [
        "received", "in_progress", "forwarded", "waiting_on_municipality", "forwarded",
        "answered", "closed", "in_progress",
    ]  # fmt: skip
    assert all(e["actor_label"] for e in events)
    assert events[-1]["kind"] == "reopened"


async def test_update_requires_the_current_etag(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    created = await _ask(client, h["alm"])
    cid = created.json()["id"]
    no_match = await client.patch(f"{URL}/{cid}", json={"priority": "high"}, headers=h["staff"])
    assert_problem(no_match, 428)
    ok = await client.patch(
        f"{URL}/{cid}", json={"priority": "high"}, headers=h["staff"] | {"If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await client.patch(
        f"{URL}/{cid}", json={"priority": "low"}, headers=h["staff"] | {"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    assert stale.headers["etag"] == '"2"'
    current = (await client.get(f"{URL}/{cid}", headers=h["staff"])).json()
    assert current["priority"] == "high"


async def test_municipal_user_cannot_edit_own_consultation_fields(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]
    r = await client.patch(
        f"{URL}/{cid}", json={"priority": "urgent"}, headers=h["alm"] | {"If-Match": '"1"'}
    )
    assert_problem(r, 403)


async def test_assignee_must_be_staff_of_the_office_or_the_area(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]
    bad = await client.patch(
        f"{URL}/{cid}",
        json={"assignee_id": str(people["mer"].id)},
        headers=h["staff"] | {"If-Match": '"1"'},
    )
    assert_problem(bad, 422)
    ok = await client.patch(
        f"{URL}/{cid}",
        json={"assignee_id": str(people["staff"].id)},
        headers=h["staff"] | {"If-Match": '"1"'},
    )
    assert ok.json()["assignee_id"] == str(people["staff"].id)
    mine = await client.get(
        URL, params={"assignee_id": str(people["staff"].id)}, headers=h["staff"]
    )
    assert [c["id"] for c in mine.json()["items"]] == [cid]


@pytest.mark.committed
async def test_concurrent_creation_never_duplicates_a_reference(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)

    async def one(i: int) -> str:
        from app.main import app

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                URL, json={"subject": f"Consulta {i}", "body": "Texto"}, headers=h["alm"]
            )
            assert r.status_code == 201, r.text
            return str(r.json()["reference"])

    refs = await asyncio.gather(*(one(i) for i in range(25)))
    year = datetime.now(UTC).year
    assert sorted(refs) == [f"OAAA-{year}-{n:06d}" for n in range(1, 26)]


async def test_public_tracking_with_wrong_code_or_unknown_reference_looks_the_same(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    created = (await _ask(client, h["alm"])).json()
    ok = await client.get(
        f"/api/v1/public/consultations/{created['reference']}",
        params={"code": created["access_code"].lower()},
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "received"
    assert [e["to_status"] for e in ok.json()["history"]] == ["received"]
    wrong = await client.get(
        f"/api/v1/public/consultations/{created['reference']}", params={"code": "WRONGCODE1"}
    )
    unknown = await client.get(
        "/api/v1/public/consultations/OAAA-1999-000001", params={"code": "WRONGCODE1"}
    )
    a, b = assert_problem(wrong, 404), assert_problem(unknown, 404)
    del a["instance"], b["instance"]
    assert a == b


async def test_public_tracking_is_rate_limited_per_address(client, session):
    for i in range(30):
        r = await client.get(
            f"/api/v1/public/consultations/OAAA-2026-{i:06d}", params={"code": "ABCDEFGHJK"}
        )
        assert r.status_code == 404
    assert_problem(
        await client.get("/api/v1/public/consultations/OAAA-2026-999999", params={"code": "ABCD"}),
        429,
    )


async def test_access_code_can_be_renewed(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    created = (await _ask(client, h["alm"])).json()
    renewed = await client.post(f"{URL}/{created['id']}/access-code", headers=h["alm"])
    code = renewed.json()["access_code"]
    assert code != created["access_code"]
    url = f"/api/v1/public/consultations/{created['reference']}"
    assert (await client.get(url, params={"code": code})).status_code == 200
    assert (await client.get(url, params={"code": created["access_code"]})).status_code == 404


async def test_full_text_search_in_spanish_ignores_accents_and_plurals(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    await _ask(client, h["alm"], "Subvenciones para caminos rurales", "Reparación del firme")
    await _ask(client, h["alm"], "Certificado digital caducado", "No puedo firmar en la sede")
    await _ask(client, h["alm"], "Camino", "Otra cosa: subvención del camino de la sierra")
    r = await client.get(URL, params={"q": "subvencion camino"}, headers=h["staff"])
    found = [c["subject"] for c in r.json()["items"]]
    assert found[0] == "Subvenciones para caminos rurales"
    assert set(found) == {"Subvenciones para caminos rurales", "Camino"}
    page1 = (
        await client.get(URL, params={"q": "subvencion camino", "limit": 1}, headers=h["staff"])
    ).json()
    page2 = (
        await client.get(
            URL,
            params={"q": "subvencion camino", "limit": 1, "cursor": page1["next_cursor"]},
            headers=h["staff"],
        )
    ).json()
    assert [page1["items"][0]["subject"], page2["items"][0]["subject"]] == found
    assert (
        await client.get(URL, params={"q": "'; DROP TABLE x"}, headers=h["staff"])
    ).status_code == 200


async def test_filters_and_triage_order(client, session):
    people, places = await _people(session)
    h = await _headers(client, people)
    normal = (await _ask(client, h["alm"], "Normal")).json()
    urgent_policy = await client.post(
        "/api/v1/sla-policies",
        json={
            "code": "urgente",
            "name": "Urgente",
            "priority": "urgent",
            "first_response_target": 1,
            "resolution_target": 2,
        },
        headers=await f.admin_headers(client, session),
    )
    assert urgent_policy.status_code == 201, urgent_policy.text
    urgent = await client.post(
        URL,
        json={
            "subject": "Urgente",
            "body": "Texto",
            "municipality_id": str(places["mer"].id),
            "channel": "email",
            "priority": "urgent",
        },
        headers=h["staff"],
    )
    assert urgent.json()["resolution_due_at"] < normal["resolution_due_at"]
    queue = await client.get(
        URL, params={"sort": "resolution_due_at", "open_only": True}, headers=h["staff"]
    )
    assert [c["subject"] for c in queue.json()["items"]] == ["Urgente", "Normal"]
    by_channel = await client.get(URL, params={"channel": "email"}, headers=h["staff"])
    assert [c["subject"] for c in by_channel.json()["items"]] == ["Urgente"]
    by_state = await client.get(
        URL, params=[("sla_state", "on_track"), ("sla_state", "warning")], headers=h["staff"]
    )
    assert len(by_state.json()["items"]) == 2
    assert_problem(await client.get(URL, params={"sort": "subject"}, headers=h["staff"]), 422)
    assert_problem(await client.get(URL, params={"status": "lost"}, headers=h["staff"]), 422)


async def test_a_municipality_note_on_closing_is_its_own_public_message(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    cid = (await _ask(client, h["alm"])).json()["id"]
    await client.post(f"{URL}/{cid}/transitions", json={"to": "answered"}, headers=h["staff"])
    r = await client.post(
        f"{URL}/{cid}/transitions",
        json={"to": "closed", "note": "Gracias, resuelto"},
        headers=h["alm"],
    )
    assert r.status_code == 200, r.text
    seen = (await client.get(f"{URL}/{cid}/messages", headers=h["alm"])).json()["items"]
    assert [(m["body"], m["from_office"], m["visibility"]) for m in seen] == [
        ("Gracias, resuelto", False, "public")
    ]


async def test_only_own_unlinked_assistant_questions_can_be_linked(client, session):
    people, _ = await _people(session)
    h = await _headers(client, people)
    asked = await client.post(
        "/api/v1/assistant/ask", json={"question": "¿Cómo pido una subvención?"}, headers=h["mer"]
    )
    query_id = asked.json()["query_id"]
    stolen = await client.post(
        URL,
        json={"subject": "Asunto", "body": "Texto", "assistant_query_id": query_id},
        headers=h["alm"],
    )
    assert_problem(stolen, 422)
    own = await client.post(
        URL,
        json={"subject": "Asunto", "body": "Texto", "assistant_query_id": query_id},
        headers=h["mer"],
    )
    assert own.status_code == 201, own.text
    again = await client.post(
        URL,
        json={"subject": "Asunto", "body": "Texto", "assistant_query_id": query_id},
        headers=h["mer"],
    )
    assert_problem(again, 422)


async def test_a_legacy_argon2_access_code_tracks_once_and_is_rewritten_as_a_keyed_digest(
    client, session
):
    from app.core.security import hash_password
    from app.models.consultation import Consultation

    mun = await f.municipality(session, "06011")
    c = await f.consultation(session, mun.id)
    c.access_code_hash = hash_password("LEGACYCODE")
    c.reference = c.reference.upper()
    await session.commit()
    cid = c.id
    url = f"/api/v1/public/consultations/{c.reference}"
    assert_problem(await client.get(url, params={"code": "OTHERCODE1"}), 404)
    stored = await session.scalar(
        select(col(Consultation.access_code_hash)).where(Consultation.id == cid)
    )
    assert stored is not None
    assert stored.startswith("$argon2")
    r = await client.get(url, params={"code": "legacy-code"})
    assert r.status_code == 200, r.text
    session.expire_all()
    stored = await session.scalar(
        select(col(Consultation.access_code_hash)).where(Consultation.id == cid)
    )
    assert stored is not None
    assert stored.startswith("hmac-sha256$")
    # The rewritten digest still opens it; a wrong code still does not.
    assert (await client.get(url, params={"code": "LEGACYCODE"})).status_code == 200
    assert_problem(await client.get(url, params={"code": "LEGACYCODF"}), 404)


async def test_new_access_codes_are_stored_as_keyed_digests(client, session):
    from app.core.security import digest_secret
    from app.models.consultation import Consultation

    people, _ = await _people(session)
    h = await _headers(client, people)
    r = await client.post(URL, json={"subject": "Asunto", "body": "Texto"}, headers=h["alm"])
    assert r.status_code == 201, r.text
    stored = await session.scalar(
        select(col(Consultation.access_code_hash)).where(
            Consultation.reference == r.json()["reference"]
        )
    )
    assert stored == digest_secret(r.json()["access_code"])


async def test_a_list_statement_kept_for_its_shape_binds_each_callers_own_values(client, session):
    """The page statement is built once per shape and kept (`paginate_shaped`): two
    municipalities, an área and the office reuse the statements of their shapes, and each
    request still sees only its own rows, on every page."""
    from app.core import pagination

    people, places = await _people(session)
    h = await _headers(client, people)
    for who, n in (("alm", 3), ("mer", 2)):
        for i in range(n):
            await _ask(client, h[who], subject=f"Consulta {who} {i}")
    pagination._SHAPED.clear()

    async def subjects(who, **query):
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **query} | ({"cursor": cursor} if cursor else {})
            r = await client.get(URL, params=params, headers=h[who])
            assert r.status_code == 200, r.text
            seen += [item["subject"] for item in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return seen

    for _ in range(2):
        assert sorted(await subjects("alm")) == [f"Consulta alm {i}" for i in range(3)]
        assert sorted(await subjects("mer")) == [f"Consulta mer {i}" for i in range(2)]
        assert await subjects("fomento") == []
        assert len(await subjects("staff")) == 5
        only_merida = await subjects("staff", municipality_id=str(places["mer"].id))
        assert sorted(only_merida) == [f"Consulta mer {i}" for i in range(2)]
    # One statement per shape (scope by municipality, área, none; the office's filter), first
    # page and later pages, reused by the second round and by the other municipality.
    kept = len(pagination._SHAPED)
    assert 0 < kept <= 8
    await subjects("alm")
    assert len(pagination._SHAPED) == kept
