"""The agenda: occurrences in a date range visible to the caller, recurrences expanded, and
the entries of the iCalendar feeds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.errors import (
    Forbidden,
    invalid_field,
)
from app.core.scoping import Actor, visible
from app.models.calendar import (
    AudienceKind,
    CalendarEntry,
    CalendarEntryMunicipality,
    EntryKind,
    EntryStatus,
    EventRegistration,
)
from app.models.municipality import Municipality
from app.schemas.calendar import (
    OccurrenceList,
    OccurrencePublic,
)
from app.services.calendar.entries import _municipality_ids, reminder_days, to_public
from app.services.calendar.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    occurrences,
)

MAX_RANGE_DAYS = 400


@dataclass(frozen=True)
class RangeFilters:
    start: datetime
    end: datetime
    kind: EntryKind | None = None
    area_id: uuid.UUID | None = None
    municipality_id: uuid.UUID | None = None
    q: str | None = None
    # Only the sessions in which the caller's own entity holds an active registration.
    registered: bool = False


async def _registered_sessions(
    session: AsyncSession, municipality_id: uuid.UUID, start: datetime, end: datetime
) -> set[tuple[uuid.UUID, datetime]]:
    """(entry, session start) of the entity's active registrations to sessions that overlap
    [start, end) (a session lasts what its entry lasts), past years' left out."""
    starts = col(EventRegistration.occurrence_start)
    lasts = col(CalendarEntry.ends_at) - col(CalendarEntry.starts_at)
    rows = await session.execute(
        select(col(EventRegistration.entry_id), starts)
        .join(CalendarEntry, col(CalendarEntry.id) == col(EventRegistration.entry_id))
        .where(
            col(EventRegistration.municipality_id) == municipality_id,
            col(EventRegistration.status) == "registered",
            starts < end,
            starts + lasts >= start,
        )
    )
    return {(entry_id, occurrence) for entry_id, occurrence in rows.all()}


def addressed_to(municipality_id: uuid.UUID) -> Any:
    """Entries whose audience includes that municipality (whatever their status)."""

    comarca = (
        select(col(Municipality.comarca_id))
        .where(col(Municipality.id) == municipality_id)
        .scalar_subquery()
    )
    listed = (
        select(col(CalendarEntryMunicipality.entry_id))
        .where(col(CalendarEntryMunicipality.municipality_id) == municipality_id)
        .scalar_subquery()
    )
    return or_(
        col(CalendarEntry.audience) == AudienceKind.all,
        (col(CalendarEntry.audience) == AudienceKind.comarca)
        & (col(CalendarEntry.comarca_id) == comarca),
        (col(CalendarEntry.audience) == AudienceKind.municipalities)
        & col(CalendarEntry.id).in_(listed),
    )


async def list_occurrences(
    session: AsyncSession, actor: Actor, filters: RangeFilters
) -> OccurrenceList:
    """Occurrences in [start, end) visible to the actor, recurrences expanded, by start."""
    if filters.start.tzinfo is None or filters.end.tzinfo is None:
        raise invalid_field(
            "from", "las fechas del intervalo deben indicar la zona horaria", "query"
        )
    if filters.end <= filters.start:
        raise invalid_field("to", "debe ser posterior a «from»", "query")
    if filters.end - filters.start > timedelta(days=MAX_RANGE_DAYS):
        raise invalid_field("to", f"el intervalo no puede superar {MAX_RANGE_DAYS} días", "query")
    if filters.municipality_id is not None and not actor.is_office:
        raise Forbidden("Solo la oficina puede filtrar por entidad destinataria")
    registered: set[tuple[uuid.UUID, datetime]] | None = None
    if filters.registered:
        own = actor.own_municipality_id
        if own is None:
            raise Forbidden("Solo los usuarios municipales tienen inscripciones de su entidad")
        registered = await _registered_sessions(session, own, filters.start, filters.end)
        if not registered:
            return OccurrenceList(items=[])
    stmt = select(CalendarEntry).where(
        visible(CalendarEntry, actor),
        col(CalendarEntry.starts_at) < filters.end,
        or_(
            col(CalendarEntry.rrule).is_not(None),
            col(CalendarEntry.ends_at) >= filters.start,
        ),
    )
    if filters.kind is not None:
        stmt = stmt.where(col(CalendarEntry.kind) == filters.kind)
    if filters.area_id is not None:
        stmt = stmt.where(col(CalendarEntry.area_id) == filters.area_id)
    if filters.municipality_id is not None:
        stmt = stmt.where(addressed_to(filters.municipality_id))
    if registered is not None:
        stmt = stmt.where(col(CalendarEntry.id).in_({entry_id for entry_id, _ in registered}))
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                col(CalendarEntry.title).ilike(pattern),
                col(CalendarEntry.description).ilike(pattern),
                col(CalendarEntry.location).ilike(pattern),
            )
        )
    entries = list((await session.execute(stmt)).scalars().all())
    mun = await _municipality_ids(session, [e.id for e in entries])
    found: list[Occurrence] = []
    for entry in entries:
        found.extend(occurrences(entry, filters.start, filters.end))
    if registered is not None:
        found = [o for o in found if (o.entry.id, o.start) in registered]
    found.sort(key=lambda o: (o.start, o.end, str(o.entry.id)))
    truncated = len(found) > MAX_OCCURRENCES
    items = []
    for occ in found[:MAX_OCCURRENCES]:
        public = to_public(occ.entry, mun[occ.entry.id])
        items.append(
            OccurrencePublic(
                **public.model_dump(),
                entry_id=occ.entry.id,
                occurrence_start=occ.start,
                occurrence_end=occ.end,
            )
        )
    return OccurrenceList(items=items, truncated=truncated)


async def feed_entries(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    published_only: bool = True,
) -> tuple[list[CalendarEntry], dict[uuid.UUID, list[date]]]:
    """Entries of a feed (published and cancelled ones) and the reminder days of grant calls."""
    stmt = select(CalendarEntry).where(visible(CalendarEntry, actor))
    if published_only:
        stmt = stmt.where(
            col(CalendarEntry.status).in_((EntryStatus.published, EntryStatus.cancelled)),
            col(CalendarEntry.published_at).is_not(None),
        )
    if kind is not None:
        stmt = stmt.where(col(CalendarEntry.kind) == kind)
    if area_id is not None:
        stmt = stmt.where(col(CalendarEntry.area_id) == area_id)
    stmt = stmt.order_by(col(CalendarEntry.starts_at), col(CalendarEntry.id)).limit(5000)
    entries = list((await session.execute(stmt)).scalars().all())
    return entries, await reminder_days(session, entries)
