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
from tests.factories import assert_problem
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


@pytest.mark.committed
async def test_a_reconnect_gets_a_lower_id_committed_while_away_once(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    async with (
        _server() as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        get_sessionmaker()() as slow,
    ):
        first = await outbox.emit(slow, _spec(1))  # takes the lower id, commits last
        assert first is not None
        async with http.stream("GET", STREAM, headers=h) as r:
            assert r.status_code == 200
            await _emit(2)
            seen = await asyncio.wait_for(_read_events(r.aiter_lines(), 1), 5)
        assert [e["data"]["title"] for e in seen] == ["Aviso 2"]
        token = seen[0]["token"]
        assert token != str(seen[0]["id"])  # more than an id: what was sent above the floor

        # Away: the lower id commits, and one more arrives.
        await slow.commit()
        queue.discard(slow)
        await _emit(3)

        async with http.stream("GET", STREAM, headers=h | {"Last-Event-ID": token}) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            resumed = await asyncio.wait_for(_read_events(lines, 2), 5)
            assert [e["data"]["title"] for e in resumed] == ["Aviso 1", "Aviso 3"]
            assert resumed[0]["id"] < seen[0]["id"] < resumed[1]["id"]
            await _emit(4)
            after = await asyncio.wait_for(_read_events(lines, 1), 5)
            assert [e["data"]["title"] for e in after] == ["Aviso 4"]  # nothing sent twice
        # The last token resumes after everything: nothing is sent again.
        async with http.stream("GET", STREAM, headers=h, params={"since": after[0]["token"]}) as r:
            await _emit(5)
            again = await asyncio.wait_for(_read_events(r.aiter_lines(), 1), 5)
        assert [e["data"]["title"] for e in again] == ["Aviso 5"]


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "r",
        "r1.0",  # an id equal to the floor
        "r" + "f" * 17,
        "r8000000000000000",  # above the largest id
        "-1",
        "9" * 20,
        "1 2",
        "r1." + ".".join(["1"] * (feed.RESUME_MAX_IDS + 1)),
    ],
    ids=["word", "bare", "zero-delta", "too-long-floor", "over-max", "negative", "huge",
         "space", "too-many-ids"],
)  # fmt: skip
async def test_a_garbage_resume_token_is_a_problem_naming_the_field(client, session, value):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    r = await client.get(STREAM, headers=h | {"Last-Event-ID": value})
    body = assert_problem(r, 422)
    assert "Last-Event-ID" in body["detail"] or any(
        "last-event-id" in str(e["loc"]).lower() for e in body["errors"]
    )
    r = await client.get(STREAM, headers=h, params={"since": value})
    body = assert_problem(r, 422)
    assert any("since" in e["loc"] for e in body["errors"])


def test_resume_tokens_round_trip_and_accept_plain_ids():
    assert feed.parse_resume(feed.resume_token(10, {12, 15, 40, 3})) == (10, {12, 15, 40})
    assert feed.parse_resume(feed.resume_token(0, set())) == (0, set())
    assert feed.parse_resume("250") == (250, set())
    assert feed.parse_resume(str(feed.MAX_ID)) == (feed.MAX_ID, set())
    many = set(range(101, 101 + feed.RESUME_MAX_IDS + 50))
    floor, sent = feed.parse_resume(feed.resume_token(100, many)) or (0, set())
    # Too many to list: the highest are kept (the lowest would be sent again, never skipped).
    assert floor == 100
    assert sent == set(sorted(many)[-feed.RESUME_MAX_IDS :])
    assert len(feed.resume_token(100, many)) <= feed.RESUME_MAX_LENGTH


@pytest.mark.committed
async def test_each_catch_up_token_says_exactly_what_was_sent(client, session):
    """The floor rises as the backlog is sent once no transaction older than the stream's read
    is open; one open anywhere in the cluster keeps it down (longer tokens), never wrong."""
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    async with get_sessionmaker()() as s:
        for n in range(300):
            assert await outbox.emit(s, _spec(n)) is not None
        await s.commit()
        queue.discard(s)
    await session.commit()
    async with (
        _server() as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        http.stream("GET", STREAM, headers=h) as r,
    ):
        events = await asyncio.wait_for(_read_events(r.aiter_lines(), 300), 10)
    ids = [e["id"] for e in events]
    for k, event in enumerate(events):
        parsed = feed.parse_resume(event["token"])
        assert parsed is not None
        floor, sent = parsed
        so_far = set(ids[: k + 1])
        # Everything at or below the floor was sent, and the ids above it are listed.
        assert {i for i in ids if i <= floor} <= so_far
        assert sent == {i for i in so_far if i > floor}
