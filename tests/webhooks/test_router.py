"""Webhook subscriptions through the API: who may manage which, URL validation, secrets,
the delivery log and redelivery."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from app.core.queue import job_id, queue_name
from app.models.base import Role
from app.services.notifications.delivery import MAX_ATTEMPTS, deliver_webhook
from tests import factories as f
from tests import receivers as r
from tests.factories import assert_problem

URL = "/api/v1/webhooks"
ALL_SCOPES = ["notifications:read", "notifications:ack"]


async def _integration(client, session, area, scopes=ALL_SCOPES):
    secret = "integration-secret-" + "z" * 20
    c = await f.integration_client(session, area.id, secret=secret, scopes=scopes)
    response = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 200, response.text
    return c, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _create(client, headers, **body):
    body.setdefault("url", "https://receptor.example.org/hooks/oaaa")
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# ---- subscriptions ------------------------------------------------------------------------


async def test_admin_creates_reads_updates_and_deletes_a_subscription(client, session):
    admin = await f.admin_headers(client, session)
    area = await f.area(session)
    created = await client.post(
        URL,
        json={
            "url": "https://receptor.example.org/hooks/oaaa?canal=sla",
            "description": "Sistema de Fomento",
            "event_types": ["consultation.sla_breached", "consultation.sla_breached"],
            "area_id": str(area.id),
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"{URL}/{body['id']}"
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert body["event_types"] == ["consultation.sla_breached"]
    assert body["area_id"] == str(area.id)
    assert body["integration_client_id"] is None
    assert body["is_active"] is True

    got = await client.get(f"{URL}/{body['id']}", headers=admin)
    assert got.status_code == 200
    assert "secret" not in got.json()
    listed = await client.get(URL, headers=admin)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]
    assert "secret" not in listed.json()["items"][0]

    patched = await client.patch(
        f"{URL}/{body['id']}",
        json={"is_active": False, "event_types": [], "area_id": None},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False
    assert patched.json()["event_types"] == []
    assert patched.json()["area_id"] is None

    deleted = await client.delete(f"{URL}/{body['id']}", headers=admin)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(f"{URL}/{body['id']}", headers=admin), 404)

    audit = (
        await session.execute(
            text("SELECT action, changes::text FROM audit_log ORDER BY occurred_at, id")
        )
    ).all()
    actions = [a for a, _ in audit if a.startswith("webhook_subscription.")]
    assert actions == [
        "webhook_subscription.create",
        "webhook_subscription.update",
        "webhook_subscription.delete",
    ]
    assert all(body["secret"] not in changes for _, changes in audit)


async def test_secret_rotation_shows_the_new_secret_once_and_is_audited(client, session):
    admin = await f.admin_headers(client, session)
    sub = await _create(client, admin)
    rotated = await client.post(f"{URL}/{sub['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != sub["secret"]
    stored = (
        await session.execute(
            text("SELECT secret FROM webhook_subscription WHERE id = :i"), {"i": sub["id"]}
        )
    ).scalar_one()
    assert stored == new
    changes = (
        await session.execute(
            text(
                "SELECT changes::text FROM audit_log"
                " WHERE action = 'webhook_subscription.rotate_secret'"
            )
        )
    ).scalar_one()
    assert new not in changes
    assert "changed" in changes


async def test_an_integration_manages_only_its_own_subscriptions(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    mine, my_headers = await _integration(client, session, fomento)
    _, other_headers = await _integration(client, session, cultura)
    admin = await f.admin_headers(client, session)

    sub = await _create(client, my_headers)
    assert sub["integration_client_id"] == str(mine.id)
    assert sub["area_id"] == str(fomento.id)  # always its own área
    admin_sub = await _create(client, admin)

    listed = await client.get(URL, headers=my_headers)
    assert [s["id"] for s in listed.json()["items"]] == [sub["id"]]
    assert (await client.get(URL, headers=other_headers)).json()["items"] == []
    all_ids = {s["id"] for s in (await client.get(URL, headers=admin)).json()["items"]}
    assert all_ids == {sub["id"], admin_sub["id"]}

    # Another client's subscription (or an admin's) does not exist for it.
    for path in (
        f"{URL}/{sub['id']}",
        f"{URL}/{sub['id']}/deliveries",
        f"{URL}/{admin_sub['id']}",
    ):
        assert_problem(await client.get(path, headers=other_headers), 404, "not-found")
    assert_problem(
        await client.patch(f"{URL}/{sub['id']}", json={"is_active": False}, headers=other_headers),
        404,
    )
    assert_problem(await client.delete(f"{URL}/{sub['id']}", headers=other_headers), 404)
    assert_problem(
        await client.post(f"{URL}/{sub['id']}/rotate-secret", headers=other_headers), 404
    )
    # The admin sees and manages it.
    assert (await client.get(f"{URL}/{sub['id']}", headers=admin)).status_code == 200


async def test_an_integration_cannot_subscribe_to_another_area(client, session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    _, headers = await _integration(client, session, fomento)
    r_ = await client.post(
        URL,
        json={"url": "https://receptor.example.org/h", "area_id": str(cultura.id)},
        headers=headers,
    )
    body = assert_problem(r_, 422)
    assert body["errors"][0]["pointer"] == "/area_id"
    sub = await _create(client, headers)
    r_ = await client.patch(
        f"{URL}/{sub['id']}", json={"area_id": str(cultura.id)}, headers=headers
    )
    assert_problem(r_, 422)


async def test_scopes_and_roles_are_required(client, session):
    area = await f.area(session)
    _, read_only = await _integration(client, session, area, scopes=["notifications:read"])
    _, no_scope = await _integration(client, session, area, scopes=["expedientes:read"])
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    mun = await f.municipality(session, "06011")
    mayor = await f.auth_headers(
        client, await f.user(session, Role.municipal_user, municipality_id=mun.id)
    )

    assert (await client.get(URL, headers=read_only)).status_code == 200
    body = {"url": "https://receptor.example.org/h"}
    assert_problem(await client.post(URL, json=body, headers=read_only), 403, "forbidden")
    assert_problem(await client.get(URL, headers=no_scope), 403, "forbidden")
    for headers in (staff, mayor):
        assert_problem(await client.get(URL, headers=headers), 403)
        assert_problem(await client.post(URL, json=body, headers=headers), 403)
    assert_problem(await client.get(URL), 401)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://receptor.example.org/h",
        "javascript:alert(1)",
        "https://usuario:clave@receptor.example.org/h",
        "https://token@receptor.example.org/h",
        "https://receptor.example.org/h#fragmento",
        "https:///sin-servidor",
        "https://receptor.example.org/con espacio",
        "https://receptor.example.org:99999/h",
        "receptor.example.org/h",
        "https://receptor.example.org/" + "a" * 2000,
    ],
)
async def test_invalid_urls_are_422_naming_the_field(client, session, url):
    admin = await f.admin_headers(client, session)
    body = assert_problem(await client.post(URL, json={"url": url}, headers=admin), 422)
    assert body["errors"][0]["pointer"] == "/url"
    sub = await _create(client, admin)
    body = assert_problem(
        await client.patch(f"{URL}/{sub['id']}", json={"url": url}, headers=admin), 422
    )
    assert body["errors"][0]["pointer"] == "/url"


async def test_unknown_event_types_and_fields_are_refused(client, session):
    admin = await f.admin_headers(client, session)
    base = {"url": "https://receptor.example.org/h"}
    body = assert_problem(
        await client.post(URL, json={**base, "event_types": ["consultation.nope"]}, headers=admin),
        422,
    )
    assert body["errors"][0]["pointer"] == "/event_types/0"
    body = assert_problem(
        await client.post(URL, json={**base, "secret": "whsec_mio"}, headers=admin), 422
    )
    assert body["errors"][0]["pointer"] == "/secret"
    sub = await _create(client, admin)
    body = assert_problem(
        await client.patch(f"{URL}/{sub['id']}", json={"url": None}, headers=admin), 422
    )
    assert body["errors"][0]["pointer"] == "/url"


async def test_list_is_keyset_paginated(client, session):
    admin = await f.admin_headers(client, session)
    ids = [(await _create(client, admin))["id"] for _ in range(3)]
    first = (await client.get(URL, params={"limit": 2}, headers=admin)).json()
    second = (
        await client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin)
    ).json()
    assert second["next_cursor"] is None
    seen = [s["id"] for s in first["items"] + second["items"]]
    assert seen == list(reversed(ids))  # newest first


# ---- delivery log and redelivery ----------------------------------------------------------


@pytest.mark.committed
async def test_delivery_log_and_attempts(client, session):
    admin = await f.admin_headers(client, session)
    async with r.http_receiver(r.sequence(500, 200)) as receiver:
        sub = await _create(client, admin, url=receiver.url)
        failing = (await r.event(session)).webhook_delivery_ids[0]
        await r.event(session)  # a second, newer delivery, never attempted
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(failing)) == "retry"
            await session.execute(
                text("UPDATE webhook_delivery SET next_attempt_at = now() WHERE id = :i"),
                {"i": failing},
            )
            await session.commit()
            assert await deliver_webhook(ctx, str(failing)) == "succeeded"

    log = (await client.get(f"{URL}/{sub['id']}/deliveries", headers=admin)).json()
    assert len(log["items"]) == 2
    newest, oldest = log["items"]
    assert newest["status"] == "pending"
    assert newest["attempts"] == 0
    assert oldest["id"] == str(failing)
    assert oldest["webhook_id"] == f"msg_{failing.hex}"
    assert oldest["status"] == "succeeded"
    assert oldest["attempts"] == 2
    assert oldest["last_status_code"] == 200
    assert oldest["last_latency_ms"] > 0
    assert oldest["delivered_at"] is not None

    only = await client.get(
        f"{URL}/{sub['id']}/deliveries", params={"status": "succeeded"}, headers=admin
    )
    assert [d["id"] for d in only.json()["items"]] == [str(failing)]
    page = (
        await client.get(f"{URL}/{sub['id']}/deliveries", params={"limit": 1}, headers=admin)
    ).json()
    assert page["next_cursor"]
    assert_problem(
        await client.get(f"{URL}/{sub['id']}/deliveries", params={"status": "lost"}, headers=admin),
        422,
    )

    attempts = await client.get(f"{URL}/{sub['id']}/deliveries/{failing}/attempts", headers=admin)
    assert attempts.status_code == 200
    first, second = attempts.json()["items"]
    assert (first["attempt"], first["status_code"]) == (1, 500)
    assert "500" in first["error"]
    assert (second["attempt"], second["status_code"], second["error"]) == (2, 200, None)


@pytest.mark.committed
async def test_redeliver_a_dead_delivery(client, session):
    admin = await f.admin_headers(client, session)
    async with r.http_receiver() as receiver, r.arq_pool() as arq:
        sub = await _create(client, admin, url=receiver.url)
        (delivery_id,) = (await r.event(session)).webhook_delivery_ids
        await session.execute(
            text(
                "UPDATE webhook_delivery SET status = 'dead', attempts = :n,"
                " last_error = 'respuesta HTTP 500' WHERE id = :i"
            ),
            {"n": MAX_ATTEMPTS, "i": delivery_id},
        )
        await session.commit()
        path = f"{URL}/{sub['id']}/deliveries/{delivery_id}/redeliver"

        response = await client.post(path, headers=admin)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        assert response.json()["attempts"] == MAX_ATTEMPTS  # kept
        # The engine is woken after the commit.
        queued = await arq.zrange(queue_name(), 0, -1)
        assert any(j.decode().startswith(job_id("webhooks", "")) for j in queued)

        assert_problem(await client.post(path, headers=admin), 409, "conflict")

        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
        assert len(receiver.requests) == 1
        assert receiver.requests[0].headers["webhook-id"] == f"msg_{delivery_id.hex}"

        # A succeeded delivery can be sent again too.
        again = await client.post(path, headers=admin)
        assert again.status_code == 202
        assert again.json()["attempts"] == MAX_ATTEMPTS + 1

    action = (
        await session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'webhook_delivery.redeliver'")
        )
    ).scalar_one()
    assert action == 2


async def test_redeliver_scoping_and_missing_deliveries(client, session):
    fomento = await f.area(session, "fomento")
    _, mine = await _integration(client, session, fomento)
    _, other = await _integration(client, session, fomento)
    sub = await _create(client, mine, url="http://127.0.0.1:9/h")
    (delivery_id,) = (await r.event(session, area_id=fomento.id)).webhook_delivery_ids
    await session.execute(text("UPDATE webhook_delivery SET status = 'dead'"))
    await session.commit()
    path = f"{URL}/{sub['id']}/deliveries/{delivery_id}"

    assert_problem(await client.post(f"{path}/redeliver", headers=other), 404)
    assert_problem(await client.get(f"{path}/attempts", headers=other), 404)
    other_sub = await _create(client, other, url="http://127.0.0.1:9/x")
    assert_problem(
        await client.post(
            f"{URL}/{other_sub['id']}/deliveries/{delivery_id}/redeliver", headers=other
        ),
        404,
    )
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(
        await client.post(f"{URL}/{sub['id']}/deliveries/{missing}/redeliver", headers=mine), 404
    )

    await client.patch(f"{URL}/{sub['id']}", json={"is_active": False}, headers=mine)
    assert_problem(await client.post(f"{path}/redeliver", headers=mine), 409)
