"""The deny-list of access tokens revoked before they expire (log-out).

PostgreSQL keeps the truth (`revoked_access_token`, one row per token id until it expires);
Redis answers the per-request question. A marker key says the Redis copy is complete: while it
exists, a miss in Redis means "not revoked" and a request costs one Redis round trip. When the
marker is gone (Redis restarted without its data, was flushed or evicted keys) the first request
loads the unexpired rows back into Redis and sets the marker again. When Redis does not answer,
the database is asked instead: the check fails closed, never open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.redis import key
from app.core.security import revoked_jti_key
from app.models.auth import RevokedAccessToken


def loaded_key() -> str:
    return key("revoked-jti-loaded")


async def revoke(session: AsyncSession, redis: Redis, jti: str, expires_in: int) -> None:
    """Records the token as revoked in the database and in Redis (RedisError propagates: a
    log-out that Redis did not take is refused rather than half done)."""
    expires_at = datetime.now(UTC) + timedelta(seconds=max(expires_in, 1))
    await session.execute(
        insert(RevokedAccessToken)
        .values(jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[col(RevokedAccessToken.jti)])
    )
    await session.execute(
        delete(RevokedAccessToken).where(col(RevokedAccessToken.expires_at) < datetime.now(UTC))
    )
    await redis.set(revoked_jti_key(jti), "1", ex=max(expires_in, 1))


async def _in_database(session: AsyncSession, jti: str) -> bool:
    row = await session.execute(
        select(RevokedAccessToken.jti).where(
            col(RevokedAccessToken.jti) == jti,
            col(RevokedAccessToken.expires_at) > datetime.now(UTC),
        )
    )
    return row.first() is not None


async def reload(session: AsyncSession, redis: Redis) -> set[str]:
    """Copies the unexpired revoked token ids into Redis and marks the copy complete."""
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            select(RevokedAccessToken.jti, RevokedAccessToken.expires_at).where(
                col(RevokedAccessToken.expires_at) > now
            )
        )
    ).all()
    async with redis.pipeline(transaction=False) as pipe:
        for jti, expires_at in rows:
            ttl_ms = int((expires_at - now).total_seconds() * 1000)
            if ttl_ms > 0:
                pipe.set(revoked_jti_key(jti), "1", px=ttl_ms)
        pipe.set(loaded_key(), "1")
        await pipe.execute()
    return {jti for jti, _ in rows}


async def is_revoked(session: AsyncSession, redis: Redis, jti: str) -> bool:
    try:
        hit, loaded = await redis.mget([revoked_jti_key(jti), loaded_key()])
    except RedisError:
        return await _in_database(session, jti)
    if hit:
        return True
    if loaded:
        return False
    try:
        return jti in await reload(session, redis)
    except RedisError:
        return await _in_database(session, jti)
