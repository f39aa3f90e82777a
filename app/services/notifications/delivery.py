"""Delivery of notifications by webhook and e-mail (arq jobs).

The database rows are the truth; Redis only carries hints of what to do next.

* A job first *claims* its delivery with one atomic UPDATE (pending, due, lease free or
  expired) that takes a lease and counts the attempt, and commits before any network I/O: a
  second worker, a duplicate job or a stale job finds nothing to claim and does nothing.
* The attempt is logged in the claim transaction (marked as interrupted until its outcome is
  known), the message is sent, and the outcome is recorded in a new transaction: succeeded,
  retry later (exponential backoff with jitter over about a day) or dead after the last try.
* `dispatch_due_deliveries`, a cron job, queues every pending delivery that is due and not
  leased. A worker killed mid-delivery (its lease expires), a lost job or a Redis outage
  therefore only delays a delivery; nothing is lost.
* A job id is deterministic per delivery and attempt (`{prefix}webhook:{id}:{attempts}`), so
  the producer, the retry and the sweeper never queue the same attempt twice. A job that Redis
  still reports as running for a delivery the sweeper finds unclaimed (its worker died before
  the claim) does not block it: the sweeper queues it under a successor id
  (`queue.enqueue_now(claimable=True)`), so it is retried within one sweep interval.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    Interval,
    Select,
    String,
    Update,
    Uuid,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.core import netguard, observability, queue
from app.core.config import get_settings
from app.models.notification import (
    DeliveryStatus,
    EmailDelivery,
    NotificationEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.schemas.webhooks import message_id
from app.services import webhooks
from app.services.notifications import email as email_service
from app.services.notifications.email import EMAIL_DISABLED
from app.services.notifications.outbox import EMAIL_JOB, WEBHOOK_JOB, delivery_job_id

logger = logging.getLogger("app.services.notifications.delivery")

# Waits after failed attempt 1, 2, … (seconds): about 23.7 hours in all before the last try.
RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (
    10,
    30,
    2 * 60,
    10 * 60,
    30 * 60,
    60 * 60,
    2 * 60 * 60,
    4 * 60 * 60,
    8 * 60 * 60,
    8 * 60 * 60,
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_SECONDS) + 1
JITTER = 0.2
# A job may start a little before `next_attempt_at` (clocks, arq's polling).
CLAIM_SLACK = timedelta(seconds=1)
SWEEP_BATCH = 1000
ERROR_MAX_CHARS = 1000
INTERRUPTED = "intento interrumpido (el worker se detuvo antes de conocer el resultado)"


Sessionmaker = async_sessionmaker[AsyncSession]


# ---- schedule and job ids -----------------------------------------------------------------


def retry_delay(attempt: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based), ±20% jitter; None when
    it was the last one (the delivery is dead-lettered)."""
    if attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE_SECONDS[max(attempt, 1) - 1]
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def _truncate(text: str) -> str:
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"


def _lease() -> timedelta:
    settings = get_settings()
    # Never shorter than one attempt can last, or a second worker could send it again.
    seconds = max(
        settings.delivery_lease_seconds,
        settings.webhook_timeout_seconds + 5,
        settings.smtp_timeout_seconds + 5,
    )
    return timedelta(seconds=seconds)


async def _record_metrics(ctx: dict[str, Any], channel: str, outcome: str, seconds: float) -> None:
    """Adds one attempt to the metrics shared by every worker (best effort)."""
    redis = ctx.get("redis")
    if redis is None or outcome == "superseded":
        return
    try:
        await observability.observe_shared(
            redis,
            observability.ATTEMPT_LATENCY_METRIC,
            seconds,
            observability.ATTEMPT_BUCKETS,
            {"channel": channel},
        )
        await observability.count_shared(
            redis, observability.ATTEMPTS_METRIC, {"channel": channel, "outcome": outcome}
        )
        if outcome == "dead":
            await observability.count_shared(
                redis, observability.DEAD_LETTERS_METRIC, {"channel": channel}
            )
    except (RedisError, OSError, TimeoutError):
        logger.warning("could not record delivery metrics", exc_info=True)


# ---- the sweeper --------------------------------------------------------------------------


async def dispatch_due_deliveries(ctx: dict[str, Any]) -> int:
    """Cron: queues every pending delivery that is due and whose lease is free or expired.
    Returns how many jobs it queued (already queued or running ones are not counted)."""
    redis: ArqRedis = ctx["redis"]
    sessionmaker: Sessionmaker = ctx["sessionmaker"]
    queued = 0
    targets: tuple[tuple[type[WebhookDelivery] | type[EmailDelivery], str, str], ...] = (
        (WebhookDelivery, WEBHOOK_JOB, "webhook"),
        (EmailDelivery, EMAIL_JOB, "email"),
    )
    for model, function, kind in targets:
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            stmt = (
                select(col(model.id), col(model.attempts), col(model.next_attempt_at))
                .where(
                    col(model.status) == DeliveryStatus.pending,
                    col(model.next_attempt_at) <= func.now(),
                    or_(col(model.locked_until).is_(None), col(model.locked_until) < func.now()),
                )
                .order_by(col(model.next_attempt_at), col(model.id))
                .limit(SWEEP_BATCH)
            )
            if after is not None:
                stmt = stmt.where(tuple_(col(model.next_attempt_at), col(model.id)) > after)
            async with sessionmaker() as session:
                rows = (await session.execute(stmt)).all()
            for delivery_id, attempts, _ in rows:
                if await queue.enqueue_now(
                    redis,
                    function,
                    str(delivery_id),
                    job_id=delivery_job_id(kind, delivery_id, attempts),
                    claimable=True,
                ):
                    queued += 1
            if len(rows) < SWEEP_BATCH:
                break
            after = (rows[-1][2], rows[-1][0])
    if queued:
        logger.info("queued due deliveries", extra={"fields": {"queued": queued}})
    return queued


# ---- webhooks -----------------------------------------------------------------------------


EVENT_FIELDS = (
    "id",
    "kind",
    "title",
    "body",
    "link",
    "entity_type",
    "entity_id",
    "municipality_id",
    "area_id",
    "payload",
    "occurred_at",
)


@functools.cache
def _claim_webhook() -> Select[Any]:
    """One statement (built once; parameters `p_delivery_id`, `p_lease`): claim the delivery
    (lease, attempt count), read what to send, and log the attempt as interrupted until its
    outcome is known. No row: nothing to claim."""
    d, s, e = WebhookDelivery, WebhookSubscription, NotificationEvent
    now = func.now()
    claimed = (
        update(d)
        .where(
            col(d.id) == bindparam("p_delivery_id", type_=Uuid()),
            col(d.status) == DeliveryStatus.pending.value,
            col(d.next_attempt_at) <= now + CLAIM_SLACK,
            or_(col(d.locked_until).is_(None), col(d.locked_until) < now),
            col(s.id) == col(d.subscription_id),
            col(e.id) == col(d.event_id),
        )
        # Python-side defaults are not applied inside a CTE: every value explicit.
        .values(
            locked_until=now + bindparam("p_lease", type_=Interval()),
            attempts=col(d.attempts) + 1,
            updated_at=now,
        )
        .returning(
            col(d.id).label("delivery_id"),
            col(d.attempts).label("attempt"),
            col(s.url),
            col(s.secret),
            case(
                (col(s.previous_secret_valid_until) > now, col(s.previous_secret)),
                else_=None,
            ).label("previous_secret"),
            col(s.is_active),
            *(col(getattr(e, name)).label(f"event_{name}") for name in EVENT_FIELDS),
        )
        .cte("claimed")
    )
    logged = (
        insert(WebhookAttempt)
        .from_select(
            ["delivery_id", "attempt", "error", "started_at"],
            select(
                claimed.c.delivery_id, claimed.c.attempt, literal(INTERRUPTED), func.now()
            ).where(claimed.c.is_active),
        )
        .returning(col(WebhookAttempt.id))
        .cte("logged")
    )
    columns: list[Any] = [*claimed.c, logged.c.id.label("attempt_id")]
    stmt: Select[Any] = select(*columns).select_from(claimed.outerjoin(logged, true()))
    return stmt


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str | None, bool]:
    """(status code, error text, whether the failure is permanent); error is None for a 2xx
    answer. Redirects are never followed: a 3xx is a failed attempt. A destination the
    network guard refuses (`core.netguard`) is a permanent failure."""
    timeout = get_settings().webhook_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            async with http.stream(
                "POST", url, content=body, headers=headers, follow_redirects=False
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return status, None, False
                if response.is_redirect:
                    location = response.headers.get("location", "")[:300]
                    return (
                        status,
                        f"respuesta HTTP {status}: redirección a «{location}» no seguida "
                        "(los webhooks no siguen redirecciones)",
                        False,
                    )
                snippet = b""
                async for chunk in response.aiter_bytes():
                    snippet += chunk
                    if len(snippet) >= 300:
                        break
                text = snippet[:300].decode("utf-8", "replace").strip()
                return status, f"respuesta HTTP {status}" + (f": {text}" if text else ""), False
    except netguard.DestinationRefused as exc:
        return None, str(exc), True
    except (TimeoutError, httpx.TimeoutException):
        return None, f"tiempo de espera agotado ({timeout:g} s)", False
    except httpx.ConnectError as exc:
        return None, f"no se pudo conectar: {exc or type(exc).__name__}", False
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return None, f"el receptor cerró la conexión: {exc or type(exc).__name__}", False
    except httpx.HTTPError as exc:
        return None, f"error HTTP: {type(exc).__name__}: {exc}", False


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt at one webhook delivery. Returns what happened: `succeeded`, `retry`,
    `dead`, `skipped` (nothing to claim: done, not due, or another worker holds it) or
    `superseded` (our lease ran out and another worker claimed it meanwhile)."""
    sessionmaker: Sessionmaker = ctx["sessionmaker"]
    http: httpx.AsyncClient = ctx["http"]
    did = uuid.UUID(str(delivery_id))

    async with sessionmaker() as session:
        params = {"p_delivery_id": did, "p_lease": _lease()}
        claimed = (await session.execute(_claim_webhook(), params)).first()
        if claimed is None:
            await session.rollback()
            return "skipped"
        attempt: int = claimed.attempt
        if not claimed.is_active:
            await session.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == did)
                .values(
                    status=DeliveryStatus.dead,
                    attempts=attempt - 1,
                    locked_until=None,
                    last_error="suscripción desactivada",
                )
            )
            await session.commit()
            return "dead"
        await session.commit()
    url: str = claimed.url
    secret: str = claimed.secret
    previous: str | None = claimed.previous_secret
    attempt_id: int = claimed.attempt_id
    event = NotificationEvent(**{name: getattr(claimed, f"event_{name}") for name in EVENT_FIELDS})
    body = webhooks.encode_body(event)

    msg_id = message_id(did)
    headers = webhooks.signed_headers(
        secret, msg_id, body, int(time.time()), previous_secrets=[previous] if previous else []
    )
    started = time.perf_counter()
    refusal = netguard.url_refusal(url)
    status_code: int | None
    error: str | None
    if refusal is not None:
        status_code, error, permanent = None, f"destino rechazado: {refusal}", True
    else:
        status_code, error, permanent = await _post(http, url, body, headers)
    elapsed = time.perf_counter() - started
    latency_ms = round(elapsed * 1000, 3)
    if error is not None:
        error = _truncate(error)
    outcome, next_at = await _finish(
        sessionmaker,
        WebhookDelivery,
        did,
        attempt,
        error,
        permanent=permanent,
        webhook=(attempt_id, status_code, latency_ms),
    )
    await _record_metrics(ctx, "webhook", outcome, elapsed)
    if outcome == "retry" and next_at is not None and ctx.get("redis") is not None:
        try:
            await queue.enqueue_now(
                ctx["redis"],
                WEBHOOK_JOB,
                str(did),
                job_id=delivery_job_id("webhook", did, attempt),
                defer_until=next_at,
            )
        except (RedisError, OSError, TimeoutError):
            logger.warning("could not queue a retry; the sweeper will", exc_info=True)
    logger.info(
        "webhook attempt",
        extra={
            "fields": {
                "delivery_id": str(did),
                "attempt": attempt,
                "status_code": status_code,
                "latency_ms": latency_ms,
                "outcome": outcome,
            }
        },
    )
    return outcome


@functools.cache
def _finish_stmt(model: type[WebhookDelivery] | type[EmailDelivery], outcome: str) -> Update:
    """The statement recording an outcome (built once per table and outcome). It applies only
    if nobody claimed the delivery since (`attempts` unchanged). For webhooks it also completes
    the attempt's log row, in a CTE (PostgreSQL runs every data-modifying CTE)."""
    when = bindparam("p_now", type_=DateTime(timezone=True))
    # Every value explicit: SQLAlchemy leaves `onupdate` unset when the statement has a CTE.
    values: dict[str, Any] = {
        "locked_until": None,
        "last_error": bindparam("p_error", type_=String()),
        "updated_at": when,
    }
    if outcome == "succeeded":
        values["status"] = DeliveryStatus.succeeded.value
        values["delivered_at" if model is WebhookDelivery else "sent_at"] = when
    elif outcome == "dead":
        values["status"] = DeliveryStatus.dead.value
    else:
        values["next_attempt_at"] = bindparam("p_next_at", type_=DateTime(timezone=True))
    if model is WebhookDelivery:
        values["last_status_code"] = bindparam("p_status_code", type_=Integer())
        values["last_latency_ms"] = bindparam("p_latency_ms", type_=Float())
    stmt = (
        update(model)
        .where(
            col(model.id) == bindparam("p_delivery_id", type_=Uuid()),
            col(model.status) == DeliveryStatus.pending.value,
            col(model.attempts) == bindparam("p_attempt", type_=Integer()),
        )
        .values(**values)
        .returning(col(model.id))
    )
    if model is WebhookDelivery:
        stmt = stmt.add_cte(
            update(WebhookAttempt)
            .where(col(WebhookAttempt.id) == bindparam("p_log_id", type_=BigInteger()))
            .values(
                status_code=bindparam("p_status_code", type_=Integer()),
                latency_ms=bindparam("p_latency_ms", type_=Float()),
                error=bindparam("p_error", type_=String()),
            )
            .cte("logged")
        )
    return stmt


async def _finish(
    sessionmaker: Sessionmaker,
    model: type[WebhookDelivery] | type[EmailDelivery],
    delivery_id: uuid.UUID,
    attempt: int,
    error: str | None,
    *,
    permanent: bool = False,
    webhook: tuple[int | None, int | None, float] | None = None,
) -> tuple[str, datetime | None]:
    """Records an attempt's outcome (`webhook`: attempt log id, status code, latency).
    Returns the outcome and, for a retry, when it is due."""
    now = datetime.now(UTC)
    # Parameter names unlike any column's: SQLAlchemy would take `delivery_id` or `attempt`
    # as extra SET values of the UPDATEs.
    params: dict[str, Any] = {
        "p_delivery_id": delivery_id,
        "p_attempt": attempt,
        "p_error": error,
        "p_now": now,
    }
    next_at: datetime | None = None
    if error is None:
        outcome = "succeeded"
    else:
        delay = None if permanent else retry_delay(attempt)
        if delay is None:
            outcome = "dead"
        else:
            outcome = "retry"
            next_at = now + timedelta(seconds=delay)
            params["p_next_at"] = next_at
    if webhook is not None:
        params["p_log_id"], params["p_status_code"], params["p_latency_ms"] = webhook
    async with sessionmaker() as session:
        result = await session.execute(_finish_stmt(model, outcome), params)
        recorded = result.scalar_one_or_none() is not None
        await session.commit()
    if not recorded:
        # Another worker claimed it after our lease ran out; its outcome wins.
        return "superseded", None
    return outcome, next_at


# ---- e-mail -------------------------------------------------------------------------------


async def deliver_email(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt at one notification e-mail (`succeeded`, `retry`, `dead`, `skipped` or
    `disabled`). While e-mail is disabled, a pending e-mail is closed as dead with the reason,
    so nothing piles up and enabling e-mail later does not send a backlog of stale notices."""
    settings = get_settings()
    sessionmaker: Sessionmaker = ctx["sessionmaker"]
    did = uuid.UUID(str(delivery_id))

    if not settings.email_enabled:
        async with sessionmaker() as session:
            result = await session.execute(
                update(EmailDelivery)
                .where(
                    col(EmailDelivery.id) == did,
                    col(EmailDelivery.status) == DeliveryStatus.pending,
                )
                .values(status=DeliveryStatus.dead, last_error=EMAIL_DISABLED, locked_until=None)
                .returning(col(EmailDelivery.id))
            )
            changed = result.scalar_one_or_none() is not None
            await session.commit()
        return "disabled" if changed else "skipped"

    async with sessionmaker() as session:
        now = func.now()
        claim = (
            update(EmailDelivery)
            .where(
                col(EmailDelivery.id) == did,
                col(EmailDelivery.status) == DeliveryStatus.pending,
                col(EmailDelivery.next_attempt_at) <= now + CLAIM_SLACK,
                or_(
                    col(EmailDelivery.locked_until).is_(None),
                    col(EmailDelivery.locked_until) < now,
                ),
            )
            .values(locked_until=now + _lease(), attempts=col(EmailDelivery.attempts) + 1)
            .returning(col(EmailDelivery.attempts))
            .execution_options(synchronize_session=False)
        )
        attempt = (await session.execute(claim)).scalar_one_or_none()
        if attempt is None:
            await session.rollback()
            return "skipped"
        delivery = await session.get(EmailDelivery, did)
        assert delivery is not None
        event = await session.get(NotificationEvent, delivery.event_id)
        assert event is not None
        message = email_service.render(event, delivery.to_address, settings)
        await session.commit()

    started = time.perf_counter()
    error, permanent = await email_service.try_send(message, settings)
    elapsed = time.perf_counter() - started
    if error is not None:
        error = _truncate(error)
    outcome, next_at = await _finish(
        sessionmaker, EmailDelivery, did, attempt, error, permanent=permanent
    )
    await _record_metrics(ctx, "email", outcome, elapsed)
    if outcome == "retry" and next_at is not None and ctx.get("redis") is not None:
        try:
            await queue.enqueue_now(
                ctx["redis"],
                EMAIL_JOB,
                str(did),
                job_id=delivery_job_id("email", did, attempt),
                defer_until=next_at,
            )
        except (RedisError, OSError, TimeoutError):
            logger.warning("could not queue a retry; the sweeper will", exc_info=True)
    logger.info(
        "email attempt",
        extra={"fields": {"delivery_id": str(did), "attempt": attempt, "outcome": outcome}},
    )
    return outcome
