"""People and integration clients, managed by administrators."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud
from app.core.errors import UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.core.security import digest_secret, hash_password_async, new_client_secret
from app.models.area import Area
from app.models.base import Role
from app.models.integration import IntegrationClient
from app.models.municipality import Municipality
from app.models.user import User, _check_role_scope
from app.schemas.users import (
    IntegrationClientCreate,
    IntegrationClientUpdate,
    UserCreate,
    UserUpdate,
)


async def _check_refs(
    session: AsyncSession, municipality_id: uuid.UUID | None, area_id: uuid.UUID | None
) -> None:
    if municipality_id and await session.get(Municipality, municipality_id) is None:
        raise UnprocessableEntity("El municipio indicado no existe")
    if area_id and await session.get(Area, area_id) is None:
        raise UnprocessableEntity("El área indicada no existe")


async def list_users(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    role: Role | None = None,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    q: str | None = None,
    is_active: bool | None = None,
) -> tuple[list[User], str | None]:
    stmt = select(User).where(visible(User, actor))
    if role:
        stmt = stmt.where(col(User.role) == role)
    if municipality_id:
        stmt = stmt.where(col(User.municipality_id) == municipality_id)
    if area_id:
        stmt = stmt.where(col(User.area_id) == area_id)
    if is_active is not None:
        stmt = stmt.where(col(User.is_active).is_(is_active))
    if q:
        pattern = func.unaccent(f"%{q.strip()}%")
        stmt = stmt.where(
            or_(
                func.unaccent(col(User.full_name)).ilike(pattern),
                col(User.email).ilike(f"%{q.strip()}%"),
            )
        )
    keys: list[Any] = [User.email, User.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_user(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> User:
    return await get_visible(session, User, user_id, actor)


async def create_user(session: AsyncSession, actor: Actor, data: UserCreate) -> User:
    await _check_refs(session, data.municipality_id, data.area_id)
    user = User.model_validate(
        data.model_dump(exclude={"password"}) | {"email": str(data.email).lower()},
        update={"password_hash": await hash_password_async(data.password)},
    )
    return await crud.create(session, actor, user, "user")


async def update_user(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, data: UserUpdate
) -> User:
    user = await get_user(session, actor, user_id)
    patch = data.model_dump(exclude_unset=True)
    role = patch.get("role", user.role)
    municipality_id = patch.get("municipality_id", user.municipality_id)
    area_id = patch.get("area_id", user.area_id)
    try:
        _check_role_scope(Role(role), municipality_id, area_id)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from exc
    await _check_refs(session, municipality_id, area_id)
    if patch.get("password"):
        patch["password_hash"] = await hash_password_async(patch.pop("password"))
    else:
        patch.pop("password", None)
    return await crud.update(session, actor, user, patch, "user")


async def ensure_admin(
    session: AsyncSession, *, email: str, full_name: str, password: str
) -> tuple[User, bool]:
    """Creates the administrator account if missing (CLI). Returns (user, created)."""
    existing = (
        (await session.execute(select(User).where(col(User.email) == email.lower())))
        .scalars()
        .first()
    )
    if existing:
        return existing, False
    data = UserCreate(email=email, full_name=full_name, role=Role.admin, password=password)
    return await create_user(session, Actor.system("línea de órdenes"), data), True


async def list_clients(
    session: AsyncSession, actor: Actor, params: PageParams, *, area_id: uuid.UUID | None = None
) -> tuple[list[IntegrationClient], str | None]:
    stmt = select(IntegrationClient).where(visible(IntegrationClient, actor))
    if area_id:
        stmt = stmt.where(col(IntegrationClient.area_id) == area_id)
    keys: list[Any] = [IntegrationClient.client_id, IntegrationClient.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_client(
    session: AsyncSession, actor: Actor, client_pk: uuid.UUID
) -> IntegrationClient:
    return await get_visible(session, IntegrationClient, client_pk, actor)


async def create_client(
    session: AsyncSession, actor: Actor, data: IntegrationClientCreate
) -> tuple[IntegrationClient, str]:
    await _check_refs(session, None, data.area_id)
    secret = new_client_secret()
    client = IntegrationClient(
        name=data.name,
        area_id=data.area_id,
        scopes=[str(s) for s in data.scopes],
        client_id="oaaa-" + secrets.token_hex(8),
        secret_hash=digest_secret(secret),
    )
    await crud.create(session, actor, client, "integration_client")
    return client, secret


async def update_client(
    session: AsyncSession, actor: Actor, client_pk: uuid.UUID, data: IntegrationClientUpdate
) -> IntegrationClient:
    client = await get_client(session, actor, client_pk)
    patch = data.model_dump(exclude_unset=True)
    if patch.get("scopes") is not None:
        patch["scopes"] = [str(s) for s in patch["scopes"]]
    return await crud.update(session, actor, client, patch, "integration_client")


async def rotate_client_secret(
    session: AsyncSession, actor: Actor, client_pk: uuid.UUID
) -> tuple[IntegrationClient, str]:
    client = await get_client(session, actor, client_pk)
    secret = new_client_secret()
    client.secret_hash = digest_secret(secret)
    await crud.flush(session)
    await audit.record(
        session, actor, "integration_client.rotate_secret", "integration_client", client.id
    )
    return client, secret
