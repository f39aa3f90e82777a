"""`/metrics`: who may read it, and the operational families beside the HTTP ones."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text

from app.core import observability, queue
from app.core.config import get_settings
from app.routers import health
from app.services.notifications.delivery import deliver_webhook
from app.services.notifications.scan import scan_sla
from app.worker import settings as worker
from tests import factories as f
from tests import receivers as r
from tests.factories import assert_problem


def _value(body: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.fixture
async def remote_client(migrated_database):
    from app.main import app

    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def token(monkeypatch):
    value = "metrics-token-" + "m" * 30
    monkeypatch.setattr(get_settings(), "metrics_token", SecretStr(value))
    return value


async def _scrape(client: Any) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return str(response.text)


# ---- access ---------------------------------------------------------------------------------


async def test_a_remote_client_is_refused_when_no_token_is_configured(remote_client):
    body = assert_problem(await remote_client.get("/metrics"), 403, "forbidden")
    assert "propia máquina" in body["detail"]


async def test_a_remote_client_without_the_token_gets_401(remote_client, token):
    response = await remote_client.get("/metrics")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_token_gets_403(remote_client, token):
    response = await remote_client.get("/metrics", headers={"Authorization": "Bearer otro"})
    assert_problem(response, 403, "forbidden")


@pytest.mark.committed
async def test_the_right_token_opens_metrics_from_anywhere(remote_client, token):
    response = await remote_client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "oaaa_deliveries" in response.text


async def test_a_proxied_request_is_not_a_loopback_client(client):
    response = await client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert_problem(response, 403, "forbidden")


async def test_loopback_can_be_closed_leaving_the_token(client, token, monkeypatch):
    monkeypatch.setattr(get_settings(), "metrics_allow_loopback", False)
    assert_problem(await client.get("/metrics"), 401)
    ok = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


# ---- what the database holds, read at scrape time ---------------------------------------------


async def test_deliveries_by_channel_and_state(client, session):
    await r.subscription(session, "https://receptor.example.org/h")
    for _ in range(4):
        await r.event(session)
    await session.execute(
        text(
            "UPDATE webhook_delivery SET status = 'dead' WHERE id IN"
            " (SELECT id FROM webhook_delivery ORDER BY id LIMIT 1)"
        )
    )
    await session.execute(
        text(
            "UPDATE webhook_delivery SET status = 'succeeded' WHERE status = 'pending' AND id IN"
            " (SELECT id FROM webhook_delivery WHERE status = 'pending' ORDER BY id LIMIT 2)"
        )
    )
    await session.commit()
    body = await _scrape(client)
    assert _value(body, "oaaa_deliveries", channel="webhook", state="pending") == 1
    assert _value(body, "oaaa_deliveries", channel="webhook", state="succeeded") == 2
    assert _value(body, "oaaa_deliveries", channel="webhook", state="dead") == 1
    assert _value(body, "oaaa_deliveries", channel="email", state="pending") == 0
    assert _value(body, "oaaa_metrics_source_up", source="database") == 1


async def test_consultations_by_sla_state(client, session):
    mun = await f.municipality(session, "06015")
    for _ in range(3):
        await f.consultation(session, mun.id)
    await f.consultation(session, mun.id, closed=True)
    await session.execute(
        text(
            "UPDATE consultation SET sla_state = 'breached' WHERE id IN"
            " (SELECT id FROM consultation WHERE sla_state = 'on_track' LIMIT 1)"
        )
    )
    await session.commit()
    body = await _scrape(client)
    assert _value(body, "oaaa_consultations", sla_state="on_track") == 2
    assert _value(body, "oaaa_consultations", sla_state="breached") == 1
    assert _value(body, "oaaa_consultations", sla_state="met") == 1
    assert _value(body, "oaaa_consultations", sla_state="warning") == 0


async def test_an_unreachable_redis_leaves_the_rest_of_the_scrape(client, monkeypatch):
    dead = Redis.from_url(f"redis://127.0.0.1:{r.free_port()}/0", socket_connect_timeout=0.5)
    monkeypatch.setattr(health, "get_redis", lambda: dead)
    body = await _scrape(client)
    assert _value(body, "oaaa_metrics_source_up", source="redis") == 0
    assert _value(body, "oaaa_metrics_source_up", source="database") == 1
    assert _value(body, "oaaa_deliveries", channel="webhook", state="pending") == 0
    await dead.aclose()


# ---- what workers publish through Redis -----------------------------------------------------


@pytest.mark.committed
async def test_attempts_latency_and_dead_letters_published_by_workers(client, session):
    async with r.http_receiver(r.sequence(200, 500)) as receiver, r.arq_pool() as arq:
        await r.subscription(session, receiver.url)
        first = (await r.event(session)).webhook_delivery_ids[0]
        second = (await r.event(session)).webhook_delivery_ids[0]
        await session.execute(
            text("UPDATE webhook_delivery SET attempts = 10 WHERE id = :i"), {"i": second}
        )
        await session.commit()
        async with r.job_ctx(redis=arq) as ctx:
            assert await deliver_webhook(ctx, str(first)) == "succeeded"
            assert await deliver_webhook(ctx, str(second)) == "dead"
    body = await _scrape(client)
    latency = "oaaa_delivery_attempt_duration_seconds"
    assert _value(body, f"{latency}_count", channel="webhook") == 2
    assert _value(body, f"{latency}_bucket", channel="webhook", le="+Inf") == 2
    assert 0 < (_value(body, f"{latency}_sum", channel="webhook") or 0) < 10
    attempts = "oaaa_delivery_attempts_total"
    assert _value(body, attempts, channel="webhook", outcome="succeeded") == 1
    assert _value(body, attempts, channel="webhook", outcome="dead") == 1
    assert _value(body, attempts, channel="webhook", outcome="retry") == 0
    assert _value(body, "oaaa_delivery_dead_letters_total", channel="webhook") == 1
    assert _value(body, "oaaa_delivery_dead_letters_total", channel="email") == 0


async def test_queue_depth_ready_and_deferred(client):
    async with r.arq_pool() as arq:
        await queue.enqueue_now(arq, "heartbeat", job_id=queue.job_id("t", "ready"))
        for n in range(2):
            await queue.enqueue_now(
                arq, "heartbeat", job_id=queue.job_id("t", n), defer_until=_in_an_hour()
            )
        body = await _scrape(client)
    assert _value(body, "oaaa_queue_jobs", state="ready") == 1
    assert _value(body, "oaaa_queue_jobs", state="deferred") == 2


def _in_an_hour():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.committed
async def test_sla_scan_duration(client):
    from app.core.db import get_sessionmaker

    async with r.arq_pool() as arq:
        timed = worker.timed_scan(scan_sla)
        await timed({"sessionmaker": get_sessionmaker(), "redis": arq})
        await timed({"sessionmaker": get_sessionmaker(), "redis": arq})
        body = await _scrape(client)
    assert _value(body, "oaaa_sla_scan_duration_seconds_count") == 2
    assert (_value(body, "oaaa_sla_scan_duration_seconds_sum") or 0) > 0


async def test_no_heartbeat_yet_means_no_age_and_no_worker(client):
    body = await _scrape(client)
    assert _value(body, "oaaa_worker_heartbeat_age_seconds") is None
    assert _value(body, "oaaa_workers_alive") == 0


@pytest.mark.committed
async def test_a_running_worker_beats_and_forgets_itself_on_shutdown(client):
    async with r.arq_pool() as arq:
        ctx = {"redis": arq}
        await worker.startup(ctx)
        try:
            deadline = time.monotonic() + 5
            while _value(await _scrape(client), "oaaa_workers_alive") != 1:
                assert time.monotonic() < deadline, "no heartbeat"
        finally:
            await worker.shutdown(ctx)
        body = await _scrape(client)
    assert _value(body, "oaaa_workers_alive") == 0


async def test_heartbeat_age_is_the_freshest_and_stale_workers_are_not_alive(client):
    async with r.arq_pool() as arq:
        now = time.time()
        await observability.beat(arq, "a", now - 120)
        await observability.beat(arq, "b", now - 30)
        await observability.beat(arq, "gone", now - 3 * 24 * 3600)
        body = await _scrape(client)
        remaining = await arq.hkeys(get_settings().redis_prefix + "metrics:heartbeats")
    age = _value(body, "oaaa_worker_heartbeat_age_seconds") or 0
    assert 30 <= age < 60
    assert _value(body, "oaaa_workers_alive") == 1
    assert sorted(k.decode() for k in remaining) == ["a", "b"]
