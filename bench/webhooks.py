"""Delivering webhook notifications through the real engine, against a bare loop of POSTs.

One subscription points at a local receiver (a separate process on 127.0.0.1 that answers 200
and notes when each `webhook-id` first arrived). In a database built by the real migrations:

  engine  the producer records events through `outbox.emit_many` (one transaction and a
          few statements per batch) and queues their deliveries after each commit
          (`core.queue`: one wake-up per commit); a real arq worker process
          (`WorkerSettings`, OAAA_WEBHOOK_CONCURRENCY = C) claims due deliveries in batches,
          signs and POSTs them over pooled connections and records the attempts and outcomes
          in batches in PostgreSQL.
          Latency: from each event's creation (detection) to its arrival at the receiver.
  bare    the same bodies and headers POSTed by C concurrent httpx senders in this process,
          with no database and no queue. Latency: from release to arrival.

Two runs, each engine then bare:

  burst   N events (default 10,000) detected at once, in batches of 500 as fast as the
          producer goes; the bare loop gets every body at once. Throughput (deliveries/s from
          the first event to the last arrival) and p95 latency, and their ratios.
  paced   a steadier load (default 1,000 events at 50 a second, one transaction each); the bare
          loop releases each body on the same schedule. The p95 latency here is what a
          receiver sees when the engine is not saturated.

    ./scripts/bench webhooks [--events N] [--concurrency C] [--paced-events M] [--paced-rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench import common

DB_NAME = "oaaa_bench_webhooks"
BATCH = 500
TARGET_RATIO = 0.7


# ---- the receiver (its own process) -------------------------------------------------------


async def _receiver_main() -> None:
    arrivals: dict[str, float] = {}
    total = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal total, arrivals
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                now = time.time()
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0"))
                if length:
                    await reader.readexactly(length)
                body = b"ok"
                if method == b"POST" and path == b"/hook":
                    total += 1
                    msg = headers.get(b"webhook-id", b"").decode()
                    arrivals.setdefault(msg, now)
                elif path == b"/stats":
                    body = json.dumps({"total": total, "unique": len(arrivals)}).encode()
                elif path == b"/arrivals":
                    body = json.dumps(arrivals).encode()
                elif path == b"/reset":
                    arrivals, total = {}, 0
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def run_receiver() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_receiver_main())


def run_worker(concurrency: int, poll_delay: float | None) -> None:
    from arq.worker import run_worker as arq_run_worker

    from app.core.observability import configure_logging
    from app.worker.settings import WorkerSettings

    configure_logging("WARNING")
    overrides: dict[str, Any] = {"max_jobs": concurrency}
    if poll_delay is not None:
        overrides["poll_delay"] = poll_delay
    arq_run_worker(WorkerSettings, **overrides)  # type: ignore[arg-type]


# ---- the run ------------------------------------------------------------------------------


def _spawn(*args: str, env: dict[str, str], stdout: Any = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "bench.webhooks", *args],
        cwd=common.ROOT,
        env=env,
        stdout=stdout,
        stderr=None,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _summary(latencies_s: list[float], elapsed_s: float) -> dict[str, float]:
    return {
        "deliveries": len(latencies_s),
        "elapsed_s": round(elapsed_s, 3),
        "throughput_per_s": round(len(latencies_s) / elapsed_s, 1),
        "latency_p50_ms": round(_percentile(latencies_s, 0.50) * 1000, 1),
        "latency_p95_ms": round(_percentile(latencies_s, 0.95) * 1000, 1),
        "latency_max_ms": round(max(latencies_s) * 1000, 1),
    }


async def _wait_arrivals(http: Any, base: str, expected: int, timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        stats: dict[str, int] = (await http.get(f"{base}/stats")).json()
        if stats["unique"] >= expected:
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stats['unique']} of {expected} deliveries arrived")
        await asyncio.sleep(0.2)


class Bench:
    """One benchmark database, receiver and worker; phases run one after another."""

    def __init__(self, base: str, secret: str, http: Any, arq: Any, concurrency: int) -> None:
        self.base, self.secret, self.http, self.arq = base, secret, http, arq
        self.concurrency = concurrency
        self.sequence = 0

    async def _emit(self, count: int) -> None:
        from app.core import queue
        from app.core.db import get_sessionmaker
        from app.services.notifications.outbox import Audience, EventSpec, emit_many

        specs = []
        async with queue.unit_of_work(get_sessionmaker(), self.arq) as session:
            for _ in range(count):
                self.sequence += 1
                n = self.sequence
                entity = uuid.uuid4()
                spec = EventSpec(
                    kind="consultation.sla_breached",
                    dedupe_key=f"bench:{entity}",
                    entity_type="consultation",
                    entity_id=str(entity),
                    title=f"Plazo de resolución vencido: OAAA-2026-{n:06d}",
                    body=f"La consulta OAAA-2026-{n:06d} ha superado su plazo de resolución.",
                    occurred_at=datetime.now(UTC),
                    link=f"/consultas/{entity}",
                    payload={"reference": f"OAAA-2026-{n:06d}"},
                    audience=Audience(office=False, area=False),
                )
                specs.append(spec)
            assert len(await emit_many(session, specs)) == count
        # the unit of work wakes the engine after its commit, as producers do

    async def engine(self, events: int, rate: float | None) -> tuple[dict[str, Any], list[Any]]:
        """Emits `events` (as fast as possible in batches of 500, or one per transaction at
        `rate` a second) while the worker delivers; latency from each event's creation."""
        from sqlalchemy import text

        from app.core.db import get_sessionmaker
        from app.schemas.webhooks import message_id

        await self.http.post(f"{self.base}/reset")
        async with get_sessionmaker()() as session:
            first_event = (
                await session.execute(text("SELECT coalesce(max(id), 0) FROM notification_event"))
            ).scalar_one()
        started = time.time()
        if rate is None:
            for first in range(0, events, BATCH):
                await self._emit(min(BATCH, events - first))
        else:
            for n in range(events):
                delay = started + n / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._emit(1)
        emit_seconds = time.time() - started
        stats = await _wait_arrivals(self.http, self.base, events, timeout_s=900)
        arrivals: dict[str, float] = (await self.http.get(f"{self.base}/arrivals")).json()
        async with get_sessionmaker()() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT d.id, d.status, d.attempts, e.created_at, e.id AS event_id"
                        " FROM webhook_delivery d JOIN notification_event e ON e.id = d.event_id"
                        " WHERE e.id > :first ORDER BY e.id"
                    ),
                    {"first": first_event},
                )
            ).all()
        created = {message_id(r.id): r.created_at.timestamp() for r in rows}
        latencies = [arrivals[m] - created[m] for m in created]
        summary = _summary(latencies, max(arrivals.values()) - min(created.values()))
        summary |= {
            "emit_s": round(emit_seconds, 3),
            "requests_received": stats["total"],
            "duplicates": stats["total"] - stats["unique"],
            "succeeded_rows": sum(1 for r in rows if r.status == "succeeded"),
            "attempts_total": sum(r.attempts for r in rows),
        }
        return summary, rows

    async def bare(self, rows: list[Any], paced: bool) -> dict[str, Any]:
        """The same bodies and headers POSTed by `concurrency` senders: all at once (burst) or
        released on the events' own creation schedule (paced)."""
        from sqlmodel import select

        from app.core.db import get_sessionmaker
        from app.models.notification import NotificationEvent
        from app.schemas.webhooks import message_id
        from app.services import webhooks

        await self.http.post(f"{self.base}/reset")
        async with get_sessionmaker()() as session:
            ids = [r.event_id for r in rows]
            stmt = select(NotificationEvent).where(NotificationEvent.id.in_(ids))  # type: ignore[union-attr]
            events = {e.id: e for e in (await session.execute(stmt)).scalars().all()}
        first_created = min(r.created_at.timestamp() for r in rows)
        work: list[tuple[float, bytes, dict[str, str]]] = []
        now_ts = int(time.time())
        for r in rows:
            body = webhooks.encode_body(events[r.event_id])
            headers = webhooks.signed_headers(self.secret, message_id(r.id), body, now_ts)
            offset = r.created_at.timestamp() - first_created if paced else 0.0
            work.append((offset, body, headers))
        work.sort(key=lambda w: w[0])

        queue: asyncio.Queue[tuple[bytes, dict[str, str]] | None] = asyncio.Queue()
        released: dict[str, float] = {}

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                body, headers = item
                response = await self.http.post(f"{self.base}/hook", content=body, headers=headers)
                response.raise_for_status()

        async def feeder(t0: float) -> None:
            for offset, body, headers in work:
                delay = t0 + offset - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                released[headers["webhook-id"]] = time.time()
                queue.put_nowait((body, headers))
            for _ in range(self.concurrency):
                queue.put_nowait(None)

        t0 = time.time()
        await asyncio.gather(feeder(t0), *(sender() for _ in range(self.concurrency)))
        arrivals: dict[str, float] = (await self.http.get(f"{self.base}/arrivals")).json()
        latencies = [arrivals[m] - released[m] for m in released]
        return _summary(latencies, max(arrivals.values()) - t0)


def _ratios(engine: dict[str, Any], bare: dict[str, Any]) -> dict[str, float]:
    return {
        "throughput_engine_over_bare": round(
            engine["throughput_per_s"] / bare["throughput_per_s"], 2
        ),
        "throughput_bare_over_engine": round(
            bare["throughput_per_s"] / engine["throughput_per_s"], 2
        ),
        "p95_engine_over_bare": round(engine["latency_p95_ms"] / bare["latency_p95_ms"], 2),
    }


async def main_async(
    events: int,
    concurrency: int,
    paced_events: int,
    paced_rate: float,
    poll_delay: float | None,
    keep: bool,
    env: dict[str, str],
) -> None:
    import httpx

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import dispose_engine, get_sessionmaker
    from app.core.queue import close_arq, get_arq
    from app.models.notification import WebhookSubscription
    from app.services import webhooks

    settings = get_settings()
    receiver = _spawn("receiver", env=env, stdout=subprocess.PIPE)
    worker: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {
        "events": events,
        "concurrency": concurrency,
        "worker_poll_delay_s": poll_delay,
    }
    try:
        assert receiver.stdout is not None
        base = f"http://127.0.0.1:{int(receiver.stdout.readline().decode().strip())}"
        async with get_sessionmaker()() as session:
            sub = WebhookSubscription(url=f"{base}/hook", secret=webhooks.generate_secret())
            session.add(sub)
            await session.commit()
            secret = sub.secret

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        arq = get_arq()
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            poll = "default" if poll_delay is None else str(poll_delay)
            worker = _spawn(
                "worker", "--concurrency", str(concurrency), "--poll-delay", poll, env=env
            )
            for _ in range(300):
                if await arq.exists(settings.redis_prefix + "worker-health"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the worker did not start")
            bench = Bench(base, secret, http, arq, concurrency)

            print(f"burst: {events:,} events detected at once (batches of {BATCH}) …", flush=True)
            engine, rows = await bench.engine(events, rate=None)
            print("burst: the same with a bare loop of httpx POSTs …", flush=True)
            bare = await bench.bare(rows, paced=False)
            results["burst"] = {"engine": engine, "bare_httpx": bare, **_ratios(engine, bare)}

            if paced_events:
                print(f"paced: {paced_events:,} events at {paced_rate:g}/s …", flush=True)
                engine, rows = await bench.engine(paced_events, rate=paced_rate)
                bare = await bench.bare(rows, paced=True)
                results["paced"] = {
                    "events": paced_events,
                    "rate_per_s": paced_rate,
                    "engine": engine,
                    "bare_httpx": bare,
                    **_ratios(engine, bare),
                }
    finally:
        if worker is not None:
            _stop(worker)
        _stop(receiver)
        await close_arq()
        await dispose_engine()
        if not keep:
            await common.drop_database(DB_NAME)

    results["cpu_count"] = os.cpu_count()
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))

    def show(title: str, block: dict[str, Any]) -> None:
        print(f"\n{title}")
        for name in ("engine", "bare_httpx"):
            r = block[name]
            print(
                f"  {name:<11} {r['throughput_per_s']:>8,.1f} deliveries/s   "
                f"p50 {r['latency_p50_ms']:>9,.1f} ms   p95 {r['latency_p95_ms']:>9,.1f} ms   "
                f"({r['elapsed_s']:.1f} s)"
            )
        e = block["engine"]
        print(
            f"  engine: emitted in {e['emit_s']:.1f} s; {e['succeeded_rows']:,} rows succeeded; "
            f"{e['duplicates']} duplicate requests; {e['attempts_total']:,} attempts"
        )
        print(
            f"  throughput engine / bare: {block['throughput_engine_over_bare']} "
            f"(target >= {TARGET_RATIO})   bare / engine: {block['throughput_bare_over_engine']}"
            f"   p95 engine / bare: {block['p95_engine_over_bare']}   "
            f"duplicates: {e['duplicates']} (target 0)"
        )

    print(
        f"\nWebhook delivery to a local receiver, concurrency {concurrency}; like with like: "
        "both the engine and the bare loop speak HTTP/1.1 with keep-alive connections (the "
        "receiver is plain http, where HTTP/2 is not offered)"
    )
    show(f"burst: {events:,} events detected at once", results["burst"])
    if "paced" in results:
        show(f"paced: {paced_events:,} events at {paced_rate:g}/s", results["paced"])
    print(f"\nResults: {out}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "receiver":
        run_receiver()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        poll = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "default" else None
        run_worker(int(sys.argv[3]), poll)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--paced-events", type=int, default=1000, help="events of the paced run (0: skip it)"
    )
    parser.add_argument("--paced-rate", type=float, default=50.0, help="events a second")
    parser.add_argument(
        "--poll-delay",
        type=float,
        default=None,
        help="override arq's poll delay of the worker (default: WorkerSettings', 0.5 s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ["OAAA_DATABASE_URL"] = url
    os.environ.setdefault("OAAA_ENVIRONMENT", "test")
    # A key prefix (and so an arq queue) of this run's own.
    os.environ["OAAA_REDIS_PREFIX"] = f"oaaa-bench-{uuid.uuid4().hex[:8]}:"
    # One destination: the engine may use all its request slots on it, as the bare loop does.
    os.environ["OAAA_WEBHOOK_CONCURRENCY"] = str(args.concurrency)
    os.environ["OAAA_WEBHOOK_DESTINATION_CONCURRENCY"] = str(args.concurrency)
    # The receiver is a local process: allowed explicitly, as an operator allows one.
    os.environ["OAAA_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ.setdefault("OAAA_DB_POOL_SIZE", str(min(args.concurrency, 40)))
    common.migrate(url)  # alembic's env runs its own event loop
    asyncio.run(
        main_async(
            args.events,
            args.concurrency,
            args.paced_events,
            args.paced_rate,
            args.poll_delay,
            args.keep,
            dict(os.environ),
        )
    )


if __name__ == "__main__":
    main()
