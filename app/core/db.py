"""Async engine, session factory and the per-request session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
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
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,
        echo=settings.db_echo,
    )


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


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request; commits when the handler succeeds, rolls back otherwise.

    Services only flush: the request is the unit of work. What they queued for after the
    commit (`core.queue`) leaves once the commit succeeded.
    """
    async with queue.unit_of_work(get_sessionmaker()) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is never reported
# to the client as success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
_settings_dep = Depends(get_settings)
SettingsDep = Annotated[Settings, _settings_dep]
