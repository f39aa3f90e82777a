"""Background jobs run by the arq worker."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import queue
from app.services import expedientes
from app.services.notifications import outbox
from app.services.sla import scan as sla_scan

logger = logging.getLogger("app.worker")


class DetectionBatch(Protocol):
    @property
    def processed(self) -> int: ...

    @property
    def emitted(self) -> list[outbox.Emitted]: ...


Detector = Callable[[AsyncSession, datetime], Awaitable[DetectionBatch]]


async def _sla(session: AsyncSession, now: datetime) -> DetectionBatch:
    scan = await sla_scan.refresh_sla_states(session, now=now)
    for c, old, new in scan.changed:
        logger.info(
            "sla state changed",
            extra={"fields": {"reference": c.reference, "from": old, "to": new}},
        )
    return scan


async def _stalled(session: AsyncSession, now: datetime) -> DetectionBatch:
    return await expedientes.detect_stalled(session, now=now)


async def _grant_call_reminders(session: AsyncSession, now: datetime) -> DetectionBatch:
    from app.services.calendar import reminders

    return await reminders.grant_call_reminders(session, now=now)


# Every producer of notifications, run by the same cron job: each takes a batch of due items,
# moves them on and records their notifications through `outbox.emit` in that same
# transaction, and reports how many items it processed (0 when nothing is due).
DETECTORS: dict[str, Detector] = {
    "consultation_sla": _sla,
    "expediente_stalled": _stalled,
    "grant_call_reminders": _grant_call_reminders,
}


async def scan_sla(ctx: dict[str, Any]) -> int:
    """Runs every detector batch by batch, each batch one unit of work (its notifications'
    deliveries and stream messages leave after its commit). Returns the number of events
    emitted."""
    now = datetime.now(UTC)
    total = 0
    for name, detect in DETECTORS.items():
        while True:
            async with queue.unit_of_work(ctx["sessionmaker"], ctx.get("redis")) as session:
                batch = await detect(session, now)
            total += len(batch.emitted)
            if batch.processed == 0:
                break
        logger.debug("detector done", extra={"fields": {"detector": name}})
    return total
