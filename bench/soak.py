"""A few minutes of mixed load with faults injected, against real processes.

In a database built by the real migrations, with a redis-server of its own (no persistence: a
restart loses every key):

  load     notifications detected continuously (one transaction each, `--rate` a second, for
           the office: each one is a notification for the staff member and a webhook
           delivery); API reads from `--readers` concurrent clients (feed and unread count);
           one live stream (SSE) open throughout, resuming with its last event's token if it
           ever drops; two worker processes (`python -m app worker`); the API is its own
           process (`python -m app serve`).
  receiver a local HTTP receiver that fails the first attempt of every other webhook (500)
           and accepts the rest after `--receiver-delay` seconds.
  faults   every `--fault-every` seconds, in turn: a worker SIGKILLed (restarted a second
           later) and Redis SIGKILLed (restarted empty two seconds later).

After `--minutes`, production stops and the run waits for everything to drain. It reports the
deliveries expected, delivered, lost and duplicated, apart from the unavoidable window (the
receiver accepted a webhook and its worker was killed before recording that: a first
acceptance at most a couple of seconds before a worker's SIGKILL); stream notifications missed
and duplicated; the p50/p95 time from detection (the event row's creation) to the receiver's
first acceptance; API reads and their errors.

    ./scripts/bench soak [--minutes N] [--rate R] [--fault-every S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common

DB_NAME = "oaaa_bench_soak"
PASSWORD = "soak-password-123"  # noqa: S105 - a throw-away database's user
UNAVOIDABLE_WINDOW_S = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Processes:
    """redis-server, the API and the workers, each in its own session; logs under `dir`."""

    def __init__(self, dir: Path, env: dict[str, str]) -> None:
        self.dir, self.env = dir, env
        self.redis_port = int(env["OAAA_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        self.redis: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.api: subprocess.Popen[bytes] | None = None
        self.kill_times: list[float] = []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.dir / f"{name}.log").open("ab") as out:
            return subprocess.Popen(  # noqa: S603 - fixed arguments
                list(args),
                cwd=common.ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_redis(self) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.redis = self._spawn(
            "redis",
            server,
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        )

    def kill_redis(self) -> None:
        if self.redis is not None:
            self.redis.send_signal(signal.SIGKILL)
            self.redis.wait(timeout=10)

    def start_api(self, port: int) -> None:
        self.api = self._spawn("api", sys.executable, "-m", "app", "serve", "--port", str(port))

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._spawn(f"worker-{name}", sys.executable, "-m", "app", "worker")

    def kill_worker(self, name: str) -> None:
        proc = self.workers[name]
        proc.send_signal(signal.SIGKILL)
        self.kill_times.append(time.time())
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in [*self.workers.values(), self.api]:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers.values(), self.api]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.redis is not None and self.redis.poll() is None:
            self.kill_redis()


class Receiver:
    """Fails the first attempt of every other webhook; accepts the rest after a delay."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.order: dict[str, int] = {}
        self.accepted: list[tuple[str, float]] = []  # (webhook-id, arrival)
        self.failed: set[str] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                at = time.time()
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip().decode()
                length = int(headers.get(b"content-length", "0"))
                if length:
                    await reader.readexactly(length)
                wid = headers.get(b"webhook-id", "")
                first = wid not in self.order
                n = self.order.setdefault(wid, len(self.order))
                if first and n % 2 == 0:
                    self.failed.add(wid)
                    status = b"500 Internal Server Error"
                else:
                    self.accepted.append((wid, at))
                    await asyncio.sleep(self.delay)
                    status = b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()


class Soak:
    def __init__(self, api: str, http: Any, headers: dict[str, str]) -> None:
        self.api, self.http, self.headers = api, http, headers
        self.events: dict[int, float] = {}  # event id → when emitted
        self.deliveries: list[uuid.UUID] = []
        self.stream_events: list[int] = []
        self.stream_reconnects = 0
        self.read_latencies: list[float] = []
        self.read_statuses: Counter[int] = Counter()
        self.running = True

    async def produce(self, rate: float, seconds: float) -> None:
        from app.core import queue
        from app.core.db import get_sessionmaker
        from app.services.notifications.outbox import Audience, EventSpec, emit

        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            n += 1
            entity = uuid.uuid4()
            spec = EventSpec(
                kind="consultation.sla_breached",
                dedupe_key=f"soak:{entity}",
                entity_type="consultation",
                entity_id=str(entity),
                title=f"Plazo de resolución vencido: OAAA-2026-{n:06d}",
                body=f"La consulta OAAA-2026-{n:06d} ha superado su plazo de resolución.",
                occurred_at=datetime.now(UTC),
                link=f"/consultas/{entity}",
                payload={"reference": f"OAAA-2026-{n:06d}"},
                audience=Audience(office=True, area=False, municipality=False),
            )
            async with queue.unit_of_work(get_sessionmaker()) as session:
                item = await emit(session, spec)
            assert item is not None
            self.events[item.event_id] = time.time()
            self.deliveries.extend(item.webhook_delivery_ids)
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def read_stream(self) -> None:
        token: str | None = None
        while self.running:
            headers = dict(self.headers)
            if token is not None:
                headers["Last-Event-ID"] = token
                self.stream_reconnects += 1
            try:
                async with self.http.stream(
                    "GET", f"{self.api}/api/v1/notifications/stream", headers=headers
                ) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("id: "):
                            token = line[4:]
                        elif line.startswith("data: "):
                            self.stream_events.append(int(json.loads(line[6:])["event_id"]))
            except Exception:  # reconnect with the last token
                await asyncio.sleep(0.5)

    async def read_api(self) -> None:
        paths = ["/api/v1/notifications?limit=20", "/api/v1/notifications/unread-count"]
        while self.running:
            started = time.monotonic()
            try:
                r = await self.http.get(self.api + random.choice(paths), headers=self.headers)
                self.read_statuses[r.status_code] += 1
            except Exception:  # counted as a failed read
                self.read_statuses[0] += 1
            self.read_latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)


async def _wait_http(http: Any, url: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(Exception):
            if (await http.get(url)).status_code < 500:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        await asyncio.sleep(0.2)


async def main_async(args: argparse.Namespace, env: dict[str, str], logs: Path) -> dict[str, Any]:
    import httpx
    from sqlalchemy import text

    from app.core.config import get_settings

    get_settings.cache_clear()
    # Work queued while Redis is down is found again from the database: no tracebacks here.
    logging.getLogger("app.queue").setLevel(logging.ERROR)
    from app.core.db import dispose_engine, get_sessionmaker
    from app.core.queue import close_arq
    from app.core.redis import close_redis
    from app.core.security import hash_password
    from app.models.base import Role
    from app.models.notification import WebhookSubscription
    from app.models.user import User
    from app.schemas.webhooks import message_id
    from app.services import webhooks
    from app.worker import runner

    procs = Processes(logs, env)
    receiver = Receiver(args.receiver_delay)
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0, backlog=1024)
    hook = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    api_port = _free_port()
    api = f"http://127.0.0.1:{api_port}"
    faults = Counter[str]()
    try:
        procs.start_redis()
        async with get_sessionmaker()() as session:
            email = f"soak-{uuid.uuid4().hex[:6]}@example.org"
            session.add(
                User(
                    email=email,
                    full_name="Gestora de la oficina",
                    role=Role.oaaa_staff,
                    password_hash=hash_password(PASSWORD),
                )
            )
            session.add(WebhookSubscription(url=hook, secret=webhooks.generate_secret()))
            await session.commit()
        procs.start_api(api_port)
        procs.start_worker("a")
        procs.start_worker("b")
        limits = httpx.Limits(max_connections=args.readers + 4)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await _wait_http(http, f"{api}/healthz", 60)
            login = await http.post(
                f"{api}/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": PASSWORD},
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            for _ in range(300):
                if await runner.check_health():
                    break
                await asyncio.sleep(0.2)
            soak = Soak(api, http, headers)
            background = [asyncio.create_task(soak.read_stream())]
            background += [asyncio.create_task(soak.read_api()) for _ in range(args.readers)]
            seconds = args.minutes * 60

            async def inject() -> None:
                turn = 0
                while True:
                    await asyncio.sleep(args.fault_every)
                    if turn % 2 == 0:
                        name = random.choice(sorted(procs.workers))
                        procs.kill_worker(name)
                        faults["worker_sigkill"] += 1
                        await asyncio.sleep(1)
                        procs.start_worker(name)
                    else:
                        procs.kill_redis()
                        faults["redis_sigkill_data_lost"] += 1
                        await asyncio.sleep(2)
                        procs.start_redis()
                    turn += 1

            injector = asyncio.create_task(inject())
            print(
                f"soak: {args.minutes:g} min at {args.rate:g} notifications/s, a fault every "
                f"{args.fault_every:g} s …",
                flush=True,
            )
            started = time.time()
            await soak.produce(args.rate, seconds)
            injector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await injector
            if procs.redis is not None and procs.redis.poll() is not None:
                procs.start_redis()
            for name, proc in list(procs.workers.items()):
                if proc.poll() is not None:
                    procs.start_worker(name)
            produced_s = time.time() - started

            # Drain: every delivery recorded and every notification on the stream.
            expected = {message_id(d) for d in soak.deliveries}
            drain_deadline = time.monotonic() + args.drain_seconds
            while time.monotonic() < drain_deadline:
                accepted = {wid for wid, _ in receiver.accepted}
                if expected <= accepted and set(soak.events) <= set(soak.stream_events):
                    break
                await asyncio.sleep(0.5)
            drained_s = time.time() - started - produced_s
            await asyncio.sleep(1)  # answers still on their way are counted too
            soak.running = False
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

        async with get_sessionmaker()() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT d.id, d.status, e.created_at FROM webhook_delivery d"
                        " JOIN notification_event e ON e.id = d.event_id"
                    )
                )
            ).all()
    finally:
        procs.stop_all()
        server.close()
        await close_arq()
        await close_redis()
        await dispose_engine()

    created = {message_id(r.id): r.created_at.timestamp() for r in rows}
    firsts: dict[str, float] = {}
    accepted_count = Counter[str]()
    for wid, at in receiver.accepted:
        firsts.setdefault(wid, at)
        accepted_count[wid] += 1
    expected = set(created)
    delivered = expected & set(firsts)
    unavoidable = duplicated = 0
    for wid, n in accepted_count.items():
        if n < 2:
            continue
        in_window = any(
            kill - UNAVOIDABLE_WINDOW_S <= firsts[wid] <= kill for kill in procs.kill_times
        )
        if in_window:
            unavoidable += n - 1
        else:
            duplicated += n - 1
    latencies = [firsts[w] - created[w] for w in delivered]
    # Those the receiver accepted at the first attempt: no retry delay in them.
    first_try = [firsts[w] - created[w] for w in delivered if w not in receiver.failed]
    seen = Counter(soak.stream_events)
    reads = sum(soak.read_statuses.values())
    return {
        "minutes": args.minutes,
        "rate_per_s": args.rate,
        "produced_s": round(produced_s, 1),
        "drain_s": round(drained_s, 1),
        "faults": dict(faults),
        "deliveries": {
            "expected": len(expected),
            "delivered": len(delivered),
            "lost": len(expected - set(firsts)),
            "duplicated": duplicated,
            "unavoidable_window": unavoidable,
            "first_attempts_failed_by_receiver": len(receiver.failed),
            "rows_succeeded": sum(1 for r in rows if r.status == "succeeded"),
            "detection_to_receipt_p50_ms": round(_percentile(latencies, 0.5) * 1000, 1),
            "detection_to_receipt_p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
            "detection_to_receipt_max_ms": round(max(latencies) * 1000, 1),
            "first_try_detection_to_receipt_p50_ms": round(_percentile(first_try, 0.5) * 1000, 1),
            "first_try_detection_to_receipt_p95_ms": round(_percentile(first_try, 0.95) * 1000, 1),
        },
        "stream": {
            "notifications": len(soak.events),
            "missed": len(set(soak.events) - set(seen)),
            "duplicated": sum(n - 1 for n in seen.values() if n > 1),
            "reconnects": soak.stream_reconnects,
        },
        "api_reads": {
            "requests": reads,
            "by_status": {str(k): v for k, v in sorted(soak.read_statuses.items())},
            "p95_ms": round(_percentile(soak.read_latencies, 0.95) * 1000, 1),
        },
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=5.0, help="notifications a second")
    parser.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults")
    parser.add_argument("--readers", type=int, default=4, help="concurrent API readers")
    parser.add_argument("--receiver-delay", type=float, default=0.05)
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ["OAAA_DATABASE_URL"] = url
    os.environ.setdefault("OAAA_ENVIRONMENT", "test")
    os.environ["OAAA_JWT_SECRET"] = "soak-" + "x" * 40
    os.environ["OAAA_REDIS_URL"] = f"redis://127.0.0.1:{_free_port()}/0"
    os.environ["OAAA_REDIS_PREFIX"] = f"oaaa-soak-{uuid.uuid4().hex[:8]}:"
    os.environ["OAAA_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["OAAA_DELIVERY_SWEEP_SECONDS"] = "2"
    os.environ["OAAA_DELIVERY_LEASE_SECONDS"] = "10"
    os.environ["OAAA_LOG_LEVEL"] = "WARNING"
    common.migrate(url)
    with tempfile.TemporaryDirectory(prefix="oaaa-soak-") as tmp:
        try:
            results = asyncio.run(main_async(args, dict(os.environ), Path(tmp)))
        finally:
            if not args.keep:
                asyncio.run(common.drop_database(DB_NAME))
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    d, s, a = results["deliveries"], results["stream"], results["api_reads"]
    print(
        f"\nSoak: {results['minutes']:g} min, {results['rate_per_s']:g} notifications/s, "
        f"faults {results['faults']}, drained in {results['drain_s']} s"
    )
    print(
        f"  webhooks: expected {d['expected']}, delivered {d['delivered']}, lost {d['lost']}, "
        f"duplicated {d['duplicated']} (+{d['unavoidable_window']} in the unavoidable window); "
        f"detection → receipt p50 {d['detection_to_receipt_p50_ms']} ms, "
        f"p95 {d['detection_to_receipt_p95_ms']} ms (accepted at the first try: p50 "
        f"{d['first_try_detection_to_receipt_p50_ms']} ms, "
        f"p95 {d['first_try_detection_to_receipt_p95_ms']} ms)"
    )
    print(
        f"  stream: {s['notifications']} notifications, missed {s['missed']}, "
        f"duplicated {s['duplicated']}, reconnects {s['reconnects']}"
    )
    print(f"  API reads: {a['requests']} ({a['by_status']}), p95 {a['p95_ms']} ms")
    print(f"\nResults: {out}")


if __name__ == "__main__":
    main()
