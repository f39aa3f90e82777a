"""Async engine, session factory and the per-request session dependency."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core import queue
from app.core.config import Settings, get_settings

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def make_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        echo=settings.db_echo,
    )
    check_connections_on_checkout(engine.sync_engine, settings.db_ping_after_idle_seconds)
    return engine


def check_connections_on_checkout(engine: Engine, ping_after_idle_seconds: float) -> None:
    """Hands out only live connections without a round trip per request.

    `pool_pre_ping` would cost three round trips on every checkout (BEGIN, a ping, ROLLBACK
    with asyncpg). Instead a connection the driver already knows to be closed is replaced at
    once, and one that sat idle in the pool for `ping_after_idle_seconds` (when a server
    restart, a failover or an idle timeout may have dropped it unnoticed) is pinged first. A
    connection that breaks in use raises a disconnect error: SQLAlchemy then discards every
    connection of the pool opened before it, the request answers 503 `database-unavailable`
    with `Retry-After`, and the next request gets a fresh connection."""

    @event.listens_for(engine, "checkin")
    def _idle_since(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _live(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise sa_exc.DisconnectionError("the connection was closed")
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError("the idle connection did not answer") from exc


def get_engine() -> AsyncEngine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings())
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    global _sessionmaker
    if _sessionmaker is None:
        _sessionmaker = async_sessionmaker(get_engine(), expire_on_commit=False)
    return _sessionmaker


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None


_READ_ONLY = "__oaaa_read_only__"
_UNGATED = "__oaaa_ungated__"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# One gate per event loop (a semaphore belongs to the loop that first waits on it).
_write_gates: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]
] = weakref.WeakKeyDictionary()


def read_only(endpoint: Endpoint) -> Endpoint:
    """Marks a handler that never writes to the database (nor does anything its dependencies
    call): its session runs without a transaction, which spares the BEGIN and COMMIT round
    trips around the reads of the hottest lists and counters."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


def ungated(endpoint: Endpoint) -> Endpoint:
    """Marks a writing handler whose time goes to a worker thread (a password hash), not to
    the event loop: it does not take a place of the write gate (`write_gate`), so a burst of
    logins cannot hold back every other write of the process."""
    setattr(endpoint, _UNGATED, True)
    return endpoint


def write_gate() -> asyncio.Semaphore | None:
    """The places for write transactions in this process (`OAAA_WRITE_CONCURRENCY`; None: no
    limit). Every step of a write runs on the one event loop, so a few writes at once already
    keep it busy: more only lengthen the queue that every read waits in for its turn."""
    limit = get_settings().write_concurrency
    if limit == 0:
        return None
    loop = asyncio.get_running_loop()
    gate = _write_gates.get(loop)
    if gate is None or gate[0] != limit:
        gate = _write_gates[loop] = (limit, asyncio.Semaphore(limit))
    return gate[1]


async def make_way() -> None:
    """Lets the requests that reached the process while a write was busy computing go before
    the rest of its work: called between two parts of a long stretch of a write's CPU work
    (one with no round trip to wait for), it splits the time a read waits behind that stretch.

    One turn of the event loop would not do it: uvloop (the loop the API runs on) reads its
    sockets once the callbacks already queued have run, so a request read then is queued behind
    this write's own continuation. A second turn puts the continuation behind it."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; commits when the handler succeeds, rolls back otherwise.

    Services only flush: the request is the unit of work. What they queued for after the
    commit (`core.queue`) leaves once the commit succeeded. Handlers marked `read_only` read
    in autocommit mode (each statement sees the latest committed data). A write (any method
    but GET, HEAD and OPTIONS) first waits for a place of the write gate and holds it until
    its transaction ends (commit or rollback), before its transaction holds any lock; reads
    never wait for it. What is sent after the commit is sent outside the gate.
    """
    endpoint = request.scope.get("endpoint")
    gate = None
    if request.method not in _SAFE_METHODS and not getattr(endpoint, _UNGATED, False):
        gate = write_gate()
    async with queue.unit_of_work(get_sessionmaker(), gate=gate) as session:
        if getattr(endpoint, _READ_ONLY, False):
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


# scope="function": commit before the response is sent, so a failed commit is never reported
# to the client as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
_settings_dep = Depends(get_settings)
SettingsDep = Annotated[Settings, _settings_dep]
