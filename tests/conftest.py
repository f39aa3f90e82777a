"""Test fixtures: a throw-away PostgreSQL database built by `alembic upgrade head`, real Redis.

`OAAA_TEST_DATABASE_URL` names an administrative connection to a PostgreSQL server (the tests
create and drop their own database on it) and `OAAA_TEST_REDIS_URL` a Redis server; the test
command provides both. Each test starts from the migrated schema with the reference
municipalities and no other rows.

Two isolation modes:

- By default a test runs inside one outer transaction on a connection of its own, rolled back
  when the test ends. The `session` fixture and every request session (the app's `get_session`
  dependency, overridden) are bound to that connection with
  `join_transaction_mode="create_savepoint"`: their commits only release savepoints.
- Tests marked `committed` (`@pytest.mark.committed`) use the app's own engine and sessions and
  commit for real; the tables are emptied after each of them. They are the ones that need other
  connections to see their data: worker jobs, concurrent requests, the live stream, anything
  that opens sessions through `get_sessionmaker()` or runs in another process. A default-mode
  test that connects to the test database through another engine fails, so it cannot silently
  leak rows.

Redis keys of the run are removed after every test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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
REFERENCE_TABLES = ("municipality", "sla_policy", "reference_data_version")

# Settings are read once per process: point them at the test services before the app loads.
os.environ["OAAA_ENVIRONMENT"] = "test"
os.environ["OAAA_DATABASE_URL"] = TEST_DB_URL
os.environ["OAAA_REDIS_URL"] = REDIS_URL
os.environ["OAAA_REDIS_PREFIX"] = f"oaaa-test-{RUN_ID}:"
os.environ["OAAA_JWT_SECRET"] = "test-secret-" + "x" * 40
# The delivery tests' receivers listen on 127.0.0.1 (tests/receivers.py): allowed explicitly,
# as an operator would allow an internal receiver. Nothing else internal is.
os.environ["OAAA_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
# The race tests stand for several API processes, whose writes do run at once: no write gate
# (tests/core/test_db.py tests it on its own).
os.environ["OAAA_WRITE_CONCURRENCY"] = "0"
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


async def _empty_tables() -> None:
    """Back to the migrated state: no rows but the reference ones, identities restarted."""
    from app.core.db import get_engine

    async with get_engine().begin() as conn:
        # The audit log refuses TRUNCATE through a trigger; replica mode skips triggers.
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(_truncate_sql()))
        for table in REFERENCE_TABLES:
            await conn.execute(text(f"INSERT INTO {table} SELECT * FROM testref.{table}"))


async def _empty_redis() -> None:
    from app.core.redis import get_redis

    redis = get_redis()
    prefix = get_settings().redis_prefix
    keys = [k async for k in redis.scan_iter(match=prefix + "*", count=500)]
    # arq's own keys of this run's jobs (`arq:job:{prefix}…`, `arq:in-progress:{prefix}…`).
    keys += [k async for k in redis.scan_iter(match=f"arq:*{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)


def _is_committed(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("committed") is not None


@pytest.fixture(autouse=True)
async def clean_state(
    request: pytest.FixtureRequest, rollback_engine: AsyncEngine
) -> AsyncIterator[None]:
    """Committed tests: empty the tables afterwards. Other tests: fail if they connected to the
    test database through any engine but the one of their rolled-back transaction (what they
    wrote there would outlive them), and empty the tables then too."""
    committed = _is_committed(request)
    outside: list[str] = []

    def on_connect(conn: Connection) -> None:
        engine = conn.engine
        if engine is not rollback_engine.sync_engine and engine.url.database == TEST_DB:
            outside.append(str(engine.url))

    if not committed:
        event.listen(Engine, "engine_connect", on_connect)
    try:
        yield
    finally:
        if not committed:
            event.remove(Engine, "engine_connect", on_connect)
        if committed or outside:
            await _empty_tables()
        await _empty_redis()
    if outside:
        pytest.fail(
            "this test connected to the test database outside its rolled-back transaction, "
            "so its commits were real: mark it @pytest.mark.committed",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
async def _dispose_at_end() -> AsyncIterator[None]:
    yield
    from app.core.db import dispose_engine
    from app.core.redis import close_redis

    await close_redis()
    await dispose_engine()


@pytest.fixture(scope="session")
async def rollback_engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    """The engine of the per-test outer transactions, apart from the app's own."""
    engine = create_async_engine(migrated_database, pool_size=1, max_overflow=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(
    request: pytest.FixtureRequest, rollback_engine: AsyncEngine
) -> AsyncIterator[AsyncConnection | None]:
    """The test's connection, inside a transaction rolled back at the end; None for committed
    tests, which use the app's engine."""
    if _is_committed(request):
        yield None
        return
    async with rollback_engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            await outer.rollback()


@pytest.fixture
def sessions(connection: AsyncConnection | None) -> async_sessionmaker[AsyncSession]:
    """Makes the sessions of this test: on its connection (commits release savepoints), or the
    app's own sessionmaker for committed tests."""
    if connection is None:
        from app.core.db import get_sessionmaker

        return get_sessionmaker()
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def client(
    connection: AsyncConnection | None, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI; in the default mode its request sessions join the test's connection."""
    from app.core import queue
    from app.core.db import get_session
    from app.main import app

    async def request_session() -> AsyncIterator[AsyncSession]:
        # The app's unit of work (`get_session`), on this test's connection.
        async with queue.unit_of_work(sessions) as session:
            yield session

    if connection is not None:
        app.dependency_overrides[get_session] = request_session
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        app.dependency_overrides.pop(get_session, None)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for arranging data directly; what it commits is visible to the API."""
    async with sessions() as s:
        yield s


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A local SMTP server that records what it receives; e-mail sending switched on."""
    from app.core.config import get_settings
    from tests import receivers as r

    with r.smtp_server() as (handler, port):
        settings = get_settings()
        monkeypatch.setattr(settings, "email_enabled", True)
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", port)
        monkeypatch.setattr(settings, "smtp_timeout_seconds", 5.0)
        monkeypatch.setattr(settings, "email_from", "OAAA Pruebas <avisos@oaaa.test>")
        yield handler
