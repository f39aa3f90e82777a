"""The protocol the application is served with (`app.core.server`): reads start at once."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.core import server as serving
from tests.factories import until

GET = b"GET /healthz HTTP/1.1\r\nhost: oaaa\r\n\r\n"
POST = b"POST /consultations HTTP/1.1\r\nhost: oaaa\r\ncontent-length: 2\r\n\r\n{}"


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _app(seen: list[tuple[str, bool]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        # The task is current (what anyio and FastAPI's cancel scopes need)…
        with anyio.CancelScope(shield=True):
            await anyio.lowlevel.checkpoint_if_cancelled()
            seen.append((scope["method"], asyncio.current_task() is not None))
        if scope["method"] == "POST":
            await receive()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _connection(protocol_class: type[HttpToolsProtocol], app: Any) -> tuple[Any, _Transport]:
    config = uvicorn.Config(app, log_config=None, lifespan="off", http=protocol_class)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_read_is_answered_while_it_is_read_and_a_write_waits_its_turn() -> None:
    seen: list[tuple[str, bool]] = []
    protocol, transport = _connection(serving.ReadsFirstProtocol, _app(seen))
    protocol.data_received(GET)
    # …and the read has run to its end before the loop runs anything queued.
    assert seen == [("GET", True)]
    assert transport.written.startswith(b"HTTP/1.1 200 OK")
    assert transport.written.endswith(b"\r\n\r\nok")
    written = len(transport.written)
    protocol.data_received(POST)
    assert seen == [("GET", True)]  # a write starts as uvicorn starts it: queued
    await until(lambda: len(seen) == 2)
    assert seen[1] == ("POST", True)
    await until(lambda: len(transport.written) > written)
    assert transport.written[written:].endswith(b"\r\n\r\nok")
    await until(lambda: not protocol.tasks)
    protocol.connection_lost(None)


async def test_uvicorns_own_protocol_queues_a_read_behind_what_is_already_waiting() -> None:
    seen: list[tuple[str, bool]] = []
    protocol, transport = _connection(HttpToolsProtocol, _app(seen))
    protocol.data_received(GET)
    assert seen == []
    await until(lambda: seen == [("GET", True)])
    await until(lambda: not protocol.tasks)
    protocol.connection_lost(None)


async def test_a_read_that_waits_goes_on_as_a_task_and_is_cancelled_as_one() -> None:
    resumed = asyncio.Event()
    proceed = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await proceed.wait()
        resumed.set()
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = _connection(serving.ReadsFirstProtocol, app)
    protocol.data_received(GET)
    (task,) = protocol.tasks
    assert not task.done()
    proceed.set()
    await asyncio.wait_for(resumed.wait(), 5)
    await until(lambda: transport.written.endswith(b"ok"))
    assert task.done()
    assert task.exception() is None

    resumed.clear()
    proceed.clear()
    protocol.data_received(GET)
    (waiting,) = protocol.tasks
    waiting.cancel()  # as uvicorn's shutdown does: the wait is interrupted, the rest never runs
    await asyncio.wait([waiting], timeout=5)
    assert waiting.done()
    proceed.set()
    await asyncio.sleep(0)
    assert not resumed.is_set()
    protocol.connection_lost(None)


async def test_the_application_is_served_with_it_over_real_sockets(client) -> None:
    from app.main import app

    with anyio.fail_after(10):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = serving.config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        assert config.http is serving.ReadsFirstProtocol
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                health = await http.get("/healthz")
                assert health.status_code == 200
                assert health.json() == {"status": "ok"}
                head = await http.head("/healthz")
                assert head.status_code == 200
                assert head.content == b""
                refused = await http.post("/api/v1/consultations", json={})
                assert refused.status_code == 401
                assert refused.headers["content-type"] == "application/problem+json"
        finally:
            server.should_exit = True
            await task
