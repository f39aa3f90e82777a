"""Real processes for fault tests: a private redis-server that a test kills and starts again
(without persistence, so a restart loses every key), worker processes, and polling with a
deadline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from sqlalchemy import text

from app.core.config import get_settings
from tests import receivers as r

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of this test alone, without persistence: a restart loses every key."""

    def __init__(self, tmp: Path) -> None:
        self.port = r.free_port()
        self.dir = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            while True:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                assert self.proc.poll() is None, "redis-server did not start"
                assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@contextlib.asynccontextmanager
async def arq_client(url: str, prefix: str | None = None) -> AsyncIterator[ArqRedis]:
    pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    name = (prefix or get_settings().redis_prefix) + "queue"
    client = ArqRedis(connection_pool=pool, default_queue_name=name)
    try:
        yield client
    finally:
        await client.aclose()
        await pool.aclose()


def start_worker(log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`python -m app worker` on the test database; `env` overrides settings."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env={**os.environ, "OAAA_LOG_LEVEL": "INFO", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


async def statuses(session: Any, delivery_ids: Any) -> dict[str, int]:
    session.expire_all()
    rows = await session.execute(
        text("SELECT status, count(*) FROM webhook_delivery WHERE id = ANY(:ids) GROUP BY 1"),
        {"ids": list(delivery_ids)},
    )
    return {str(status): int(n) for status, n in rows.all()}


async def wait_until(
    check: Callable[[], Awaitable[T]], within: float, message: str, every: float = 0.1
) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, message
        await asyncio.sleep(every)


class SilentProxy:
    """A TCP proxy in front of a Redis that the test can make hang: `hang()` stops relaying on
    the open connections and accepts new ones without ever answering (a Redis that accepts
    connections and never answers); `heal()` relays new connections again, while the ones
    that hung stay silent for good."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.hanging = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def hang(self) -> None:
        self.hanging = True

    def heal(self) -> None:
        self.hanging = False

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.hanging:
            return  # accepted, never answered
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.add(up_writer)

        async def relay(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if self.hanging:  # a connection that hung never answers again
                        await asyncio.Event().wait()
                    dst.write(data)
                    await dst.drain()

        for task in (
            asyncio.create_task(relay(reader, up_writer)),
            asyncio.create_task(relay(up_reader, writer)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
