"""The monthly aggregates behind whole-month periods, refreshed by the worker.

Month, quarter and year figures of the indicators over large tables (consultations, entities
that used the office, forwarding to the áreas, people trained, survey answers) read
materialised views of monthly counts; the worker refreshes them every
`OAAA_INDICATORS_REFRESH_MINUTES` (and at start-up), concurrently, so readers never wait.
Custom ranges of days are computed live from the tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

VIEWS = (
    "indicator_consultation_month",
    "indicator_entity_month",
    "indicator_forwarded_month",
    "indicator_person_month",
    "indicator_survey_month",
)


async def refresh(session: AsyncSession) -> datetime:
    for view in VIEWS:
        await session.execute(text(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {view}"))
    await session.execute(text("REFRESH MATERIALIZED VIEW indicator_refresh"))
    return await refreshed_at(session)


async def refreshed_at(session: AsyncSession) -> datetime:
    value = (await session.execute(text("SELECT refreshed_at FROM indicator_refresh"))).scalar()
    assert isinstance(value, datetime)
    return value


async def refresh_indicators(ctx: dict[str, Any]) -> str:
    """Worker job: refreshes the monthly aggregates of the indicators."""
    async with ctx["sessionmaker"]() as session:
        at = await refresh(session)
        await session.commit()
    return at.isoformat()
