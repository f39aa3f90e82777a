"""Suggestions and requests for new services from the municipalities, answered by the office."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import crud
from app.core.errors import Forbidden, UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.models.audit import ActorType
from app.models.base import utcnow
from app.models.municipality import Municipality
from app.models.survey import Suggestion, SuggestionKind, SuggestionStatus
from app.schemas.suggestions import SuggestionCreate, SuggestionUpdate


async def _target_municipality(
    session: AsyncSession, actor: Actor, requested: uuid.UUID | None
) -> uuid.UUID:
    """The municipality the suggestion is filed for: a municipal user's own, or the one the
    office names."""
    if (mid := actor.own_municipality_id) is not None:
        if requested is not None and requested != mid:
            raise UnprocessableEntity("Solo puede enviar sugerencias en nombre de su municipio")
        return mid
    if not actor.is_office:
        raise Forbidden("Su perfil no permite enviar sugerencias")
    if requested is None:
        raise UnprocessableEntity("Indique el municipio (municipality_id) de la sugerencia")
    if await session.get(Municipality, requested) is None:
        raise UnprocessableEntity("El municipio indicado no existe")
    return requested


async def create_suggestion(
    session: AsyncSession, actor: Actor, data: SuggestionCreate
) -> Suggestion:
    municipality_id = await _target_municipality(session, actor, data.municipality_id)
    suggestion = Suggestion(
        municipality_id=municipality_id,
        created_by_id=actor.id if actor.kind == ActorType.user else None,
        kind=data.kind,
        title=data.title.strip(),
        body=data.body.strip(),
        status=SuggestionStatus.received,
    )
    return await crud.create(session, actor, suggestion, "suggestion")


async def list_suggestions(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    status: SuggestionStatus | None = None,
    kind: SuggestionKind | None = None,
    municipality_id: uuid.UUID | None = None,
) -> tuple[list[Suggestion], str | None]:
    stmt = select(Suggestion).where(visible(Suggestion, actor))
    if status:
        stmt = stmt.where(col(Suggestion.status) == status)
    if kind:
        stmt = stmt.where(col(Suggestion.kind) == kind)
    if municipality_id:
        stmt = stmt.where(col(Suggestion.municipality_id) == municipality_id)
    keys: list[Any] = [Suggestion.created_at, Suggestion.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def get_suggestion(
    session: AsyncSession, actor: Actor, suggestion_id: uuid.UUID
) -> Suggestion:
    return await get_visible(session, Suggestion, suggestion_id, actor)


async def update_suggestion(
    session: AsyncSession, actor: Actor, suggestion_id: uuid.UUID, data: SuggestionUpdate
) -> Suggestion:
    """The office moves the suggestion along and answers it publicly."""
    suggestion = await get_suggestion(session, actor, suggestion_id)
    patch = data.model_dump(exclude_unset=True)
    if "status" in patch and patch["status"] is None:
        raise UnprocessableEntity("El estado no admite null")
    if "public_answer" in patch:
        answer = (patch["public_answer"] or "").strip()
        patch["public_answer"] = answer or None
        if patch["public_answer"] != suggestion.public_answer:
            patch["answered_at"] = utcnow() if answer else None
    return await crud.update(session, actor, suggestion, patch, "suggestion")
