"""Delivery of notifications by webhook and e-mail (arq jobs).

The database rows are the truth; Redis only carries hints of what to do next.

Webhooks (`WebhookEngine`, one per worker):

* A commit that records deliveries wakes the engine (`deliver_webhooks`, one job per commit).
  The engine *claims* a batch of due deliveries in one statement (`UPDATE … FROM (SELECT …
  FOR UPDATE SKIP LOCKED LIMIT n)`) that takes a lease on each, counts the attempt and logs
  it as interrupted until its outcome is known, and commits before any network I/O: a second
  worker skips the rows one holds, and a row is claimed again only once its lease ran out.
* It sends them concurrently through one pooled client per destination (`Destinations`:
  HTTP/2 when offered, a concurrency limit per destination and per worker), refilling the
  batch as requests end, and records outcomes in batches (one statement for every attempt
  that finished meanwhile): succeeded, retry later (exponential backoff with jitter over
  about a day) or dead after the last try. An outcome is recorded only if nobody claimed the
  delivery since, so a 2xx is recorded once and a recorded 2xx is never sent again.
* A claimed delivery that could not start early enough to end within its lease (a slow
  destination's queue) is released unsent. Retries wake the engine when they fall due
  (a deferred job per second, `{prefix}webhooks:at:{unix time}`).

E-mails: one job per delivery and attempt (`{prefix}email:{id}:{attempts}`), claimed with one
atomic UPDATE and recorded in a new transaction the same way.

`dispatch_due_deliveries`, a cron job, wakes the engine when any webhook is due and free, and
queues every such e-mail. A worker killed mid-delivery (its leases expire), a lost job or a
Redis outage therefore only delays a delivery; nothing is lost. A job that Redis still reports
as running although its work is unclaimed (its worker died before the claim) does not block
it: the sweeper queues it under a successor id (`queue.enqueue_now(claimable=True)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import (
    DateTime,
    Integer,
    Interval,
    Select,
    String,
    Update,
    Uuid,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
from app.services.notifications.destinations import Destinations
from app.services.notifications.email import EMAIL_DISABLED
from app.services.notifications.outbox import EMAIL_JOB, WEBHOOKS_JOB, delivery_job_id

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


async def _record_metrics(
    redis: ArqRedis | None, channel: str, attempts: Sequence[tuple[str, float]]
) -> None:
    """Adds attempts (outcome, seconds) to the metrics shared by every worker, in a few round
    trips whatever their number (best effort)."""
    attempts = [(outcome, seconds) for outcome, seconds in attempts if outcome != "superseded"]
    if redis is None or not attempts:
        return
    labels = {"channel": channel}
    counts = Counter(outcome for outcome, _ in attempts)
    try:
        await observability.observe_shared_many(
            redis,
            observability.ATTEMPT_LATENCY_METRIC,
            [seconds for _, seconds in attempts],
            observability.ATTEMPT_BUCKETS,
            labels,
        )
        for outcome, count in counts.items():
            await observability.count_shared(
                redis, observability.ATTEMPTS_METRIC, {**labels, "outcome": outcome}, count
            )
        if counts["dead"]:
            await observability.count_shared(
                redis, observability.DEAD_LETTERS_METRIC, labels, counts["dead"]
            )
    except (RedisError, OSError, TimeoutError):
        logger.warning("could not record delivery metrics", exc_info=True)


# ---- the sweeper --------------------------------------------------------------------------


def _due(model: type[WebhookDelivery] | type[EmailDelivery]) -> list[Any]:
    """Pending, due, and its lease free or expired."""
    return [
        col(model.status) == DeliveryStatus.pending,
        col(model.next_attempt_at) <= func.now(),
        or_(col(model.locked_until).is_(None), col(model.locked_until) < func.now()),
    ]


async def dispatch_due_deliveries(ctx: dict[str, Any]) -> int:
    """Cron: wakes the webhook engine when any webhook is due and free, and queues every
    e-mail that is. Returns how many jobs it queued (already queued ones are not counted)."""
    redis: ArqRedis = ctx["redis"]
    sessionmaker: Sessionmaker = ctx["sessionmaker"]
    queued = 0
    async with sessionmaker() as session:
        due_webhook = select(col(WebhookDelivery.id)).where(*_due(WebhookDelivery)).limit(1)
        webhook_due = (await session.execute(due_webhook)).first()
    # One wake-up under a fixed id, successors if a dead worker's run still holds it.
    if webhook_due is not None and await queue.enqueue_now(
        redis, WEBHOOKS_JOB, job_id=queue.job_id("webhooks", "sweep"), claimable=True
    ):
        queued += 1
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        stmt = (
            select(
                col(EmailDelivery.id),
                col(EmailDelivery.attempts),
                col(EmailDelivery.next_attempt_at),
            )
            .where(*_due(EmailDelivery))
            .order_by(col(EmailDelivery.next_attempt_at), col(EmailDelivery.id))
            .limit(SWEEP_BATCH)
        )
        if after is not None:
            stmt = stmt.where(
                tuple_(col(EmailDelivery.next_attempt_at), col(EmailDelivery.id)) > after
            )
        async with sessionmaker() as session:
            rows = (await session.execute(stmt)).all()
        for delivery_id, attempts, _ in rows:
            if await queue.enqueue_now(
                redis,
                EMAIL_JOB,
                str(delivery_id),
                job_id=delivery_job_id("email", delivery_id, attempts),
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
def _claim_webhooks(by_ids: bool) -> Select[Any]:
    """One statement (built once per variant): claim a batch of due deliveries whose lease is
    free — the ones in `p_ids`, or the `p_limit` due longest — taking a lease (`p_lease`) and
    counting the attempt, read what to send, and log each attempt as interrupted until its
    outcome is known. Rows another transaction holds are skipped (`SKIP LOCKED`), so two
    workers never claim the same delivery."""
    d, s, e = WebhookDelivery, WebhookSubscription, NotificationEvent
    now = func.now()
    picked = select(col(d.id)).where(
        col(d.status) == DeliveryStatus.pending.value,
        col(d.next_attempt_at) <= now + CLAIM_SLACK,
        or_(col(d.locked_until).is_(None), col(d.locked_until) < now),
    )
    if by_ids:
        picked = picked.where(col(d.id) == any_(bindparam("p_ids", type_=ARRAY(Uuid()))))
    else:
        picked = picked.order_by(col(d.next_attempt_at)).limit(
            bindparam("p_limit", type_=Integer())
        )
    due = picked.with_for_update(skip_locked=True).cte("due")
    claimed = (
        update(d)
        .where(
            col(d.id) == due.c.id,
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
        .returning(col(WebhookAttempt.id), col(WebhookAttempt.delivery_id))
        .cte("logged")
    )
    columns: list[Any] = [*claimed.c, logged.c.id.label("attempt_id")]
    stmt: Select[Any] = select(*columns).select_from(
        claimed.outerjoin(logged, logged.c.delivery_id == claimed.c.delivery_id)
    )
    return stmt


# Every outcome of a batch in one statement: the attempts' log rows completed (or removed, for
# deliveries released unsent), the deliveries marked, each only if nobody claimed it since
# (`attempts` unchanged). Outcomes: succeeded, retry, dead; `disabled` (the subscription was
# deactivated: dead, not an attempt) and `released` (never sent: back as it was, lease free).
_RECORD_WEBHOOKS = text(
    """
WITH r AS (
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:attempts AS integer[]), CAST(:log_ids AS bigint[]),
        CAST(:outcomes AS text[]), CAST(:codes AS integer[]), CAST(:latencies AS float8[]),
        CAST(:errors AS text[]), CAST(:next_at AS timestamptz[])
    ) AS r(id, attempt, log_id, outcome, status_code, latency_ms, error, next_at)
), logged AS (
    UPDATE webhook_attempt AS a
    SET status_code = r.status_code, latency_ms = r.latency_ms, error = r.error
    FROM r WHERE a.id = r.log_id AND r.outcome <> 'released'
), unlogged AS (
    DELETE FROM webhook_attempt AS a USING r WHERE a.id = r.log_id AND r.outcome = 'released'
)
UPDATE webhook_delivery AS d SET
    status = CASE WHEN r.outcome IN ('succeeded', 'dead') THEN r.outcome
                  WHEN r.outcome = 'disabled' THEN 'dead' ELSE d.status END,
    attempts = CASE WHEN r.outcome IN ('disabled', 'released') THEN d.attempts - 1
                    ELSE d.attempts END,
    next_attempt_at = CASE WHEN r.outcome = 'retry' THEN r.next_at ELSE d.next_attempt_at END,
    delivered_at = CASE WHEN r.outcome = 'succeeded' THEN CAST(:now AS timestamptz)
                        ELSE d.delivered_at END,
    last_status_code = CASE WHEN r.outcome IN ('disabled', 'released') THEN d.last_status_code
                            ELSE r.status_code END,
    last_latency_ms = CASE WHEN r.outcome IN ('disabled', 'released') THEN d.last_latency_ms
                           ELSE r.latency_ms END,
    last_error = CASE WHEN r.outcome = 'released' THEN d.last_error ELSE r.error END,
    locked_until = NULL,
    updated_at = CAST(:now AS timestamptz)
FROM r
WHERE d.id = r.id AND d.status = 'pending' AND d.attempts = r.attempt
RETURNING d.id
"""
)
DISABLED = "suscripción desactivada"
# A claimed delivery not started this long before its lease ends is released unsent, so that a
# lease never runs out while its worker may still be sending.
START_MARGIN_SECONDS = 2.0
# One `deliver_webhooks` job drains for at most this long, then hands over to a new job.
MAX_DRAIN_SECONDS = 120.0
# A 2xx answer up to this long is read to its end so that its connection is reused.
ANSWER_READ_MAX_BYTES = 64 * 1024


async def _discard_body(response: httpx.Response) -> None:
    """Reads a short answer to its end, so that its connection can carry the next request; a
    long one is left unread (its connection is closed instead)."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > ANSWER_READ_MAX_BYTES:
            return


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
                    await _discard_body(response)
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


@dataclass
class Claimed:
    """One webhook delivery claimed for one attempt."""

    delivery_id: uuid.UUID
    attempt: int
    attempt_id: int | None
    url: str
    secret: str
    previous_secret: str | None
    is_active: bool
    event: NotificationEvent
    # The last moment (monotonic clock) at which sending may start within the lease.
    start_by: float
    # Set to the recorded outcome, for a caller waiting on this very delivery.
    done: asyncio.Future[str] | None = None


@dataclass
class Attempted:
    claimed: Claimed
    outcome: str  # succeeded, retry, dead, disabled or released
    status_code: int | None = None
    error: str | None = None
    latency_ms: float | None = None
    elapsed: float = 0.0
    next_at: datetime | None = None


class WebhookEngine:
    """A worker's webhook delivery engine: claims due deliveries in batches (one statement),
    sends them concurrently through `Destinations` (a pooled client and a concurrency limit
    per destination) and records their outcomes in batches (one statement for whatever
    finished while the previous batch was being recorded)."""

    def __init__(self, sessionmaker: Sessionmaker, destinations: Destinations) -> None:
        settings = get_settings()
        self.sessionmaker = sessionmaker
        self.destinations = destinations
        self.redis: ArqRedis | None = None
        # Claimed and not yet finished: twice what may be sent at once, so that the next
        # batch is already waiting when a request ends; refilled once half of it is free.
        self.capacity = 2 * settings.webhook_concurrency
        self.refill = max(1, self.capacity // 2)
        self._inflight: set[asyncio.Task[None]] = set()
        self._finished: list[Attempted] = []
        self._recorder: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Set whenever a request ends or a wake-up arrives: the drain loop looks again.
        self._changed = asyncio.Event()
        self._draining = False

    # -- claiming ----------------------------------------------------------------------------

    async def _claim(self, ids: list[uuid.UUID] | None, limit: int) -> list[Claimed]:
        settings = get_settings()
        lease = _lease()
        started = time.monotonic()
        params: dict[str, Any] = {"p_lease": lease}
        if ids is None:
            params["p_limit"] = limit
        else:
            params["p_ids"] = ids
        async with self.sessionmaker() as session:
            rows = (await session.execute(_claim_webhooks(ids is not None), params)).all()
            await session.commit()
        start_by = (
            started
            + lease.total_seconds()
            - settings.webhook_timeout_seconds
            - START_MARGIN_SECONDS
        )
        return [
            Claimed(
                delivery_id=row.delivery_id,
                attempt=row.attempt,
                attempt_id=row.attempt_id,
                url=row.url,
                secret=row.secret,
                previous_secret=row.previous_secret,
                is_active=row.is_active,
                event=NotificationEvent(
                    **{name: getattr(row, f"event_{name}") for name in EVENT_FIELDS}
                ),
                start_by=start_by,
            )
            for row in rows
        ]

    def _start(self, claimed: list[Claimed]) -> None:
        for item in claimed:
            task = asyncio.create_task(self._send(item))
            self._inflight.add(task)
            task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._changed.set()

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, claimed: Claimed) -> None:
        try:
            attempted = await self._attempt(claimed)
        except Exception as exc:
            logger.exception("webhook attempt failed unexpectedly")
            attempted = self._failed(claimed, f"error interno: {type(exc).__name__}", 0.0)
        self._finished.append(attempted)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_finished())

    def _failed(
        self, claimed: Claimed, error: str, elapsed: float, *, permanent: bool = False
    ) -> Attempted:
        delay = None if permanent else retry_delay(claimed.attempt)
        if delay is None:
            return Attempted(claimed, "dead", error=_truncate(error), elapsed=elapsed)
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
        return Attempted(claimed, "retry", error=_truncate(error), elapsed=elapsed, next_at=next_at)

    async def _attempt(self, claimed: Claimed) -> Attempted:
        if not claimed.is_active:
            return Attempted(claimed, "disabled", error=DISABLED)
        refusal = netguard.url_refusal(claimed.url)
        if refusal is not None:
            return self._failed(claimed, f"destino rechazado: {refusal}", 0.0, permanent=True)
        body = webhooks.encode_body(claimed.event)
        async with self.destinations.slot(claimed.url) as http:
            if time.monotonic() > claimed.start_by:
                return Attempted(claimed, "released")
            headers = webhooks.signed_headers(
                claimed.secret,
                message_id(claimed.delivery_id),
                body,
                int(time.time()),
                previous_secrets=[claimed.previous_secret] if claimed.previous_secret else [],
            )
            started = time.perf_counter()
            status_code, error, permanent = await _post(http, claimed.url, body, headers)
            elapsed = time.perf_counter() - started
        if error is None:
            return Attempted(
                claimed,
                "succeeded",
                status_code=status_code,
                latency_ms=round(elapsed * 1000, 3),
                elapsed=elapsed,
            )
        attempted = self._failed(claimed, error, elapsed, permanent=permanent)
        attempted.status_code = status_code
        attempted.latency_ms = round(elapsed * 1000, 3)
        return attempted

    # -- recording ---------------------------------------------------------------------------

    async def _record_finished(self) -> None:
        """Records what has finished, batch after batch, while anything is left."""
        while self._finished:
            batch, self._finished = self._finished, []
            try:
                outcomes = await self._record(batch)
            except Exception as exc:
                # The database failed: the leases run out and the deliveries are retried.
                logger.exception("could not record webhook outcomes")
                for item in batch:
                    if item.claimed.done is not None and not item.claimed.done.done():
                        item.claimed.done.set_exception(exc)
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                if item.claimed.done is not None and not item.claimed.done.done():
                    item.claimed.done.set_result(outcome)

    async def _record(self, batch: list[Attempted]) -> list[str]:
        params: dict[str, Any] = {
            "ids": [a.claimed.delivery_id for a in batch],
            "attempts": [a.claimed.attempt for a in batch],
            "log_ids": [a.claimed.attempt_id for a in batch],
            "outcomes": [a.outcome for a in batch],
            "codes": [a.status_code for a in batch],
            "latencies": [a.latency_ms for a in batch],
            "errors": [a.error for a in batch],
            "next_at": [a.next_at for a in batch],
            "now": datetime.now(UTC),
        }
        async with self.sessionmaker() as session:
            recorded = set((await session.execute(_RECORD_WEBHOOKS, params)).scalars().all())
            await session.commit()
        outcomes: list[str] = []
        for item in batch:
            # Not recorded: another worker claimed it after our lease ran out; its outcome wins.
            outcome = item.outcome if item.claimed.delivery_id in recorded else "superseded"
            outcomes.append("dead" if outcome == "disabled" else outcome)
            logger.info(
                "webhook attempt",
                extra={
                    "fields": {
                        "delivery_id": str(item.claimed.delivery_id),
                        "attempt": item.claimed.attempt,
                        "status_code": item.status_code,
                        "latency_ms": item.latency_ms,
                        "outcome": outcome,
                    }
                },
            )
        attempted = [
            (item, outcome)
            for item, outcome in zip(batch, outcomes, strict=True)
            if outcome in ("succeeded", "retry", "dead") and item.outcome != "disabled"
        ]
        await _record_metrics(
            self.redis, "webhook", [(outcome, item.elapsed) for item, outcome in attempted]
        )
        await self._queue_retries(
            [item.next_at for item, outcome in attempted if outcome == "retry" and item.next_at]
        )
        return outcomes

    async def _queue_retries(self, due: list[datetime]) -> None:
        """One deferred wake-up per second in which retries fall due (the sweeper makes up
        for any that Redis loses)."""
        if self.redis is None:
            return
        for second in sorted({math.ceil(at.timestamp()) for at in due}):
            try:
                await queue.enqueue_now(
                    self.redis,
                    WEBHOOKS_JOB,
                    job_id=queue.job_id("webhooks", "at", second),
                    defer_until=datetime.fromtimestamp(second, UTC),
                )
            except (RedisError, OSError, TimeoutError):
                logger.warning("could not queue a retry; the sweeper will", exc_info=True)
                return

    async def _settle(self) -> None:
        while self._recorder is not None and not self._recorder.done():
            await asyncio.shield(self._recorder)

    # -- driving -----------------------------------------------------------------------------

    async def deliver(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """One attempt at each of these deliveries, if it can be claimed; their outcomes."""
        claimed = await self._claim(ids, len(ids))
        loop = asyncio.get_running_loop()
        for item in claimed:
            item.done = loop.create_future()
        self._start(claimed)
        return {item.delivery_id: await item.done for item in claimed if item.done is not None}

    async def drain(self) -> int:
        """Claims and sends due deliveries, batch after batch, until none is left (or for at
        most `MAX_DRAIN_SECONDS`, then hands over to a new job); returns how many it claimed.
        While one drain runs, another call only tells it to look again."""
        if self._draining:
            self._wake.set()
            self._changed.set()
            return 0
        self._draining = True
        claimed_total = 0
        started = time.monotonic()
        exhausted = False
        try:
            while True:
                self._changed.clear()
                if self._wake.is_set():
                    self._wake.clear()
                    exhausted = False
                overtime = time.monotonic() - started > MAX_DRAIN_SECONDS
                if not exhausted and not overtime:
                    room = self.capacity - len(self._inflight)
                    if room >= self.refill or not self._inflight:
                        claimed = await self._claim(None, room)
                        claimed_total += len(claimed)
                        self._start(claimed)
                        exhausted = len(claimed) < room
                    else:
                        await self._changed.wait()
                    continue
                if not self._inflight:
                    await self._settle()
                    if self._wake.is_set() and not overtime:
                        continue
                    break
                await self._changed.wait()
        finally:
            self._draining = False
        if (not exhausted or self._wake.is_set()) and self.redis is not None:
            try:
                await queue.enqueue_now(
                    self.redis, WEBHOOKS_JOB, job_id=queue.job_id("webhooks", uuid.uuid4().hex)
                )
            except (RedisError, OSError, TimeoutError):
                logger.warning("could not hand over; the sweeper will", exc_info=True)
        return claimed_total

    async def aclose(self, wait: float = 15.0) -> None:
        """Lets the requests in flight end (for up to `wait` seconds) and records them, then
        closes the destinations' clients. Anything cut short is retried after its lease."""
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=wait)
        for task in list(self._inflight):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._settle(), wait)
        await self.destinations.aclose()


def webhook_engine(ctx: dict[str, Any]) -> WebhookEngine:
    """The worker's engine (made at start-up); a context without one (a test's, arq's without
    the start-up hook) gets one over its `http` client."""
    engine: WebhookEngine | None = ctx.get("webhooks")
    if engine is None:
        engine = WebhookEngine(ctx["sessionmaker"], Destinations(shared=ctx.get("http")))
        ctx["webhooks"] = engine
    engine.redis = ctx.get("redis")
    return engine


async def deliver_webhooks(ctx: dict[str, Any]) -> int:
    """The arq job that wakes the engine: delivers every due webhook (see `WebhookEngine`)."""
    return await webhook_engine(ctx).drain()


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt at one webhook delivery. Returns what happened: `succeeded`, `retry`,
    `dead`, `skipped` (nothing to claim: done, not due, or another worker holds it) or
    `superseded` (our lease ran out and another worker claimed it meanwhile)."""
    did = uuid.UUID(str(delivery_id))
    outcomes = await webhook_engine(ctx).deliver([did])
    return outcomes.get(did, "skipped")


@functools.cache
def _finish_stmt(outcome: str) -> Update:
    """The statement recording an e-mail's outcome (built once per outcome). It applies only
    if nobody claimed the delivery since (`attempts` unchanged)."""
    when = bindparam("p_now", type_=DateTime(timezone=True))
    values: dict[str, Any] = {
        "locked_until": None,
        "last_error": bindparam("p_error", type_=String()),
        "updated_at": when,
    }
    if outcome == "succeeded":
        values["status"] = DeliveryStatus.succeeded.value
        values["sent_at"] = when
    elif outcome == "dead":
        values["status"] = DeliveryStatus.dead.value
    else:
        values["next_attempt_at"] = bindparam("p_next_at", type_=DateTime(timezone=True))
    return (
        update(EmailDelivery)
        .where(
            col(EmailDelivery.id) == bindparam("p_delivery_id", type_=Uuid()),
            col(EmailDelivery.status) == DeliveryStatus.pending.value,
            col(EmailDelivery.attempts) == bindparam("p_attempt", type_=Integer()),
        )
        .values(**values)
        .returning(col(EmailDelivery.id))
    )


async def _finish(
    sessionmaker: Sessionmaker,
    delivery_id: uuid.UUID,
    attempt: int,
    error: str | None,
    *,
    permanent: bool = False,
) -> tuple[str, datetime | None]:
    """Records an e-mail attempt's outcome. Returns the outcome and, for a retry, when it is
    due."""
    now = datetime.now(UTC)
    # Parameter names unlike any column's: SQLAlchemy would take `delivery_id` or `attempt`
    # as extra SET values of the UPDATE.
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
    async with sessionmaker() as session:
        result = await session.execute(_finish_stmt(outcome), params)
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
    outcome, next_at = await _finish(sessionmaker, did, attempt, error, permanent=permanent)
    await _record_metrics(ctx.get("redis"), "email", [(outcome, elapsed)])
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
