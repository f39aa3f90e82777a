"""User accounts and integration clients (administrators), user directory (scoped)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core.db import SessionDep
from app.core.deps import AdminActor, CurrentActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import CREATE_ERRORS, WRITE_ERRORS, ApiRoute, ApiRouter
from app.models.base import Role
from app.schemas.users import (
    IntegrationClientCreate,
    IntegrationClientPublic,
    IntegrationClientUpdate,
    IntegrationClientWithSecret,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.services import users as user_service

router = ApiRouter(tags=["users"], route_class=ApiRoute)


@router.get(
    "/users",
    operation_id="users_list",
    summary="Listar usuarios",
    response_model=Page[UserPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_users(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    role: Role | None = None,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Page[UserPublic]:
    """Office staff see everyone; a municipality sees its own people; an área its own staff."""
    rows, cursor = await user_service.list_users(
        session,
        actor,
        page,
        role=role,
        municipality_id=municipality_id,
        area_id=area_id,
        q=q,
        is_active=is_active,
    )
    return Page.of(UserPublic, rows, cursor)


@router.get(
    "/users/{user_id}",
    operation_id="users_get",
    summary="Consultar un usuario",
    response_model=UserPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_user(user_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> UserPublic:
    """One user, if within the caller's scope."""
    return UserPublic.model_validate(await user_service.get_user(session, actor, user_id))


@router.post(
    "/users",
    operation_id="users_create",
    summary="Crear un usuario",
    status_code=201,
    response_model=UserPublic,
    responses=CREATE_ERRORS,
)
async def create_user(data: UserCreate, session: SessionDep, actor: AdminActor) -> UserPublic:
    """Creates an account with its role and scope (municipality or área)."""
    return UserPublic.model_validate(await user_service.create_user(session, actor, data))


@router.patch(
    "/users/{user_id}",
    operation_id="users_update",
    summary="Modificar un usuario",
    response_model=UserPublic,
    responses=WRITE_ERRORS,
)
async def update_user(
    user_id: uuid.UUID, data: UserUpdate, session: SessionDep, actor: AdminActor
) -> UserPublic:
    """Edits an account; `is_active: false` disables it at once, even for issued tokens."""
    return UserPublic.model_validate(await user_service.update_user(session, actor, user_id, data))


@router.get(
    "/integration-clients",
    operation_id="integration_clients_list",
    summary="Listar clientes de integración",
    response_model=Page[IntegrationClientPublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_clients(
    session: SessionDep, actor: AdminActor, page: PageDep, area_id: uuid.UUID | None = None
) -> Page[IntegrationClientPublic]:
    """Machine clients of the áreas' systems."""
    rows, cursor = await user_service.list_clients(session, actor, page, area_id=area_id)
    return Page.of(IntegrationClientPublic, rows, cursor)


@router.post(
    "/integration-clients",
    operation_id="integration_clients_create",
    summary="Registrar un cliente de integración",
    status_code=201,
    response_model=IntegrationClientWithSecret,
    responses=CREATE_ERRORS,
)
async def create_client(
    data: IntegrationClientCreate, session: SessionDep, actor: AdminActor
) -> IntegrationClientWithSecret:
    """Registers an área's system; the secret is shown only in this response."""
    client, secret = await user_service.create_client(session, actor, data)
    public = IntegrationClientPublic.model_validate(client)
    return IntegrationClientWithSecret(**public.model_dump(), client_secret=secret)


@router.patch(
    "/integration-clients/{client_pk}",
    operation_id="integration_clients_update",
    summary="Modificar un cliente de integración",
    response_model=IntegrationClientPublic,
    responses=WRITE_ERRORS,
)
async def update_client(
    client_pk: uuid.UUID, data: IntegrationClientUpdate, session: SessionDep, actor: AdminActor
) -> IntegrationClientPublic:
    """Edits name, scopes or active flag."""
    client = await user_service.update_client(session, actor, client_pk, data)
    return IntegrationClientPublic.model_validate(client)


@router.post(
    "/integration-clients/{client_pk}/rotate-secret",
    operation_id="integration_clients_rotate_secret",
    summary="Renovar el secreto de un cliente",
    response_model=IntegrationClientWithSecret,
    responses=WRITE_ERRORS,
)
async def rotate_secret(
    client_pk: uuid.UUID, session: SessionDep, actor: AdminActor
) -> IntegrationClientWithSecret:
    """Issues a new secret; the previous one stops working at once."""
    client, secret = await user_service.rotate_client_secret(session, actor, client_pk)
    public = IntegrationClientPublic.model_validate(client)
    return IntegrationClientWithSecret(**public.model_dump(), client_secret=secret)
