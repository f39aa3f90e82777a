"""Fixed-window counters in Redis, shared by every API process."""

from __future__ import annotations

import ipaddress
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.errors import TooManyRequests
from app.core.redis import key

logger = logging.getLogger("app.ratelimit")


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


async def hold(redis: Redis, bucket: str, ident: str, seconds: int) -> None:
    """Makes `held` answer for `seconds` (a delay imposed on `ident`)."""
    await redis.set(key("rl", bucket, ident), 1, ex=max(seconds, 1))


async def held(redis: Redis, bucket: str, ident: str) -> int:
    """Seconds left of a delay set with `hold`; 0 when there is none."""
    ttl = int(await redis.ttl(key("rl", bucket, ident)))
    return ttl if ttl > 0 else 0


def address_key(client_ip: str | None) -> str:
    """The identity of a client address for per-address limits: an IPv4 address as it is, an
    IPv6 address by its /64 (one subscriber's whole block), anything else as given."""
    if not client_ip:
        return "unknown"
    try:
        ip = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def enforce_rate_limit(
    redis: Redis, bucket: str, ident: str | None, limit: int, window_seconds: int
) -> None:
    """Counts one request of `ident` in `bucket`; beyond `limit` in the window, 429.

    Public endpoints fail open when Redis is down: the limiter protects capacity, not secrets.
    """
    who = ident or "unknown"
    try:
        used = await hit(redis, bucket, who, window_seconds)
        if used <= limit:
            return
        wait = await retry_after(redis, bucket, who)
    except RedisError:
        logger.warning("rate limiter unavailable", extra={"fields": {"bucket": bucket}})
        return
    raise TooManyRequests(
        f"Ha superado el límite de peticiones. Vuelva a intentarlo en {wait} segundos.",
        headers={"Retry-After": str(wait)},
    )
