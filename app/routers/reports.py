"""Operational reports and CSV exports for the office and the áreas (not public)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionDep, get_session
from app.core.deps import CurrentActor
from app.core.errors import invalid_field, problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.schemas.base import Day
from app.schemas.indicators import OperationsReport, SlaReport
from app.services.indicators import periods
from app.services.reports import exports, operations
from app.services.reports import indicators as indicator_export
from app.services.reports.scope import area_scope

router = ApiRouter(prefix="/reports", tags=["reports"], route_class=ApiRoute)

# The export streams after the handler returns: its session lives until the response is sent.
StreamSessionDep = Annotated[AsyncSession, Depends(get_session, scope="request")]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 con BOM)"}
}

PeriodQuery = Annotated[
    str | None, Query(max_length=7, description="AAAA, AAAA-Qn o AAAA-MM; por defecto, este año")
]
FromQuery = Annotated[Day | None, Query(alias="from", description="Primer día de un intervalo")]
ToQuery = Annotated[Day | None, Query(alias="to", description="Último día, incluido")]


@router.get(
    "/sla",
    operation_id="reports_sla",
    summary="Cumplimiento de plazos (SLA)",
    response_model=SlaReport,
    responses=problem_responses(401, 403, 422),
)
async def sla_report(
    session: SessionDep,
    actor: CurrentActor,
    group_by: Literal["area", "service", "channel", "month"] = "area",
    period: PeriodQuery = None,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> SlaReport:
    """Consultations received in the period per área, service, channel or month: on time, at
    risk, breached, median and p90 working days to first response and to resolution."""
    area_scope(actor)
    when = periods.parse(period, from_day, to_day)
    return await operations.sla(session, actor, when, group_by)


@router.get(
    "/operations",
    operation_id="reports_operations",
    summary="Volúmenes, pendientes, asistente y satisfacción",
    response_model=OperationsReport,
    responses=problem_responses(401, 403, 422),
)
async def operations_report(
    session: SessionDep,
    actor: CurrentActor,
    period: PeriodQuery = None,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> OperationsReport:
    """Volumes by channel, forwarding per área, open backlog by age, assistant deflection and
    survey results per dimension."""
    area_scope(actor)
    when = periods.parse(period, from_day, to_day)
    return await operations.operations(session, actor, when)


@router.get(
    "/exports/{dataset}.csv",
    operation_id="reports_export_csv",
    summary="Exportar una lista en CSV",
    response_class=Response,
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
async def export_csv(
    session: StreamSessionDep,
    actor: CurrentActor,
    dataset: Literal[
        "consultations", "expedientes", "registrations", "attendance", "surveys", "indicators"
    ],
    period: PeriodQuery = None,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    municipality_id: uuid.UUID | None = None,
) -> Response:
    """The list with its filters (dates on its main date, status, channel, entity), streamed;
    Spanish headers, dates in Europe/Madrid. Area staff get their área's rows. `indicators`:
    every indicator the caller can see for `period` (or `from`–`to`), by each disaggregation."""
    if dataset == "indicators":
        area_scope(actor)
        if status or channel or municipality_id:
            raise invalid_field("status", "los indicadores sólo se filtran por periodo", "query")
        when = periods.parse(period, from_day, to_day)
        return StreamingResponse(
            indicator_export.stream(session, actor, when),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="indicators.csv"'},
        )
    if period is not None:
        raise invalid_field("period", "use from y to para filtrar esta lista por fechas", "query")
    filters = {
        "status": status,
        "channel": channel,
        "municipality_id": str(municipality_id) if municipality_id else None,
    }
    sql, params, spec = exports.build(actor, dataset, from_day, to_day, filters)
    return StreamingResponse(
        exports.stream(session, sql, params, spec.headers),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{dataset}.csv"'},
    )
