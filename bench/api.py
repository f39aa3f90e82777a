"""What the HTTP benchmarks share: the servers' environment and the people who call them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from bench import common

BENCH_JWT_SECRET = "bench-only-secret-" + "x" * 32
REDIS_PREFIX = "oaaa-bench:"


async def forget_redis_keys() -> int:
    """Deletes what the HTTP benchmarks left in Redis: the queue, the jobs nobody ran (no worker
    runs beside them; arq would keep their keys a day) and the API's own keys."""
    from redis.asyncio import Redis

    from app.core.config import get_settings

    patterns = [f"{REDIS_PREFIX}*"] + [
        f"arq:{kind}:{REDIS_PREFIX}*" for kind in ("job", "result", "in-progress", "retry")
    ]
    client = Redis.from_url(get_settings().redis_url)
    deleted = 0
    try:
        for pattern in patterns:
            batch: list[bytes] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += await client.delete(*batch)
                    batch = []
            if batch:
                deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted


def server_env(url: str) -> dict[str, str]:
    """The environment of the API and bare servers (and of the benchmark process, which mints
    the tokens): the benchmark database, a Redis prefix of its own, tokens that outlive a run."""
    return {
        "OAAA_DATABASE_URL": url,
        "OAAA_BENCH_BARE_DSN": common.plain(url),
        "OAAA_ENVIRONMENT": "local",
        "OAAA_JWT_SECRET": BENCH_JWT_SECRET,
        "OAAA_ACCESS_TOKEN_MINUTES": "240",
        "OAAA_REDIS_PREFIX": REDIS_PREFIX,
        "OAAA_LOG_LEVEL": "WARNING",
    }


@dataclass
class Person:
    id: uuid.UUID
    role: str
    municipality_id: uuid.UUID | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def person(
    session: Any, role: str, municipality_id: uuid.UUID | None = None, area_id: Any = None
) -> Person:
    """A user row (committed) and an access token for it."""
    from app.core.config import get_settings
    from app.core.security import create_access_token
    from app.models.user import User

    user = User(
        email=f"{role}-{uuid.uuid4().hex[:8]}@bench.example.org",
        full_name=f"Persona {role}",
        role=role,
        municipality_id=municipality_id,
        area_id=area_id,
        password_hash="!",  # noqa: S106 (never logs in with a password)
    )
    session.add(user)
    await session.commit()
    token, _ = create_access_token(
        get_settings(),
        subject_kind="user",
        subject_id=user.id,
        role=role,
        municipality_id=municipality_id,
        area_id=area_id,
    )
    return Person(user.id, role, municipality_id, token)
