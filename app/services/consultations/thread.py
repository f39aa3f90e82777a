"""The thread of a consultation: public replies and internal notes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.errors import (
    Conflict,
    Forbidden,
)
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor
from app.models.consultation import ConsultationMessage, MessageVisibility
from app.schemas.consultations import MessageCreate
from app.services.consultations import notices
from app.services.consultations.lifecycle import S, get, record_event
from app.services.sla import clock as sla


async def list_messages(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, params: PageParams
) -> tuple[list[ConsultationMessage], str | None]:
    c = await get(session, actor, consultation_id)
    stmt = select(ConsultationMessage).where(col(ConsultationMessage.consultation_id) == c.id)
    if not actor.is_staff:
        stmt = stmt.where(col(ConsultationMessage.visibility) == MessageVisibility.public)
    keys: list[Any] = [ConsultationMessage.created_at, ConsultationMessage.id]
    return await paginate(session, stmt, params, keys=keys)


async def add_message(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    data: MessageCreate,
    now: datetime | None = None,
) -> ConsultationMessage:
    now = now or datetime.now(UTC)
    c = await get(session, actor, consultation_id, lock="wait")
    staff = actor.is_staff
    if actor.is_integration:
        raise Forbidden("Las integraciones no participan en el hilo de la consulta")
    if data.visibility == MessageVisibility.internal and not staff:
        raise Forbidden("Las notas internas son solo para la oficina y las áreas")
    if c.status == S.closed:
        raise Conflict("La consulta está cerrada; reábrala para continuar la conversación")
    message = ConsultationMessage(
        consultation_id=c.id,
        visibility=data.visibility,
        author_type=actor.kind,
        author_id=actor.id,
        author_label=actor.label,
        from_office=staff,
        body=data.body,
    )
    session.add(message)
    public = data.visibility == MessageVisibility.public
    if staff and public and c.first_responded_at is None:
        c.first_responded_at = now
        sla.apply_state(c, await sla.thresholds_for(session, c), now)
    resumed_to: str | None = None
    if not staff and c.status == S.waiting_on_municipality:
        # The municipality answered what was asked: the clock runs again.
        resumed_to = c.status_before_wait or S.in_progress
        if resumed_to == S.received:
            resumed_to = S.in_progress
        await sla.resume(session, c, now)
        previous = c.status
        c.status, c.status_before_wait, c.waiting_reason = resumed_to, None, None
        sla.apply_state(c, await sla.thresholds_for(session, c), now)
        await record_event(
            session,
            c,
            actor,
            "status_changed",
            from_status=previous,
            to_status=c.status,
            data={"resumed_by_reply": True},
        )
    c.version += 1
    await record_event(
        session, c, actor, "message_added", is_public=public, data={"visibility": data.visibility}
    )
    # Internal notes tell nobody: they never reach the municipality.
    if public and staff:
        await notices.replied(session, c, actor)
    elif public:
        await notices.municipality_replied(session, c, actor)
    await session.flush()
    await audit.record(
        session,
        actor,
        "consultation.message",
        "consultation",
        c.id,
        {"visibility": data.visibility, "message_id": message.id, "resumed_to": resumed_to},
    )
    return message
