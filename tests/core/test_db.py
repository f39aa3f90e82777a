"""The engine's connection checks, the transaction-free sessions of read-only handlers and the
write gate."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from app.core.db import SessionDep, ungated
from app.models.base import Role
from tests import factories as f


def _capture(engine: Any) -> tuple[list[tuple[str, str | None]], Any]:
    seen: list[tuple[str, str | None]] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append((statement, conn.get_execution_options().get("isolation_level")))

    return seen, before


async def _list_statements(client: Any, headers: dict[str, str]) -> list[Any]:
    from app.core.db import get_engine

    sync_engine = get_engine().sync_engine
    seen, before = _capture(sync_engine)
    event.listen(sync_engine, "before_cursor_execute", before)
    try:
        r = await client.get("/api/v1/consultations", headers=headers)
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
    return seen


@pytest.mark.committed
async def test_a_list_costs_one_statement_and_no_transaction(client, session, monkeypatch):
    from app.core.config import get_settings

    mun = await f.municipality(session, "06011")
    mayor = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    await f.consultation(session, mun.id)
    headers = await f.auth_headers(client, mayor)
    # Once: the token deny-list's Redis copy is loaded by the first request after a flush,
    # and the caller's row is read and remembered.
    assert (await client.get("/api/v1/consultations", headers=headers)).status_code == 200
    seen = await _list_statements(client, headers)
    # The page alone, outside a transaction (no BEGIN, no COMMIT).
    assert len(seen) == 1, seen
    assert "FROM consultation" in seen[0][0]
    assert "search_vector" not in seen[0][0]
    assert "access_code_hash" not in seen[0][0]
    assert {level for _, level in seen} == {"AUTOCOMMIT"}
    # Without the memory of callers: the caller's row, then the page.
    monkeypatch.setattr(get_settings(), "caller_cache_seconds", 0)
    seen = await _list_statements(client, headers)
    assert len(seen) == 2, seen
    assert "FROM user_account" in seen[0][0]
    assert "FROM consultation" in seen[1][0]
    assert {level for _, level in seen} == {"AUTOCOMMIT"}


@pytest.mark.committed
async def test_handlers_that_write_keep_their_transaction(client, session):
    from app.core.db import get_engine

    mun = await f.municipality(session, "06011")
    mayor = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    headers = await f.auth_headers(client, mayor)
    sync_engine = get_engine().sync_engine
    seen, before = _capture(sync_engine)
    event.listen(sync_engine, "before_cursor_execute", before)
    try:
        r = await client.post(
            "/api/v1/consultations", json={"subject": "Asunto", "body": "Texto"}, headers=headers
        )
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
    assert r.status_code == 201, r.text
    assert seen
    assert "AUTOCOMMIT" not in {level for _, level in seen}


@pytest.mark.committed
async def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_unseen():
    from app.core.config import get_settings
    from app.core.db import make_engine

    engine = make_engine(get_settings().model_copy(update={"db_ping_after_idle_seconds": 0}))
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # The server drops the pooled connection (a restart, an idle timeout, a failover).
        async with engine.connect() as other:
            await other.execute(text("SELECT 1"))
        killer = make_engine(get_settings())
        async with killer.connect() as k:
            await k.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
            await k.commit()
        await killer.dispose()
        async with engine.connect() as conn:
            again = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != first
    finally:
        await engine.dispose()


def test_the_startup_heap_is_frozen_out_of_the_collector() -> None:
    from app.core.runtime import GC_THRESHOLDS, freeze_startup_heap

    before = gc.get_threshold()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _gated_app(entered: list[str], release: asyncio.Event) -> FastAPI:
    """Writes that hold their session until `release`, a read and an ungated write."""
    from app.core.errors import UnprocessableEntity, install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write/{name}")
    async def write(name: str, session: SessionDep) -> None:
        entered.append(name)
        await release.wait()
        if name.startswith("fail"):
            raise UnprocessableEntity("rejected after taking its place")

    @app.get("/read")
    async def read(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    @app.post("/login")
    @ungated
    async def login(session: SessionDep) -> None:
        entered.append("login")

    return app


@pytest.mark.committed
@pytest.mark.parametrize("places", [1, 2])
async def test_writes_wait_for_a_place_of_the_gate_and_reads_never_do(places, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "write_concurrency", places)
    entered: list[str] = []
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_gated_app(entered, release))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        holders = [asyncio.create_task(c.post(f"/write/fail-{i}")) for i in range(places)]
        await f.until(lambda: len(entered) == places)
        waiting = asyncio.create_task(c.post("/write/waiting"))
        # While every place is held: a read and an ungated write go through, the write waits.
        assert (await c.get("/read")).json() == 1
        assert (await c.post("/login")).status_code == 200
        await asyncio.sleep(0.05)
        assert "waiting" not in entered
        # Rejected writes give their places back.
        release.set()
        assert [(await h).status_code for h in holders] == [422] * places
        assert (await waiting).status_code == 200
        assert entered[-1] == "waiting"


async def test_without_a_limit_writes_run_at_once(monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "write_concurrency", 0)
    entered: list[str] = []
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_gated_app(entered, release))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        writes = [asyncio.create_task(c.post(f"/write/{i}")) for i in range(5)]
        await f.until(lambda: len(entered) == 5)
        release.set()
        assert [(await w).status_code for w in writes] == [200] * 5


@pytest.mark.committed
async def test_a_login_goes_through_while_the_writes_of_the_process_wait(
    client, session, monkeypatch
):
    from app.core.config import get_settings
    from app.core.db import write_gate

    monkeypatch.setattr(get_settings(), "write_concurrency", 1)
    mun = await f.municipality(session, "06011")
    mayor = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    headers = await f.auth_headers(client, mayor)
    gate = write_gate()
    assert gate is not None
    async with gate:  # the process's one place is taken
        body = {"subject": "Asunto", "body": "Texto"}
        creation = asyncio.create_task(
            client.post("/api/v1/consultations", json=body, headers=headers)
        )
        assert (await f.login(client, mayor.email))["access_token"]
        await asyncio.sleep(0.05)
        assert not creation.done()
    assert (await creation).status_code == 201


def _arrival_order(turns: Any) -> list[str]:
    """On uvloop (the API's loop): a write, computing, sees a request arrive on a socket, then
    runs `turns` before going on; which of the two runs first?"""
    import socket

    import uvloop

    order: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        incoming, client = socket.socketpair()
        done = loop.create_future()
        tasks: list[asyncio.Task[None]] = []

        async def request() -> None:
            order.append("request")
            if len(order) == 2:
                done.set_result(None)

        def readable() -> None:  # as the server's protocol does with a request it has read
            incoming.recv(16)
            tasks.append(loop.create_task(request()))

        async def write() -> None:
            client.send(b"GET /healthz")  # arrives while the write is busy
            await turns()
            order.append("write")
            if len(order) == 2:
                done.set_result(None)

        loop.add_reader(incoming, readable)
        try:
            await asyncio.gather(write(), asyncio.wait_for(done, 5))
        finally:
            loop.remove_reader(incoming)
            incoming.close()
            client.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
    return order


def test_a_write_making_way_lets_a_request_that_arrived_meanwhile_go_first() -> None:
    from app.core.db import make_way

    assert _arrival_order(make_way) == ["request", "write"]
    # One turn of the loop is not enough: the request is read after the write's continuation
    # was queued, and waits behind it.
    assert _arrival_order(lambda: asyncio.sleep(0)) == ["write", "request"]
