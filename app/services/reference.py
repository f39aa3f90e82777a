"""Municipalities, ELMs, comarcas, áreas and the service catalogue."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import crud
from app.core.errors import NotFound, UnprocessableEntity, invalid_field
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.models.area import Area, CatalogueService
from app.models.municipality import Comarca, Municipality, MunicipalityKind
from app.schemas.areas import AreaCreate, AreaUpdate, CatalogueServiceCreate, CatalogueServiceUpdate
from app.schemas.municipalities import (
    ComarcaCreate,
    ComarcaUpdate,
    MunicipalityCreate,
    MunicipalityUpdate,
)
from app.services.sla.scan import recompute_open


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_municipalities(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    q: str | None = None,
    kind: MunicipalityKind | None = None,
    comarca_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
) -> tuple[list[Municipality], str | None]:
    stmt = select(Municipality).where(visible(Municipality, actor))
    if q:
        term = q.strip()
        stmt = stmt.where(
            or_(
                func.unaccent(col(Municipality.name)).ilike(func.unaccent(_like(term))),
                col(Municipality.ine_code).startswith(term, autoescape=True),
            )
        )
    if kind:
        stmt = stmt.where(col(Municipality.kind) == kind)
    if comarca_id:
        stmt = stmt.where(col(Municipality.comarca_id) == comarca_id)
    if parent_id:
        stmt = stmt.where(col(Municipality.parent_id) == parent_id)
    keys: list[Any] = [Municipality.name, Municipality.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_municipality(
    session: AsyncSession, actor: Actor, municipality_id: uuid.UUID
) -> Municipality:
    return await get_visible(session, Municipality, municipality_id, actor)


async def _check_parent(session: AsyncSession, data: MunicipalityCreate) -> None:
    if data.kind == MunicipalityKind.elm:
        if data.parent_id is None:
            raise UnprocessableEntity("Una entidad local menor requiere parent_id")
        parent = await session.get(Municipality, data.parent_id)
        if parent is None or parent.kind != MunicipalityKind.municipality:
            raise UnprocessableEntity("parent_id debe ser un municipio existente")
    elif data.parent_id is not None:
        raise UnprocessableEntity("Un municipio no puede tener municipio matriz")


async def create_municipality(
    session: AsyncSession, actor: Actor, data: MunicipalityCreate
) -> Municipality:
    await _check_parent(session, data)
    if data.comarca_id and await session.get(Comarca, data.comarca_id) is None:
        raise UnprocessableEntity("La comarca indicada no existe")
    obj = Municipality.model_validate(data)
    return await crud.create(session, actor, obj, "municipality")


async def update_municipality(
    session: AsyncSession, actor: Actor, municipality_id: uuid.UUID, data: MunicipalityUpdate
) -> Municipality:
    obj = await get_municipality(session, actor, municipality_id)
    patch = data.model_dump(exclude_unset=True)
    if patch.get("comarca_id") and await session.get(Comarca, patch["comarca_id"]) is None:
        raise UnprocessableEntity("La comarca indicada no existe")
    return await crud.update(session, actor, obj, patch, "municipality")


async def list_comarcas(
    session: AsyncSession, actor: Actor, params: PageParams
) -> tuple[list[Comarca], str | None]:
    stmt = select(Comarca).where(visible(Comarca, actor))
    keys: list[Any] = [Comarca.name, Comarca.id]
    return await paginate(session, stmt, params, keys=keys)


async def create_comarca(session: AsyncSession, actor: Actor, data: ComarcaCreate) -> Comarca:
    return await crud.create(session, actor, Comarca.model_validate(data), "comarca")


async def update_comarca(
    session: AsyncSession, actor: Actor, comarca_id: uuid.UUID, data: ComarcaUpdate
) -> Comarca:
    obj = await get_visible(session, Comarca, comarca_id, actor)
    return await crud.update(session, actor, obj, data.model_dump(exclude_unset=True), "comarca")


async def list_areas(
    session: AsyncSession, actor: Actor, params: PageParams, *, include_inactive: bool = False
) -> tuple[list[Area], str | None]:
    stmt = select(Area).where(visible(Area, actor))
    if not include_inactive:
        stmt = stmt.where(col(Area.is_active).is_(True))
    keys: list[Any] = [Area.name, Area.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_area(session: AsyncSession, actor: Actor, area_id: uuid.UUID) -> Area:
    return await get_visible(session, Area, area_id, actor)


async def _check_seat(session: AsyncSession, seat_id: uuid.UUID | None) -> None:
    if seat_id is not None and await session.get(Municipality, seat_id) is None:
        raise invalid_field("seat_municipality_id", "el municipio indicado no existe")


async def create_area(session: AsyncSession, actor: Actor, data: AreaCreate) -> Area:
    await _check_seat(session, data.seat_municipality_id)
    return await crud.create(session, actor, Area.model_validate(data), "area")


async def update_area(
    session: AsyncSession, actor: Actor, area_id: uuid.UUID, data: AreaUpdate
) -> Area:
    obj = await get_area(session, actor, area_id)
    patch = data.model_dump(exclude_unset=True)
    await _check_seat(session, patch.get("seat_municipality_id"))
    seat_before = obj.seat_municipality_id
    area = await crud.update(session, actor, obj, patch, "area")
    if area.seat_municipality_id != seat_before:
        # Other seat, other local holidays (art. 30.6): the área's open plazos are recounted.
        await recompute_open(session, area_id=area.id, calendar_change=actor)
    return area


async def list_services(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    area_id: uuid.UUID | None = None,
    q: str | None = None,
    include_inactive: bool = False,
) -> tuple[list[CatalogueService], str | None]:
    stmt = select(CatalogueService).where(visible(CatalogueService, actor))
    if area_id:
        stmt = stmt.where(col(CatalogueService.area_id) == area_id)
    if not include_inactive:
        stmt = stmt.where(col(CatalogueService.is_active).is_(True))
    if q:
        pattern = func.unaccent(_like(q.strip()))
        stmt = stmt.where(
            or_(
                func.unaccent(col(CatalogueService.name)).ilike(pattern),
                func.unaccent(func.coalesce(col(CatalogueService.description), "")).ilike(pattern),
            )
        )
    keys: list[Any] = [CatalogueService.name, CatalogueService.id]
    return await paginate(session, stmt, params, keys=keys)


async def get_service(
    session: AsyncSession, actor: Actor, service_id: uuid.UUID
) -> CatalogueService:
    return await get_visible(session, CatalogueService, service_id, actor)


async def create_service(
    session: AsyncSession, actor: Actor, data: CatalogueServiceCreate
) -> CatalogueService:
    if await session.get(Area, data.area_id) is None:
        raise UnprocessableEntity("El área indicada no existe")
    obj = CatalogueService.model_validate(data)
    obj.channels = [str(c) for c in data.channels]
    return await crud.create(session, actor, obj, "catalogue_service")


async def update_service(
    session: AsyncSession, actor: Actor, service_id: uuid.UUID, data: CatalogueServiceUpdate
) -> CatalogueService:
    obj = await get_service(session, actor, service_id)
    patch = data.model_dump(exclude_unset=True)
    if "channels" in patch and patch["channels"] is not None:
        patch["channels"] = [str(c) for c in patch["channels"]]
    return await crud.update(session, actor, obj, patch, "catalogue_service")


async def require_area(session: AsyncSession, area_id: uuid.UUID) -> Area:
    area = await session.get(Area, area_id)
    if area is None:
        raise NotFound(f"El área {area_id} no existe")
    return area
