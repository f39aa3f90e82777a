"""Expedientes for people: list, detail with timeline, create and edit, summary; procedure
types with their stages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Query, Response

from app.core.db import SessionDep, read_only
from app.core.deps import AdminActor, CurrentActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import get_visible
from app.models.expediente import ExpedienteStatus
from app.schemas.base import Day
from app.schemas.expedientes import (
    ExpedienteCreate,
    ExpedienteDetail,
    ExpedientePublic,
    ExpedienteUpdate,
    MunicipalitySummary,
    ProcedureTypeCreate,
    ProcedureTypePublic,
    ProcedureTypeUpdate,
    StageEventIn,
)
from app.services import expedientes as service

router = ApiRouter(tags=["expedientes"], route_class=ApiRoute)

IfMatch = Annotated[
    str | None, Header(description="ETag de la versión que se modifica (control de concurrencia)")
]


@router.get(
    "/procedure-types",
    operation_id="procedure_types_list",
    summary="Tipos de procedimiento",
    response_model=Page[ProcedureTypePublic],
    responses=problem_responses(400, 401, 422),
)
async def list_procedure_types(
    session: SessionDep, actor: CurrentActor, page: PageDep, area_id: uuid.UUID | None = None
) -> Page[ProcedureTypePublic]:
    """Procedure types with their ordered stages."""
    rows, cursor = await service.list_procedure_types(session, actor, page, area_id)
    items = [await service.procedure_public(session, p) for p in rows]
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/procedure-types",
    operation_id="procedure_types_create",
    summary="Definir un tipo de procedimiento",
    status_code=201,
    response_model=ProcedureTypePublic,
    responses=problem_responses(401, 403, 409, 415, 422),
)
async def create_procedure_type(
    data: ProcedureTypeCreate, session: SessionDep, actor: AdminActor
) -> ProcedureTypePublic:
    """An área's procedure with its ordered stages (code, name, expected working days, whether
    the stage waits on the municipality)."""
    p = await service.create_procedure_type(session, actor, data)
    return await service.procedure_public(session, p)


@router.patch(
    "/procedure-types/{procedure_type_id}",
    operation_id="procedure_types_update",
    summary="Modificar un tipo de procedimiento",
    response_model=ProcedureTypePublic,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def update_procedure_type(
    procedure_type_id: uuid.UUID, data: ProcedureTypeUpdate, session: SessionDep, actor: AdminActor
) -> ProcedureTypePublic:
    """Name, description, legal term, active flag."""
    p = await service.update_procedure_type(session, actor, procedure_type_id, data)
    return await service.procedure_public(session, p)


@router.get(
    "/expedientes",
    operation_id="expedientes_list",
    summary="Listar expedientes",
    response_model=Page[ExpedientePublic],
    responses=problem_responses(400, 401, 422),
)
async def list_expedientes(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    procedure_type_id: uuid.UUID | None = None,
    stage_code: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[list[ExpedienteStatus] | None, Query()] = None,
    stalled: bool | None = None,
    deadline_from: Day | None = None,
    deadline_to: Day | None = None,
    consultation_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
) -> Page[ExpedientePublic]:
    """Scoped: a municipality its own, an área its own, the office all; newest first."""
    filters = service.ListFilters(
        municipality_id=municipality_id,
        area_id=area_id,
        procedure_type_id=procedure_type_id,
        stage_code=stage_code,
        status=status,
        stalled=stalled,
        deadline_from=deadline_from,
        deadline_to=deadline_to,
        q=q,
        consultation_id=consultation_id,
    )
    rows, cursor = await service.list_expedientes(session, actor, page, filters)
    return Page.of(ExpedientePublic, rows, cursor)


@router.get(
    "/expedientes/summary",
    operation_id="expedientes_summary",
    summary="Resumen de expedientes de un municipio",
    response_model=MunicipalitySummary,
    responses=problem_responses(401, 404, 422),
)
@read_only
async def municipality_summary(
    session: SessionDep, actor: CurrentActor, municipality_id: uuid.UUID
) -> MunicipalitySummary:
    """Open expedientes by área and stage, stalled ones and the next deadlines."""
    return await service.summary(session, actor, municipality_id)


@router.get(
    "/expedientes/{expediente_id}",
    operation_id="expedientes_get",
    summary="Consultar un expediente",
    response_model=ExpedienteDetail,
    responses=problem_responses(401, 404, 422),
)
async def get_expediente(
    expediente_id: uuid.UUID, session: SessionDep, actor: CurrentActor, response: Response
) -> ExpedienteDetail:
    """The expediente with its stage timeline, documents and related consultations."""
    detail = await service.detail(session, actor, expediente_id)
    response.headers["ETag"] = f'"{detail.version}"'
    return detail


@router.post(
    "/expedientes",
    operation_id="expedientes_create",
    summary="Registrar un expediente",
    status_code=201,
    response_model=ExpedienteDetail,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def create_expediente(
    data: ExpedienteCreate, session: SessionDep, actor: CurrentActor, response: Response
) -> ExpedienteDetail:
    """Office staff, or staff of the área that handles it."""
    exp = await service.create(session, actor, data)
    response.headers["ETag"] = service.etag(exp)
    return await service.render_detail(session, exp)


@router.patch(
    "/expedientes/{expediente_id}",
    operation_id="expedientes_update",
    summary="Modificar un expediente",
    response_model=ExpedienteDetail,
    responses=problem_responses(401, 403, 404, 412, 415, 422, 428),
)
async def update_expediente(
    expediente_id: uuid.UUID,
    data: ExpedienteUpdate,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> ExpedienteDetail:
    """Title, description, status, deadline, documents, related consultations; If-Match."""
    exp = await service.update(session, actor, expediente_id, data, if_match)
    response.headers["ETag"] = service.etag(exp)
    return await service.render_detail(session, exp)


@router.post(
    "/expedientes/{expediente_id}/stages",
    operation_id="expedientes_add_stage",
    summary="Registrar el paso a una fase",
    response_model=ExpedienteDetail,
    responses=problem_responses(401, 403, 404, 415, 422),
)
async def add_stage(
    expediente_id: uuid.UUID,
    data: StageEventIn,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
) -> ExpedienteDetail:
    """Records the expediente entering a stage at `occurred_at` (placed in time order)."""
    exp = await service.add_stage_by_person(session, actor, expediente_id, data)
    exp = await get_visible(session, type(exp), exp.id, actor)
    response.headers["ETag"] = service.etag(exp)
    return await service.render_detail(session, exp)
