"""Intake of consultations from every channel: reference, access code, the first clock."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Table, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.core import audit, queries
from app.core.db import make_way
from app.core.errors import (
    Forbidden,
    UnprocessableEntity,
)
from app.core.scoping import Actor
from app.core.security import digest_secret
from app.core.time import MADRID
from app.models.area import Channel
from app.models.audit import ActorType
from app.models.base import Role, new_id
from app.models.consultation import Consultation
from app.models.faq import AssistantQuery
from app.schemas.consultations import ConsultationCreate
from app.services.consultations import notices
from app.services.consultations.lifecycle import EVENTS, check_service, event_row, get
from app.services.sla import clock as sla

OFFICE_INTAKE_CHANNELS = frozenset(Channel)

_TABLE: Table = Consultation.__table__  # type: ignore[attr-defined]

ACCESS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

ACCESS_CODE_LENGTH = 10

# Logged calls may arrive a little after the clock of the device that records them.
RECEIVED_AT_TOLERANCE = timedelta(minutes=2)


def new_access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


# Stands for the reference until `_number` writes it: the consultation's own id makes it
# unique and impossible to type in advance, so no text a person wrote can contain it.
PLACEHOLDER_PREFIX = "#"

# One statement takes the year's next number and writes the reference wherever the creation
# wrote its placeholder: the consultation and its notification event (title, body, payload);
# the audit entry (append-only) is inserted here, with the reference. The counter row stays
# locked from this statement to the COMMIT that follows it.
_NUMBER = text(
    """
    WITH n AS (
        INSERT INTO reference_counter (year, last_value) VALUES (:year, 1)
        ON CONFLICT (year) DO UPDATE SET last_value = reference_counter.last_value + 1
        RETURNING 'OAAA-' || year || '-'
            || lpad(last_value::text, greatest(6, length(last_value::text)), '0') AS reference
    ), c AS (
        UPDATE consultation SET reference = n.reference FROM n WHERE consultation.id = :id
    ), e AS (
        UPDATE notification_event SET
            title = replace(title, :placeholder, n.reference),
            body = replace(body, :placeholder, n.reference),
            payload = replace(payload::text, :placeholder, n.reference)::jsonb
        FROM n WHERE notification_event.id = :event_id
    ), a AS (
        INSERT INTO audit_log (occurred_at, actor_type, actor_id, actor_label, action,
            entity_type, entity_id, changes, request_id, client_ip)
        SELECT :occurred_at, :actor_type, :actor_id, :actor_label, :action, :entity_type,
            :entity_id, replace(:changes, :placeholder, n.reference)::jsonb, :request_id,
            :client_ip
        FROM n
    )
    SELECT reference FROM n
    """
).bindparams(
    bindparam("year", type_=Integer),
    bindparam("id", type_=Uuid),
    bindparam("event_id", type_=BigInteger),
    bindparam("occurred_at", type_=DateTime(timezone=True)),
    bindparam("actor_id", type_=Uuid),
)


def placeholder(consultation_id: uuid.UUID) -> str:
    """What stands for the reference until `_number` writes it (no longer than a reference)."""
    return PLACEHOLDER_PREFIX + consultation_id.hex[:19]


async def _number(
    session: AsyncSession, c: Consultation, year: int, entry: dict[str, Any], event_id: int | None
) -> str:
    """Gives `c` the next reference of `year`, gapless: the counter row is incremented inside
    the creating transaction, so concurrent creations queue on it and a rolled-back creation
    gives its number back. This is the creation's last statement, right before the COMMIT, so
    the row is held for one round trip and the commit, not for the whole creation."""
    mark = c.reference
    await session.flush()
    params = {
        "year": year,
        "id": c.id,
        "placeholder": mark,
        "event_id": event_id,
        **entry,
        "changes": json.dumps(entry["changes"]),
    }
    reference: str = (await queries.run_text(session, _NUMBER, params)).scalar_one()
    # The statement wrote it: nothing is left for the commit to flush.
    set_committed_value(c, "reference", reference)
    return reference


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
    active, version = await sla.municipality_and_version(session, municipality_id)
    if not active:
        raise UnprocessableEntity("El municipio indicado no existe o no está activo")
    await check_service(session, data.service_id)

    code = new_access_code()
    consultation_id = new_id()
    c = Consultation(
        id=consultation_id,
        reference=placeholder(consultation_id),  # the number comes last (`_number`)
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
        # Given, not left to their default factories (each call of one inspects its signature).
        created_at=now,
        updated_at=now,
    )
    await sla.start_clock(session, c, now, version)
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
    # From the municipality's answer to sending the insert runs the creation's longest stretch
    # of CPU work (about 1 ms), and from the insert's answer to sending the event the next: a
    # request that arrived in their first part goes before their second.
    await make_way()
    # The consultation and its first history entry are written at once, in one statement
    # (plain rows: the ORM's unit of work costs more than the insert); the consultation is then
    # handed to the session as the persistent row it now is.
    created = event_row(c, actor, "created", to_status=c.status, data={"channel": channel})
    await queries.insert_rows_together(
        session, [(_TABLE, [queries.row_values(c, _TABLE)]), (EVENTS, [created])]
    )
    make_transient_to_detached(c)
    session.add(c)
    if query is not None:
        query.consultation_id = c.id
    entry = audit.entry_row(
        actor,
        "consultation.create",
        "consultation",
        c.id,
        audit.snapshot(c, ["reference", "municipality_id", "channel", "priority", "service_id"])
        | {"assistant_query_id": str(data.assistant_query_id) if data.assistant_query_id else None},
    )
    await make_way()
    event = await notices.received(session, c, actor, code)
    # The number last (see `_number`): nothing may follow it in the transaction but the COMMIT.
    year = received_at.astimezone(MADRID).year
    await _number(session, c, year, entry, event.event_id if event is not None else None)
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
