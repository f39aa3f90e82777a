"""A logged-out access token stays refused after Redis loses its data or stops answering."""

from __future__ import annotations

import socket

import pytest
from redis.asyncio import Redis

from app.core import deps
from app.core.config import get_settings
from app.core.denylist import loaded_key
from app.core.redis import get_redis
from app.core.security import decode_access_token, revoked_jti_key
from app.main import app
from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem

ME = "/api/v1/auth/me"


async def _flush_run_keys() -> int:
    redis = get_redis()
    keys = [k async for k in redis.scan_iter(match=get_settings().redis_prefix + "*", count=500)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


async def _logged_out(client, session) -> tuple[dict[str, str], str]:
    u = await f.user(session, Role.oaaa_staff)
    tokens = await f.login(client, u.email)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get(ME, headers=headers)).status_code == 200
    r = await client.post("/api/v1/auth/logout", headers=headers)
    assert r.status_code == 204
    jti = decode_access_token(get_settings(), tokens["access_token"]).jti
    return headers, jti


async def test_a_logged_out_token_stays_refused_after_redis_loses_its_keys(client, session):
    headers, jti = await _logged_out(client, session)
    assert await get_redis().exists(revoked_jti_key(jti)) == 1
    assert await _flush_run_keys() > 0
    assert await get_redis().exists(revoked_jti_key(jti)) == 0
    assert_problem(await client.get(ME, headers=headers), 401)
    # The deny-list is back in Redis, complete, with the token's remaining life.
    assert await get_redis().exists(revoked_jti_key(jti), loaded_key()) == 2
    ttl = await get_redis().ttl(revoked_jti_key(jti))
    assert 0 < ttl <= get_settings().access_token_minutes * 60
    other = await f.user(session, Role.oaaa_staff)
    fresh = await f.login(client, other.email)
    me = await client.get(ME, headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.status_code == 200


async def test_without_redis_the_database_decides(client, session, monkeypatch):
    headers, _ = await _logged_out(client, session)
    other = await f.user(session, Role.oaaa_staff)
    fresh = await f.login(client, other.email)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    monkeypatch.setattr(deps, "get_redis", lambda: down)
    try:
        assert_problem(await client.get(ME, headers=headers), 401)
        me = await client.get(ME, headers={"Authorization": f"Bearer {fresh['access_token']}"})
        assert me.status_code == 200
    finally:
        await down.aclose()


@pytest.mark.parametrize("flush", [False, True])
async def test_a_token_never_revoked_is_accepted_with_or_without_the_marker(client, session, flush):
    u = await f.user(session, Role.oaaa_staff)
    tokens = await f.login(client, u.email)
    if flush:
        await _flush_run_keys()
    me = await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200


async def test_a_stream_ticket_without_redis_is_a_503_problem(client, session, monkeypatch):
    u = await f.user(session, Role.oaaa_staff)
    tokens = await f.login(client, u.email)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    app.dependency_overrides[get_redis] = lambda: down
    try:
        r = await client.post(
            "/api/v1/notifications/stream-ticket",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert_problem(r, 503)
        assert r.headers["Retry-After"] == "5"
    finally:
        app.dependency_overrides.pop(get_redis, None)
        await down.aclose()
