"""The delivery engine's promises, against real PostgreSQL and Redis and real arq workers:

* killing a worker in the middle of a delivery loses nothing (and the retry carries the same
  `webhook-id`);
* two workers on the same delivery send it once;
* with Redis having lost every job (or unreachable when the event was recorded), the sweeper
  queues the pending rows again and they are delivered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from arq.worker import Worker
from sqlalchemy import text

from app.core import queue
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.core.queue import job_id, queue_name
from app.services.notifications.delivery import (
    deliver_webhook,
    dispatch_due_deliveries,
)
from app.services.webhooks import verify
from app.worker.settings import WorkerSettings
from tests import receivers as r

# Worker jobs open their own sessions and commit for real.
pytestmark = pytest.mark.committed

ROOT = Path(__file__).resolve().parents[2]


async def _status(session, delivery_id):
    session.expire_all()
    row = await session.execute(
        text("SELECT status, attempts, locked_until FROM webhook_delivery WHERE id = :i"),
        {"i": delivery_id},
    )
    return row.mappings().one()


async def _wait_status(session, delivery_id, status, within=20.0):
    deadline = time.monotonic() + within
    while True:
        row = await _status(session, delivery_id)
        if row["status"] == status or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.1)


def _start_worker(log: Path) -> subprocess.Popen[bytes]:
    """`python -m app worker` on the test database and Redis prefix (inherited environment)."""
    env = {
        **os.environ,
        "OAAA_WEBHOOK_TIMEOUT_SECONDS": "30",
        "OAAA_DELIVERY_SWEEP_SECONDS": "60",
        "OAAA_LOG_LEVEL": "INFO",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


async def test_killing_a_worker_mid_delivery_loses_nothing(session, tmp_path):
    log = tmp_path / "worker.log"
    # The first request never gets an answer (the worker dies waiting); later ones succeed.
    async with r.http_receiver(r.sequence("hang", 200)) as receiver, r.arq_pool() as arq:
        secret = (await r.subscription(session, receiver.url)).secret
        emitted = await r.event(session)
        (delivery_id,) = emitted.webhook_delivery_ids
        await queue.flush(session, arq)  # what the unit of work does after its commit

        first = _start_worker(log)
        try:
            await receiver.wait_for(1, within=30)
        finally:
            _kill(first)  # SIGKILL in the middle of the HTTP request: no clean-up at all

        row = await _status(session, delivery_id)
        assert row["status"] == "pending"
        assert row["attempts"] == 1
        assert row["locked_until"] is not None  # still leased by the dead worker
        (interrupted,) = (
            await session.execute(
                text("SELECT error FROM webhook_attempt WHERE delivery_id = :i"),
                {"i": delivery_id},
            )
        ).scalars()
        assert "interrumpido" in interrupted

        # Time passes: the dead worker's lease runs out.
        await session.execute(
            text("UPDATE webhook_delivery SET locked_until = now() - interval '1 second'")
        )
        await session.commit()

        second = _start_worker(log)
        try:
            await receiver.wait_for(2, within=30)
            row = await _wait_status(session, delivery_id, "succeeded")
        finally:
            _kill(second)

    assert row["status"] == "succeeded", log.read_text()
    assert row["attempts"] == 2
    assert len(receiver.requests) == 2
    ids = {q.headers["webhook-id"] for q in receiver.requests}
    assert ids == {f"msg_{delivery_id.hex}"}  # the receiver can tell it is the same message
    for request in receiver.requests:
        verify(secret, request.headers, request.body)


async def test_two_workers_at_once_deliver_once(session):
    async with r.http_receiver() as receiver:
        await r.subscription(session, receiver.url)
        emitted = await r.event(session)
        (delivery_id,) = emitted.webhook_delivery_ids
        # Two "workers": separate HTTP clients and database sessions, same delivery, same time
        # (a duplicate job, or the sweeper and the producer racing).
        async with r.job_ctx() as one, r.job_ctx() as two:
            outcomes = await asyncio.gather(
                *(deliver_webhook(ctx, str(delivery_id)) for ctx in (one, two, one, two))
            )
    assert sorted(outcomes) == ["skipped", "skipped", "skipped", "succeeded"]
    assert len(receiver.requests) == 1
    row = await _status(session, delivery_id)
    assert (row["status"], row["attempts"]) == ("succeeded", 1)


async def test_a_leased_delivery_is_left_alone_until_its_lease_runs_out(session):
    async with r.http_receiver() as receiver, r.arq_pool() as arq:
        await r.subscription(session, receiver.url)
        emitted = await r.event(session)
        (delivery_id,) = emitted.webhook_delivery_ids
        # Another worker holds it (mid-request).
        await session.execute(
            text("UPDATE webhook_delivery SET locked_until = now() + interval '1 minute'")
        )
        await session.commit()
        ctx = {"redis": arq, "sessionmaker": get_sessionmaker()}
        assert await dispatch_due_deliveries(ctx) == 0
        async with r.job_ctx() as job:
            assert await deliver_webhook(job, str(delivery_id)) == "skipped"
        assert receiver.requests == []

        await session.execute(
            text("UPDATE webhook_delivery SET locked_until = now() - interval '1 second'")
        )
        await session.commit()
        assert await dispatch_due_deliveries(ctx) == 1  # the engine is woken up
        assert await arq.zscore(queue_name(), job_id("webhooks", "sweep")) is not None
        assert await dispatch_due_deliveries(ctx) == 0  # already queued: not twice


async def _run_burst_worker(arq) -> None:
    """A real arq worker in this process (burst mode: until the queue is empty)."""
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as http:
        worker = Worker(
            functions=WorkerSettings.functions,
            queue_name=queue_name(),
            redis_pool=arq,
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
            keep_result=0,
            ctx={"sessionmaker": get_sessionmaker(), "http": http},
        )
        await asyncio.wait_for(worker.async_run(), 30)


async def test_redis_losing_every_job_delays_delivery_only(session):
    async with r.http_receiver() as receiver, r.arq_pool() as arq:
        await r.subscription(session, receiver.url)
        queued = await r.event(session)
        await queue.flush(session, arq)
        # A second event recorded while Redis was unreachable: its job never existed.
        unqueued = await r.event(session)

        # Redis restarts empty-handed: the queue is gone (the job keys, here, are left
        # behind as orphans, the worst case for job-id uniqueness).
        prefix = get_settings().redis_prefix
        keys = [k async for k in arq.scan_iter(match=prefix + "*")]
        assert keys
        await arq.delete(*keys)
        assert await arq.zcard(queue_name()) == 0

        # The sweeper finds pending rows in the database and wakes the engine again, which
        # claims both.
        ctx = {"redis": arq, "sessionmaker": get_sessionmaker()}
        assert await dispatch_due_deliveries(ctx) == 1
        assert await dispatch_due_deliveries(ctx) == 0  # already queued: not twice
        await _run_burst_worker(arq)

    delivery_ids = [*queued.webhook_delivery_ids, *unqueued.webhook_delivery_ids]
    for delivery_id in delivery_ids:
        row = await _status(session, delivery_id)
        assert (row["status"], row["attempts"]) == ("succeeded", 1)
    assert sorted(q.headers["webhook-id"] for q in receiver.requests) == sorted(
        f"msg_{d.hex}" for d in delivery_ids
    )


async def test_retries_flow_through_a_real_worker_until_dead(session, monkeypatch):
    """Failures through arq itself: each failed attempt queues the next one (deferred);
    squeezing the schedule to zero lets one burst run go from first try to dead letter."""
    from app.services.notifications import delivery

    monkeypatch.setattr(delivery, "RETRY_SCHEDULE_SECONDS", (0, 0, 0))
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 4)
    failures = r.sequence(500, "close", 503, 500)
    async with r.http_receiver(failures) as receiver, r.arq_pool() as arq:
        await r.subscription(session, receiver.url)
        emitted = await r.event(session)
        await queue.flush(session, arq)
        await _run_burst_worker(arq)
    (delivery_id,) = emitted.webhook_delivery_ids
    row = await _status(session, delivery_id)
    assert (row["status"], row["attempts"]) == ("dead", 4)
    assert len(receiver.requests) == 4
