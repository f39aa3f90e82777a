"""The shared Redis client (rate limits, token deny-list, pub/sub, arq)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis

from app.core.config import get_settings

_client: Redis | None = None


def get_redis() -> Redis:
    global _client
    if _client is None:
        settings = get_settings()
        _client = Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=2,
        )
    return _client


async def close_redis() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
    _client = None


def key(*parts: str) -> str:
    return get_settings().redis_prefix + ":".join(parts)


RedisDep = Annotated[Redis, Depends(get_redis)]
