"""The after-commit door: work queued in a unit of work leaves only after its commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from app.core import queue
from app.core.db import get_sessionmaker
from app.models.base import Role
from app.models.notification import WebhookSubscription
from tests import factories as f
from tests import receivers as r


async def _queued(arq) -> set[str]:
    return {j.decode() for j in await arq.zrange(queue.queue_name(), 0, -1)}


@pytest.mark.committed
async def test_a_committed_unit_of_work_sends_its_jobs_and_messages(migrated_database):
    jid = queue.job_id("test", uuid.uuid4(), 0)
    async with r.arq_pool() as arq:
        channel = queue.job_id("channel", uuid.uuid4())
        pubsub = arq.pubsub()
        await pubsub.subscribe(channel)
        async with queue.unit_of_work(get_sessionmaker(), arq) as session:
            queue.enqueue(session, "heartbeat", job_id=jid)
            queue.publish(session, channel, "hola")
            await session.execute(text("SELECT 1"))
            assert await _queued(arq) == set()  # nothing leaves before the commit
        assert await _queued(arq) == {jid}
        message = None
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                break
        await pubsub.aclose()
    assert message is not None
    assert message["data"] == b"hola"


@pytest.mark.committed
async def test_a_rolled_back_unit_of_work_sends_nothing(migrated_database):
    jid = queue.job_id("test", uuid.uuid4(), 0)
    async with r.arq_pool() as arq:

        async def failing_write() -> None:
            async with queue.unit_of_work(get_sessionmaker(), arq) as session:
                queue.enqueue(session, "heartbeat", job_id=jid)
                raise RuntimeError("the write failed")

        with pytest.raises(RuntimeError):
            await failing_write()
        assert await _queued(arq) == set()

        # A session rolled back by hand drops its work too, even if later reused and flushed.
        async with get_sessionmaker()() as session:
            queue.enqueue(session, "heartbeat", job_id=jid)
            await session.rollback()
            await queue.flush(session, arq)
        assert await _queued(arq) == set()


async def test_the_same_job_is_queued_once(migrated_database):
    jid = queue.job_id("test", uuid.uuid4(), 0)
    async with r.arq_pool() as arq:
        items: list[queue.AfterCommit] = [queue.Job("heartbeat", (), jid)]
        await queue.send(items, arq)
        await queue.send(items, arq)
        assert await arq.zrange(queue.queue_name(), 0, -1) == [jid.encode()]


async def test_publishing_an_announcement_queues_its_webhook_deliveries_at_once(client, session):
    fomento = await f.area(session, "fomento")
    alm = await f.municipality(session, "06011")
    await f.user(session, Role.municipal_user, municipality_id=alm.id)
    sub = WebhookSubscription(url="https://receiver.example/hook", secret="s" * 32)
    session.add(sub)
    await session.commit()
    author = await f.user(session, Role.area_staff, area_id=fomento.id)
    writer = await f.auth_headers(client, author)
    body = {
        "title": "Corte de carretera",
        "body": "La EX-105 estará cortada.",
        "audience": "municipalities",
        "municipality_ids": [str(alm.id)],
    }
    a = (await client.post("/api/v1/announcements", json=body, headers=writer)).json()
    async with r.arq_pool() as arq:
        assert await _queued(arq) == set()
        res = await client.post(f"/api/v1/announcements/{a['id']}/publish", headers=writer)
        assert res.status_code == 200, res.text
        ids = (
            await session.execute(
                text("SELECT id FROM webhook_delivery WHERE subscription_id = :s"), {"s": sub.id}
            )
        ).scalars()
        assert len(list(ids)) == 1
        queued = await _queued(arq)
        # A wake-up of the webhook engine, beside the e-mail to the mayor.
        wakes = {j for j in queued if j.startswith(queue.job_id("webhooks", ""))}
        assert len(wakes) == 1
        assert len(queued) == 2


async def test_a_job_without_an_id_gets_one_under_the_prefix(migrated_database):
    from app.core.config import get_settings

    async with r.arq_pool() as arq:
        await queue.send([queue.Job("heartbeat", ())], arq)
        (queued,) = await _queued(arq)
    assert queued.startswith(get_settings().redis_prefix + "heartbeat:")


async def test_a_sweeper_queues_past_a_job_left_running_by_a_dead_worker(migrated_database):
    from arq.constants import in_progress_key_prefix

    jid = queue.job_id("test", uuid.uuid4(), 0)
    async with r.arq_pool() as arq:
        assert await queue.enqueue_now(arq, "heartbeat", job_id=jid)
        # A worker started it (arq's in-progress mark) and died before claiming the work.
        await arq.set(in_progress_key_prefix + jid, b"1", px=300_000)
        assert not await queue.enqueue_now(arq, "heartbeat", job_id=jid)  # a retry: waits
        # The sweeper read that nobody holds the work: it queues it under a successor id,
        # once (a second sweep finds the successor queued).
        assert await queue.enqueue_now(arq, "heartbeat", job_id=jid, claimable=True)
        assert not await queue.enqueue_now(arq, "heartbeat", job_id=jid, claimable=True)
        assert await _queued(arq) == {jid, f"{jid}:r1"}
        # The successor dies too: the next one.
        await arq.set(in_progress_key_prefix + f"{jid}:r1", b"1", px=300_000)
        assert await queue.enqueue_now(arq, "heartbeat", job_id=jid, claimable=True)
        assert await _queued(arq) == {jid, f"{jid}:r1", f"{jid}:r2"}


@pytest.mark.committed
async def test_a_wake_up_is_queued_once_per_commit(migrated_database):
    async with r.arq_pool() as arq:
        async with queue.unit_of_work(get_sessionmaker(), arq) as session:
            for n in range(3):
                queue.enqueue(session, "heartbeat", job_id=queue.job_id("wake", n), once=True)
        assert await _queued(arq) == {queue.job_id("wake", 0)}
        async with queue.unit_of_work(get_sessionmaker(), arq) as session:
            queue.enqueue(session, "heartbeat", job_id=queue.job_id("wake", 9), once=True)
        # The next commit wakes again.
        assert await _queued(arq) == {queue.job_id("wake", 0), queue.job_id("wake", 9)}


@pytest.mark.committed
async def test_a_gate_is_held_for_the_transaction_only_not_while_its_work_is_sent(
    migrated_database, monkeypatch
):
    gate = asyncio.Semaphore(1)
    seen: list[bool] = []

    async def send(items, redis=None) -> None:
        seen.append(gate.locked())

    monkeypatch.setattr(queue, "send", send)
    async with queue.unit_of_work(get_sessionmaker(), gate=gate) as session:
        assert gate.locked()
        queue.enqueue(session, "heartbeat", job_id=queue.job_id("test", uuid.uuid4(), 0))
        await session.execute(text("SELECT 1"))
    # Sent after the commit, with the place already given back to the next write.
    assert seen == [False]
    assert not gate.locked()

    async def failing_write() -> None:
        async with queue.unit_of_work(get_sessionmaker(), gate=gate) as session:
            await session.execute(text("SELECT 1"))
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError):
        await failing_write()
    assert not gate.locked()
    assert seen == [False]
