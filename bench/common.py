"""Shared helpers for the benchmarks: a throw-away database built by the real migrations."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def admin_url() -> str:
    return os.environ.get(
        "OAAA_BENCH_DATABASE_URL",
        os.environ.get(
            "OAAA_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )


def with_database(url: str, name: str, driver: str = "postgresql+asyncpg") -> str:
    p = urlsplit(url)
    return urlunsplit((driver, p.netloc, "/" + name, p.query, p.fragment))


def plain(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit(("postgresql", p.netloc, p.path, p.query, p.fragment))


async def recreate_database(name: str) -> str:
    conn = await asyncpg.connect(plain(admin_url()))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url(), name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(plain(admin_url()))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int = 15) -> dict[str, float]:
    """Median and p95 wall time in milliseconds over `repeat` runs (after one warm-up)."""
    await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[max(int(len(samples) * 0.95) - 1, 0)], 3),
    }


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())


# Rows $1..$2 (g) with three random numbers each, and the municipalities as population-weighted
# intervals of [0, total): `r * total` between `lo` and `hi` picks a municipality by population.
ROWS_BY_POPULATION = """WITH m AS (
    SELECT id,
           sum(population) OVER (ORDER BY ine_code) - population AS lo,
           sum(population) OVER (ORDER BY ine_code) AS hi
    FROM municipality WHERE kind = 'municipality'
), tot AS (SELECT sum(population)::float8 AS total FROM municipality WHERE kind = 'municipality'),
s AS (
    SELECT g, random() AS r, random() AS r2, random() AS r3
    FROM generate_series($1::int, $2::int) AS g
)
"""
