"""With the database unreachable, requests answer 503 problems with Retry-After, not 500."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.db import get_session
from app.core.errors import database_unavailable
from app.main import app
from tests.factories import assert_problem
from tests.processes import SilentProxy


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # released: nothing listens there


@pytest.fixture
async def unreachable_database(client) -> AsyncIterator[None]:
    engine = create_async_engine(
        f"postgresql+asyncpg://oaaa@127.0.0.1:{_closed_port()}/oaaa",
        connect_args={"timeout": 2},
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def refused() -> AsyncIterator[AsyncSession]:
        async with sessions() as s:
            yield s

    previous = app.dependency_overrides.get(get_session)
    app.dependency_overrides[get_session] = refused
    try:
        yield
    finally:
        if previous is None:
            app.dependency_overrides.pop(get_session, None)
        else:
            app.dependency_overrides[get_session] = previous
        await engine.dispose()


@pytest.mark.usefixtures("unreachable_database")
async def test_a_refused_database_is_a_503_problem_with_retry_after(client):
    for path in ("/api/v1/municipalities", "/api/v1/faq"):
        r = await client.get(path)
        assert_problem(r, 503)
        assert r.json()["code"] == "database-unavailable"
        assert r.headers["Retry-After"] == "5"
    token = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "ana@example.es", "password": "x" * 12},
    )
    assert_problem(token, 503)
    assert token.json()["error"] == "temporarily_unavailable"  # OAuth2 clients see an error
    assert token.headers["Retry-After"] == "5"


def test_only_connection_failures_count_as_unavailable():
    refused = ConnectionRefusedError(111, "Connection refused")
    wrapped = sa_exc.OperationalError("SELECT 1", {}, asyncpg.CannotConnectNowError("starting"))
    pool = sa_exc.TimeoutError("QueuePool limit of size 10 overflow 0 reached")
    bad_query = sa_exc.ProgrammingError("SELECT nope", {}, asyncpg.UndefinedColumnError("nope"))
    assert database_unavailable(wrapped)
    assert database_unavailable(pool)
    assert not database_unavailable(bad_query)
    assert not database_unavailable(refused)  # not raised by the database driver
    assert not database_unavailable(ValueError("x"))


@contextlib.asynccontextmanager
async def _hanging(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SilentProxy]:
    """The API's Redis clients pointed at a Redis that accepts connections and never answers."""
    from redis.asyncio import ConnectionPool

    from app.core import queue
    from app.core import redis as core_redis
    from app.core.config import get_settings

    proxy = SilentProxy(target_port=1)
    await proxy.start()
    proxy.hang()
    monkeypatch.setattr(get_settings(), "redis_timeout_seconds", 0.5)
    client = core_redis.GuardedRedis.from_url(
        proxy.url, decode_responses=True, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    pool = ConnectionPool.from_url(proxy.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    arq = queue.GuardedArqRedis(connection_pool=pool, default_queue_name=queue.queue_name())
    monkeypatch.setattr(core_redis, "_client", client)
    monkeypatch.setattr(queue, "_arq", arq)
    try:
        yield proxy
    finally:
        await proxy.stop()
        await client.aclose()
        await arq.aclose()
        await pool.aclose()


@pytest.mark.committed  # /readyz asks the database through the app's engine
async def test_a_hanging_redis_never_hangs_a_request(client, session, monkeypatch):
    import time

    from app.models.base import Role
    from tests import factories as f

    mayor_muni = await f.municipality(session, "06015")
    mayor = await f.user(session, Role.municipal_user, municipality_id=mayor_muni.id)
    h = await f.auth_headers(client, mayor)  # logged in while Redis answers
    async with _hanging(monkeypatch) as proxy:
        assert proxy.hanging

        async def timed(method: str, path: str, **kw: Any) -> tuple[float, httpx.Response]:
            started = time.monotonic()
            r = await client.request(method, path, **kw)
            return time.monotonic() - started, r

        # Needs Redis (a single-use ticket lives there): a 503 problem with Retry-After.
        elapsed, r = await timed("POST", "/api/v1/notifications/stream-ticket", headers=h)
        body = assert_problem(r, 503)
        assert body["code"] == "service-unavailable"
        assert r.headers["Retry-After"]
        assert elapsed < 3
        # Can do without it: the deny-list is asked of the database, work queued after the
        # commit waits for the sweepers. Served, and without waiting out a timeout each time.
        for _ in range(3):
            elapsed, r = await timed("GET", "/api/v1/notifications", headers=h)
            assert r.status_code == 200, r.text
            assert elapsed < 3
        elapsed, r = await timed(
            "POST",
            "/api/v1/consultations",
            json={"subject": "Camino rural", "body": "¿Quién lo arregla?"},
            headers=h,
        )
        assert r.status_code == 201, r.text
        assert elapsed < 3
        # Readiness says so, at once.
        elapsed, r = await timed("GET", "/readyz")
        assert_problem(r, 503)
        assert elapsed < 3


def test_too_many_connections_behind_the_drivers_adapter_is_unavailable():
    """SQLAlchemy wraps the adapter's error, whose cause is asyncpg's: the whole chain is read."""

    class AdaptedError(Exception):
        pass

    driver = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    adapted = AdaptedError("sorry, too many clients already")
    adapted.__cause__ = driver
    wrapped = sa_exc.DBAPIError("connect", None, adapted)
    wrapped.__cause__ = adapted
    assert database_unavailable(wrapped)
    assert not database_unavailable(sa_exc.DBAPIError("SELECT 1", None, AdaptedError("x")))


def test_a_constraint_the_services_did_not_check_is_the_callers_error_not_a_500():
    from app.core.errors import Conflict, UnprocessableEntity, _constraint_refusal

    def integrity(driver: Exception) -> sa_exc.IntegrityError:
        wrapped = sa_exc.IntegrityError("UPDATE", None, driver)
        wrapped.__cause__ = driver
        return wrapped

    fk = _constraint_refusal(integrity(asyncpg.ForeignKeyViolationError("fk")))
    assert isinstance(fk, UnprocessableEntity)
    assert isinstance(_constraint_refusal(integrity(asyncpg.UniqueViolationError("uq"))), Conflict)
    assert _constraint_refusal(sa_exc.DBAPIError("SELECT 1", None, ValueError("x"))) is None
