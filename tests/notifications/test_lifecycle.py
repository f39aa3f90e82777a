"""People are told what happens to their cases: one notification per change and recipient,
to the people the change concerns, never to its author, never across municipalities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.models.base import Role
from app.models.notification import WebhookSubscription
from tests import factories as f

URL = "/api/v1/consultations"


async def _setup(
    client: Any, session: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    people = {
        "mayor": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "clerk": await f.user(session, Role.municipal_user, municipality_id=alm.id),
        "other_mayor": await f.user(session, Role.municipal_user, municipality_id=mer.id),
        "office": await f.user(session, Role.oaaa_staff),
        "fomento": await f.user(session, Role.area_staff, area_id=fomento.id),
        "fomento2": await f.user(session, Role.area_staff, area_id=fomento.id),
        "cultura": await f.user(session, Role.area_staff, area_id=cultura.id),
    }
    headers = {k: await f.auth_headers(client, u) for k, u in people.items()}
    return people, headers, {"alm": alm, "mer": mer, "fomento": fomento, "cultura": cultura}


async def _feed(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/notifications", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def _kinds(client: Any, headers: dict[str, str]) -> list[str]:
    return sorted(n["kind"] for n in await _feed(client, headers))


async def _post(client: Any, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_a_consultation_tells_each_person_what_concerns_them(client, session):
    people, h, places = await _setup(client, session)
    created = await _post(
        client,
        URL,
        {
            "subject": "Llamada sobre el plan de empleo",
            "body": "Pregunta por los plazos",
            "municipality_id": str(places["alm"].id),
            "channel": "phone",
        },
        h["office"],
    )
    cid = created["id"]
    # Received: the municipality's people, with the tracking code; not the office author.
    (received,) = await _feed(client, h["mayor"])
    assert received["kind"] == "consultation.received"
    assert received["payload"]["reference"] == created["reference"]
    assert received["payload"]["access_code"] == created["access_code"]
    assert received["link"] == f"/consultas/{cid}"
    assert await _kinds(client, h["clerk"]) == ["consultation.received"]
    assert await _feed(client, h["other_mayor"]) == []
    assert await _feed(client, h["office"]) == []

    await _post(
        client,
        f"{URL}/{cid}/transitions",
        {"to": "forwarded", "area_id": str(places["fomento"].id)},
        h["office"],
    )
    assert "consultation.forwarded" in await _kinds(client, h["mayor"])
    assert await _kinds(client, h["fomento"]) == ["consultation.new_for_area"]
    assert await _feed(client, h["cultura"]) == []

    r = await client.patch(
        f"{URL}/{cid}",
        json={"assignee_id": str(people["fomento2"].id)},
        headers=h["fomento"] | {"If-Match": '"2"'},
    )
    assert r.status_code == 200, r.text
    assert await _kinds(client, h["fomento2"]) == [
        "consultation.assigned",
        "consultation.new_for_area",
    ]

    # An internal note tells nobody.
    before = {k: len(await _feed(client, hh)) for k, hh in h.items()}
    await _post(
        client, f"{URL}/{cid}/messages", {"body": "NOTA", "visibility": "internal"}, h["fomento"]
    )
    assert {k: len(await _feed(client, hh)) for k, hh in h.items()} == before

    await _post(
        client,
        f"{URL}/{cid}/transitions",
        {"to": "waiting_on_municipality", "reason": "el certificado de la secretaría"},
        h["fomento"],
    )
    waiting = [n for n in await _feed(client, h["mayor"]) if n["kind"].endswith("municipality")]
    assert len(waiting) == 1
    assert waiting[0]["payload"]["reason"] == "el certificado de la secretaría"
    assert "suspendido" in waiting[0]["body"]

    # The mayor answers: the assignee hears of it, the mayor (author) does not.
    await _post(client, f"{URL}/{cid}/messages", {"body": "Adjunto el certificado"}, h["mayor"])
    assert "consultation.municipality_replied" in await _kinds(client, h["fomento2"])
    assert "consultation.municipality_replied" not in await _kinds(client, h["mayor"])

    await _post(client, f"{URL}/{cid}/messages", {"body": "Respuesta pública"}, h["fomento2"])
    await _post(client, f"{URL}/{cid}/transitions", {"to": "answered"}, h["fomento2"])
    assert {"consultation.replied", "consultation.answered"} <= set(
        await _kinds(client, h["mayor"])
    )
    await _post(client, f"{URL}/{cid}/transitions", {"to": "closed"}, h["mayor"])
    closed = [n for n in await _feed(client, h["clerk"]) if n["kind"] == "consultation.closed"]
    assert len(closed) == 1
    assert "/public/surveys/" in closed[0]["payload"]["survey_url"]
    assert "consultation.closed" in await _kinds(client, h["fomento2"])
    assert "consultation.closed" not in await _kinds(client, h["mayor"])

    # Nothing ever reached another municipality or another área.
    assert await _feed(client, h["other_mayor"]) == []
    assert await _feed(client, h["cultura"]) == []
    # Every notification of the municipality points at its consultation.
    for n in await _feed(client, h["clerk"]):
        assert n["link"] == f"/consultas/{cid}"


async def test_each_change_is_one_event_and_one_webhook_delivery(client, session):
    people, h, places = await _setup(client, session)
    sub = WebhookSubscription(
        url="https://receiver.example/hook", secret="s" * 32, area_id=places["fomento"].id
    )
    everything = WebhookSubscription(url="https://receiver.example/all", secret="t" * 32)
    session.add_all([sub, everything])
    await session.commit()
    created = await _post(
        client,
        URL,
        {
            "subject": "Obras",
            "body": "¿Plazos?",
            "municipality_id": str(places["alm"].id),
            "channel": "email",
        },
        h["office"],
    )
    cid = created["id"]
    await _post(
        client,
        f"{URL}/{cid}/transitions",
        {"to": "forwarded", "area_id": str(places["fomento"].id)},
        h["office"],
    )
    await _post(client, f"{URL}/{cid}/transitions", {"to": "answered"}, h["fomento"])
    # A retried answer is refused (already answered): no second event.
    again = await client.post(
        f"{URL}/{cid}/transitions", json={"to": "answered"}, headers=h["fomento"]
    )
    assert again.status_code == 409

    rows = (
        await session.execute(
            text(
                "SELECT e.kind, s.url, count(*) FROM webhook_delivery d"
                " JOIN notification_event e ON e.id = d.event_id"
                " JOIN webhook_subscription s ON s.id = d.subscription_id"
                " WHERE e.entity_id = :cid GROUP BY e.kind, s.url"
            ),
            {"cid": cid},
        )
    ).all()
    by = {(k, u): n for k, u, n in rows}
    assert set(by.values()) == {1}
    # The área's receiver hears only of what happens while the consultation is the área's.
    assert {k for k, u in by if u.endswith("/hook")} == {
        "consultation.forwarded",
        "consultation.new_for_area",
        "consultation.answered",
    }
    assert {k for k, u in by if u.endswith("/all")} == {
        "consultation.received",
        "consultation.forwarded",
        "consultation.new_for_area",
        "consultation.answered",
    }
    events = (
        await session.execute(
            text(
                "SELECT kind, count(*) FROM notification_event WHERE entity_id = :c GROUP BY kind"
            ),
            {"c": cid},
        )
    ).all()
    assert all(n == 1 for _, n in events)


async def test_webhooks_never_carry_the_tracking_code(client, session):
    from app.models.notification import NotificationEvent
    from app.services.webhooks import event_payload

    _, h, places = await _setup(client, session)
    created = await _post(
        client,
        URL,
        {
            "subject": "Obras",
            "body": "¿Plazos?",
            "municipality_id": str(places["alm"].id),
            "channel": "phone",
        },
        h["office"],
    )
    event = (
        await session.execute(
            text("SELECT id FROM notification_event WHERE kind = 'consultation.received'")
        )
    ).scalar_one()
    row = await session.get(NotificationEvent, event)
    assert row is not None
    assert row.payload["access_code"] == created["access_code"]
    document = event_payload(row)
    assert "access_code" not in document["data"]["payload"]
    assert created["access_code"] not in str(document)


async def test_expedientes_tell_their_municipality_once_per_change(client, session):
    from app.models.expediente import ProcedureType, StageDefinition

    people, h, places = await _setup(client, session)
    procedure = ProcedureType(area_id=places["fomento"].id, code="obras", name="Obras")
    session.add(procedure)
    await session.flush()
    for position, code in enumerate(("INI", "INF"), start=1):
        session.add(
            StageDefinition(
                procedure_type_id=procedure.id, position=position, code=code, name=f"Fase {code}"
            )
        )
    await session.commit()
    secret = "integration-secret-" + "q" * 20
    system = await f.integration_client(
        session,
        places["fomento"].id,
        secret=secret,
        scopes=["expedientes:read", "expedientes:write"],
    )
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": system.client_id,
            "client_secret": secret,
        },
    )
    ih = {"Authorization": f"Bearer {token.json()['access_token']}"}
    url = "/api/v1/integrations/expedientes/OBR-7"
    body = {
        "municipality_ine_code": "06011",
        "procedure_code": "obras",
        "title": "Pavimentación de la calle Real",
        "opened_at": "2026-11-02T09:00:00+01:00",
    }
    for _ in range(2):  # a retried upsert changes nothing and tells nobody twice
        r = await client.put(url, json=body, headers=ih)
        assert r.status_code in (200, 201), r.text
    eid = r.json()["id"]
    for event_id, stage, day in (("e1", "INI", "03"), ("e2", "INF", "10"), ("e2", "INF", "10")):
        event = {
            "event_id": event_id,
            "stage_code": stage,
            "occurred_at": f"2026-11-{day}T10:00:00+01:00",
        }
        r = await client.post(f"{url}/events", json=event, headers=ih)
        assert r.status_code in (200, 201), r.text  # 200: a duplicate, recorded before
    resolved = body | {
        "documents": [{"title": "Informe técnico", "url": "https://sede.example/doc/1"}],
        "status": "resolved",
        "closed_at": "2026-11-20T12:00:00+01:00",
    }
    r = await client.put(url, json=resolved, headers=ih)
    assert r.status_code == 200, r.text

    feed = await _feed(client, h["mayor"])
    assert sorted(n["kind"] for n in feed) == [
        "expediente.created",
        "expediente.documents_added",
        "expediente.resolved",
        "expediente.stage_changed",
    ]
    assert {n["link"] for n in feed} == {f"/expedientes/{eid}"}
    assert await _feed(client, h["other_mayor"]) == []
    # Frequent updates stay in the feed unless the person asks for e-mail.
    emailed = (
        (
            await session.execute(
                text(
                    "SELECT e.kind FROM email_delivery d JOIN notification_event e"
                    " ON e.id = d.event_id WHERE d.user_id = :u"
                ),
                {"u": people["mayor"].id},
            )
        )
        .scalars()
        .all()
    )
    assert "expediente.stage_changed" not in emailed
    assert "expediente.documents_added" not in emailed
    assert "expediente.created" in emailed


async def test_calendar_tells_the_municipalities_it_concerns(client, session):
    from datetime import UTC, datetime, timedelta

    _, h, places = await _setup(client, session)
    call = await _post(
        client,
        "/api/v1/events",
        {
            "kind": "grant_call",
            "title": "Plan de obras municipales",
            "starts_at": "2026-12-01T00:00:00+01:00",
            "all_day": True,
            "application_opens_on": "2026-12-01",
            "closing_term_working_days": 10,
            "audience": "municipalities",
            "municipality_ids": [str(places["alm"].id)],
        },
        h["fomento"],
    )
    await _post(client, f"/api/v1/events/{call['id']}/publish", {}, h["fomento"])
    opened = [n for n in await _feed(client, h["mayor"]) if n["kind"] == "grant_call.opened"]
    assert len(opened) == 1
    assert "17/12/2026" in opened[0]["body"]
    assert opened[0]["link"] == f"/calendario/{call['id']}"
    assert await _feed(client, h["other_mayor"]) == []

    start = datetime.now(UTC) + timedelta(days=20)
    event = await _post(
        client,
        "/api/v1/events",
        {
            "kind": "event",
            "title": "Jornada de contratación",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "registration_required": True,
            "capacity": 10,
        },
        h["fomento"],
    )
    eid = event["id"]
    await _post(client, f"/api/v1/events/{eid}/publish", {}, h["fomento"])
    await _post(client, f"/api/v1/events/{eid}/registrations", {"attendee_name": "Ana"}, h["mayor"])
    # A change of title alone tells nobody; a change of time tells who registered.
    r = await client.patch(f"/api/v1/events/{eid}", json={"title": "Jornada"}, headers=h["fomento"])
    assert r.status_code == 200, r.text
    later = start + timedelta(days=1)
    r = await client.patch(
        f"/api/v1/events/{eid}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=2)).isoformat()},
        headers=h["fomento"],
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/api/v1/events/{eid}", json={"status": "cancelled"}, headers=h["fomento"]
    )
    assert r.status_code == 200, r.text
    mine = [n["kind"] for n in await _feed(client, h["clerk"]) if n["link"] == f"/calendario/{eid}"]
    assert sorted(mine) == ["event.cancelled", "event.changed"]
    assert await _feed(client, h["other_mayor"]) == []


async def test_the_catalogue_lists_every_event_and_describes_each_payload(client, session):
    from app.models.notification import NotificationKind
    from app.schemas.events import CATALOGUE

    r = await client.get("/api/v1/webhooks/event-types")
    assert r.status_code == 200, r.text
    listed = {t["type"]: t for t in r.json()}
    assert set(listed) == {k.value for k in NotificationKind}
    assert listed["consultation.answered"]["payload_schema"] == "ConsultationPayload"
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert set(spec["webhooks"]) == set(listed)

    # What the lifecycle records matches what the catalogue promises.
    _, h, places = await _setup(client, session)
    sub = WebhookSubscription(
        url="https://receiver.example/only-answers",
        secret="u" * 32,
        event_types=["consultation.answered"],
    )
    session.add(sub)
    await session.commit()
    created = await _post(
        client,
        URL,
        {
            "subject": "Obras",
            "body": "¿Plazos?",
            "municipality_id": str(places["alm"].id),
            "channel": "phone",
        },
        h["office"],
    )
    cid = created["id"]
    for step in (
        {"to": "forwarded", "area_id": str(places["fomento"].id)},
        {"to": "waiting_on_municipality", "reason": "un plano"},
        {"to": "answered"},
    ):
        await _post(client, f"{URL}/{cid}/transitions", step, h["office"])
    rows = (
        await session.execute(text("SELECT kind, payload FROM notification_event ORDER BY id"))
    ).all()
    assert len(rows) == 5
    for kind, payload in rows:
        CATALOGUE[NotificationKind(kind)][2].model_validate(payload)
    hooks = (
        (
            await session.execute(
                text(
                    "SELECT e.kind FROM webhook_delivery d JOIN notification_event e"
                    " ON e.id = d.event_id WHERE d.subscription_id = :s"
                ),
                {"s": sub.id},
            )
        )
        .scalars()
        .all()
    )
    assert hooks == ["consultation.answered"]
