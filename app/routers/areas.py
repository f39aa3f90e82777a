"""Áreas of the Diputación and their service catalogue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core.db import SessionDep
from app.core.deps import AdminActor, OptionalActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import CREATE_ERRORS, WRITE_ERRORS, ApiRoute, ApiRouter
from app.schemas.areas import (
    AreaCreate,
    AreaPublic,
    AreaUpdate,
    CatalogueServiceCreate,
    CatalogueServicePublic,
    CatalogueServiceUpdate,
)
from app.services import reference

router = ApiRouter(tags=["areas"], route_class=ApiRoute)


@router.get(
    "/areas",
    operation_id="areas_list",
    summary="Listar áreas",
    response_model=Page[AreaPublic],
    responses=problem_responses(400, 422),
)
async def list_areas(
    session: SessionDep, actor: OptionalActor, page: PageDep, include_inactive: bool = False
) -> Page[AreaPublic]:
    """Departments of the Diputación, by name."""
    rows, cursor = await reference.list_areas(
        session, actor, page, include_inactive=include_inactive
    )
    return Page.of(AreaPublic, rows, cursor)


@router.get(
    "/areas/{area_id}",
    operation_id="areas_get",
    summary="Consultar un área",
    response_model=AreaPublic,
    responses=problem_responses(404, 422),
)
async def get_area(area_id: uuid.UUID, session: SessionDep, actor: OptionalActor) -> AreaPublic:
    """One área."""
    return AreaPublic.model_validate(await reference.get_area(session, actor, area_id))


@router.post(
    "/areas",
    operation_id="areas_create",
    summary="Crear un área",
    status_code=201,
    response_model=AreaPublic,
    responses=CREATE_ERRORS,
)
async def create_area(data: AreaCreate, session: SessionDep, actor: AdminActor) -> AreaPublic:
    """Creates an área."""
    return AreaPublic.model_validate(await reference.create_area(session, actor, data))


@router.patch(
    "/areas/{area_id}",
    operation_id="areas_update",
    summary="Modificar un área",
    response_model=AreaPublic,
    responses=WRITE_ERRORS,
)
async def update_area(
    area_id: uuid.UUID, data: AreaUpdate, session: SessionDep, actor: AdminActor
) -> AreaPublic:
    """Edits an área (deactivate instead of deleting)."""
    return AreaPublic.model_validate(await reference.update_area(session, actor, area_id, data))


@router.get(
    "/services",
    operation_id="services_list",
    summary="Catálogo de servicios",
    response_model=Page[CatalogueServicePublic],
    responses=problem_responses(400, 422),
)
async def list_services(
    session: SessionDep,
    actor: OptionalActor,
    page: PageDep,
    area_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    include_inactive: bool = False,
) -> Page[CatalogueServicePublic]:
    """Services offered to municipalities, filterable by área and text."""
    rows, cursor = await reference.list_services(
        session, actor, page, area_id=area_id, q=q, include_inactive=include_inactive
    )
    return Page.of(CatalogueServicePublic, rows, cursor)


@router.get(
    "/services/{service_id}",
    operation_id="services_get",
    summary="Consultar un servicio",
    response_model=CatalogueServicePublic,
    responses=problem_responses(404, 422),
)
async def get_service(
    service_id: uuid.UUID, session: SessionDep, actor: OptionalActor
) -> CatalogueServicePublic:
    """One service of the catalogue."""
    obj = await reference.get_service(session, actor, service_id)
    return CatalogueServicePublic.model_validate(obj)


@router.post(
    "/services",
    operation_id="services_create",
    summary="Añadir un servicio al catálogo",
    status_code=201,
    response_model=CatalogueServicePublic,
    responses=CREATE_ERRORS,
)
async def create_service(
    data: CatalogueServiceCreate, session: SessionDep, actor: AdminActor
) -> CatalogueServicePublic:
    """Adds a service to an área's catalogue."""
    obj = await reference.create_service(session, actor, data)
    return CatalogueServicePublic.model_validate(obj)


@router.patch(
    "/services/{service_id}",
    operation_id="services_update",
    summary="Modificar un servicio",
    response_model=CatalogueServicePublic,
    responses=WRITE_ERRORS,
)
async def update_service(
    service_id: uuid.UUID, data: CatalogueServiceUpdate, session: SessionDep, actor: AdminActor
) -> CatalogueServicePublic:
    """Edits a service of the catalogue."""
    obj = await reference.update_service(session, actor, service_id, data)
    return CatalogueServicePublic.model_validate(obj)
