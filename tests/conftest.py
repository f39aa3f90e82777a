"""Test fixtures: a throw-away PostgreSQL database built by `alembic upgrade head`, real Redis.

`OAAA_TEST_DATABASE_URL` names an administrative connection to a PostgreSQL server (the tests
create and drop their own database on it) and `OAAA_TEST_REDIS_URL` a Redis server; the test
command provides both. Each test starts from the migrated schema with the reference
municipalities and no other rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "OAAA_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("OAAA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
TEST_DB = f"oaaa_test_{RUN_ID}"
ROOT = Path(__file__).resolve().parent.parent


def _with_database(url: str, database: str, driver: str = "postgresql+asyncpg") -> str:
    parts = urlsplit(url)
    return urlunsplit((driver, parts.netloc, "/" + database, parts.query, parts.fragment))


def _plain(url: str) -> str:
    """asyncpg's own DSN form."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


TEST_DB_URL = _with_database(ADMIN_URL, TEST_DB)
# Rows that migrations load and every test starts from.
REFERENCE_TABLES = ("municipality", "sla_policy")

# Settings are read once per process: point them at the test services before the app loads.
os.environ["OAAA_ENVIRONMENT"] = "test"
os.environ["OAAA_DATABASE_URL"] = TEST_DB_URL
os.environ["OAAA_REDIS_URL"] = REDIS_URL
os.environ["OAAA_REDIS_PREFIX"] = f"oaaa-test-{RUN_ID}:"
os.environ["OAAA_JWT_SECRET"] = "test-secret-" + "x" * 40
# The delivery tests' receivers listen on 127.0.0.1 (tests/receivers.py): allowed explicitly,
# as an operator would allow an internal receiver. Nothing else internal is.
os.environ["OAAA_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from app.core.config import get_settings  # noqa: E402

get_settings.cache_clear()


async def _admin_execute(*statements: str) -> None:
    conn = await asyncpg.connect(_plain(ADMIN_URL))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def run_migrations(database_url: str, revision: str = "head", downgrade: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    if downgrade:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


def create_database(name: str) -> None:
    asyncio.run(
        _admin_execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
    )


def drop_database(name: str) -> None:
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_database() -> Iterator[str]:
    create_database(TEST_DB)
    run_migrations(TEST_DB_URL)

    async def snapshot() -> None:
        conn = await asyncpg.connect(_plain(TEST_DB_URL))
        try:
            # Outside `public`, so autogenerate comparisons never see it.
            await conn.execute("CREATE SCHEMA testref")
            for table in REFERENCE_TABLES:
                await conn.execute(f"CREATE TABLE testref.{table} AS SELECT * FROM {table}")
        finally:
            await conn.close()

    asyncio.run(snapshot())
    yield TEST_DB_URL
    drop_database(TEST_DB)


_TRUNCATE: str | None = None


def _truncate_sql() -> str:
    global _TRUNCATE
    if _TRUNCATE is None:
        from sqlmodel import SQLModel

        import app.models  # noqa: F401

        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        _TRUNCATE = f"TRUNCATE {tables} RESTART IDENTITY CASCADE"
    return _TRUNCATE


@pytest.fixture(autouse=True)
async def clean_state(migrated_database: str) -> AsyncIterator[None]:
    yield
    from app.core.db import get_engine
    from app.core.redis import get_redis

    engine = get_engine()
    async with engine.begin() as conn:
        from sqlalchemy import text

        # The audit log refuses TRUNCATE through a trigger; replica mode skips triggers.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(_truncate_sql()))
        for table in REFERENCE_TABLES:
            await conn.execute(text(f"INSERT INTO {table} SELECT * FROM testref.{table}"))
    redis = get_redis()
    prefix = get_settings().redis_prefix
    keys = [k async for k in redis.scan_iter(match=prefix + "*", count=500)]
    # arq's own keys of this run's jobs (`arq:job:{prefix}…`, `arq:in-progress:{prefix}…`).
    keys += [k async for k in redis.scan_iter(match=f"arq:*{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)


@pytest.fixture(scope="session", autouse=True)
async def _dispose_at_end() -> AsyncIterator[None]:
    yield
    from app.core.db import dispose_engine
    from app.core.redis import close_redis

    await close_redis()
    await dispose_engine()


@pytest.fixture
async def client(migrated_database: str) -> AsyncIterator[object]:
    import httpx

    from app.main import app

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def session(migrated_database: str) -> AsyncIterator[object]:
    """A session for arranging data directly; committed data is visible to the API."""
    from app.core.db import get_sessionmaker

    async with get_sessionmaker()() as s:
        yield s
