"""Registrations to events: places counted under a row lock, listing and cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.crud import flush
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    invalid_field,
)
from app.core.scoping import Actor
from app.models.base import Role
from app.models.calendar import (
    CalendarEntry,
    EntryStatus,
    EventRegistration,
)
from app.schemas.calendar import (
    RegistrationCreate,
)
from app.services.calendar.entries import active_registrations, get_entry
from app.services.calendar.recurrence import (
    is_occurrence,
)


async def register(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, data: RegistrationCreate
) -> EventRegistration:
    """Signs up an attendee of the caller's municipality; the entry row is locked while the
    active registrations are counted, so concurrent sign-ups never exceed the capacity."""
    mid = actor.own_municipality_id
    if mid is None:
        raise Forbidden("Solo los usuarios municipales inscriben a personas de su entidad")
    await get_entry(session, actor, entry_id)
    locked = await session.execute(
        select(CalendarEntry)
        .where(col(CalendarEntry.id) == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    entry = locked.scalars().one()
    if entry.status != EntryStatus.published:
        raise Conflict("La entrada no está publicada o ha sido cancelada")
    if not entry.registration_required:
        raise Conflict("Esta entrada no admite inscripción")
    now = datetime.now(UTC)
    if entry.registration_deadline is not None and now > entry.registration_deadline:
        raise Conflict("El plazo de inscripción ha terminado")
    if entry.rrule:
        if data.occurrence_start is None:
            raise invalid_field("occurrence_start", "indique la sesión de la actividad periódica")
        if data.occurrence_start.tzinfo is None or not is_occurrence(entry, data.occurrence_start):
            raise invalid_field(
                "occurrence_start", "no corresponde a ninguna sesión de la actividad"
            )
        occ = data.occurrence_start.astimezone(UTC)
    else:
        if data.occurrence_start is not None and data.occurrence_start != entry.starts_at:
            raise invalid_field("occurrence_start", "no corresponde a la fecha de la actividad")
        occ = entry.starts_at
    if occ <= now:
        raise Conflict("La sesión ya ha comenzado")
    if entry.capacity is not None:
        taken = await active_registrations(session, entry.id, occ)
        if taken >= entry.capacity:
            raise Conflict(f"La actividad está completa: no quedan plazas ({entry.capacity})")
    reg = EventRegistration(
        entry_id=entry.id,
        occurrence_start=occ,
        municipality_id=mid,
        attendee_name=data.attendee_name,
        attendee_role=data.attendee_role,
        attendee_email=data.attendee_email,
        created_by_id=actor.id,
    )
    session.add(reg)
    await flush(session)
    await audit.record(
        session,
        actor,
        "event_registration.create",
        "event_registration",
        reg.id,
        audit.snapshot(reg),
    )
    return reg


def _registration_scope(actor: Actor, entry: CalendarEntry) -> Any:
    if actor.is_office or (actor.role == Role.area_staff and actor.area_id == entry.area_id):
        return col(EventRegistration.entry_id) == entry.id
    if actor.is_municipal:
        return col(EventRegistration.municipality_id) == actor.municipality_id
    return col(EventRegistration.id).is_(None)


async def list_registrations(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> list[EventRegistration]:
    entry = await get_entry(session, actor, entry_id)
    stmt = (
        select(EventRegistration)
        .where(col(EventRegistration.entry_id) == entry.id, _registration_scope(actor, entry))
        .order_by(col(EventRegistration.occurrence_start), col(EventRegistration.created_at))
    )
    return list((await session.execute(stmt)).scalars().all())


async def cancel_registration(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, registration_id: uuid.UUID
) -> EventRegistration:
    entry = await get_entry(session, actor, entry_id)
    stmt = select(EventRegistration).where(
        col(EventRegistration.id) == registration_id,
        col(EventRegistration.entry_id) == entry.id,
        _registration_scope(actor, entry),
    )
    reg = (await session.execute(stmt)).scalars().first()
    if reg is None:
        raise NotFound(f"La inscripción {registration_id} no existe")
    if reg.status == "cancelled":
        raise Conflict("La inscripción ya estaba cancelada")
    reg.status = "cancelled"
    reg.cancelled_at = datetime.now(UTC)
    await flush(session)
    await audit.record(
        session,
        actor,
        "event_registration.cancel",
        "event_registration",
        reg.id,
        {"status": {"from": "registered", "to": "cancelled"}},
    )
    return reg
