"""arq worker configuration: one sessionmaker and one HTTP client per worker process."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, ClassVar, TypedDict
from zoneinfo import ZoneInfo

import httpx
from arq import cron
from arq.connections import RedisSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.db import make_engine
from app.worker.jobs import scan_sla

logger = logging.getLogger("app.worker")


class WorkerContext(TypedDict, total=False):
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    engine = make_engine(settings)
    ctx["engine"] = engine
    ctx["sessionmaker"] = async_sessionmaker(engine, expire_on_commit=False)
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    logger.info("worker started")


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()
    await ctx["engine"].dispose()
    logger.info("worker stopped")


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker reaches the database; later jobs register beside it."""
    async with ctx["sessionmaker"]() as session:
        await session.execute(text("SELECT 1"))
    return datetime.now(UTC).isoformat()


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [heartbeat, scan_sla]
    cron_jobs: ClassVar[list[Any]] = [
        # Every minute; cron jobs are unique across workers.
        cron(scan_sla, second=0, run_at_startup=True, unique=True, timeout=300),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    queue_name = get_settings().redis_prefix + "queue"
    # Cron schedules are read in the office's time zone.
    timezone = ZoneInfo("Europe/Madrid")
    health_check_key = get_settings().redis_prefix + "worker-health"
