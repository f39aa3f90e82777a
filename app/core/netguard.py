"""Where webhooks may go: only public destinations, unless an operator allows a named host.

Two checks share one policy:

* `url_refusal(url)` looks at a URL as written (scheme, host name, IP literal in any spelling:
  IPv6, IPv4-mapped, decimal, hex, octal, short forms, trailing dots, brackets). It answers
  subscriptions on creation and update, and every delivery before it is sent.
* `GuardedNetworkBackend` runs inside the HTTP client right before a connection is opened: it
  resolves the host once, refuses if *any* resolved address is not public, and connects to
  one of the addresses it checked (never resolving again), so a DNS answer that changes
  between a check and the connection (DNS rebinding) cannot reach an internal host. The TLS
  server name and the `Host` header stay the URL's host.

`OAAA_WEBHOOK_ALLOWED_HOSTS` (comma-separated host names or IP addresses) is the one
exception: an allowed name may resolve to anything, an allowed address may be reached whatever
name leads to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from app.core.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud instance-metadata endpoints (some of them are public addresses).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("169.254.169.253"),  # AWS DNS
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("168.63.129.16"),  # Azure WireServer
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Names that only ever mean this machine or a private network.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(Exception):
    """A webhook destination that the policy refuses; the message says why (in Spanish)."""


# ---- reading hosts ------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """Lower case, compatibility-normalized, without brackets, zone id or trailing dots."""
    value = unicodedata.normalize("NFKC", host).strip().lower()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    value = value.split("%", 1)[0]
    return value.rstrip(".")


def _ipv4_part(text: str) -> int | None:
    if text[:2] in ("0x", "0X"):
        digits, base = text[2:], 16
        if digits == "":
            return 0
    elif len(text) > 1 and text[0] == "0":
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if not digits.isascii() or not digits.isalnum():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 the way `inet_aton` reads it: 1-4 parts, each decimal, 0x-hex or 0-octal, the last
    filling the remaining bytes (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip(host: str) -> IPAddress | None:
    """The IP address a host stands for when it is an address literal in any spelling."""
    value = normalize_host(host)
    if not value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    return _loose_ipv4(value)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why an address is not a public destination, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason is not None:
                return reason
    if ip in METADATA_ADDRESSES:
        return "una dirección de metadatos de la nube"
    if ip.is_unspecified:
        return "una dirección no especificada"
    if ip.is_loopback:
        return "una dirección local (loopback)"
    if ip.is_link_local:
        return "una dirección de enlace local"
    if ip.is_multicast:
        return "una dirección multicast"
    if ip.is_private:
        return "una dirección privada"
    if ip.is_reserved:
        return "una dirección reservada"
    if not ip.is_global:
        return "una dirección no pública"
    return None


def name_refusal(host: str) -> str | None:
    """Why a host name is refused without resolving it (local and metadata names)."""
    if host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES):
        return "un nombre local"
    if host in METADATA_NAMES:
        return "un servicio de metadatos de la nube"
    return None


# ---- the allow-list -----------------------------------------------------------------------


@dataclass(frozen=True)
class AllowList:
    names: frozenset[str]
    addresses: frozenset[IPAddress]

    def allows_host(self, host: str) -> bool:
        value = normalize_host(host)
        if value in self.names:
            return True
        ip = parse_ip(value)
        return ip is not None and self.allows_address(ip)

    def allows_address(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip in self.addresses


@lru_cache(maxsize=16)
def parse_allow_list(raw: str) -> AllowList:
    names: set[str] = set()
    addresses: set[IPAddress] = set()
    for item in raw.split(","):
        value = normalize_host(item)
        if not value:
            continue
        ip = parse_ip(value)
        if ip is None:
            names.add(value)
        else:
            addresses.add(ip)
    return AllowList(frozenset(names), frozenset(addresses))


def allow_list() -> AllowList:
    return parse_allow_list(get_settings().webhook_allowed_hosts)


# ---- URLs ---------------------------------------------------------------------------------


def url_refusal(url: str) -> str | None:
    """Why a webhook URL is refused as written (None: it may be used). Host names are not
    resolved here; their addresses are checked when a delivery connects."""
    settings = get_settings()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "la URL no es válida"
    if settings.webhooks_require_https and parts.scheme.lower() != "https":
        return f"la URL debe usar https (entorno {settings.environment})"
    if not host:
        return "la URL debe indicar un servidor"
    value = normalize_host(host)
    if allow_list().allows_host(value):
        return None
    ip = parse_ip(value)
    reason = address_refusal(ip) if ip is not None else name_refusal(value)
    if reason is None:
        return None
    return (
        f"el destino «{value}» es {reason}; solo se admiten destinos públicos "
        "(o los permitidos en OAAA_WEBHOOK_ALLOWED_HOSTS)"
    )


# ---- the connection guard -----------------------------------------------------------------


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (in its order, without repeats)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked address."""

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        name = normalize_host(host)
        allowed = allow_list()
        literal = parse_ip(name)
        try:
            raw = (
                [str(literal)]
                if literal is not None
                else await (self._resolver or resolve)(name, port)
            )
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"no se pudo resolver «{name}»: {exc}") from exc
        addresses = [ip for ip in (parse_ip(a) for a in raw) if ip is not None]
        if not addresses:
            raise httpcore.ConnectError(f"«{name}» no tiene direcciones")
        if name not in allowed.names:
            for ip in addresses:
                reason = None if allowed.allows_address(ip) else address_refusal(ip)
                if reason is not None:
                    raise DestinationRefused(
                        f"destino rechazado: «{name}» resuelve a {ip}, {reason}"
                    )
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("destino rechazado: los webhooks no usan sockets locales")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections pass the guard; the
    environment's proxy settings are ignored (a proxy would hide the real destination).
    With `http2`, HTTP/2 is used whenever the receiver offers it (TLS ALPN); HTTP/1.1
    otherwise."""

    def __init__(
        self,
        limits: httpx.Limits,
        *,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
        http2: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=GuardedNetworkBackend(inner=inner, resolver=resolver),
        )


def webhook_client(
    *,
    timeout: float,
    max_connections: int,
    resolver: Resolver | None = None,
    inner: httpcore.AsyncNetworkBackend | None = None,
    http2: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The HTTP client of webhook deliveries: guarded connections, no redirects, no proxies."""
    limits = httpx.Limits(max_connections=max_connections)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        transport=GuardedTransport(
            limits, resolver=resolver, inner=inner, http2=http2, ssl_context=ssl_context
        ),
        follow_redirects=False,
        trust_env=False,
    )
