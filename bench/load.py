"""A small HTTP/1.1 load generator for the benchmarks, and the server processes they run.

Keep-alive connections over raw asyncio streams (far cheaper per request than a full client, so
the generator steals as little CPU as possible from the server it measures on a 2-core
machine); each connection sends its next request when the previous answer is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import common

T = TypeVar("T")


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def merge(self, other: Result) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies_ms += other.latencies_ms
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v

    def percentile(self, p: float) -> float:
        s = sorted(self.latencies_ms)
        if not s:
            return float("nan")
        return s[min(int(len(s) * p), len(s) - 1)]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "statuses": self.statuses,
        }


def request_bytes(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    req: bytes,
    result: Result,
    expect: tuple[int, ...],
) -> None:
    """Sends one request and reads its answer, counted in `result`."""
    started = time.perf_counter()
    writer.write(req)
    status, _ = await _read_response(reader)
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    result.requests += 1
    result.statuses[status] = result.statuses.get(status, 0) + 1
    if status not in expect:
        result.errors += 1


async def run_load(
    port: int,
    make_request: Callable[[int], bytes],
    *,
    concurrency: int,
    seconds: float,
    expect: tuple[int, ...] = (200,),
) -> Result:
    """`concurrency` connections sending requests for `seconds`; `make_request(n)` builds the
    n-th request's bytes."""
    result = Result()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                await _exchange(reader, writer, make_request(next(counter)), result, expect)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def run_paced(
    port: int, req: bytes, *, seconds: float, mean_gap: float, seed: int = 1
) -> Result:
    """One connection sending `req` at random instants, `mean_gap` seconds apart on average
    (exponential gaps: Poisson arrivals, which see the server as it is on average, whatever
    it is doing); a request whose turn comes while the previous answer is awaited goes as
    soon as that answer is complete."""
    import random

    rng = random.Random(seed)
    result = Result()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    deadline = started + seconds
    due = started
    try:
        while True:
            due += rng.expovariate(1 / mean_gap)
            if due >= deadline:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await _exchange(reader, writer, req, result, (200,))
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    result.seconds = time.perf_counter() - started
    return result


async def fetch(port: int, req: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(req)
        return await _read_response(reader)
    finally:
        writer.close()


async def get_json(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    status, body = await fetch(port, request_bytes("GET", path, headers))
    assert status == 200, (status, body[:500])
    return json.loads(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(which: str, env: dict[str, str]) -> Iterator[int]:
    """Runs `python -m bench.serve which` on a free port until the block ends."""
    port = free_port()
    log = common.RESULTS / f"server-{which}-{port}.log"
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
            [sys.executable, "-m", "bench.serve", which, "--port", str(port)],
            cwd=common.ROOT,
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300  # importing the app is slow on a busy machine
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{which} server exited: {log.read_text()[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{which} server did not start") from None
                    time.sleep(0.1)
            yield port
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log.unlink(missing_ok=True)


async def probe_elsewhere(
    port: int,
    path: str,
    seconds: float,
    during: Awaitable[T] | None = None,
    mean_gap: float | None = None,
) -> tuple[list[float], T | None]:
    """The latencies of one client sending `GET path` for `seconds` from a process of its own
    (sharing the event loop of the process that generates the load, its figures would count
    that loop's turns too, not only the server's), and the result of `during`: a load that
    starts before the probe does and must last longer than it. With `mean_gap` (seconds) the
    probe is paced (`run_paced`), otherwise each request leaves as the previous one is
    answered."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.load",
        str(port),
        path,
        str(seconds),
        *([str(mean_gap)] if mean_gap else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=common.ROOT,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    await proc.stdout.readline()  # started
    running = asyncio.ensure_future(during) if during is not None else None
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    out = await proc.stdout.read()
    if await proc.wait():
        raise RuntimeError(f"the probe exited with {proc.returncode}")
    latencies: list[float] = json.loads(out)
    return latencies, (await running if running is not None else None)


if __name__ == "__main__":
    print("started", flush=True)
    sys.stdin.readline()
    _port, _path, _seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    _req = request_bytes("GET", _path)
    if len(sys.argv) > 4:
        _result = asyncio.run(run_paced(_port, _req, seconds=_seconds, mean_gap=float(sys.argv[4])))
    else:
        _result = asyncio.run(run_load(_port, lambda _n: _req, concurrency=1, seconds=_seconds))
    print(json.dumps(_result.latencies_ms), flush=True)
