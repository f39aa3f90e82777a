"""Real local servers for delivery tests: an HTTP receiver on 127.0.0.1 built on
`asyncio.start_server` (so a test decides, request by request, to answer, fail, hang or drop the
connection) and an SMTP server (aiosmtpd) that records what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


# What the receiver does with a request: an HTTP status to answer, "hang" (never answer),
# "close" (drop the connection without answering), "redirect:<url>" (302 to that URL) or
# "delay:<seconds>" (200 after that long).
Action = int | str
Behaviour = Callable[[int, Received], Action]


def always(action: Action) -> Behaviour:
    return lambda _index, _request: action


def sequence(*actions: Action) -> Behaviour:
    """The n-th request gets the n-th action; later ones the last."""
    return lambda index, _request: actions[min(index, len(actions) - 1)]


@dataclass
class HttpReceiver:
    behaviour: Behaviour
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _hanging: set[asyncio.StreamWriter] = field(default_factory=set)
    # Connections accepted, and the most requests it was answering at one time.
    connections: int = 0
    busy: int = 0
    max_busy: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in list(self._hanging):
            writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Waits until at least `count` requests have arrived."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await self._read(reader)
                if request is None:
                    return
                self.busy += 1
                self.max_busy = max(self.max_busy, self.busy)
                try:
                    if not await self._answer(writer, request):
                        return
                finally:
                    self.busy -= 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._hanging.discard(writer)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, request: Received) -> bool:
        """Answers one request as the behaviour says; False when the connection ends."""
        index = len(self.requests)
        action = self.behaviour(index, request)
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        if action == "close":
            return False
        if action == "hang":
            self._hanging.add(writer)
            await asyncio.sleep(3600)
            return False
        extra = ""
        if isinstance(action, str) and action.startswith("delay:"):
            await asyncio.sleep(float(action.removeprefix("delay:")))
            action = 200
        if isinstance(action, str) and action.startswith("redirect:"):
            extra = f"location: {action.removeprefix('redirect:')}\r\n"
            action = 302
        assert isinstance(action, int)
        payload = b"ok" if 200 <= action < 300 else b"fallo del receptor"
        writer.write(
            f"HTTP/1.1 {action} X\r\ncontent-type: text/plain\r\n{extra}"
            f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        return True

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Received(method, path, headers, body, time.time())


@contextlib.asynccontextmanager
async def http_receiver(behaviour: Behaviour | None = None) -> AsyncIterator[HttpReceiver]:
    receiver = HttpReceiver(behaviour or always(200))
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SmtpRecorder:
    """aiosmtpd handler: keeps every message; answers `fail_with` to the next `fail_next`
    messages instead of accepting them."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.fail_next = 0
        self.fail_with = "451 4.3.0 Fallo temporal del servidor de pruebas"
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return self.fail_with
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    handler = SmtpRecorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# ---- arranging deliveries -----------------------------------------------------------------


async def subscription(
    session: Any, url: str, *, area_id: Any = None, event_types: list[str] | None = None
) -> Any:
    """A webhook subscription inserted directly (the API is tested on its own)."""
    from app.models.notification import WebhookSubscription
    from app.services.webhooks import generate_secret

    sub = WebhookSubscription(
        url=url, area_id=area_id, event_types=event_types or [], secret=generate_secret()
    )
    session.add(sub)
    await session.commit()
    return sub


async def event(
    session: Any,
    *,
    area_id: Any = None,
    kind: str = "consultation.sla_breached",
    office: bool = False,
) -> Any:
    """Emits one notification event through the real outbox (`emit`) and commits; returns
    what `emit` created."""
    import uuid
    from datetime import UTC, datetime

    from app.services.notifications.outbox import Audience, EventSpec, emit

    entity = uuid.uuid4()
    spec = EventSpec(
        kind=kind,
        dedupe_key=f"test:{entity}:{kind}",
        entity_type="consultation",
        entity_id=str(entity),
        title="Plazo de resolución vencido: OAAA-2026-000123",
        body="La consulta OAAA-2026-000123 ha superado su plazo de resolución.",
        occurred_at=datetime.now(UTC),
        area_id=area_id,
        link=f"/consultas/{entity}",
        payload={"reference": "OAAA-2026-000123", "due_at": "2026-11-20T22:59:59+00:00"},
        audience=Audience(office=office, area=False, municipality=False),
    )
    emitted = await emit(session, spec)
    await session.commit()
    assert emitted is not None
    return emitted


@contextlib.asynccontextmanager
async def job_ctx(http_timeout: float = 5.0, redis: Any = None) -> AsyncIterator[dict[str, Any]]:
    """The context arq hands a job: the app's sessionmaker and the worker's HTTP client
    (guarded destinations, no redirects), plus `redis`, an ArqRedis, when given."""
    from app.core.db import get_sessionmaker
    from app.core.netguard import webhook_client

    async with webhook_client(timeout=http_timeout, max_connections=20) as http:
        ctx: dict[str, Any] = {"sessionmaker": get_sessionmaker(), "http": http}
        if redis is not None:
            ctx["redis"] = redis
        yield ctx


@contextlib.asynccontextmanager
async def arq_pool() -> AsyncIterator[Any]:
    """An arq client on the test Redis; on exit, removes the arq keys of this run's jobs (their
    ids carry the run's key prefix)."""
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    from app.core.config import get_settings
    from app.core.queue import queue_name

    pool = ConnectionPool.from_url(get_settings().redis_url)
    arq = ArqRedis(connection_pool=pool, default_queue_name=queue_name())
    try:
        yield arq
    finally:
        prefix = get_settings().redis_prefix
        keys = [k async for k in arq.scan_iter(match=f"arq:*{prefix}*", count=500)]
        if keys:
            await arq.delete(*keys)
        await arq.aclose()
        await pool.aclose()
