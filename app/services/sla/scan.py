"""The SLA scan: moves open consultations between SLA states and records the warnings and
breaches as notifications; recomputation of open deadlines when the calendar changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.consultation import (
    OPEN_STATUSES,
    Consultation,
)
from app.models.notification import NotificationKind
from app.services.consultations.lifecycle import record_event
from app.services.notifications import outbox
from app.services.sla import clock as sla


@dataclass(frozen=True)
class SlaScan:
    processed: int
    changed: list[tuple[Consultation, str, str]]
    emitted: list[outbox.Emitted]


CLOCK_LABELS = {"first_response": "la primera respuesta", "resolution": "la resolución"}


def sla_event(c: Consultation, crossing: sla.Crossing) -> outbox.EventSpec:
    """The notification of a clock passing a warning threshold or its due date."""
    due_local = crossing.due.astimezone(MADRID).strftime("%d/%m/%Y %H:%M")
    what = CLOCK_LABELS[crossing.clock]
    if crossing.threshold is None:
        kind = NotificationKind.consultation_sla_breached
        title = f"{c.reference}: plazo de {what} vencido"
        body = f"El plazo de {what} de la consulta «{c.subject}» venció el {due_local}."
        point = "due"
    else:
        kind = NotificationKind.consultation_sla_warning
        title = f"{c.reference}: {crossing.threshold} % del plazo de {what}"
        body = (
            f"La consulta «{c.subject}» ha consumido el {crossing.threshold} % del plazo de "
            f"{what}, que vence el {due_local}."
        )
        point = str(crossing.threshold)
    return outbox.EventSpec(
        kind=kind,
        dedupe_key=f"consultation:{c.id}:{kind}:{crossing.clock}:{point}:"
        f"{crossing.due.astimezone(UTC).isoformat()}",
        entity_type="consultation",
        entity_id=str(c.id),
        title=title,
        body=body,
        occurred_at=crossing.at,
        municipality_id=c.municipality_id,
        area_id=c.area_id,
        link=f"/consultas/{c.id}",
        payload={
            "reference": c.reference,
            "clock": crossing.clock,
            "threshold": crossing.threshold,
            "due_at": crossing.due.astimezone(UTC).isoformat(),
            "status": c.status,
            "priority": c.priority,
        },
        # A breach is the municipality's business too; a warning is for those who must act.
        audience=outbox.Audience(office=True, area=True, municipality=crossing.threshold is None),
    )


async def refresh_sla_states(
    session: AsyncSession, now: datetime | None = None, batch: int = 500
) -> SlaScan:
    """Moves consultations whose next SLA instant has passed to their new state.

    One indexed query (`sla_next_check_at <= now`); rows locked with SKIP LOCKED so several
    workers share the work. Reports how many were processed and each (consultation, old
    state, new state) change."""
    now = now or datetime.now(UTC)
    stmt = (
        select(Consultation)
        .where(col(Consultation.sla_next_check_at) <= now)
        .order_by(col(Consultation.sla_next_check_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    changed: list[tuple[Consultation, str, str]] = []
    emitted: list[outbox.Emitted] = []
    fanout = outbox.FanoutCache()
    thresholds: dict[uuid.UUID | None, list[int]] = {}
    rows = (await session.execute(stmt)).scalars().all()
    for c in rows:
        if c.sla_policy_id not in thresholds:
            thresholds[c.sla_policy_id] = await sla.thresholds_for(session, c)
        old = c.sla_state
        sla.apply_state(c, thresholds[c.sla_policy_id], now, from_scan=True)
        if c.sla_state != old:
            changed.append((c, old, c.sla_state))
        # In the same transaction that moves the state: the outbox (deduplicated).
        for crossing in sla.crossings(c, thresholds[c.sla_policy_id], now):
            item = await outbox.emit(session, sla_event(c, crossing), now, fanout)
            if item is not None:
                emitted.append(item)
    await session.flush()
    return SlaScan(processed=len(rows), changed=changed, emitted=emitted)


CALENDAR_CHANGE = "plazo recalculado por cambio de calendario"


@dataclass(frozen=True)
class MovedDeadline:
    """An open consultation whose deemed start or due dates a recomputation changed."""

    consultation_id: uuid.UUID
    reference: str
    municipality_id: uuid.UUID
    before: dict[str, str | None]
    after: dict[str, str | None]


async def recompute_open(
    session: AsyncSession,
    *,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    calendar_change: Actor | None = None,
) -> int:
    """Recomputes the open consultations a change affects; returns how many moved."""
    moved = await recompute_open_changes(
        session,
        municipality_id=municipality_id,
        area_id=area_id,
        policy_id=policy_id,
        window=window,
        now=now,
        calendar_change=calendar_change,
    )
    return len(moved)


async def recompute_open_changes(
    session: AsyncSession,
    *,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    calendar_change: Actor | None = None,
) -> list[MovedDeadline]:
    """Recomputes the deemed start and due dates of open consultations after a calendar or
    policy change. With `calendar_change` (who changed the calendar), each consultation whose
    dates moved records it in its history."""
    now = now or datetime.now(UTC)
    stmt = select(Consultation).where(col(Consultation.status).in_(list(OPEN_STATUSES)))
    if municipality_id is not None:
        stmt = stmt.where(col(Consultation.municipality_id) == municipality_id)
    if area_id is not None:
        stmt = stmt.where(col(Consultation.area_id) == area_id)
    if policy_id is not None:
        stmt = stmt.where(col(Consultation.sla_policy_id) == policy_id)
    if window is not None:
        start, end = window
        # Reception, not the deemed start: a removed holiday may move a deemed start past `end`.
        stmt = stmt.where(
            col(Consultation.received_at) < end, col(Consultation.resolution_due_at) >= start
        )
    moved: list[MovedDeadline] = []
    for c in (await session.execute(stmt.order_by(col(Consultation.id)))).scalars().all():
        before = (c.sla_started_at, c.first_response_due_at, c.resolution_due_at)
        if c.paused_at is not None:
            continue  # recomputed on resumption
        await sla.recompute(session, c, now, reselect_policy=False)
        after = (c.sla_started_at, c.first_response_due_at, c.resolution_due_at)
        if after != before:
            c.version += 1
            change = MovedDeadline(
                c.id, c.reference, c.municipality_id, _instants(before), _instants(after)
            )
            moved.append(change)
            if calendar_change is not None:
                await record_event(
                    session,
                    c,
                    calendar_change,
                    "deadline_recomputed",
                    data={
                        "reason": CALENDAR_CHANGE,
                        "before": change.before,
                        "after": change.after,
                    },
                )
    await session.flush()
    return moved


def _instants(values: tuple[datetime | None, ...]) -> dict[str, str | None]:
    names = ("sla_started_at", "first_response_due_at", "resolution_due_at")
    return {
        n: v.astimezone(UTC).isoformat() if v else None for n, v in zip(names, values, strict=True)
    }
