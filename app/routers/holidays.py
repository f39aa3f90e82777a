"""The working-day calendar: official holidays, local holidays and corrections."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response

from app.core.db import SessionDep
from app.core.deps import AdminActor, OptionalActor
from app.core.errors import problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.schemas.holidays import (
    CalendarImport,
    CalendarImportReport,
    HolidayCreate,
    HolidayPublic,
)
from app.services.sla import calendar_import
from app.services.sla import holidays as service

router = ApiRouter(tags=["calendar"], route_class=ApiRoute)


@router.get(
    "/holidays",
    operation_id="holidays_list",
    summary="Días inhábiles de un año",
    response_model=list[HolidayPublic],
    responses=problem_responses(422),
)
async def list_holidays(
    session: SessionDep,
    _: OptionalActor,
    year: Annotated[int, Query(ge=2000, le=2100)],
    municipality_id: uuid.UUID | None = None,
) -> list[HolidayPublic]:
    """National and Extremadura holidays, corrections and (with `municipality_id`) the
    municipality's local holidays: the days that do not count as días hábiles."""
    return await service.effective_calendar(session, year, municipality_id)


@router.post(
    "/holidays",
    operation_id="holidays_create",
    summary="Añadir un festivo local o una corrección",
    status_code=201,
    response_model=HolidayPublic,
    responses=problem_responses(401, 403, 409, 415, 422),
)
async def create_holiday(
    data: HolidayCreate, session: SessionDep, actor: AdminActor, response: Response
) -> HolidayPublic:
    """A local holiday of a municipality, or (without municipality) a province-wide
    correction; `is_holiday: false` cancels an official date. Open consultations whose
    deadlines it affects are recomputed (count in `X-Recomputed`)."""
    holiday, recomputed = await service.create(session, actor, data)
    response.headers["X-Recomputed"] = str(recomputed)
    source = "local" if holiday.municipality_id and holiday.is_holiday else "correction"
    return HolidayPublic(
        id=holiday.id,
        municipality_id=holiday.municipality_id,
        day=holiday.day,
        name=holiday.name,
        is_holiday=holiday.is_holiday,
        source=source,
    )


@router.delete(
    "/holidays/{holiday_id}",
    operation_id="holidays_delete",
    summary="Quitar un festivo local o una corrección",
    status_code=204,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_holiday(
    holiday_id: uuid.UUID, session: SessionDep, actor: AdminActor, response: Response
) -> None:
    """Removes it and recomputes the open consultations it affected."""
    _, recomputed = await service.delete(session, actor, holiday_id)
    response.headers["X-Recomputed"] = str(recomputed)


@router.post(
    "/holidays/import/preview",
    operation_id="holidays_import_preview",
    summary="Vista previa de la importación del calendario oficial de un año",
    response_model=CalendarImportReport,
    responses=problem_responses(401, 403, 415, 422),
)
async def preview_import(
    data: CalendarImport, session: SessionDep, actor: AdminActor
) -> CalendarImportReport:
    """What importing this CSV would change (days added, removed or renamed) and which open
    consultations would see their start or due dates move. Nothing is stored."""
    return await calendar_import.run(session, actor, data, apply=False)


@router.post(
    "/holidays/import",
    operation_id="holidays_import_apply",
    summary="Importar el calendario oficial de un año",
    response_model=CalendarImportReport,
    responses=problem_responses(401, 403, 415, 422),
)
async def apply_import(
    data: CalendarImport, session: SessionDep, actor: AdminActor
) -> CalendarImportReport:
    """Stores the year's calendar as the CSV gives it (national and Extremadura days, the local
    days of the municipalities listed), recomputes the open deadlines it moves and records it
    in the audit log. Importing the same CSV again changes nothing."""
    return await calendar_import.run(session, actor, data, apply=True)
