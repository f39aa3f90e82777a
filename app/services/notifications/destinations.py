"""The webhook engine's HTTP side: one pooled, guarded client per destination.

A destination is a URL's origin (scheme, host, port). Each gets its own `httpx.AsyncClient`
(`core.netguard.webhook_client`: guarded connections, no redirects, no proxies), kept for the
life of the worker so that its connections are reused from one delivery to the next, speaking
HTTP/2 when the receiver offers it (TLS ALPN) and HTTP/1.1 otherwise, and its own semaphore so
that one worker never has more than `OAAA_WEBHOOK_DESTINATION_CONCURRENCY` requests in flight
to it. `OAAA_WEBHOOK_CONCURRENCY` bounds the worker's requests to every destination together.
Clients of destinations unused for a while are closed once there are many of them.

A destination's requests are spread over several clients of at most `POOL_CONNECTIONS`
connections each (a request goes to the one with the fewest in flight): httpcore looks at every
connection of a pool, polling its socket, whenever a request joins or leaves the pool, so one
pool of 50 connections cost more per request than the request itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from app.core import netguard
from app.core.config import get_settings

# Clients kept at most; beyond, the least recently used idle ones are closed.
MAX_DESTINATIONS = 256
# Connections of one client's pool at most (see the module's description).
POOL_CONNECTIONS = 10

ClientFactory = Callable[[int], httpx.AsyncClient]


def origin(url: str) -> str:
    """`scheme://host:port` of a URL (lower case, default port explicit)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def guarded_client(limit: int) -> httpx.AsyncClient:
    """A destination's client: guarded, HTTP/2 when offered, at most `limit` connections."""
    return netguard.webhook_client(
        timeout=get_settings().webhook_timeout_seconds, max_connections=limit, http2=True
    )


@dataclass
class Destination:
    clients: list[httpx.AsyncClient]
    limit: asyncio.Semaphore
    busy: int = 0
    used_at: float = field(default_factory=time.monotonic)
    # Requests in flight through each of `clients`.
    in_flight: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.in_flight = [0] * len(self.clients)

    def least_busy(self) -> int:
        return self.in_flight.index(min(self.in_flight))


def pool_sizes(limit: int) -> list[int]:
    """The connections of each client of a destination allowed `limit` requests at once."""
    pools = -(-limit // POOL_CONNECTIONS)
    return [limit // pools + (1 if i < limit % pools else 0) for i in range(pools)]


class Destinations:
    """Per-destination clients and limits of one worker. `shared`: one client for every
    destination instead (the caller owns and closes it); the limits still apply."""

    def __init__(
        self,
        *,
        per_destination: int | None = None,
        total: int | None = None,
        factory: ClientFactory = guarded_client,
        shared: httpx.AsyncClient | None = None,
    ) -> None:
        settings = get_settings()
        self.per_destination = per_destination or settings.webhook_destination_concurrency
        self.total = asyncio.Semaphore(total or settings.webhook_concurrency)
        self._factory = factory
        self._shared = shared
        self._open: OrderedDict[str, Destination] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def clients_for(self, url: str) -> list[httpx.AsyncClient]:
        return self._get(origin(url)).clients

    def _get(self, key: str) -> Destination:
        destination = self._open.get(key)
        if destination is None:
            clients = (
                [self._shared]
                if self._shared is not None
                else [self._factory(size) for size in pool_sizes(self.per_destination)]
            )
            destination = Destination(clients, asyncio.Semaphore(self.per_destination))
            self._open[key] = destination
        self._open.move_to_end(key)
        return destination

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[httpx.AsyncClient]:
        """Waits for a free request slot of the URL's destination (then of the worker) and
        yields the destination's client with the fewest requests in flight."""
        destination = self._get(origin(url))
        destination.busy += 1
        try:
            async with destination.limit, self.total:
                chosen = destination.least_busy()
                destination.in_flight[chosen] += 1
                try:
                    yield destination.clients[chosen]
                finally:
                    destination.in_flight[chosen] -= 1
        finally:
            destination.busy -= 1
            destination.used_at = time.monotonic()
        if len(self._open) > MAX_DESTINATIONS:
            await self._close_idle()

    async def _close_idle(self) -> None:
        for key in list(self._open):
            if len(self._open) <= MAX_DESTINATIONS:
                return
            destination = self._open[key]
            if destination.busy == 0:
                del self._open[key]
                if self._shared is None:
                    for client in destination.clients:
                        await client.aclose()

    async def aclose(self) -> None:
        opened, self._open = self._open, OrderedDict()
        if self._shared is None:
            for destination in opened.values():
                for client in destination.clients:
                    await client.aclose()
