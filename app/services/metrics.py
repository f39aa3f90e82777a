"""Operational metrics read when `/metrics` is scraped.

Counts that live in PostgreSQL (deliveries by channel and state, consultations by SLA state)
are read with one grouped query each, so every API process answers the same truth however
many there are. What workers measure (attempt latency and outcomes, dead letters, SLA scan
duration, heartbeats) is added up in Redis by the workers and read here. A source that does not
answer is reported by `oaaa_metrics_source_up` instead of failing the scrape.
"""

from __future__ import annotations

import contextlib
import logging
import time

from prometheus_client.core import GaugeMetricFamily, Metric
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import observability
from app.core.queue import queue_name
from app.models.consultation import Consultation, SlaState
from app.models.notification import DeliveryStatus, EmailDelivery, WebhookDelivery

logger = logging.getLogger("app.services.metrics")

CHANNELS = ("webhook", "email")
SLA_STATES = tuple(s.value for s in SlaState)
ATTEMPT_OUTCOMES = ("succeeded", "retry", "dead")

ATTEMPT_LATENCY = observability.ATTEMPT_LATENCY_METRIC
ATTEMPTS = observability.ATTEMPTS_METRIC
DEAD_LETTERS = observability.DEAD_LETTERS_METRIC
SLA_SCAN = observability.SLA_SCAN_METRIC


async def _database_families(session: AsyncSession) -> list[Metric]:
    deliveries = GaugeMetricFamily(
        "oaaa_deliveries",
        "Entregas de notificaciones por canal y estado",
        labels=["channel", "state"],
    )
    for channel, model in (("webhook", WebhookDelivery), ("email", EmailDelivery)):
        rows = (
            await session.execute(
                select(col(model.status), func.count()).group_by(col(model.status))
            )
        ).all()
        by_status = {str(status): int(n) for status, n in rows}
        for state in DeliveryStatus:
            deliveries.add_metric([channel, state.value], float(by_status.get(state.value, 0)))
    rows = (
        await session.execute(
            select(col(Consultation.sla_state), func.count()).group_by(col(Consultation.sla_state))
        )
    ).all()
    counts = {str(state): int(n) for state, n in rows}
    consultations = GaugeMetricFamily(
        "oaaa_consultations", "Consultas por estado de plazo (SLA)", labels=["sla_state"]
    )
    for sla_state in dict.fromkeys((*SLA_STATES, *counts)):
        consultations.add_metric([sla_state], float(counts.get(sla_state, 0)))
    return [deliveries, consultations]


async def _redis_families(redis: Redis) -> list[Metric]:
    queue = queue_name()
    now_ms = time.time() * 1000
    total = await redis.zcard(queue)
    ready = await redis.zcount(queue, "-inf", now_ms)
    depth = GaugeMetricFamily(
        "oaaa_queue_jobs",
        "Trabajos en la cola de arq: listos para ejecutarse o diferidos (reintentos)",
        labels=["state"],
    )
    depth.add_metric(["ready"], float(ready))
    depth.add_metric(["deferred"], float(total - ready))
    families: list[Metric] = [depth]
    families.append(
        await observability.shared_histogram(
            redis,
            ATTEMPT_LATENCY,
            "Duración de cada intento de entrega",
            observability.ATTEMPT_BUCKETS,
            ["channel"],
        )
    )
    families.append(
        await observability.shared_counter(
            redis,
            ATTEMPTS,
            "Intentos de entrega por canal y resultado",
            ["channel", "outcome"],
            [{"channel": c, "outcome": o} for c in CHANNELS for o in ATTEMPT_OUTCOMES],
        )
    )
    families.append(
        await observability.shared_counter(
            redis,
            DEAD_LETTERS,
            "Entregas dadas por perdidas (dead letters)",
            ["channel"],
            [{"channel": c} for c in CHANNELS],
        )
    )
    families.append(
        await observability.shared_histogram(
            redis,
            SLA_SCAN,
            "Duración de cada pasada del detector de plazos",
            (observability.SCAN_BUCKETS),
            [],
        )
    )
    families.extend(await observability.heartbeat_families(redis))
    return families


async def collect(session: AsyncSession, redis: Redis) -> list[Metric]:
    up = GaugeMetricFamily(
        "oaaa_metrics_source_up",
        "1 si la fuente respondió al leer las métricas",
        labels=["source"],
    )
    families: list[Metric] = []
    try:
        families += await _database_families(session)
        up.add_metric(["database"], 1.0)
    except (SQLAlchemyError, OSError):
        logger.warning("metrics: database did not answer", exc_info=True)
        with contextlib.suppress(SQLAlchemyError, OSError):
            await session.rollback()
        up.add_metric(["database"], 0.0)
    try:
        families += await _redis_families(redis)
        up.add_metric(["redis"], 1.0)
    except (RedisError, OSError):
        logger.warning("metrics: Redis did not answer", exc_info=True)
        up.add_metric(["redis"], 0.0)
    return [*families, up]
