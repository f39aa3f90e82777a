"""Background jobs run by the arq worker."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from app.services import consultations

logger = logging.getLogger("app.worker")


async def scan_sla(ctx: dict[str, Any]) -> int:
    """Moves consultations whose next SLA instant has passed to their new state
    (on track → warning → breached), in batches, each batch its own transaction."""
    now = datetime.now(UTC)
    total = 0
    while True:
        async with ctx["sessionmaker"]() as session:
            scan = await consultations.refresh_sla_states(session, now=now)
            await session.commit()
        total += len(scan.changed)
        for c, old, new in scan.changed:
            logger.info(
                "sla state changed",
                extra={"fields": {"reference": c.reference, "from": old, "to": new}},
            )
        if scan.processed == 0:
            break
    return total
