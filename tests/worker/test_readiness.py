"""`/readyz` and `python -m app worker --check` report the worker: a real worker process on a
private Redis, before it starts, while it runs and after it is killed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.core import observability
from app.routers import health
from tests.processes import ROOT, PrivateRedis, kill, start_worker, wait_until

pytestmark = pytest.mark.committed


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def api_redis(private_redis: PrivateRedis, monkeypatch: Any) -> AsyncIterator[Redis]:
    """The API's Redis client pointed at the private Redis."""
    client = Redis.from_url(
        private_redis.url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2
    )
    monkeypatch.setattr(health, "get_redis", lambda: client)
    yield client
    await client.aclose()


async def _check(url: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "worker",
        "--check",
        cwd=ROOT,
        env={**os.environ, "OAAA_REDIS_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_readyz_reports_a_running_then_a_killed_worker(
    client, api_redis, private_redis, tmp_path
):
    async def ready() -> dict[str, Any]:
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text  # the API serves without a worker
        body: dict[str, Any] = r.json()
        return body

    assert await ready() == {
        "status": "degraded",
        "database": "ok",
        "redis": "ok",
        "worker": "absent",
    }
    code, out = await _check(private_redis.url)
    assert code == 1
    assert "no hay ninguno" in out

    worker = start_worker(tmp_path / "worker.log", OAAA_REDIS_URL=private_redis.url)
    try:

        async def worker_ok() -> bool:
            return bool((await ready())["worker"] == "ok")

        await wait_until(worker_ok, 30, "the worker never showed as ready")
        assert (await ready())["status"] == "ok"
        code, out = await _check(private_redis.url)
        assert (code, out.strip()) == (0, "Worker listo")

        async def beaten() -> bool:
            return bool(await api_redis.hlen(observability.heartbeats_key()))

        await wait_until(beaten, 30, "the worker never recorded a heartbeat")
    finally:
        kill(worker)  # SIGKILL: no clean shutdown, its heartbeat stays behind

    async def worker_stale() -> bool:
        return bool((await ready())["worker"] == "stale")

    await wait_until(worker_stale, 20, "a killed worker still showed as ready")
    assert (await ready())["status"] == "degraded"
    code, out = await _check(private_redis.url)
    assert code == 1
    assert "ha dejado de renovar" in out


async def test_check_says_when_redis_does_not_answer(private_redis):
    private_redis.kill()
    code, out = await _check(private_redis.url)
    assert code == 1
    assert "Redis no responde" in out


async def test_a_heartbeat_stopped_mid_beat_ends_even_if_the_driver_swallows_the_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cancelled query may come back as the driver's own error (a timeout): the heartbeat
    must still end, or the worker's shutdown would wait on it forever (seen after SIGTERM)."""
    from app.worker import settings

    started = asyncio.Event()

    async def beat(_: dict[str, Any]) -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise TimeoutError("the driver's view of the cancellation") from None
        return "never"

    monkeypatch.setattr(settings, "heartbeat", beat)
    task = asyncio.create_task(settings._beat_forever({}))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task}
    assert task.cancelled()
