"""The holiday calendar: official days from the `holidays` package, administrators' local
holidays and corrections, and the recomputation of deadlines they affect."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud
from app.core.errors import UnprocessableEntity
from app.core.scoping import Actor, get_visible
from app.models.municipality import Municipality
from app.models.sla import Holiday
from app.schemas.holidays import HolidayCreate, HolidayPublic
from app.services.sla import clock as sla
from app.services.sla.scan import recompute_open
from app.services.sla.working_days import official_holidays


async def effective_calendar(
    session: AsyncSession, year: int, municipality_id: uuid.UUID | None
) -> list[HolidayPublic]:
    """Every non-working weekday-or-not date of `year` for the municipality, with its source."""
    rows = (
        (
            await session.execute(
                select(Holiday).where(
                    col(Holiday.day) >= date(year, 1, 1),
                    col(Holiday.day) <= date(year, 12, 31),
                    or_(
                        col(Holiday.municipality_id).is_(None),
                        col(Holiday.municipality_id) == municipality_id,
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    removed = {h.day for h in rows if not h.is_holiday}
    out = [
        HolidayPublic(id=None, municipality_id=None, day=d, name=name, is_holiday=True,
                      source="national_regional")
        for d, name in official_holidays([year]).items()
        if d not in removed
    ]  # fmt: skip
    for h in rows:
        source = "local" if h.municipality_id is not None and h.is_holiday else "correction"
        out.append(
            HolidayPublic(
                id=h.id,
                municipality_id=h.municipality_id,
                day=h.day,
                name=h.name,
                is_holiday=h.is_holiday,
                source=source,
            )
        )
    return sorted(out, key=lambda h: (h.day, h.source))


async def create(session: AsyncSession, actor: Actor, data: HolidayCreate) -> tuple[Holiday, int]:
    if data.municipality_id is not None:
        if await session.get(Municipality, data.municipality_id) is None:
            raise UnprocessableEntity("El municipio indicado no existe")
        if not data.is_holiday:
            official = official_holidays([data.day.year])
            if data.day not in official:
                raise UnprocessableEntity("Solo se puede anular un festivo oficial")
    holiday = Holiday.model_validate(data)
    await crud.create(session, actor, holiday, "holiday")
    return holiday, await _recompute(session, actor, holiday.municipality_id, holiday.day)


async def delete(session: AsyncSession, actor: Actor, holiday_id: uuid.UUID) -> tuple[Holiday, int]:
    holiday = await get_visible(session, Holiday, holiday_id, actor)
    snapshot = audit.snapshot(holiday)
    await session.delete(holiday)
    await session.flush()
    await audit.record(session, actor, "holiday.delete", "holiday", holiday.id, snapshot)
    return holiday, await _recompute(session, actor, holiday.municipality_id, holiday.day)


async def _recompute(
    session: AsyncSession, actor: Actor, municipality_id: uuid.UUID | None, day: date
) -> int:
    """Open consultations whose counting window contains `day` get a new deemed start and new
    due dates. A local holiday of an organ's seat counts for every municipality (art. 30.6)."""
    if municipality_id is not None and municipality_id in await sla.seat_municipality_ids(session):
        municipality_id = None
    return await recompute_open(
        session,
        municipality_id=municipality_id,
        window=sla.affected_window(day),
        now=datetime.now(UTC),
        calendar_change=actor,
    )
