"""Municipalities, ELMs and comarcas: public reference data, edited by administrators."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core.db import SessionDep
from app.core.deps import AdminActor, OptionalActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import CREATE_ERRORS, WRITE_ERRORS, ApiRoute, ApiRouter
from app.models.municipality import MunicipalityKind
from app.schemas.municipalities import (
    ComarcaCreate,
    ComarcaPublic,
    ComarcaUpdate,
    MunicipalityCreate,
    MunicipalityPublic,
    MunicipalityUpdate,
)
from app.services import reference

router = ApiRouter(tags=["municipalities"], route_class=ApiRoute)


@router.get(
    "/municipalities",
    operation_id="municipalities_list",
    summary="Listar municipios y ELM",
    response_model=Page[MunicipalityPublic],
    responses=problem_responses(400, 422),
)
async def list_municipalities(
    session: SessionDep,
    actor: OptionalActor,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1, max_length=100, description="Nombre (sin importar tildes) o código INE"
        ),
    ] = None,
    kind: MunicipalityKind | None = None,
    comarca_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
) -> Page[MunicipalityPublic]:
    """Public list, ordered by name; search by name or INE code prefix."""
    rows, cursor = await reference.list_municipalities(
        session, actor, page, q=q, kind=kind, comarca_id=comarca_id, parent_id=parent_id
    )
    return Page.of(MunicipalityPublic, rows, cursor)


@router.get(
    "/municipalities/{municipality_id}",
    operation_id="municipalities_get",
    summary="Consultar un municipio o ELM",
    response_model=MunicipalityPublic,
    responses=problem_responses(404, 422),
)
async def get_municipality(
    municipality_id: uuid.UUID, session: SessionDep, actor: OptionalActor
) -> MunicipalityPublic:
    """One municipality or entidad local menor."""
    obj = await reference.get_municipality(session, actor, municipality_id)
    return MunicipalityPublic.model_validate(obj)


@router.post(
    "/municipalities",
    operation_id="municipalities_create",
    summary="Dar de alta una entidad local",
    status_code=201,
    response_model=MunicipalityPublic,
    responses=CREATE_ERRORS,
)
async def create_municipality(
    data: MunicipalityCreate, session: SessionDep, actor: AdminActor
) -> MunicipalityPublic:
    """Adds an entidad local menor (with its parent municipality) or a municipality."""
    obj = await reference.create_municipality(session, actor, data)
    return MunicipalityPublic.model_validate(obj)


@router.patch(
    "/municipalities/{municipality_id}",
    operation_id="municipalities_update",
    summary="Modificar una entidad local",
    response_model=MunicipalityPublic,
    responses=WRITE_ERRORS,
)
async def update_municipality(
    municipality_id: uuid.UUID, data: MunicipalityUpdate, session: SessionDep, actor: AdminActor
) -> MunicipalityPublic:
    """Edits name, population, coordinates, comarca or active flag."""
    obj = await reference.update_municipality(session, actor, municipality_id, data)
    return MunicipalityPublic.model_validate(obj)


@router.get(
    "/comarcas",
    operation_id="comarcas_list",
    summary="Listar comarcas",
    response_model=Page[ComarcaPublic],
    responses=problem_responses(400, 422),
)
async def list_comarcas(
    session: SessionDep, actor: OptionalActor, page: PageDep
) -> Page[ComarcaPublic]:
    """Comarcas used to group municipalities."""
    rows, cursor = await reference.list_comarcas(session, actor, page)
    return Page.of(ComarcaPublic, rows, cursor)


@router.post(
    "/comarcas",
    operation_id="comarcas_create",
    summary="Crear una comarca",
    status_code=201,
    response_model=ComarcaPublic,
    responses=CREATE_ERRORS,
)
async def create_comarca(
    data: ComarcaCreate, session: SessionDep, actor: AdminActor
) -> ComarcaPublic:
    """Creates a comarca; assign municipalities to it by editing them."""
    return ComarcaPublic.model_validate(await reference.create_comarca(session, actor, data))


@router.patch(
    "/comarcas/{comarca_id}",
    operation_id="comarcas_update",
    summary="Modificar una comarca",
    response_model=ComarcaPublic,
    responses=WRITE_ERRORS,
)
async def update_comarca(
    comarca_id: uuid.UUID, data: ComarcaUpdate, session: SessionDep, actor: AdminActor
) -> ComarcaPublic:
    """Renames or describes a comarca."""
    obj = await reference.update_comarca(session, actor, comarca_id, data)
    return ComarcaPublic.model_validate(obj)
