"""Delivery jobs against real PostgreSQL, Redis, a local HTTP receiver and an SMTP server.

Jobs are called as arq calls them, with a context holding the app's sessionmaker and an
httpx client; between attempts the test makes the delivery due again instead of waiting.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from arq.jobs import Job
from sqlalchemy import text

from app.core import queue
from app.core.config import get_settings
from app.core.queue import job_id, queue_name
from app.models.base import Role
from app.services.notifications import delivery
from app.services.notifications.delivery import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_SECONDS,
    deliver_email,
    deliver_webhook,
    retry_delay,
)
from app.services.webhooks import verify
from tests import factories as f
from tests import receivers as r

# Worker jobs open their own sessions and commit for real.
pytestmark = pytest.mark.committed


async def _row(session, delivery_id, table="webhook_delivery"):
    session.expire_all()
    result = await session.execute(
        text(f"SELECT * FROM {table} WHERE id = :i"),
        {"i": delivery_id},
    )
    return result.mappings().one()


async def _attempts(session, delivery_id):
    result = await session.execute(
        text("SELECT * FROM webhook_attempt WHERE delivery_id = :i ORDER BY attempt"),
        {"i": delivery_id},
    )
    return result.mappings().all()


async def _make_due(session, delivery_id, table="webhook_delivery"):
    await session.execute(
        text(f"UPDATE {table} SET next_attempt_at = now() WHERE id = :i"),
        {"i": delivery_id},
    )
    await session.commit()


async def _one_delivery(session, url):
    sub = await r.subscription(session, url)
    emitted = await r.event(session)
    (delivery_id,) = emitted.webhook_delivery_ids
    return sub, emitted, delivery_id


# ---- schedule -----------------------------------------------------------------------------


def test_retry_schedule_spans_about_a_day_with_bounded_jitter():
    assert MAX_ATTEMPTS == 11
    total = sum(RETRY_SCHEDULE_SECONDS)
    assert 22 * 3600 <= total <= 26 * 3600
    assert list(RETRY_SCHEDULE_SECONDS) == sorted(RETRY_SCHEDULE_SECONDS)
    for attempt, base in enumerate(RETRY_SCHEDULE_SECONDS, start=1):
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)  # type: ignore[operator]
        assert len(delays) > 1  # jittered
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(MAX_ATTEMPTS + 3) is None


# ---- webhooks -----------------------------------------------------------------------------


async def test_success_records_the_attempt_status_and_latency(session):
    async with r.http_receiver() as receiver:
        sub, emitted, delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
            # Done: a second run (duplicate job, sweeper) claims nothing.
            assert await deliver_webhook(ctx, str(delivery_id)) == "skipped"
    assert len(receiver.requests) == 1
    verify(sub.secret, receiver.requests[0].headers, receiver.requests[0].body)

    row = await _row(session, delivery_id)
    assert row["status"] == "succeeded"
    assert row["attempts"] == 1
    assert row["last_status_code"] == 200
    assert row["last_latency_ms"] > 0
    assert row["last_error"] is None
    assert row["locked_until"] is None
    assert row["delivered_at"] is not None
    (attempt,) = await _attempts(session, delivery_id)
    assert attempt["attempt"] == 1
    assert attempt["status_code"] == 200
    assert attempt["latency_ms"] > 0
    assert attempt["error"] is None


async def test_500_is_retried_with_backoff_then_dead_lettered(session):
    async with r.http_receiver(r.always(500)) as receiver:
        _, _, delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                before = datetime.now(UTC)
                outcome = await deliver_webhook(ctx, str(delivery_id))
                row = await _row(session, delivery_id)
                assert row["attempts"] == attempt
                assert row["last_status_code"] == 500
                assert "500" in row["last_error"]
                assert "fallo del receptor" in row["last_error"]
                assert row["locked_until"] is None
                if attempt < MAX_ATTEMPTS:
                    assert outcome == "retry"
                    assert row["status"] == "pending"
                    wait = (row["next_attempt_at"] - before).total_seconds()
                    base = RETRY_SCHEDULE_SECONDS[attempt - 1]
                    assert base * 0.8 - 1 <= wait <= base * 1.2 + 1, (attempt, wait)
                    # Not due yet: a job arriving early does nothing.
                    assert await deliver_webhook(ctx, str(delivery_id)) == "skipped"
                    await _make_due(session, delivery_id)
                else:
                    assert outcome == "dead"
                    assert row["status"] == "dead"
            # Dead letters are never picked up again.
            await _make_due(session, delivery_id)
            assert await deliver_webhook(ctx, str(delivery_id)) == "skipped"

    assert len(receiver.requests) == MAX_ATTEMPTS
    # The same webhook-id on every retry, so the receiver can deduplicate.
    assert {q.headers["webhook-id"] for q in receiver.requests} == {f"msg_{delivery_id.hex}"}
    assert len({q.body for q in receiver.requests}) == 1
    attempts = await _attempts(session, delivery_id)
    assert [a["attempt"] for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))
    assert {a["status_code"] for a in attempts} == {500}


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("hang", "tiempo de espera agotado", id="timeout"),
        pytest.param("close", "cerró la conexión", id="closed-connection"),
        pytest.param(500, "respuesta HTTP 500", id="http-500"),
        pytest.param(302, "respuesta HTTP 302", id="redirect-not-followed"),
    ],
)
async def test_failures_are_recorded_retried_and_finally_dead(
    session, monkeypatch, action, expected
):
    # A short timeout for the receiver that never answers; the others answer at once, and a
    # short one would turn a slow answer on a busy machine into a timeout.
    timeout = 0.3 if action == "hang" else 10.0
    monkeypatch.setattr(get_settings(), "webhook_timeout_seconds", timeout)
    async with r.http_receiver(r.always(action)) as receiver:
        _, _, delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
            row = await _row(session, delivery_id)
            assert row["status"] == "pending"
            assert expected in row["last_error"]
            assert row["next_attempt_at"] > datetime.now(UTC)
            (attempt,) = await _attempts(session, delivery_id)
            assert expected in attempt["error"]
            assert attempt["latency_ms"] is not None
            if action == "hang":
                assert attempt["status_code"] is None
                assert 250 <= attempt["latency_ms"] < 2000

            # Jump to the last attempt: its failure dead-letters the delivery.
            await session.execute(
                text(
                    "UPDATE webhook_delivery SET attempts = :n, next_attempt_at = now()"
                    " WHERE id = :i"
                ),
                {"n": MAX_ATTEMPTS - 1, "i": delivery_id},
            )
            await session.commit()
            assert await deliver_webhook(ctx, str(delivery_id)) == "dead"
    row = await _row(session, delivery_id)
    assert row["status"] == "dead"
    assert expected in row["last_error"]
    assert len(receiver.requests) == 2


async def test_refused_connection_is_a_failure(session):
    url = f"http://127.0.0.1:{r.free_port()}/hook"
    _, _, delivery_id = await _one_delivery(session, url)
    async with r.job_ctx() as ctx:
        assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
    row = await _row(session, delivery_id)
    assert "no se pudo conectar" in row["last_error"]
    assert row["last_status_code"] is None


def test_long_error_texts_are_truncated_to_the_column():
    assert len(delivery._truncate("x" * 5000)) == delivery.ERROR_MAX_CHARS


async def test_inactive_subscription_dead_letters_without_sending(session):
    async with r.http_receiver() as receiver:
        sub, _, delivery_id = await _one_delivery(session, receiver.url)
        await session.execute(
            text("UPDATE webhook_subscription SET is_active = false WHERE id = :i"), {"i": sub.id}
        )
        await session.commit()
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "dead"
    assert receiver.requests == []
    row = await _row(session, delivery_id)
    assert row["status"] == "dead"
    assert row["attempts"] == 0
    assert row["last_error"] == "suscripción desactivada"


async def test_event_types_and_area_filter_who_gets_a_delivery(session):
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    everything = await r.subscription(session, "http://127.0.0.1:9/a")
    only_fomento = await r.subscription(session, "http://127.0.0.1:9/b", area_id=fomento.id)
    only_warnings = await r.subscription(
        session, "http://127.0.0.1:9/c", event_types=["consultation.sla_warning"]
    )
    emitted = await r.event(session, area_id=cultura.id, kind="consultation.sla_breached")
    subs = (
        await session.execute(
            text("SELECT subscription_id FROM webhook_delivery WHERE event_id = :e"),
            {"e": emitted.event_id},
        )
    ).scalars()
    assert set(subs) == {everything.id}
    emitted = await r.event(session, area_id=fomento.id, kind="consultation.sla_warning")
    subs = (
        await session.execute(
            text("SELECT subscription_id FROM webhook_delivery WHERE event_id = :e"),
            {"e": emitted.event_id},
        )
    ).scalars()
    assert set(subs) == {everything.id, only_fomento.id, only_warnings.id}


async def test_rotated_secret_signs_the_next_attempt(session):
    from app.services.webhooks import WebhookVerificationError, generate_secret

    async with r.http_receiver(r.sequence(500, 200)) as receiver:
        sub, _, delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
            new_secret = generate_secret()
            await session.execute(
                text("UPDATE webhook_subscription SET secret = :s WHERE id = :i"),
                {"s": new_secret, "i": sub.id},
            )
            await session.commit()
            await _make_due(session, delivery_id)
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
    first, second = receiver.requests
    verify(sub.secret, first.headers, first.body)
    verify(new_secret, second.headers, second.body)
    with pytest.raises(WebhookVerificationError):
        verify(sub.secret, second.headers, second.body)


# ---- queueing -----------------------------------------------------------------------------


async def test_producer_queues_one_wake_up_per_commit_and_never_twice(session):
    await r.subscription(session, "http://127.0.0.1:9/a")
    await r.subscription(session, "http://127.0.0.1:9/b")
    emitted = await r.event(session)
    assert len(emitted.webhook_delivery_ids) == 2
    async with r.arq_pool() as arq:
        items = list(queue.pending(session))
        await queue.send(items, arq)
        await queue.send(items, arq)  # e.g. a retried producer
        queued = await arq.zrange(queue_name(), 0, -1)
        # Two deliveries, one commit: one job wakes the engine, which claims both at once.
        (wake,) = queued
        info = await Job(wake.decode(), arq, _queue_name=queue_name()).info()
    assert wake.decode().startswith(job_id("webhooks", ""))
    assert info is not None
    assert info.function == "deliver_webhooks"


async def test_a_retry_wakes_the_engine_when_it_is_due(session):
    async with r.http_receiver(r.always(503)) as receiver, r.arq_pool() as arq:
        _, _, delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx(redis=arq) as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
        row = await _row(session, delivery_id)
        second = math.ceil(row["next_attempt_at"].timestamp())
        score = await arq.zscore(queue_name(), job_id("webhooks", "at", second))
    assert score is not None
    # Not before the retry is due, and at most a second after.
    assert 0 <= score / 1000 - row["next_attempt_at"].timestamp() < 1.01


async def test_producers_carry_on_when_redis_is_unreachable(session, caplog):
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    await r.subscription(session, "http://127.0.0.1:9/a")
    emitted = await r.event(session)
    pool = ConnectionPool.from_url(
        f"redis://127.0.0.1:{r.free_port()}/0", socket_connect_timeout=0.5
    )
    dead_redis = ArqRedis(connection_pool=pool)
    try:
        await queue.flush(session, dead_redis)  # must not raise
    finally:
        await dead_redis.aclose()
        await pool.aclose()
    assert "could not send after-commit work" in caplog.text
    row = await _row(session, emitted.webhook_delivery_ids[0])
    assert row["status"] == "pending"


# ---- e-mail -------------------------------------------------------------------------------


async def _email_delivery(session):
    staff = await f.user(session, Role.oaaa_staff, email="gestora@oaaa.test")
    emitted = await r.event(session, office=True)
    (delivery_id,) = emitted.email_delivery_ids
    return staff, emitted, delivery_id


async def test_email_is_sent_to_the_recipient_in_spanish(session, smtp):
    staff, _, delivery_id = await _email_delivery(session)
    async with r.job_ctx() as ctx:
        assert await deliver_email(ctx, str(delivery_id)) == "succeeded"
        assert await deliver_email(ctx, str(delivery_id)) == "skipped"
    (sender, recipients, message), *others = smtp.messages
    assert others == []
    assert sender == "avisos@oaaa.test"
    assert recipients == [staff.email]
    assert message["To"] == staff.email
    assert message["Subject"] == "[OAAA] Plazo de resolución vencido: OAAA-2026-000123"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "ha superado su plazo de resolución" in plain
    assert "http://127.0.0.1:8000/consultas/" in plain
    assert 'lang="es"' in html
    assert "Abrir en la plataforma" in html
    row = await _row(session, delivery_id, "email_delivery")
    assert row["status"] == "succeeded"
    assert row["attempts"] == 1
    assert row["sent_at"] is not None


async def test_email_is_retried_after_a_temporary_smtp_failure(session, smtp):
    _, _, delivery_id = await _email_delivery(session)
    smtp.fail_next = 1
    async with r.job_ctx() as ctx:
        assert await deliver_email(ctx, str(delivery_id)) == "retry"
        row = await _row(session, delivery_id, "email_delivery")
        assert row["status"] == "pending"
        assert "451" in row["last_error"]
        assert row["next_attempt_at"] > datetime.now(UTC) + timedelta(seconds=5)
        await _make_due(session, delivery_id, "email_delivery")
        assert await deliver_email(ctx, str(delivery_id)) == "succeeded"
    assert smtp.refused == 1
    assert len(smtp.messages) == 1
    row = await _row(session, delivery_id, "email_delivery")
    assert row["attempts"] == 2
    assert row["last_error"] is None


async def test_email_refused_for_good_is_dead_at_once(session, smtp):
    _, _, delivery_id = await _email_delivery(session)
    smtp.fail_next = 1
    smtp.fail_with = "550 5.1.1 Buzón inexistente"
    async with r.job_ctx() as ctx:
        assert await deliver_email(ctx, str(delivery_id)) == "dead"
    row = await _row(session, delivery_id, "email_delivery")
    assert row["status"] == "dead"
    assert "550" in row["last_error"]


async def test_email_server_down_is_retried(session, monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "email_enabled", True)
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", r.free_port())
    _, _, delivery_id = await _email_delivery(session)
    async with r.job_ctx() as ctx:
        assert await deliver_email(ctx, str(delivery_id)) == "retry"
    row = await _row(session, delivery_id, "email_delivery")
    assert row["status"] == "pending"
    assert row["last_error"]


async def test_disabled_email_is_closed_without_sending(session):
    assert get_settings().email_enabled is False
    _, _, delivery_id = await _email_delivery(session)
    async with r.job_ctx() as ctx:
        assert await deliver_email(ctx, str(delivery_id)) == "disabled"
        assert await deliver_email(ctx, str(delivery_id)) == "skipped"
    row = await _row(session, delivery_id, "email_delivery")
    assert row["status"] == "dead"
    assert row["attempts"] == 0
    assert "desactivado" in row["last_error"]
