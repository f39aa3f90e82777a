"""arq worker configuration: one sessionmaker and one webhook engine per worker process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypedDict, cast
from zoneinfo import ZoneInfo

from arq import cron, func
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import observability
from app.core.config import get_settings
from app.core.db import make_engine
from app.core.runtime import freeze_startup_heap
from app.services.idempotency import purge_expired_keys
from app.services.indicators.refresh import refresh_indicators
from app.services.newsletter import MAX_ATTEMPTS, send_newsletter
from app.services.notifications import digest
from app.services.notifications.delivery import (
    MAX_DRAIN_SECONDS,
    WebhookEngine,
    deliver_email,
    deliver_webhook,
    deliver_webhooks,
    dispatch_due_deliveries,
)
from app.services.notifications.destinations import Destinations
from app.services.notifications.scan import scan_sla
from app.worker.runner import health_check_key

logger = logging.getLogger("app.worker")


class WorkerContext(TypedDict, total=False):
    sessionmaker: async_sessionmaker[AsyncSession]
    webhooks: WebhookEngine


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    engine = make_engine(settings)
    ctx["engine"] = engine
    ctx["sessionmaker"] = async_sessionmaker(engine, expire_on_commit=False)
    # One guarded client per destination (public destinations or allow-listed hosts only, no
    # redirects), kept across jobs.
    ctx["webhooks"] = WebhookEngine(ctx["sessionmaker"], Destinations())
    ctx["worker_id"] = uuid.uuid4().hex
    if ctx.get("redis") is not None:
        ctx["heartbeat_task"] = asyncio.create_task(_beat_forever(ctx))
    freeze_startup_heap()
    logger.info("worker started")


SHUTDOWN_HEARTBEAT_WAIT = 5.0


async def shutdown(ctx: dict[str, Any]) -> None:
    if "engine" not in ctx:  # the worker stopped before its start-up hook ran
        return
    task = ctx.pop("heartbeat_task", None)
    if task is not None:
        task.cancel()
        # Bounded: a stop never waits on the heartbeat.
        await asyncio.wait({task}, timeout=SHUTDOWN_HEARTBEAT_WAIT)
        with contextlib.suppress(RedisError, OSError):
            await observability.forget_worker(ctx["redis"], ctx["worker_id"])
    await ctx["webhooks"].aclose()
    await ctx["engine"].dispose()
    logger.info("worker stopped")


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker reaches the database, and records it for `/metrics`."""
    async with ctx["sessionmaker"]() as session:
        await session.execute(text("SELECT 1"))
    if ctx.get("redis") is not None and ctx.get("worker_id"):
        await observability.beat(ctx["redis"], ctx["worker_id"])
    return datetime.now(UTC).isoformat()


async def _beat_forever(ctx: dict[str, Any]) -> None:
    """Each worker process beats every `HEARTBEAT_SECONDS` while it runs (its own task, so a
    busy queue or another worker cannot beat for it)."""
    this = asyncio.current_task()
    while True:
        try:
            await heartbeat(ctx)
        except (SQLAlchemyError, RedisError, OSError, TimeoutError):
            if this is not None and this.cancelling():
                # Stopped mid-beat: a driver may turn the cancellation into its own error
                # (a timeout, a closed connection), which must still end the task.
                raise asyncio.CancelledError from None
            logger.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(observability.HEARTBEAT_SECONDS)


def timed_scan(scan: Callable[[dict[str, Any]], Awaitable[Any]]) -> WorkerCoroutine:
    """`scan` whose duration is added to the shared SLA scan histogram."""

    @functools.wraps(scan)
    async def run(ctx: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return await scan(ctx)
        finally:
            if ctx.get("redis") is not None:
                try:
                    await observability.observe_shared(
                        ctx["redis"],
                        observability.SLA_SCAN_METRIC,
                        time.perf_counter() - started,
                        observability.SCAN_BUCKETS,
                    )
                except (RedisError, OSError, TimeoutError):
                    logger.warning("could not record the scan duration", exc_info=True)

    return cast(WorkerCoroutine, run)


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


def _cron_name(name: str) -> str:
    """Cron job names carry the Redis prefix: arq derives each tick's job id from the name
    (`{name}:{time}`), so two deployments on one Redis never take each other's ticks."""
    return get_settings().redis_prefix + name


def _every(seconds: int) -> set[int]:
    """The seconds of the minute at which a cron job runs to repeat every `seconds`."""
    step = max(1, min(seconds, 60))
    return set(range(0, 60, step))


HEALTH_CHECK_SECONDS = 5


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        heartbeat,
        func(timed_scan(scan_sla), name="scan_sla"),
        # Results are not kept, so a job id is free again as soon as its job has run.
        func(deliver_webhooks, keep_result=0, timeout=MAX_DRAIN_SECONDS + 120),
        # Jobs of one delivery each, queued before the engine claimed in batches.
        func(deliver_webhook, keep_result=0, timeout=300),
        func(deliver_email, keep_result=0, timeout=300),
        func(send_newsletter, keep_result=0, timeout=300, max_tries=MAX_ATTEMPTS),
        func(digest.send_digest, keep_result=0, timeout=300, max_tries=digest.MAX_ATTEMPTS),
    ]
    cron_jobs: ClassVar[list[Any]] = [
        # Unique across workers (arq's default for cron jobs); the scan itself is safe to
        # overlap anyway (rows are locked SKIP LOCKED and events deduplicated).
        cron(
            timed_scan(scan_sla),
            name=_cron_name("scan_sla"),
            second=_every(get_settings().sla_scan_seconds),
            run_at_startup=True,
            unique=True,
            timeout=300,
        ),
        # Queues every due delivery whose lease is free: the database is the truth, so lost
        # jobs, a Redis outage or a worker killed mid-delivery only delay a delivery.
        cron(
            dispatch_due_deliveries,
            name=_cron_name("dispatch_due_deliveries"),
            second=_every(get_settings().delivery_sweep_seconds),
            run_at_startup=True,
            unique=True,
            timeout=300,
        ),
        # The indicators' monthly aggregates (whole-month figures are at most this old).
        cron(
            refresh_indicators,
            name=_cron_name("refresh_indicators"),
            minute=set(range(0, 60, get_settings().indicators_refresh_minutes)),
            second={30},
            run_at_startup=True,
            unique=True,
            timeout=600,
        ),
        # Idempotency keys live a day; an expired key is also ignored (and deleted) when seen.
        cron(
            purge_expired_keys,
            name=_cron_name("purge_expired_keys"),
            minute={17},
            second={0},
            unique=True,
            timeout=300,
        ),
        # The daily digest, each morning in Europe/Madrid.
        cron(
            digest.queue_digests,
            name=_cron_name("queue_digests"),
            hour={digest.HOUR},
            minute={0},
            second={0},
            unique=True,
            timeout=300,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    queue_name = get_settings().redis_prefix + "queue"
    # Cron schedules are read in the office's time zone.
    timezone = ZoneInfo("Europe/Madrid")
    # Refreshed every few seconds and expiring soon after: a worker that lost Redis (or
    # died) stops being reported as ready (`python -m app worker --check`).
    health_check_key = health_check_key()
    health_check_interval = HEALTH_CHECK_SECONDS
    max_jobs = 50
    # arq polls its queue every 0.5 s by default: most of the latency between a notification
    # being recorded and its webhook leaving. 0.1 s costs a few cheap Redis calls a second.
    poll_delay = 0.1
