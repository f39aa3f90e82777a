"""What municipalities are told about the calendar: a grant call opened for them, an event
they registered for that changed or was cancelled. One event per municipality and change."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.base import Role
from app.models.calendar import (
    AudienceKind,
    CalendarEntry,
    CalendarEntryMunicipality,
    EntryKind,
    EntryStatus,
    EventRegistration,
)
from app.models.municipality import Municipality
from app.models.notification import NotificationKind
from app.models.user import User
from app.services.notifications import outbox


async def addressed_with_users(session: AsyncSession, entry: CalendarEntry) -> list[uuid.UUID]:
    """Municipalities an entry is addressed to that have active municipal users."""
    stmt = (
        select(col(User.municipality_id))
        .where(
            col(User.role) == Role.municipal_user,
            col(User.is_active).is_(True),
            col(User.municipality_id).is_not(None),
        )
        .distinct()
    )
    if entry.audience == AudienceKind.comarca:
        stmt = stmt.where(
            col(User.municipality_id).in_(
                select(col(Municipality.id)).where(col(Municipality.comarca_id) == entry.comarca_id)
            )
        )
    elif entry.audience == AudienceKind.municipalities:
        stmt = stmt.where(
            col(User.municipality_id).in_(
                select(col(CalendarEntryMunicipality.municipality_id)).where(
                    col(CalendarEntryMunicipality.entry_id) == entry.id
                )
            )
        )
    return [m for m in (await session.execute(stmt)).scalars().all() if m is not None]


def _spec(
    entry: CalendarEntry,
    municipality_id: uuid.UUID,
    kind: NotificationKind,
    change: str,
    title: str,
    body: str,
    author_id: uuid.UUID | None,
    payload: dict[str, object] | None = None,
) -> outbox.EventSpec:
    return outbox.EventSpec(
        kind=kind,
        dedupe_key=f"calendar_entry:{entry.id}:{change}:{municipality_id}",
        entity_type="calendar_entry",
        entity_id=str(entry.id),
        title=title[:300],
        body=body[:2000],
        occurred_at=datetime.now(UTC),
        municipality_id=municipality_id,
        area_id=entry.area_id,
        link=f"/calendario/{entry.id}",
        payload={
            "entry_id": str(entry.id),
            "entry_kind": entry.kind,
            "title": entry.title,
            "starts_at": entry.starts_at.astimezone(UTC).isoformat(),
            "ends_at": entry.ends_at.astimezone(UTC).isoformat(),
            "status": entry.status,
            **(payload or {}),
        },
        audience=outbox.Audience(office=False, area=False, municipality=True),
        author_id=author_id,
    )


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "sin fecha"


async def grant_call_opened(session: AsyncSession, entry: CalendarEntry, actor: Actor) -> None:
    """A published grant call, to every municipality it is addressed to."""
    if entry.kind != EntryKind.grant_call:
        return
    cache = outbox.FanoutCache()
    for municipality_id in await addressed_with_users(session, entry):
        spec = _spec(
            entry,
            municipality_id,
            NotificationKind.grant_call_opened,
            f"opened:{entry.sequence}",
            f"Nueva convocatoria: {entry.title}",
            f"Plazo de solicitud: del {_day(entry.application_opens_on)} al "
            f"{_day(entry.application_closes_on)}.",
            actor.id,
            {
                "application_opens_on": entry.application_opens_on.isoformat()
                if entry.application_opens_on
                else None,
                "application_closes_on": entry.application_closes_on.isoformat()
                if entry.application_closes_on
                else None,
            },
        )
        await outbox.emit(session, spec, cache=cache)


async def _registered_municipalities(session: AsyncSession, entry_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = (
        select(col(EventRegistration.municipality_id))
        .where(
            col(EventRegistration.entry_id) == entry_id,
            col(EventRegistration.status) == "registered",
        )
        .distinct()
    )
    return list((await session.execute(stmt)).scalars().all())


# Changes that matter to someone who registered: when, where and how it takes place.
ATTENDANCE_FIELDS = frozenset(
    {"starts_at", "ends_at", "all_day", "rrule", "exdates", "location", "modality", "online_url"}
)


async def registered_event_changed(
    session: AsyncSession, entry: CalendarEntry, actor: Actor, changed: set[str]
) -> None:
    """An event changed when, where or how it happens, or was cancelled: to the municipalities
    with people registered for it."""
    cancelled = entry.status == EntryStatus.cancelled and "status" in changed
    fields = sorted(changed & ATTENDANCE_FIELDS)
    if not cancelled and not fields:
        return
    local = entry.starts_at.astimezone(MADRID).strftime("%d/%m/%Y %H:%M")
    if cancelled:
        kind, title = NotificationKind.event_cancelled, f"Actividad cancelada: {entry.title}"
        body = f"La actividad «{entry.title}» del {local} se ha cancelado."
    else:
        kind, title = NotificationKind.event_changed, f"Cambios en la actividad: {entry.title}"
        body = f"La actividad «{entry.title}» ha cambiado. Ahora: {local}"
        if entry.location:
            body += f", {entry.location}"
        body += "."
    cache = outbox.FanoutCache()
    for municipality_id in await _registered_municipalities(session, entry.id):
        spec = _spec(
            entry,
            municipality_id,
            kind,
            f"{kind.value}:{entry.sequence}",
            title,
            body,
            actor.id,
            {"changed": fields},
        )
        await outbox.emit(session, spec, cache=cache)
