"""The legal-deadline calculator: public, nothing is stored."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core.db import SessionDep
from app.core.deps import OptionalActor
from app.core.errors import problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.models.sla import SlaUnit
from app.schemas.plazos import PlazoPublic, StartKind
from app.services import plazos as service

router = ApiRouter(tags=["plazos"], route_class=ApiRoute)


@router.get(
    "/plazos",
    operation_id="plazos_compute",
    summary="Calcular un plazo legal",
    response_model=PlazoPublic,
    responses=problem_responses(422),
)
async def compute_plazo(
    session: SessionDep,
    _: OptionalActor,
    start: Annotated[
        str,
        Query(
            min_length=10,
            max_length=40,
            description="Fecha (AAAA-MM-DD) o fecha y hora ISO 8601 de la notificación, "
            "publicación o presentación",
        ),
    ],
    term: Annotated[int, Query(ge=1, le=5000, description="Duración del plazo")],
    unit: Annotated[SlaUnit, Query(description="Unidad del plazo")] = SlaUnit.working_days,
    municipality_id: Annotated[
        uuid.UUID | None, Query(description="Municipio del interesado")
    ] = None,
    start_kind: Annotated[
        StartKind,
        Query(description="notification (notificación o publicación) o submission (presentación)"),
    ] = StartKind.notification,
) -> PlazoPublic:
    """When a term of Ley 39/2015 art. 30 ends: the deemed start, the due date, each
    non-working day skipped with its reason and the legal basis, with a warning for years whose
    official calendar is not known (art. 30.7)."""
    return await service.compute(
        session,
        start=start,
        term=term,
        unit=unit,
        municipality_id=municipality_id,
        start_kind=start_kind,
    )
