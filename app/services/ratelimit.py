"""Fixed-window counters in Redis, shared by every API process."""

from __future__ import annotations

from redis.asyncio import Redis

from app.redis import key


async def count(redis: Redis, bucket: str, ident: str) -> int:
    value = await redis.get(key("rl", bucket, ident))
    return int(value or 0)


async def hit(redis: Redis, bucket: str, ident: str, window_seconds: int) -> int:
    """Adds one to the counter and returns the new value; the window starts at the first hit."""
    k = key("rl", bucket, ident)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(k)
        pipe.expire(k, window_seconds, nx=True)
        value, _ = await pipe.execute()
    return int(value)


async def retry_after(redis: Redis, bucket: str, ident: str) -> int:
    ttl = await redis.ttl(key("rl", bucket, ident))
    return max(int(ttl), 1)


async def reset(redis: Redis, bucket: str, ident: str) -> None:
    await redis.delete(key("rl", bucket, ident))
