"""Grant-call reminders: a detector of the notification scan that announces calls closing
soon, a number of working days before their deadline."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.time import MADRID
from app.models.calendar import (
    CalendarEntry,
    EntryKind,
    EntryStatus,
)
from app.models.notification import NotificationKind
from app.services.calendar.entries import ENTITY, working_days_before
from app.services.calendar.notices import addressed_with_users
from app.services.notifications import outbox
from app.services.sla.clock import load_calendar


@dataclass(frozen=True)
class ReminderScan:
    processed: int
    emitted: list[outbox.Emitted]


async def grant_call_reminders(
    session: AsyncSession, now: datetime | None = None, batch: int = 200
) -> ReminderScan:
    """Records one `grant_call.closing` notification per published grant call and reminder
    (N working days before its closing date), once: the dedupe key holds call, N and date."""
    now = now or datetime.now(UTC)
    today = now.astimezone(MADRID).date()
    stmt = (
        select(CalendarEntry)
        .where(
            col(CalendarEntry.kind) == EntryKind.grant_call,
            col(CalendarEntry.status) == EntryStatus.published,
            col(CalendarEntry.application_closes_on).is_not(None),
            col(CalendarEntry.application_closes_on) >= today,
            func.cardinality(col(CalendarEntry.reminder_working_days)) > 0,
        )
        .order_by(col(CalendarEntry.application_closes_on), col(CalendarEntry.id))
    )
    calls = list((await session.execute(stmt)).scalars().all())
    if not calls:
        return ReminderScan(0, [])
    last = max(c.application_closes_on for c in calls if c.application_closes_on)
    cal = await load_calendar(session, None, range(today.year - 1, last.year + 1))
    emitted: list[outbox.Emitted] = []
    cache = outbox.FanoutCache()
    for call in calls:
        closes_on = call.application_closes_on
        assert closes_on is not None
        for n in sorted(call.reminder_working_days, reverse=True):
            if today < working_days_before(cal, closes_on, n):
                continue
            spec = outbox.EventSpec(
                kind=NotificationKind.grant_call_closing,
                dedupe_key=f"grant_call:{call.id}:closing:{n}:{closes_on.isoformat()}",
                entity_type=ENTITY,
                entity_id=str(call.id),
                title=f"La convocatoria «{call.title[:200]}» cierra el "
                f"{closes_on.strftime('%d/%m/%Y')}",
                body=(
                    f"Quedan {n} día{'s' if n != 1 else ''} hábil{'es' if n != 1 else ''} "
                    f"para presentar solicitudes a «{call.title[:200]}»."
                ),
                occurred_at=now,
                area_id=call.area_id,
                link=f"/punto-informativo/{call.id}",
                payload={
                    "closes_on": closes_on.isoformat(),
                    "working_days_before": n,
                    "bulletin_url": call.bulletin_url,
                },
                # Office and área; addressed municipalities see it in their calendar and feed.
                audience=outbox.Audience(office=True, area=True, municipality=False),
            )
            result = await outbox.emit(session, spec, now=now, cache=cache)
            if result is not None:
                emitted.append(result)
            # And once for each addressed municipality that has people to tell.
            for municipality_id in await addressed_with_users(session, call):
                local = dataclasses.replace(
                    spec,
                    dedupe_key=f"{spec.dedupe_key}:{municipality_id}",
                    municipality_id=municipality_id,
                    audience=outbox.Audience(office=False, area=False, municipality=True),
                )
                result = await outbox.emit(session, local, now=now, cache=cache)
                if result is not None:
                    emitted.append(result)
            if len(emitted) >= batch:
                return ReminderScan(len(emitted), emitted)
    return ReminderScan(len(emitted), emitted)
