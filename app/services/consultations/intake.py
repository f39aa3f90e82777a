"""Intake of consultations from every channel: reference, access code, the first clock."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit
from app.core.errors import (
    Forbidden,
    UnprocessableEntity,
)
from app.core.scoping import Actor
from app.core.security import digest_secret
from app.core.time import MADRID
from app.models.area import Channel
from app.models.audit import ActorType
from app.models.base import Role
from app.models.consultation import Consultation, ReferenceCounter
from app.models.faq import AssistantQuery
from app.models.municipality import Municipality
from app.schemas.consultations import ConsultationCreate
from app.services.consultations import notices
from app.services.consultations.lifecycle import check_service, get, record_event
from app.services.sla import clock as sla

OFFICE_INTAKE_CHANNELS = frozenset(Channel)

ACCESS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

ACCESS_CODE_LENGTH = 10

# Logged calls may arrive a little after the clock of the device that records them.
RECEIVED_AT_TOLERANCE = timedelta(minutes=2)


def new_access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


async def next_reference(session: AsyncSession, year: int) -> str:
    """The next number of `year`, taken inside the caller's transaction: concurrent creations
    queue on the counter row, and a rolled-back creation gives its number back (no gaps)."""
    stmt = (
        insert(ReferenceCounter)
        .values(year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[col(ReferenceCounter.year)],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(col(ReferenceCounter.last_value))
    )
    number = (await session.execute(stmt)).scalar_one()
    return f"OAAA-{year}-{number:06d}"


async def create(
    session: AsyncSession, actor: Actor, data: ConsultationCreate, now: datetime | None = None
) -> tuple[Consultation, str]:
    """Records a consultation; returns it with its access code (shown only once)."""
    now = now or datetime.now(UTC)
    if actor.role == Role.municipal_user:
        assert actor.municipality_id is not None
        if data.municipality_id not in (None, actor.municipality_id):
            raise UnprocessableEntity("Solo puede presentar consultas de su propia entidad")
        if data.channel not in (None, Channel.web, Channel.assistant):
            raise UnprocessableEntity("Las consultas de un municipio se presentan por la web")
        if data.received_at is not None:
            raise UnprocessableEntity("La fecha de recepción la registra la oficina")
        municipality_id = actor.municipality_id
        channel: Channel = data.channel or Channel.web
        received_at = now
    elif actor.is_office:
        if data.municipality_id is None:
            raise UnprocessableEntity("Indique el municipio o ELM que plantea la consulta")
        if data.channel is None:
            raise UnprocessableEntity("Indique el canal por el que se recibió la consulta")
        municipality_id, channel = data.municipality_id, data.channel
        received_at = data.received_at or now
    else:
        raise Forbidden("Su perfil no permite registrar consultas")
    if received_at > now + RECEIVED_AT_TOLERANCE:
        raise UnprocessableEntity("La fecha de recepción no puede ser futura")
    municipality = await session.get(Municipality, municipality_id)
    if municipality is None or not municipality.is_active:
        raise UnprocessableEntity("El municipio indicado no existe o no está activo")
    await check_service(session, data.service_id)

    code = new_access_code()
    c = Consultation(
        reference="",  # numbered below, last
        access_code_hash=digest_secret(code),
        municipality_id=municipality_id,
        service_id=data.service_id,
        channel=channel,
        priority=data.priority,
        subject=data.subject.strip(),
        body=data.body,
        requester_name=data.requester_name,
        requester_email=data.requester_email,
        requester_phone=data.requester_phone,
        created_by_id=actor.id if actor.kind == ActorType.user else None,
        received_at=received_at,
        sla_started_at=received_at,
    )
    await sla.start_clock(session, c, now)
    query: AssistantQuery | None = None
    if data.assistant_query_id:
        # Only a question this caller asked (or asked without logging in) and not yet linked.
        query = await session.get(AssistantQuery, data.assistant_query_id)
        if (
            query is None
            or query.consultation_id is not None
            or query.user_id not in (None, actor.id)
            or query.municipality_id not in (None, municipality_id)
        ):
            raise UnprocessableEntity("La pregunta del asistente indicada no puede vincularse")
    # The number last: concurrent creations queue on the year's counter row from here to the
    # commit, so everything that can be read or checked is done before.
    c.reference = await next_reference(session, received_at.astimezone(MADRID).year)
    session.add(c)
    await session.flush()
    if query is not None:
        query.consultation_id = c.id
    await record_event(session, c, actor, "created", to_status=c.status, data={"channel": channel})
    await audit.record(
        session,
        actor,
        "consultation.create",
        "consultation",
        c.id,
        audit.snapshot(c, ["reference", "municipality_id", "channel", "priority", "service_id"])
        | {"assistant_query_id": str(data.assistant_query_id) if data.assistant_query_id else None},
    )
    await notices.received(session, c, actor, code)
    return c, code


async def regenerate_access_code(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> tuple[Consultation, str]:
    c = await get(session, actor, consultation_id, lock="wait")
    if not actor.can_ask:
        raise Forbidden("Su perfil no permite renovar el código de seguimiento")
    code = new_access_code()
    c.access_code_hash = digest_secret(code)
    await session.flush()
    await audit.record(session, actor, "consultation.access_code", "consultation", c.id)
    return c, code
