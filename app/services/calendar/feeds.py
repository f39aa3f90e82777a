"""Private calendar feeds: per-municipality tokens (stored hashed) and who a token speaks for."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.config import get_settings
from app.core.crud import flush
from app.core.errors import (
    Forbidden,
    NotFound,
)
from app.core.scoping import Actor, get_visible, visible
from app.core.security import digest_token, token_digests
from app.models.base import Role
from app.models.calendar import (
    FeedToken,
)
from app.schemas.calendar import (
    FeedTokenCreate,
    FeedTokenCreated,
    FeedTokenPublic,
)


def feed_url(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/api/v1/calendar/{token}.ics"


async def create_feed_token(
    session: AsyncSession, actor: Actor, data: FeedTokenCreate
) -> FeedTokenCreated:
    mid = actor.own_municipality_id
    if mid is None:
        raise Forbidden("Solo los usuarios municipales crean enlaces del calendario de su entidad")
    token = secrets.token_urlsafe(32)
    obj = FeedToken(
        municipality_id=mid,
        token_hash=digest_token(token),
        label=data.label,
        created_by_id=actor.id,
    )
    session.add(obj)
    await flush(session)
    await audit.record(
        session,
        actor,
        "feed_token.create",
        "feed_token",
        obj.id,
        {"municipality_id": str(obj.municipality_id), "label": obj.label},
    )
    return FeedTokenCreated(**FeedTokenPublic.model_validate(obj).model_dump(), url=feed_url(token))


async def list_feed_tokens(session: AsyncSession, actor: Actor) -> list[FeedToken]:
    stmt = (
        select(FeedToken)
        .where(visible(FeedToken, actor), col(FeedToken.revoked_at).is_(None))
        .order_by(col(FeedToken.created_at))
    )
    return list((await session.execute(stmt)).scalars().all())


async def revoke_feed_token(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> None:
    obj = await get_visible(session, FeedToken, token_id, actor)
    if not actor.can_ask:
        raise Forbidden("Su perfil no permite revocar enlaces")
    if obj.revoked_at is None:
        obj.revoked_at = datetime.now(UTC)
        await flush(session)
        await audit.record(
            session,
            actor,
            "feed_token.revoke",
            "feed_token",
            obj.id,
            {"revoked_at": obj.revoked_at.isoformat()},
        )


async def feed_actor(session: AsyncSession, token: str) -> Actor:
    """The municipality behind a private feed token, as an actor; unknown or revoked: 404."""
    current, legacy = token_digests(token)
    stmt = select(FeedToken).where(
        col(FeedToken.token_hash).in_((current, legacy)), col(FeedToken.revoked_at).is_(None)
    )
    obj = (await session.execute(stmt)).scalars().first()
    if obj is None:
        raise NotFound("El enlace del calendario no existe o ha sido revocado")
    obj.token_hash = current  # a link issued before keyed digests is rewritten on first use
    obj.last_used_at = datetime.now(UTC)
    await session.flush()
    from app.models.audit import ActorType

    return Actor(
        kind=ActorType.system,
        role=Role.municipal_user,
        label="calendario privado",
        municipality_id=obj.municipality_id,
    )
