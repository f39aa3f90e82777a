"""Opening the live stream from a browser with a single-use ticket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem
from tests.notifications.test_router import _emit, _read_events, _server


async def _ticket(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.post("/api/v1/notifications/stream-ticket", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.committed
async def test_a_ticket_opens_the_stream_once(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    body = await _ticket(client, h)
    assert body["expires_in"] == 30
    assert len(body["ticket"]) >= 32
    await _emit(1)
    async with _server() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        url = "/api/v1/notifications/stream"
        async with http.stream("GET", url, params={"ticket": body["ticket"]}) as r:
            assert r.status_code == 200
            events = await asyncio.wait_for(_read_events(r.aiter_lines(), 1), 5)
            assert events[0]["data"]["title"] == "Aviso 1"
        reused = await http.get(url, params={"ticket": body["ticket"]})
        assert_problem(reused, 401)
        again = await _ticket(client, h)
        async with http.stream("GET", url, params={"ticket": again["ticket"], "since": 1}) as r:
            assert r.status_code == 200
            await _emit(2)
            events = await asyncio.wait_for(_read_events(r.aiter_lines(), 1), 5)
            assert [e["data"]["title"] for e in events] == ["Aviso 2"]


async def test_a_ticket_needs_a_person_and_expires(client, session):
    assert_problem(await client.post("/api/v1/notifications/stream-ticket"), 401)
    mun = await f.municipality(session, "06011")
    clerk = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    h = await f.auth_headers(client, clerk)
    body = await _ticket(client, h)
    from app.core.redis import get_redis, key

    assert 0 < await get_redis().ttl(key("stream-ticket", body["ticket"])) <= 30
    await get_redis().delete(key("stream-ticket", body["ticket"]))
    expired = await client.get("/api/v1/notifications/stream", params={"ticket": body["ticket"]})
    assert_problem(expired, 401)
    assert_problem(
        await client.get("/api/v1/notifications/stream", params={"ticket": "forged"}), 401
    )


async def test_a_revoked_session_cannot_use_its_ticket(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    body = await _ticket(client, h)
    assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204
    r = await client.get("/api/v1/notifications/stream", params={"ticket": body["ticket"]})
    assert_problem(r, 401)
