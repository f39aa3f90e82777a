"""Serves an ASGI app for a benchmark under uvicorn as the application is served
(`app.core.server`; one process, uvloop, no access log), the bare baseline the same way, with
an event-loop lag sampler: every 10 ms it measures how late its own wake-up came.

    python -m bench.serve api  --port 8101      # the application (app.main:app)
    python -m bench.serve bare --port 8102      # the bare Starlette + asyncpg baseline

With `OAAA_BENCH_PROFILE=<folder>` the application runs under cProfile and writes
`<folder>/api-<port>.prof` when it stops (read it with `python -m pstats`).

`GET /__bench/lag` answers the samples gathered since the previous call (and starts afresh),
with the process's CPU time over the same span (`cpu_ms`) and the median time the health
check spent inside the application (`health_in_app_ms`: from the ASGI call to its return, so
the rest of what a client measures is the wait for the event loop and the network);
both apps get it the same way, outside their own routing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import time
from pathlib import Path
from typing import Any

import uvicorn

from app.core.server import config as server_config

LAG_INTERVAL = 0.010
HEALTH_PATHS = ("/healthz", "/bare/healthz")


class LagSampler:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self.health_ms: list[float] = []
        self.cpu_started = time.process_time()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            self.samples.append(max(loop.time() - expected, 0.0) * 1000)

    def take(self) -> dict[str, Any]:
        samples, self.samples = sorted(self.samples), []
        health, self.health_ms = sorted(self.health_ms), []
        now = time.process_time()
        cpu_ms, self.cpu_started = round((now - self.cpu_started) * 1000, 1), now
        in_app = {"health_in_app_ms": round(health[len(health) // 2], 3)} if health else {}
        if not samples:
            return {"samples": 0, "cpu_ms": cpu_ms, **in_app}
        return {
            **in_app,
            "cpu_ms": cpu_ms,
            "samples": len(samples),
            "median_ms": round(samples[len(samples) // 2], 2),
            "p99_ms": round(samples[min(int(len(samples) * 0.99), len(samples) - 1)], 2),
            "max_ms": round(samples[-1], 2),
            "over_20ms": sum(1 for s in samples if s > 20),
        }


def wrap(app: Any, sampler: LagSampler) -> Any:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/lag":
            body = json.dumps(sampler.take()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["path"] in HEALTH_PATHS:
            started = time.perf_counter()
            await app(scope, receive, send)
            sampler.health_ms.append((time.perf_counter() - started) * 1000)
            return
        await app(scope, receive, send)

    return asgi


async def serve(which: str, port: int) -> None:
    started = time.perf_counter()
    if which == "api":
        from app.main import app
    else:
        from bench.bare import app
    sampler = LagSampler()
    config = server_config(
        wrap(app, sampler),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(sampler.run())
    print(f"{which} imported in {time.perf_counter() - started:.2f} s", flush=True)
    profile_dir = os.environ.get("OAAA_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_dir and which == "api" else None
    if profiler is not None:
        profiler.enable()
    try:
        await server.serve()
    finally:
        task.cancel()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(Path(profile_dir or ".") / f"{which}-{port}.prof")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["api", "bare"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.which, args.port))


if __name__ == "__main__":
    main()
