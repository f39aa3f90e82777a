"""Structured JSON logs with a request id, Prometheus metrics, and request-level guards."""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Never log these, whatever logger emits them.
_SECRET_KEYS = re.compile(r"(password|secret|token|authorization|cookie)", re.IGNORECASE)

REQUESTS = Counter("oaaa_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "oaaa_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                payload[key] = "[redacted]" if _SECRET_KEYS.search(key) else value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log repeats what our middleware logs (with query strings that may
    # carry tokens); keep ours.
    # httpx logs every request URL at INFO: webhook URLs may carry tokens in their query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_logger = logging.getLogger("app.access")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Assigns a request id, records metrics and writes one access log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        rid_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client[0] if client else None)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            access_logger.info(
                "request",
                extra={
                    "fields": {
                        "method": method,
                        "path": scope.get("path"),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
            request_id_var.reset(rid_token)
            client_ip_var.reset(ip_token)


class BodySizeLimitMiddleware:
    """Rejects request bodies over the limit with a 413 problem, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Re-raised as is by FastAPI's body parsing and rendered as a problem.
                    raise HTTPException(
                        status_code=413,
                        detail=(
                            f"El cuerpo de la petición supera el máximo de {self.max_bytes} bytes"
                        ),
                    )
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        from app.core.errors import problem_response

        request = Request(scope, receive)
        response = problem_response(
            request,
            status=413,
            detail=f"El cuerpo de la petición supera el máximo de {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


# ---- /metrics ------------------------------------------------------------------------------


def authorize_metrics(request: Request) -> None:
    """`/metrics` is open to a loopback client (unless `OAAA_METRICS_ALLOW_LOOPBACK=false`)
    and to the bearer token `OAAA_METRICS_TOKEN`; anyone else gets a 401 or 403 problem. A
    request that came through a proxy (forwarding headers) is not a loopback client."""
    from app.core.config import get_settings
    from app.core.errors import Forbidden, Unauthorized

    settings = get_settings()
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    authorization = request.headers.get("authorization", "")
    scheme, _, presented = authorization.partition(" ")
    if authorization:
        if (
            token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(presented.strip().encode(), token.encode())
        ):
            return
        raise Forbidden("El token de métricas no es válido")
    if settings.metrics_allow_loopback and _is_loopback_client(request):
        return
    if token:
        raise Unauthorized("Las métricas requieren el token de métricas (Authorization: Bearer)")
    if settings.metrics_allow_loopback:
        raise Forbidden("Las métricas solo están disponibles desde la propia máquina")
    raise Forbidden("Las métricas están cerradas: no hay token de métricas configurado")


def _is_loopback_client(request: Request) -> bool:
    if any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip")):
        return False
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def metrics_response(extra: Sequence[Metric] = ()) -> Response:
    """This process's metrics, then `extra` (families read at scrape time)."""
    body = generate_latest(REGISTRY)
    if extra:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(extra))
        body += generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# ---- metrics shared through Redis -----------------------------------------------------------
#
# Workers do not serve HTTP and there may be several of them (and several API processes), so
# what workers measure is added up in Redis hashes and read by whichever API process is
# scraped. A Redis failure never fails the work being measured.

ATTEMPT_LATENCY_METRIC = "oaaa_delivery_attempt_duration_seconds"
ATTEMPTS_METRIC = "oaaa_delivery_attempts"
DEAD_LETTERS_METRIC = "oaaa_delivery_dead_letters"
SLA_SCAN_METRIC = "oaaa_sla_scan_duration_seconds"
ATTEMPT_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SCAN_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HEARTBEAT_SECONDS = 10
# A worker whose last heartbeat is older than this is not counted as running.
HEARTBEAT_STALE_SECONDS = 60
# Heartbeats of workers gone longer than this are forgotten.
HEARTBEAT_FORGET_SECONDS = 24 * 3600


async def _call(value: Awaitable[T] | T) -> T:
    """redis-py's hash commands are typed for both clients; ours is the asyncio one."""
    if inspect.isawaitable(value):
        return await value
    return value


def _metrics_key(name: str) -> str:
    from app.core.config import get_settings

    return f"{get_settings().redis_prefix}metrics:{name}"


def _label_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _label_dict(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


async def observe_shared(
    redis: Redis,
    name: str,
    seconds: float,
    buckets: Sequence[float],
    labels: Mapping[str, str] | None = None,
) -> None:
    """One observation of the shared histogram `name` (cumulative buckets, sum and count)."""
    await observe_shared_many(redis, name, [seconds], buckets, labels)


async def observe_shared_many(
    redis: Redis,
    name: str,
    values: Sequence[float],
    buckets: Sequence[float],
    labels: Mapping[str, str] | None = None,
) -> None:
    """Several observations of the shared histogram `name` in one round trip."""
    if not values:
        return
    key, label = _metrics_key(f"histogram:{name}"), _label_text(labels or {})
    pipe = redis.pipeline(transaction=False)
    for le in buckets:
        count = sum(1 for seconds in values if seconds <= le)
        if count:
            pipe.hincrby(key, f"{label}|{le:g}", count)
    pipe.hincrby(key, f"{label}|+Inf", len(values))
    pipe.hincrbyfloat(key, f"{label}|sum", sum(values))
    await pipe.execute()


async def count_shared(
    redis: Redis, name: str, labels: Mapping[str, str] | None = None, amount: int = 1
) -> None:
    await _call(redis.hincrby(_metrics_key(f"counter:{name}"), _label_text(labels or {}), amount))


def heartbeats_key() -> str:
    """The hash of every running worker's last heartbeat (worker id → Unix time)."""
    return _metrics_key("heartbeats")


async def beat(redis: Redis, worker_id: str, now: float | None = None) -> None:
    """Records that worker `worker_id` is alive (and reaches its database) now."""
    at = f"{time.time() if now is None else now}"
    await _call(redis.hset(_metrics_key("heartbeats"), worker_id, at))


async def forget_worker(redis: Redis, worker_id: str) -> None:
    await _call(redis.hdel(_metrics_key("heartbeats"), worker_id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def shared_histogram(
    redis: Redis, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=list(labels))
    raw = await _call(redis.hgetall(_metrics_key(f"histogram:{name}")))
    series: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        label, _, bound = _text(field).rpartition("|")
        series.setdefault(label, {})[bound] = float(_text(value))
    for label, values in sorted(series.items()):
        label_values = _label_dict(label)
        points = [(f"{le:g}", values.get(f"{le:g}", 0.0)) for le in buckets]
        points.append(("+Inf", values.get("+Inf", 0.0)))
        family.add_metric(
            [label_values.get(k, "") for k in labels], points, sum_value=values.get("sum", 0.0)
        )
    return family


async def shared_counter(
    redis: Redis,
    name: str,
    documentation: str,
    labels: Sequence[str],
    expected: Iterable[Mapping[str, str]] = (),
) -> CounterMetricFamily:
    """A counter kept in Redis; `expected` label sets appear with 0 before their first count."""
    family = CounterMetricFamily(name, documentation, labels=list(labels))
    raw = await _call(redis.hgetall(_metrics_key(f"counter:{name}")))
    values = {_text(k): float(_text(v)) for k, v in raw.items()}
    for label_set in expected:
        values.setdefault(_label_text(label_set), 0.0)
    for label, value in sorted(values.items()):
        label_values = _label_dict(label)
        family.add_metric([label_values.get(k, "") for k in labels], value)
    return family


async def heartbeat_families(redis: Redis, now: float | None = None) -> Iterator[Metric]:
    """Age of the freshest worker heartbeat (absent when no worker ever beat) and how many
    workers beat within `HEARTBEAT_STALE_SECONDS`."""
    current = time.time() if now is None else now
    key = _metrics_key("heartbeats")
    beats = {_text(k): float(_text(v)) for k, v in (await _call(redis.hgetall(key))).items()}
    forgotten = [w for w, at in beats.items() if current - at > HEARTBEAT_FORGET_SECONDS]
    if forgotten:
        await _call(redis.hdel(key, *forgotten))
    ages = [max(0.0, current - at) for w, at in beats.items() if w not in forgotten]
    families: list[Metric] = []
    if ages:
        age = GaugeMetricFamily(
            "oaaa_worker_heartbeat_age_seconds",
            "Segundos desde el último latido de un worker (el más reciente)",
        )
        age.add_metric([], min(ages))
        families.append(age)
    alive = GaugeMetricFamily(
        "oaaa_workers_alive",
        f"Workers con latido en los últimos {HEARTBEAT_STALE_SECONDS} s",
    )
    alive.add_metric([], float(sum(1 for a in ages if a <= HEARTBEAT_STALE_SECONDS)))
    families.append(alive)
    return iter(families)
