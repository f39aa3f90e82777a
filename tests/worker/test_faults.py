"""Faults around Redis, with real worker processes, a private Redis that the test kills and
starts again (empty: no persistence), and a local webhook receiver:

* a Redis outage does not stop the worker: deliveries in flight finish once, the worker is not
  ready meanwhile and carries on when Redis is back;
* a worker killed between starting a delivery's job and claiming it does not leave the delivery
  stuck behind arq's in-progress key: it is retried within one sweep interval;
* two deployments with different `OAAA_REDIS_PREFIX` on one Redis never run each other's jobs
  or take each other's cron ticks, and keep every key under their prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix
from sqlalchemy import text

from app.core import queue
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.core.queue import queue_name
from app.worker import runner
from tests import receivers as r
from tests.processes import (
    PrivateRedis,
    SilentProxy,
    arq_client,
    kill,
    start_worker,
    statuses,
    wait_until,
)

pytestmark = pytest.mark.committed


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def test_a_redis_outage_does_not_stop_the_worker(session, private_redis, tmp_path):
    log = tmp_path / "worker.log"

    async def ready() -> bool:
        return await runner.check_health(private_redis.url)

    # Every delivery takes a second at the receiver: they are all in flight when Redis dies.
    async with r.http_receiver(r.always("delay:1.5")) as receiver:
        await r.subscription(session, receiver.url)
        before = [(await r.event(session)).webhook_delivery_ids[0] for _ in range(12)]
        worker = start_worker(
            log, OAAA_REDIS_URL=private_redis.url, OAAA_DELIVERY_SWEEP_SECONDS="1"
        )
        try:
            await wait_until(ready, 30, "the worker never became ready")
            await receiver.wait_for(len(before), within=20)

            private_redis.kill()  # mid-delivery, and every key is lost
            assert not await ready()
            # Recorded while Redis is down: only the database knows about them.
            during = [(await r.event(session)).webhook_delivery_ids[0] for _ in range(5)]

            async def in_flight_recorded() -> bool:
                return (await statuses(session, before)).get("succeeded") == len(before)

            await wait_until(in_flight_recorded, 30, "the deliveries in flight were lost")
            await asyncio.sleep(1)  # the worker keeps polling a dead Redis meanwhile
            assert worker.poll() is None, log.read_text()

            private_redis.start()
            await wait_until(ready, 15, "the worker did not report ready again")

            async def all_recorded() -> bool:
                done = await statuses(session, before + during)
                return done.get("succeeded") == len(before) + len(during)

            await wait_until(all_recorded, 20, "deliveries recorded during the outage were lost")
            assert worker.poll() is None, log.read_text()
        finally:
            kill(worker)

    ids = [q.headers["webhook-id"] for q in receiver.requests]
    assert sorted(ids) == sorted(f"msg_{d.hex}" for d in before + during)  # each one once
    lines = log.read_text()
    assert "Redis no responde" in lines
    assert "Redis responde de nuevo" in lines


async def test_a_delivery_whose_worker_died_before_claiming_it_is_retried_within_one_sweep(
    session, tmp_path
):
    log = tmp_path / "worker.log"
    async with (
        r.http_receiver() as receiver,
        arq_client(get_settings().redis_url) as arq,
        get_sessionmaker()() as blocker,
    ):
        await r.subscription(session, receiver.url)
        (delivery_id,) = (await r.event(session)).webhook_delivery_ids
        await queue.flush(session, arq)
        (wake,) = await arq.zrange(queue_name(), 0, -1)  # the commit's wake-up of the engine
        job = wake.decode()
        # The table is locked against row locks (plain reads go on), so the engine's claim
        # waits: the worker has started the job (arq marked it in progress) and not committed
        # its claim when it is killed.
        await blocker.execute(text("LOCK TABLE webhook_delivery IN EXCLUSIVE MODE"))
        first = start_worker(log, OAAA_DELIVERY_SWEEP_SECONDS="60")
        try:

            async def claim_waiting() -> list[int]:
                rows = await session.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE webhook_delivery%'"
                    )
                )
                pids = list(rows.scalars())
                await session.commit()  # pg_stat_activity is read once per transaction
                return pids

            waiting = await wait_until(claim_waiting, 30, "the worker never tried to claim")
        finally:
            kill(first)
        for pid in waiting:  # the dead worker's connection goes with it
            await session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await session.commit()
        await blocker.rollback()

        # Redis still says the job is running, for minutes; the database says nobody holds it.
        assert await arq.pttl(in_progress_key_prefix + job) > 60_000
        sweep = 2
        started = time.monotonic()
        second = start_worker(log, OAAA_DELIVERY_SWEEP_SECONDS=str(sweep))
        try:
            await receiver.wait_for(1, within=60)
            elapsed = time.monotonic() - started

            async def succeeded() -> bool:
                return (await statuses(session, [delivery_id])).get("succeeded") == 1

            await wait_until(succeeded, 10, "the retried delivery was not recorded")
        finally:
            kill(second)
    # A process start plus at most one sweep interval, not the in-progress key's minutes (a
    # process start takes 20 s and more on a loaded 2-core machine).
    assert elapsed < 40 + sweep, log.read_text()
    assert len(receiver.requests) == 1


def _ran(log: Path) -> list[str]:
    """The job references (`{job_id}:{function}`) that a worker's log says it started."""
    refs = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line).get("msg", "")
            match = re.search(r"→ (\S+)\(", message)
            if match:
                refs.append(match.group(1))
    return refs


async def test_two_prefixes_on_one_redis_do_not_cross(session, private_redis, tmp_path):
    prefixes = {"a": "oaaa-dep-a:", "b": "oaaa-dep-b:"}
    logs = {name: tmp_path / f"worker-{name}.log" for name in prefixes}
    workers = {
        name: start_worker(
            logs[name],
            OAAA_REDIS_URL=private_redis.url,
            OAAA_REDIS_PREFIX=prefix,
            OAAA_DELIVERY_SWEEP_SECONDS="1",
        )
        for name, prefix in prefixes.items()
    }
    try:
        for prefix in prefixes.values():
            async with arq_client(private_redis.url, prefix) as arq:
                # The same job in both deployments: each must run its own.
                await arq.enqueue_job("heartbeat", _job_id=prefix + "probe")

        async def ticks(prefix: str) -> set[str]:
            """The cron ticks the deployment ran: arq keeps a finished tick's in-progress key
            (`arq:in-progress:{name}:{time}`) for a minute."""
            async with arq_client(private_redis.url) as raw:
                pattern = f"arq:in-progress:{prefix}dispatch_due_deliveries:*"
                return {k.decode().rsplit(":", 1)[1] async for k in raw.scan_iter(match=pattern)}

        async def shared_ticks() -> bool:
            return len(await ticks(prefixes["a"]) & await ticks(prefixes["b"])) >= 3

        await wait_until(shared_ticks, 30, "both deployments did not run the same cron ticks")
        for name in prefixes:
            assert workers[name].poll() is None, logs[name].read_text()
    finally:
        for proc in workers.values():
            kill(proc)

    for name, prefix in prefixes.items():
        refs = _ran(logs[name])
        assert f"{prefix}probe:heartbeat" in refs
        assert f"{prefix}dispatch_due_deliveries" in refs
        other = next(p for p in prefixes.values() if p != prefix)
        assert not [ref for ref in refs if other in ref], refs

    # Everything either deployment keeps in Redis lives under its prefix (arq's own fixed
    # namespaces hold only job ids that start with it).
    async with arq_client(private_redis.url) as raw:
        keys = [k.decode() async for k in raw.scan_iter(count=500)]
    assert keys
    under = re.compile(r"^(arq:(job|in-progress|result|retry):)?(oaaa-dep-a:|oaaa-dep-b:)")
    assert [k for k in keys if not under.match(k)] == []


async def test_a_worker_started_while_redis_is_down_waits_for_it(private_redis, tmp_path):
    log = tmp_path / "worker.log"
    private_redis.kill()
    worker = start_worker(log, OAAA_REDIS_URL=private_redis.url)
    try:
        # arq gives up connecting after its own retries (about 5 s); the worker starts again.
        deadline = time.monotonic() + 30
        while "se reinicia" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.2)
        private_redis.start()

        async def ready() -> bool:
            return await runner.check_health(private_redis.url)

        await wait_until(ready, 30, "the worker did not start once Redis was back")
        assert worker.poll() is None
    finally:
        kill(worker)


async def test_the_polling_loop_rides_out_an_outage_and_keeps_its_job_slots(private_redis):
    """The same worker in this process: arq's loop, a Redis outage in the middle, and jobs
    before and after it (no job slot is lost while Redis fails)."""
    from arq import func

    ran: list[int] = []

    async def probe(ctx, n: int) -> int:
        ran.append(n)
        return n

    prefix = "oaaa-probe:"
    async with arq_client(private_redis.url, prefix) as arq:
        worker = runner.ResilientWorker(
            functions=[func(probe, name="probe")],
            queue_name=prefix + "queue",
            redis_pool=arq,
            poll_delay=0.05,
            max_jobs=2,
            handle_signals=False,
            health_check_interval=1,
            health_check_key=prefix + "health",
            keep_result=0,
        )
        main = asyncio.create_task(worker.async_run())
        try:

            def ran_all(*expected: int):
                async def check() -> bool:
                    return sorted(ran) == list(expected)

                return check

            await arq.enqueue_job("probe", 1, _job_id=prefix + "1")
            await wait_until(ran_all(1), 10, "the first job did not run")

            private_redis.kill()

            async def lost() -> bool:
                return not worker.redis_ready

            await wait_until(lost, 10, "the worker did not notice the outage")
            await asyncio.sleep(0.5)  # several failed polls
            assert not main.done()

            private_redis.start()

            async def back() -> bool:
                return worker.redis_ready and bool(await arq.exists(prefix + "health"))

            await wait_until(back, 15, "the worker did not come back")
            for n in (2, 3, 4):
                await arq.enqueue_job("probe", n, _job_id=f"{prefix}{n}")
            await wait_until(ran_all(1, 2, 3, 4), 10, "jobs after the outage did not run")

            async def slots_free() -> bool:
                # The last job's own bookkeeping ends a moment after its body; a slot lost to
                # the outage would never come back.
                return worker.job_counter == 0

            await wait_until(slots_free, 5, "a job slot was lost to the outage")
            assert not main.done()
        finally:
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
            await worker.close()


async def test_a_worker_on_a_redis_that_hangs_reconnects_instead_of_waiting_forever(
    private_redis, tmp_path
):
    """Redis accepts connections and never answers (a proxy in front of it stops relaying):
    the worker's commands time out, it reports not ready, and once Redis answers new
    connections again it carries on, although the connections that hung never answer."""
    log = tmp_path / "worker.log"
    proxy = SilentProxy(private_redis.port)
    await proxy.start()
    worker = start_worker(
        log,
        OAAA_REDIS_URL=proxy.url,
        OAAA_REDIS_TIMEOUT_SECONDS="1",
        OAAA_DELIVERY_SWEEP_SECONDS="1",
    )

    async def state() -> str | None:
        return await runner.check_state(private_redis.url)  # asked of Redis itself

    try:

        async def ready() -> bool:
            return await state() == "ok"

        await wait_until(ready, 30, "the worker never became ready")
        proxy.hang()

        async def not_ready() -> bool:
            # `absent` if the hang came before the worker's first heartbeat got through
            return await state() in ("stale", "absent")

        await wait_until(not_ready, 20, "the worker kept reporting ready on a hung Redis")

        async def noticed() -> bool:
            return "Redis no responde" in log.read_text()

        await wait_until(noticed, 30, "the worker did not notice that Redis hangs")
        assert worker.poll() is None, log.read_text()
        proxy.heal()
        await wait_until(ready, 45, "the worker stayed wedged on connections that hung")
        async with arq_client(private_redis.url) as arq:
            await arq.enqueue_job("heartbeat", _job_id=queue.job_id("probe-after-hang"))

            async def ran() -> bool:
                return "probe-after-hang:heartbeat" in " ".join(_ran(log))

            await wait_until(ran, 20, "a job queued after the hang did not run")
        assert worker.poll() is None, log.read_text()
    finally:
        kill(worker)
        await proxy.stop()
