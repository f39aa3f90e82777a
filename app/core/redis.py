"""The shared Redis client (rate limits, token deny-list, pub/sub, arq).

Every client has connect and read timeouts (`OAAA_REDIS_TIMEOUT_SECONDS`), so a Redis that
accepts connections but never answers cannot hang a request. The API's clients also carry a
short circuit breaker: after a command timed out or could not connect, the following commands
fail at once for `REDIS_BREAK_SECONDS` instead of each waiting out the timeout again, so the
requests that can do without Redis (they fall back or fail open) stay fast and the ones that
need it answer 503 at once.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.core.config import get_settings

# How long a client fails fast after Redis timed out or refused a connection.
REDIS_BREAK_SECONDS = 2.0


class RedisUnavailable(RedisConnectionError):
    """Raised without asking Redis while the breaker is open."""


class CircuitBreaker:
    """Mixed into a redis-py client class before it (see the module docstring)."""

    _open_until: float = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        self._open_until = time.monotonic() + REDIS_BREAK_SECONDS

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.is_open():
            raise RedisUnavailable("Redis no respondió hace un momento")
        try:
            return await super().execute_command(*args, **options)  # type: ignore[misc]
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self.trip()
            raise


class GuardedRedis(CircuitBreaker, Redis):  # type: ignore[misc]
    pass


def timeouts() -> dict[str, float]:
    """The connect and read timeouts of every Redis client of the platform."""
    seconds = get_settings().redis_timeout_seconds
    return {"socket_connect_timeout": seconds, "socket_timeout": seconds}


_client: Redis | None = None


def get_redis() -> Redis:
    global _client
    if _client is None:
        settings = get_settings()
        _client = GuardedRedis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
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
