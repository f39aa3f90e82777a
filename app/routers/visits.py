"""Visits to the Punto de Información: the public cookie-less beacon, in-person visits, counts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response

from app.core.db import SessionDep
from app.core.deps import OfficeActor
from app.core.errors import UnprocessableEntity, UnsupportedMediaType, problem_responses
from app.core.redis import RedisDep
from app.core.routing import ApiRoute, ApiRouter, media_type
from app.schemas.base import Day
from app.schemas.visits import PAGE_PATTERN, InPersonVisits, VisitReport, VisitRow
from app.services import visits as service

router = ApiRouter(tags=["visits"], route_class=ApiRoute)

BEACON_TYPES = ("application/json", "text/plain", "")

_BEACON_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["page"],
                    "additionalProperties": False,
                    "properties": {
                        "page": {"type": "string", "pattern": PAGE_PATTERN},
                    },
                }
            }
            for media in ("application/json", "text/plain")
        },
    }
}


@router.post(
    "/public/visits",
    operation_id="visits_beacon",
    summary="Contar una visita al Punto de Información",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 413, 415, 422, 429),
    openapi_extra=_BEACON_BODY,
)
async def beacon(request: Request, session: SessionDep, redis: RedisDep) -> Response:
    """Cookie-less beacon (also `navigator.sendBeacon`): adds one to today's count of the page.
    Neither the address nor any identifier is stored."""
    if media_type(request) not in BEACON_TYPES:
        raise UnsupportedMediaType("Esta operación acepta JSON (application/json o text/plain)")
    raw = await request.body()
    if len(raw) > service.MAX_BEACON_BYTES:
        raise UnprocessableEntity("El cuerpo es demasiado largo para una visita")
    client_ip = request.client.host if request.client else None
    await service.record_beacon(session, redis, raw, client_ip)
    return Response(status_code=204)


@router.post(
    "/visits/in-person",
    operation_id="visits_in_person",
    summary="Registrar visitas presenciales",
    status_code=201,
    response_model=VisitRow,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def in_person(data: InPersonVisits, session: SessionDep, actor: OfficeActor) -> VisitRow:
    """Adds in-person visits of a day (office staff); returns the day's new total."""
    return await service.record_in_person(session, actor, data)


@router.get(
    "/visits",
    operation_id="visits_report",
    summary="Visitas diarias al Punto de Información",
    response_model=VisitReport,
    responses=problem_responses(401, 403, 422),
)
async def report(
    session: SessionDep,
    actor: OfficeActor,
    from_day: Annotated[
        Day | None, Query(alias="from", description="Primer día (por defecto, hace 29 días)")
    ] = None,
    to_day: Annotated[Day | None, Query(alias="to", description="Último día, incluido")] = None,
    channel: Literal["web", "in_person"] | None = None,
) -> VisitReport:
    """Daily counts per page and channel, and totals (office staff)."""
    return await service.report(session, from_day, to_day, channel)
