"""Public tracking of a consultation by its reference and access code."""

from __future__ import annotations

import contextlib

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import ratelimit
from app.core.config import Settings
from app.core.errors import (
    NotFound,
    TooManyRequests,
)
from app.core.security import digest_secret, secret_needs_upgrade, verify_secret
from app.models.consultation import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    MessageVisibility,
)
from app.services.consultations.lifecycle import normalise_code


async def find_by_reference(session: AsyncSession, reference: str) -> Consultation | None:
    stmt = select(Consultation).where(col(Consultation.reference) == reference.strip().upper())
    return (await session.execute(stmt)).scalars().first()


async def track(
    session: AsyncSession, reference: str, code: str
) -> tuple[Consultation, list[ConsultationEvent], list[ConsultationMessage]]:
    """Public tracking: the same NotFound for an unknown reference and a wrong code."""
    c = await find_by_reference(session, reference)
    normalised = normalise_code(code)
    ok = await verify_secret(normalised, c.access_code_hash if c else None)
    if c is None or not ok:
        raise NotFound("No hay ninguna consulta con esa referencia y ese código")
    if secret_needs_upgrade(c.access_code_hash):
        # Written before access codes were keyed digests: store the digest now.
        c.access_code_hash = digest_secret(normalised)
    events = (
        (
            await session.execute(
                select(ConsultationEvent)
                .where(
                    col(ConsultationEvent.consultation_id) == c.id,
                    col(ConsultationEvent.is_public).is_(True),
                    col(ConsultationEvent.to_status).is_not(None),
                )
                .order_by(col(ConsultationEvent.id))
            )
        )
        .scalars()
        .all()
    )
    replies = (
        (
            await session.execute(
                select(ConsultationMessage)
                .where(
                    col(ConsultationMessage.consultation_id) == c.id,
                    col(ConsultationMessage.visibility) == MessageVisibility.public,
                )
                .order_by(col(ConsultationMessage.created_at), col(ConsultationMessage.id))
            )
        )
        .scalars()
        .all()
    )
    return c, list(events), list(replies)


async def track_public(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    reference: str,
    code: str,
    client_ip: str | None,
) -> tuple[Consultation, list[ConsultationEvent], list[ConsultationMessage]]:
    """`track` behind two limits: look-ups per client address, and wrong codes per reference
    (which stops guessing one consultation's code from many addresses)."""
    ref = reference.strip().upper()[:40]
    await ratelimit.enforce_rate_limit(
        redis,
        "track-ip",
        client_ip,
        settings.public_tracking_max_per_ip,
        settings.public_tracking_window_seconds,
    )
    try:
        failures = await ratelimit.count(redis, "track-ref", ref)
    except RedisError:
        failures = 0
    if failures >= settings.public_tracking_max_failures_per_reference:
        raise TooManyRequests(
            "Demasiados códigos erróneos para esta referencia; inténtelo más tarde",
            headers={"Retry-After": str(await ratelimit.retry_after(redis, "track-ref", ref))},
        )
    try:
        return await track(session, ref, code)
    except NotFound:
        with contextlib.suppress(RedisError):
            await ratelimit.hit(redis, "track-ref", ref, 3600)
        raise
