"""The official calendar of non-working days of 2026 for Badajoz province, as far as it could be
verified (see README, "Calendario laboral"): the national and Extremadura days (Decreto 40/2025,
DOE) are the `holidays` package's list for Spain/Extremadura, and the local days known from the
Resolución of 15 October 2025 (DOE nº 204, 23 October 2025). Other municipalities' local days
are missing: administrators import them (`POST /api/v1/holidays/import`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.municipality import Municipality
from app.models.sla import Holiday, OfficialCalendarYear

SOURCE_2026 = (
    "Decreto 40/2025 (DOE) y Resolución de 15 de octubre de 2025 (DOE nº 204, de 23 de octubre "
    "de 2025); fiestas locales solo de los municipios verificados"
)
_LOCAL = "Fiesta local"
LOCAL_2026: dict[str, tuple[tuple[date, str], ...]] = {
    "06015": ((date(2026, 2, 17), "Martes de Carnaval"), (date(2026, 6, 24), "San Juan")),
    "06083": ((date(2026, 5, 21), _LOCAL), (date(2026, 12, 10), _LOCAL)),
    "06009": ((date(2026, 8, 24), _LOCAL), (date(2026, 11, 30), _LOCAL)),
    "06017": ((date(2026, 8, 20), _LOCAL), (date(2026, 11, 30), _LOCAL)),
    "06006": ((date(2026, 5, 22), _LOCAL), (date(2026, 9, 9), _LOCAL)),
    "06016": ((date(2026, 4, 20), _LOCAL), (date(2026, 9, 11), _LOCAL)),
}


async def seed_official_calendar(session: AsyncSession) -> list[str]:
    """Adds what is missing of the 2026 calendar; returns a line per thing created."""
    created: list[str] = []
    if await session.get(OfficialCalendarYear, 2026) is None:
        session.add(OfficialCalendarYear(year=2026, source=SOURCE_2026))
        created.append("calendario oficial 2026")
    rows = await session.execute(
        select(Municipality).where(col(Municipality.ine_code).in_(list(LOCAL_2026)))
    )
    for m in rows.scalars().all():
        assert m.ine_code is not None
        for day, name in LOCAL_2026[m.ine_code]:
            existing = await session.execute(
                select(col(Holiday.id)).where(
                    col(Holiday.municipality_id) == m.id, col(Holiday.day) == day
                )
            )
            if existing.first() is None:
                session.add(Holiday(municipality_id=m.id, day=day, name=name))
                created.append(f"fiesta local de {m.name} el {day:%d/%m/%Y}")
    await session.flush()
    return created
