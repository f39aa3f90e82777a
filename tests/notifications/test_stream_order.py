"""The live stream sends every notification once, whatever order their transactions commit in,
and catches up on a large backlog at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.core import queue
from app.core.db import get_sessionmaker
from app.models.base import Role
from app.services.notifications import feed, outbox
from tests import factories as f
from tests.notifications.test_router import _emit, _read_events, _server, _spec

STREAM = "/api/v1/notifications/stream"


@pytest.mark.committed
async def test_a_lower_id_committed_later_still_reaches_the_open_stream(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    async with (
        _server() as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        http.stream("GET", STREAM, headers=h) as r,
    ):
        assert r.status_code == 200
        lines = r.aiter_lines()
        async with get_sessionmaker()() as slow:
            first = await outbox.emit(slow, _spec(1))  # takes the lower id, commits last
            assert first is not None
            second = await _emit(2)
            assert second.event_id > first.event_id
            early = await asyncio.wait_for(_read_events(lines, 1), 5)
            assert [e["data"]["title"] for e in early] == ["Aviso 2"]
            await slow.commit()
            await queue.flush(slow)
        late = await asyncio.wait_for(_read_events(lines, 1), 5)
        assert [e["data"]["title"] for e in late] == ["Aviso 1"]
        assert late[0]["id"] < early[0]["id"]
        await _emit(3)
        after = await asyncio.wait_for(_read_events(lines, 1), 5)
        assert [e["data"]["title"] for e in after] == ["Aviso 3"]  # nothing sent twice


@pytest.mark.committed
async def test_catch_up_sends_a_large_backlog_at_once_and_in_order(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    async with get_sessionmaker()() as s:
        for n in range(500):
            assert await outbox.emit(s, _spec(n)) is not None
        await s.commit()
        queue.discard(s)
    async with _server() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("GET", STREAM, headers=h) as r:
            events = await asyncio.wait_for(_read_events(r.aiter_lines(), 500), 10)
        titles = [e["data"]["title"] for e in events]
        assert titles == [f"Aviso {n}" for n in range(500)]
        ids = [e["id"] for e in events]
        assert ids == sorted(set(ids))
        since = ids[249]
        async with http.stream("GET", STREAM, headers=h, params={"since": since}) as r:
            rest = await asyncio.wait_for(_read_events(r.aiter_lines(), 250), 10)
        assert [e["id"] for e in rest] == ids[250:]


def test_the_floor_rises_once_the_transactions_before_it_have_ended():
    cursor = feed.StreamCursor(10)
    cursor.sent = {12, 15, 40}
    cursor.note(xid=100, last_value=30)
    cursor.note(xid=100, last_value=30)  # nothing new: not noted twice
    cursor.note(xid=120, last_value=45)
    assert cursor.settle(xmin=99) is None
    assert cursor.settle(xmin=100) == 30
    cursor.raise_floor(30)
    assert (cursor.floor, cursor.sent, cursor.pending) == (30, {40}, [(120, 45)])
    cursor.raise_floor(20)  # never lowers
    assert cursor.floor == 30
    assert cursor.settle(xmin=500) == 45
