"""Secret rotation with an overlap: both signatures while the replaced secret is still valid,
only the new one after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.config import get_settings
from app.services.notifications.delivery import deliver_webhook
from app.services.webhooks import WebhookVerificationError, verify
from tests import factories as f
from tests import receivers as r

# Jobs open their own sessions on the app's engine: these tests commit for real.
pytestmark = pytest.mark.committed

URL = "/api/v1/webhooks"


async def _subscribe_and_rotate(client, session, url):
    admin = await f.admin_headers(client, session)
    created = await client.post(URL, json={"url": url}, headers=admin)
    assert created.status_code == 201, created.text
    old = created.json()
    rotated = await client.post(f"{URL}/{old['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    return old, rotated.json()


async def _deliver_one(session):
    emitted = await r.event(session)
    (delivery_id,) = emitted.webhook_delivery_ids
    async with r.job_ctx() as ctx:
        assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"


async def test_during_the_overlap_every_delivery_carries_both_signatures(client, session):
    async with r.http_receiver() as receiver:
        old, new = await _subscribe_and_rotate(client, session, receiver.url)
        await _deliver_one(session)
        (received,) = receiver.requests
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    # A receiver holding either secret accepts the message.
    verify(new["secret"], received.headers, received.body)
    verify(old["secret"], received.headers, received.body)


async def test_the_overlap_follows_the_setting_and_is_shown(client, session, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_secret_overlap_hours", 6)
    before = datetime.now(UTC)
    _, new = await _subscribe_and_rotate(client, session, "https://receptor.example.org/h")
    until = datetime.fromisoformat(new["previous_secret_valid_until"])
    assert before + timedelta(hours=6) <= until <= datetime.now(UTC) + timedelta(hours=6)


async def test_after_the_overlap_only_the_new_secret_signs(client, session):
    async with r.http_receiver() as receiver:
        old, new = await _subscribe_and_rotate(client, session, receiver.url)
        await session.execute(
            text(
                "UPDATE webhook_subscription"
                " SET previous_secret_valid_until = now() - interval '1 second' WHERE id = :i"
            ),
            {"i": new["id"]},
        )
        await session.commit()
        await _deliver_one(session)
        (received,) = receiver.requests
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    verify(new["secret"], received.headers, received.body)
    with pytest.raises(WebhookVerificationError):
        verify(old["secret"], received.headers, received.body)


async def test_without_overlap_the_old_secret_stops_at_once(client, session, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_secret_overlap_hours", 0)
    async with r.http_receiver() as receiver:
        old, new = await _subscribe_and_rotate(client, session, receiver.url)
        assert new["previous_secret_valid_until"] is None
        await _deliver_one(session)
        (received,) = receiver.requests
    with pytest.raises(WebhookVerificationError):
        verify(old["secret"], received.headers, received.body)
    verify(new["secret"], received.headers, received.body)


async def test_a_second_rotation_keeps_only_the_secret_it_replaces(client, session):
    admin = await f.admin_headers(client, session)
    async with r.http_receiver() as receiver:
        first, second = await _subscribe_and_rotate(client, session, receiver.url)
        third = (await client.post(f"{URL}/{first['id']}/rotate-secret", headers=admin)).json()
        await _deliver_one(session)
        (received,) = receiver.requests
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    verify(third["secret"], received.headers, received.body)
    verify(second["secret"], received.headers, received.body)
    with pytest.raises(WebhookVerificationError):
        verify(first["secret"], received.headers, received.body)


async def test_the_previous_secret_never_reaches_the_audit_log_or_the_api(client, session):
    old, new = await _subscribe_and_rotate(client, session, "https://receptor.example.org/h")
    admin = await f.admin_headers(client, session)
    await client.delete(f"{URL}/{old['id']}", headers=admin)
    log = (
        await session.execute(text("SELECT string_agg(changes::text, ' ') FROM audit_log"))
    ).scalar_one()
    assert old["secret"] not in log
    assert new["secret"] not in log
    assert "previous_secret_valid_until" in log
    assert "previous_secret" not in new
