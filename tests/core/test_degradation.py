"""With the database unreachable, requests answer 503 problems with Retry-After, not 500."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.db import get_session
from app.core.errors import database_unavailable
from app.main import app
from tests.factories import assert_problem


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
