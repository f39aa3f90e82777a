"""SLA policies: first-response and resolution targets per service and priority."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import Response
from sqlmodel import select

from app.core import crud, queries
from app.core.db import SessionDep
from app.core.deps import AdminActor, CurrentActor
from app.core.errors import UnprocessableEntity, invalid_field, problem_responses
from app.core.pagination import Page, PageDep, paginate
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import get_visible, visible
from app.models.area import CatalogueService
from app.models.sla import SlaPolicy, term_limit_error
from app.schemas.sla_policies import SlaPolicyCreate, SlaPolicyPublic, SlaPolicyUpdate
from app.services.sla.scan import recompute_open

router = ApiRouter(tags=["sla"], route_class=ApiRoute)


@router.get(
    "/sla-policies",
    operation_id="sla_policies_list",
    summary="Listar políticas de plazos",
    response_model=Page[SlaPolicyPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_policies(
    session: SessionDep, actor: CurrentActor, page: PageDep
) -> Page[SlaPolicyPublic]:
    """Every policy, active or not, by code."""
    stmt = select(SlaPolicy).where(visible(SlaPolicy, actor))
    rows, cursor = await paginate(session, stmt, page, keys=[SlaPolicy.code, SlaPolicy.id])  # type: ignore[list-item]
    return Page.of(SlaPolicyPublic, rows, cursor)


@router.post(
    "/sla-policies",
    operation_id="sla_policies_create",
    summary="Crear una política de plazos",
    status_code=201,
    response_model=SlaPolicyPublic,
    responses=problem_responses(401, 403, 409, 415, 422),
)
async def create_policy(
    data: SlaPolicyCreate, session: SessionDep, actor: AdminActor
) -> SlaPolicyPublic:
    """Targets in días hábiles or office hours for a service and/or priority; the most
    specific active policy applies to new consultations."""
    if data.service_id and await session.get(CatalogueService, data.service_id) is None:
        raise UnprocessableEntity("El servicio indicado no existe")
    policy = SlaPolicy.model_validate(data)
    await crud.create(session, actor, policy, "sla_policy")
    return SlaPolicyPublic.model_validate(policy)


@router.patch(
    "/sla-policies/{policy_id}",
    operation_id="sla_policies_update",
    summary="Modificar una política de plazos",
    response_model=SlaPolicyPublic,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def update_policy(
    policy_id: uuid.UUID,
    data: SlaPolicyUpdate,
    session: SessionDep,
    actor: AdminActor,
    response: Response,
) -> SlaPolicyPublic:
    """Changed targets apply to the open consultations under this policy too (their due
    dates are recomputed; count in `X-Recomputed`)."""
    policy = await get_visible(session, SlaPolicy, policy_id, actor)
    patch = data.model_dump(exclude_unset=True)
    queries.reject_nulls(SlaPolicy, patch)
    first = patch.get("first_response_target", policy.first_response_target)
    if first > patch.get("resolution_target", policy.resolution_target):
        raise UnprocessableEntity("la primera respuesta no puede vencer después de la resolución")
    unit = patch.get("unit", policy.unit)
    error = term_limit_error(unit, first, patch.get("resolution_target", policy.resolution_target))
    if error:
        raise invalid_field("resolution_target", error)
    await crud.update(session, actor, policy, patch, "sla_policy")
    recomputed = await recompute_open(session, policy_id=policy.id, now=datetime.now(UTC))
    response.headers["X-Recomputed"] = str(recomputed)
    return SlaPolicyPublic.model_validate(policy)
