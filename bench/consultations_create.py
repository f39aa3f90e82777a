"""Creating consultations over HTTP against the bare INSERT, and the health check meanwhile.

Two parts, both against the application served by uvicorn (one process, `bench/serve.py`):

* creation: `POST /api/v1/consultations` by municipal users (reference, access code, SLA clock,
  history, audit, notifications — everything a creation does) against a bare Starlette +
  asyncpg endpoint doing one `INSERT` of the same row (`bench/bare.py`), at the same number of
  connections, in alternating rounds; creations per second, latency, and the SQL round trips
  of one creation counted in-process (target: ≥ 100 creations/s per API process);
* mixed load: the health check's latency from one client, idle and while `--creators`
  connections create consultations, in alternating phases; with the server's event-loop lag
  sampled every 10 ms (targets: median under load within 2× idle, no pause over 20 ms). Two
  probes take turns: a paced one, at random instants `--probe-gap-ms` apart on average (as a
  monitor polls), and a closed-loop one, each request as soon as the last is answered.

    ./scripts/bench create        # or: python -m bench.consultations_create [options]
    ./scripts/bench mixed         # only the mixed load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bench import common, load
from bench.api import Person, forget_redis_keys, person, server_env

DB_NAME = "oaaa_bench_api"


async def _people(n: int) -> tuple[list[Person], dict[str, str]]:
    from sqlalchemy import text

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import get_sessionmaker

    async with get_sessionmaker()() as session:
        row = (
            await session.execute(
                text(
                    "SELECT m.id, (SELECT id FROM sla_policy WHERE is_default LIMIT 1)"
                    " FROM municipality m WHERE ine_code = '06011'"
                )
            )
        ).one()
        people = [await person(session, "municipal_user", row[0]) for _ in range(n)]
    bare = {"OAAA_BENCH_BARE_MUNICIPALITY": str(row[0])}
    if row[1] is not None:
        bare["OAAA_BENCH_BARE_POLICY"] = str(row[1])
    return people, bare


def _creation(people: list[Person], path: str) -> Any:
    body = json.dumps(
        {"subject": "Arreglo del camino de la Fuente", "body": "¿Cómo se solicita la ayuda?"}
    ).encode()
    requests = [
        load.request_bytes(
            "POST", path, p.headers | {"Content-Type": "application/json"}, body=body
        )
        for p in people
    ]
    return lambda n: requests[n % len(requests)]


async def round_trips(who: Person) -> list[str]:
    """The statements (and BEGIN/COMMIT) one creation sends, counted in-process."""
    import httpx
    from sqlalchemy import event

    from app.core.db import dispose_engine, get_engine
    from app.main import app

    seen: list[str] = []
    engine = get_engine().sync_engine

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split())[:90])

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        payload = {"subject": "Asunto", "body": "Texto"}
        r = await client.post("/api/v1/consultations", json=payload, headers=who.headers)
        assert r.status_code == 201, r.text
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "begin", lambda conn: seen.append("BEGIN"))
        event.listen(engine, "commit", lambda conn: seen.append("COMMIT"))
        try:
            r = await client.post("/api/v1/consultations", json=payload, headers=who.headers)
            assert r.status_code == 201, r.text
        finally:
            event.remove(engine, "before_cursor_execute", before)
    await dispose_engine()
    return seen


async def creation(
    env: dict[str, str], people: list[Person], concurrency: int, seconds: float, rounds: int
) -> dict[str, Any]:
    api_req = _creation(people, "/api/v1/consultations")
    bare_req = _creation(people, "/bare/consultations")
    api, bare = load.Result(), load.Result()
    cpu_ms = {"api": 0.0, "bare": 0.0}

    async def measured(name: str, port: int, req: Any) -> load.Result:
        await load.get_json(port, "/__bench/lag")  # starts the CPU count
        result = await load.run_load(
            port, req, concurrency=concurrency, seconds=seconds, expect=(201,)
        )
        cpu_ms[name] += (await load.get_json(port, "/__bench/lag"))["cpu_ms"]
        return result

    with load.server("api", env) as api_port, load.server("bare", env) as bare_port:
        for port, req in ((api_port, api_req), (bare_port, bare_req)):  # warm-up
            await load.run_load(port, req, concurrency=concurrency, seconds=1, expect=(201,))
        for _ in range(rounds):
            api.merge(await measured("api", api_port, api_req))
            bare.merge(await measured("bare", bare_port, bare_req))
    a, b = api.summary(), bare.summary()
    # The server's own CPU time per request: what the code costs, whatever share of the
    # machine the process got.
    a["cpu_ms_per_request"] = round(cpu_ms["api"] / api.requests, 2) if api.requests else None
    b["cpu_ms_per_request"] = round(cpu_ms["bare"] / bare.requests, 2) if bare.requests else None
    return {
        "concurrency": concurrency,
        "api": a,
        "bare_insert": b,
        "throughput_ratio": round(a["rps"] / b["rps"], 3) if b["rps"] else None,
    }


# The paced probe sends at random instants (exponential gaps: Poisson arrivals), as a monitor
# or another client does, whatever the server is doing; the closed-loop probe sends each request
# as soon as the previous one is answered, so that it keeps the process busy by itself (its
# idle phase is not idle) and its next request reaches the loop just as the steps of the
# creations that became ready meanwhile are queued.
PROBES = ("paced", "closed")


async def mixed(
    env: dict[str, str],
    people: list[Person],
    creators: int,
    seconds: float,
    rounds: int,
    mean_gap: float,
) -> dict[str, Any]:
    create_req = _creation(people, "/api/v1/consultations")
    created = load.Result()
    lag_idle: list[dict[str, Any]] = []
    lag_busy: list[dict[str, Any]] = []
    # Per probe: its latencies idle and under creations, and the in-app medians of each phase.
    probes: dict[str, dict[str, list[Any]]] = {
        name: {"idle": [], "busy": [], "in_idle": [], "in_busy": []} for name in PROBES
    }

    async def phase(port: int, name: str, busy: bool) -> None:
        await load.get_json(port, "/__bench/lag")  # starts a fresh window
        gap = mean_gap if name == "paced" else None
        # The creators start before the probe and stop after it (half a second later).
        during = (
            load.run_load(
                port, create_req, concurrency=creators, seconds=seconds + 0.5, expect=(201,)
            )
            if busy
            else None
        )
        health, made = await load.probe_elsewhere(
            port, "/healthz", seconds, during=during, mean_gap=gap
        )
        lag = await load.get_json(port, "/__bench/lag")
        (lag_busy if busy else lag_idle).append(lag)
        p = probes[name]
        p["busy" if busy else "idle"] += health
        p["in_busy" if busy else "in_idle"].append(lag["health_in_app_ms"])
        if made is not None:
            created.merge(made)

    with load.server("api", env) as port:
        await load.run_load(port, create_req, concurrency=creators, seconds=1, expect=(201,))
        for _ in range(rounds):
            for name in PROBES:
                await phase(port, name, busy=False)
                await phase(port, name, busy=True)

    def probe_summary(p: dict[str, list[Any]]) -> dict[str, Any]:
        idle_median, busy_median = statistics.median(p["idle"]), statistics.median(p["busy"])
        return {
            "health_idle": {
                "requests": len(p["idle"]),
                "median_ms": round(idle_median, 2),
                "in_app_median_ms": statistics.median(p["in_idle"]),
            },
            "health_under_creations": {
                "requests": len(p["busy"]),
                "median_ms": round(busy_median, 2),
                "p99_ms": round(sorted(p["busy"])[int(len(p["busy"]) * 0.99)], 2),
                "in_app_median_ms": statistics.median(p["in_busy"]),
            },
            "median_ratio": round(busy_median / idle_median, 2),
        }

    return {
        "creators": creators,
        "mean_gap_ms": mean_gap * 1000,
        "paced": probe_summary(probes["paced"]),
        "closed_loop": probe_summary(probes["closed"]),
        "creations": created.summary(),
        "loop_lag_idle_max_ms": max(x.get("max_ms", 0) for x in lag_idle),
        "loop_lag_busy": {
            "max_ms": max(x.get("max_ms", 0) for x in lag_busy),
            "p99_ms": max(x.get("p99_ms", 0) for x in lag_busy),
            "median_ms": statistics.median(x.get("median_ms", 0) for x in lag_busy),
            "samples": sum(x.get("samples", 0) for x in lag_busy),
            "over_20ms": sum(x.get("over_20ms", 0) for x in lag_busy),
        },
    }


def print_creation(r: dict[str, Any], trips: list[str]) -> None:
    a, b = r["api"], r["bare_insert"]
    print(f"\nCreation, {r['concurrency']} connections (alternating rounds)")
    print(
        f"  API  POST /consultations: {a['rps']:8.1f} creations/s  p50 {a['p50_ms']:7.1f} ms"
        f"  p99 {a['p99_ms']:7.1f} ms  errors {a['errors']}"
    )
    print(
        f"  bare INSERT:              {b['rps']:8.1f} creations/s  p50 {b['p50_ms']:7.1f} ms"
        f"  p99 {b['p99_ms']:7.1f} ms  errors {b['errors']}"
    )
    print(f"  API / bare: {r['throughput_ratio']}  (target: API >= 100 creations/s)")
    print(
        f"  server CPU per request: API {a['cpu_ms_per_request']} ms,"
        f" bare {b['cpu_ms_per_request']} ms"
    )
    print(f"  round trips per creation: {len(trips)}")
    for t in trips:
        print(f"    {t}")


def _print_probe(title: str, r: dict[str, Any]) -> None:
    print(f"  {title}")
    print(f"    health idle:             median {r['health_idle']['median_ms']:6.2f} ms")
    h = r["health_under_creations"]
    print(f"    health under creations:  median {h['median_ms']:6.2f} ms  p99 {h['p99_ms']:.2f} ms")
    print(f"    median ratio: {r['median_ratio']}  (target: <= 2)")
    idle_in, busy_in = r["health_idle"]["in_app_median_ms"], h["in_app_median_ms"]
    print(
        f"    inside the application:  median {idle_in:.3f} ms idle, {busy_in:.3f} ms under"
        f" creations; the rest, {h['median_ms'] - busy_in:.2f} ms under creations against"
        f" {r['health_idle']['median_ms'] - idle_in:.2f} ms idle, is the wait for the event"
        " loop's turn (and the network)"
    )


def print_mixed(r: dict[str, Any]) -> None:
    print(f"\nMixed load: health check from 1 client, idle vs {r['creators']} creating clients")
    _print_probe(
        f"paced probe (random instants, {r['mean_gap_ms']:.0f} ms apart on average):", r["paced"]
    )
    _print_probe(
        "closed-loop probe (each request as soon as the last is answered):", r["closed_loop"]
    )
    print(f"  creations meanwhile: {r['creations']['rps']} /s, errors {r['creations']['errors']}")
    lag = r["loop_lag_busy"]
    print(
        f"  event-loop lag under load (sampled every 10 ms, {lag['samples']} samples): "
        f"median {lag['median_ms']} ms, p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms, "
        f"{lag['over_20ms']} over 20 ms (target: none); idle max {r['loop_lag_idle_max_ms']} ms"
    )


async def main_async(args: argparse.Namespace, url: str) -> None:
    people, bare_env = await _people(max(args.concurrency, args.creators))
    env = server_env(url) | bare_env
    from app.core.config import get_settings

    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, shared",
        "write_concurrency": get_settings().write_concurrency,
    }
    trips: list[str] = []
    if not args.mixed_only:
        trips = await round_trips(people[0])
        results["round_trips_per_creation"] = len(trips)
        results["creation"] = await creation(
            env, people, args.concurrency, args.seconds, args.rounds
        )
    results["mixed"] = await mixed(
        env, people, args.creators, args.seconds, args.rounds, args.probe_gap_ms / 1000
    )
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"consultations_create-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results | {"statements": trips}, indent=2))
    gate = results["write_concurrency"]
    print(f"\nWrite gate (OAAA_WRITE_CONCURRENCY): {gate or 'no limit'}")
    if not args.mixed_only:
        print_creation(results["creation"], trips)
    print_mixed(results["mixed"])
    print(f"\nResults: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=10, help="creating connections")
    parser.add_argument("--creators", type=int, default=4, help="creating clients, mixed load")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument(
        "--probe-gap-ms", type=float, default=5.0, help="paced probe: mean gap between requests"
    )
    parser.add_argument("--mixed-only", action="store_true", help="only the mixed load")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ.update(server_env(url))
    common.migrate(url)
    started = time.perf_counter()
    asyncio.run(main_async(args, url))
    asyncio.run(forget_redis_keys())
    if not args.keep:
        asyncio.run(common.drop_database(DB_NAME))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
