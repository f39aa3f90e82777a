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


FAILURE_MEMORY_SECONDS = 24 * 3600


def guessing_delay(failures: int, free: int, cap: int) -> int:
    """Seconds an address waits before its next try on a reference after `failures` wrong
    codes there: none for the first `free`, then 2, 4, 8 … up to `cap`."""
    if failures < free or failures <= 0:
        return 0
    return int(min(2 ** min(failures - free + 1, 30), cap))


async def track_public(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    reference: str,
    code: str,
    client_ip: str | None,
) -> tuple[Consultation, list[ConsultationEvent], list[ConsultationMessage]]:
    """`track` behind two throttles that never lock the owner out:

    - look-ups per client address (a budget per window, whatever the reference);
    - wrong codes per client address *and* reference: after a few, each further try from that
      address on that reference waits a growing delay (429 with `Retry-After`).

    Nothing is counted per reference alone, so a stranger's failures, however many, never
    refuse the right code from another address. Unknown references are throttled exactly like
    wrong codes (same statuses, bodies and work), so the throttle tells nothing either."""
    ref = reference.strip().upper()[:40]
    address = ratelimit.address_key(client_ip)
    await ratelimit.enforce_rate_limit(
        redis,
        "track-ip",
        address,
        settings.public_tracking_max_per_ip,
        settings.public_tracking_window_seconds,
    )
    pair = f"{address}|{ref}"
    try:
        wait = await ratelimit.held(redis, "track-wait", pair)
    except RedisError:
        wait = 0  # fails open, like the look-up budget: the codes are long and random
    if wait:
        raise TooManyRequests(
            "Demasiados códigos erróneos para esta referencia desde su conexión; "
            f"vuelva a intentarlo en {wait} segundos",
            headers={"Retry-After": str(wait)},
        )
    try:
        found = await track(session, ref, code)
    except NotFound:
        with contextlib.suppress(RedisError):
            failures = await ratelimit.hit(redis, "track-fail", pair, FAILURE_MEMORY_SECONDS)
            delay = guessing_delay(
                failures,
                settings.public_tracking_free_failures,
                settings.public_tracking_max_delay_seconds,
            )
            if delay:
                await ratelimit.hold(redis, "track-wait", pair, delay)
        raise
    with contextlib.suppress(RedisError):
        await ratelimit.reset(redis, "track-fail", pair)
    return found
