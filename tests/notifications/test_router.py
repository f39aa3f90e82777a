"""The in-app feed through the API, and the live stream through a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from app.core import queue
from app.core import server as serving
from app.core.db import get_sessionmaker
from app.models.base import Role
from app.services.notifications import outbox
from tests import factories as f
from tests.factories import assert_problem


def _spec(n: int, **extra) -> outbox.EventSpec:
    return outbox.EventSpec(
        kind="consultation.sla_breached",
        dedupe_key=f"test:{n}",
        entity_type="consultation",
        entity_id=str(n),
        title=f"Aviso {n}",
        body="Plazo vencido",
        occurred_at=datetime.now(UTC),
        **extra,
    )


async def _emit(n: int, **extra) -> outbox.Emitted:
    async with get_sessionmaker()() as s:
        item = await outbox.emit(s, _spec(n, **extra))
        await s.commit()
        await queue.flush(s)
    assert item is not None
    return item


@pytest.mark.committed
async def test_feed_unread_count_and_marking_read(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    other = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    for n in range(3):
        await _emit(n)
    feed = (await client.get("/api/v1/notifications", headers=h)).json()
    assert [i["title"] for i in feed["items"]] == ["Aviso 2", "Aviso 1", "Aviso 0"]
    assert (await client.get("/api/v1/notifications/unread-count", headers=h)).json() == {
        "unread": 3
    }
    first = feed["items"][-1]["id"]
    read = await client.post(f"/api/v1/notifications/{first}/read", headers=h)
    assert read.json()["read_at"] is not None
    unread = await client.get("/api/v1/notifications", params={"unread_only": True}, headers=h)
    assert len(unread.json()["items"]) == 2
    page = await client.get("/api/v1/notifications", params={"limit": 2}, headers=h)
    rest = await client.get(
        "/api/v1/notifications",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=h,
    )
    assert [i["title"] for i in rest.json()["items"]] == ["Aviso 0"]
    # Someone else's notification is 404, not 403.
    oh = await f.auth_headers(client, other)
    assert_problem(await client.post(f"/api/v1/notifications/{first}/read", headers=oh), 404)
    await client.post("/api/v1/notifications/read-all", headers=h)
    assert (await client.get("/api/v1/notifications/unread-count", headers=h)).json()["unread"] == 0
    assert (await client.get("/api/v1/notifications/unread-count", headers=oh)).json()[
        "unread"
    ] == 3


@pytest.mark.committed
async def test_municipality_sees_only_its_own_items(client, session):
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    a = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    m = await f.user(session, Role.municipal_user, municipality_id=mer.id)
    await _emit(1, municipality_id=alm.id, audience=outbox.Audience(municipality=True))
    ha, hm = await f.auth_headers(client, a), await f.auth_headers(client, m)
    assert len((await client.get("/api/v1/notifications", headers=ha)).json()["items"]) == 1
    assert (await client.get("/api/v1/notifications", headers=hm)).json()["items"] == []


async def test_integrations_have_no_feed(client, session):
    area = await f.area(session)
    c = await f.integration_client(session, area.id, secret="integration-secret-xyz-123")
    token = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": "integration-secret-xyz-123",
            },
        )
    ).json()["access_token"]
    r = await client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 403)


async def test_preferences_round_trip(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    defaults = (await client.get("/api/v1/notifications/preferences", headers=h)).json()["items"]
    assert all(i["in_app"] for i in defaults)
    # E-mail by default, but for the frequent expediente updates (feed only unless asked).
    quiet = {"expediente.stage_changed", "expediente.documents_added"}
    assert {i["kind"] for i in defaults if not i["email"]} == quiet
    r = await client.put(
        "/api/v1/notifications/preferences",
        json=[{"kind": "consultation.sla_warning", "in_app": True, "email": False}],
        headers=h,
    )
    assert r.status_code == 200, r.text
    by_kind = {i["kind"]: i for i in r.json()["items"]}
    assert by_kind["consultation.sla_warning"]["email"] is False
    assert by_kind["consultation.sla_breached"]["email"] is True
    bad = await client.put(
        "/api/v1/notifications/preferences", json=[{"kind": "nope", "email": False}], headers=h
    )
    assert_problem(bad, 422)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _server():
    from app.main import app

    port = _free_port()
    server = uvicorn.Server(
        serving.config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _read_events(lines, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in lines:
        if line.startswith("id: "):
            current["token"] = line[4:]  # the resume token
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
            current["id"] = current["data"]["id"]  # the notification's id
        elif line == "" and "data" in current:
            events.append(current)
            current = {}
            if len(events) == count:
                return events
    return events


@pytest.mark.committed
async def test_live_stream_delivers_new_notifications_and_resumes_with_last_event_id(
    client, session
):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    await _emit(1)
    async with _server() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("GET", "/api/v1/notifications/stream", headers=h) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.aiter_lines()
            backlog = await asyncio.wait_for(_read_events(lines, 1), 5)
            assert backlog[0]["data"]["title"] == "Aviso 1"
            await _emit(2)  # announced through Redis pub/sub
            live = await asyncio.wait_for(_read_events(lines, 1), 5)
            assert live[0]["data"]["title"] == "Aviso 2"
            last = live[0]["token"]
        await _emit(3)  # while disconnected
        resumed_headers = h | {"Last-Event-ID": last}
        async with http.stream("GET", "/api/v1/notifications/stream", headers=resumed_headers) as r:
            missed = await asyncio.wait_for(_read_events(r.aiter_lines(), 1), 5)
            assert [e["data"]["title"] for e in missed] == ["Aviso 3"]


async def test_stream_requires_a_token(client):
    assert_problem(await client.get("/api/v1/notifications/stream"), 401)
