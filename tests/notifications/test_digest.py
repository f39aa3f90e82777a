"""The daily digest: one e-mail a morning instead of one per notification, sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.core.time import MADRID
from app.models.base import Role
from app.services.notifications import digest
from tests import factories as f
from tests import receivers as r

# Jobs open their own sessions on the app's engine: these tests commit for real.
pytestmark = pytest.mark.committed

URL = "/api/v1/consultations"


async def _emails(session: Any, user_id: Any) -> int:
    return int(
        (
            await session.execute(
                text("SELECT count(*) FROM email_delivery WHERE user_id = :u"), {"u": user_id}
            )
        ).scalar_one()
    )


async def test_digest_readers_get_one_email_a_day_with_everything(client, session, smtp):
    alm = await f.municipality(session, "06011")
    reader = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    one_by_one = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    rh = await f.auth_headers(client, reader)
    assert (await client.get("/api/v1/notifications/digest", headers=rh)).json() == {
        "enabled": False,
        "hour": 7,
    }
    r1 = await client.put("/api/v1/notifications/digest", json={"enabled": True}, headers=rh)
    assert r1.status_code == 200, r1.text
    assert r1.json()["enabled"] is True
    bad = await client.put("/api/v1/notifications/digest", json={"enabled": "sí"}, headers=rh)
    assert bad.status_code == 422

    for subject in ("Plan de empleo", "Caminos rurales"):
        res = await client.post(
            URL,
            json={
                "subject": subject,
                "body": "¿Plazos?",
                "municipality_id": str(alm.id),
                "channel": "phone",
            },
            headers=office,
        )
        assert res.status_code == 201, res.text
    # Both still reach the feed at once; e-mail one by one only for the other person.
    assert len((await client.get("/api/v1/notifications", headers=rh)).json()["items"]) == 2
    assert await _emails(session, reader.id) == 0
    assert await _emails(session, one_by_one.id) == 2

    day = digest.day_covering(datetime.now(UTC))
    async with r.arq_pool() as arq, r.job_ctx(redis=arq) as ctx:
        assert await digest.queue_digests(ctx, day) == 1
        assert await digest.queue_digests(ctx, day) == 1  # a second worker: no new row
        (dispatch_id,) = (
            (await session.execute(text("SELECT id FROM digest_dispatch"))).scalars().all()
        )
        assert await digest.send_digest(ctx, str(dispatch_id)) == "sent"
        assert await digest.send_digest(ctx, str(dispatch_id)) == "skipped"
    (_, to, message) = smtp.messages[0]
    assert len(smtp.messages) == 1
    assert to == [reader.email]
    assert "2 avisos" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Plan de empleo" in body
    assert "Caminos rurales" in body
    assert "Código de seguimiento" in body


async def test_a_day_with_nothing_to_tell_sends_nothing(client, session, smtp):
    alm = await f.municipality(session, "06011")
    reader = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    rh = await f.auth_headers(client, reader)
    await client.put("/api/v1/notifications/digest", json={"enabled": True}, headers=rh)
    long_ago = digest.day_covering(datetime.now(UTC)) - timedelta(days=3)
    async with r.job_ctx() as ctx:
        assert await digest.queue_digests(ctx, long_ago) == 1
        (dispatch_id,) = (
            (await session.execute(text("SELECT id FROM digest_dispatch"))).scalars().all()
        )
        assert await digest.send_digest(ctx, str(dispatch_id)) == "empty"
    assert smtp.messages == []


async def test_integrations_have_no_digest(client, session):
    fomento = await f.area(session, "fomento")
    secret = "integration-secret-" + "q" * 20
    system = await f.integration_client(session, fomento.id, secret=secret)
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": system.client_id,
            "client_secret": secret,
        },
    )
    h = {"Authorization": f"Bearer {token.json()['access_token']}"}
    res = await client.get("/api/v1/notifications/digest", headers=h)
    assert res.status_code == 403
    assert res.headers["content-type"].startswith("application/problem+json")


def test_each_notification_falls_in_exactly_one_morning_digest():
    for hour in (0, 6, 7, 12, 23):
        instant = datetime(2026, 3, 29, hour, 30, tzinfo=MADRID)  # a DST change day too
        start, end = digest.window(digest.day_covering(instant))
        assert start <= instant < end
