"""Consultations: intake from every channel, the lifecycle, the thread, search and tracking."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Float, cast, func, literal, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, queries, ratelimit
from app.core.config import Settings
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidCursor,
    InvalidTransition,
    NotFound,
    TooManyRequests,
    UnprocessableEntity,
)
from app.core.pagination import PageParams, decode_cursor, encode_cursor, paginate
from app.core.scoping import INTEGRATION_ROLE, Actor, get_visible, visible
from app.core.security import hash_password, verify_password
from app.core.time import MADRID
from app.models.area import Area, CatalogueService, Channel
from app.models.audit import ActorType
from app.models.base import Role
from app.models.consultation import (
    OPEN_STATUSES,
    Consultation,
    ConsultationCreate,
    ConsultationEvent,
    ConsultationMessage,
    ConsultationStatus,
    ConsultationUpdate,
    MessageCreate,
    MessageVisibility,
    Priority,
    ReferenceCounter,
    SlaState,
    TransitionRequest,
)
from app.models.faq import AssistantQuery
from app.models.municipality import Municipality
from app.models.notification import NotificationKind
from app.models.user import User
from app.services import sla
from app.services.notifications import outbox

S = ConsultationStatus

# The lifecycle. Reopening goes back to in_progress; waiting on the municipality pauses the SLA.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.received: (S.in_progress, S.forwarded, S.waiting_on_municipality, S.answered),
    S.in_progress: (S.forwarded, S.waiting_on_municipality, S.answered),
    S.forwarded: (S.in_progress, S.forwarded, S.waiting_on_municipality, S.answered),
    S.waiting_on_municipality: (S.in_progress, S.forwarded, S.answered),
    S.answered: (S.closed, S.in_progress),
    S.closed: (S.in_progress,),
}
# What each kind of caller may do on top of the lifecycle.
AREA_TARGETS = frozenset({S.in_progress, S.waiting_on_municipality, S.answered})
MUNICIPAL_TARGETS = frozenset({S.closed, S.in_progress})
OFFICE_INTAKE_CHANNELS = frozenset(Channel)

ACCESS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ACCESS_CODE_LENGTH = 10
# Logged calls may arrive a little after the clock of the device that records them.
RECEIVED_AT_TOLERANCE = timedelta(minutes=2)


def new_access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def etag(c: Consultation) -> str:
    return queries.version_etag(c.version)


def check_if_match(c: Consultation, if_match: str | None, *, required: bool) -> None:
    queries.check_if_match(c.version, if_match, required=required, what="la consulta")


def _is_staff(actor: Actor) -> bool:
    return actor.role in (Role.admin, Role.oaaa_staff, Role.area_staff)


async def _event(
    session: AsyncSession,
    c: Consultation,
    actor: Actor,
    kind: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    is_public: bool = True,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        ConsultationEvent(
            consultation_id=c.id,
            actor_type=actor.kind,
            actor_id=actor.id,
            actor_label=actor.label,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            is_public=is_public,
            data=audit.jsonable(data or {}),
        )
    )


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


async def _check_service(session: AsyncSession, service_id: uuid.UUID | None) -> None:
    if service_id is None:
        return
    service = await session.get(CatalogueService, service_id)
    if service is None or not service.is_active:
        raise UnprocessableEntity("El servicio indicado no existe o no está activo")


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
    elif actor.role in (Role.admin, Role.oaaa_staff):
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
    await _check_service(session, data.service_id)

    code = new_access_code()
    c = Consultation(
        reference=await next_reference(session, received_at.astimezone(MADRID).year),
        access_code_hash=hash_password(code),
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
    session.add(c)
    await session.flush()
    if data.assistant_query_id:
        # Only a question this caller asked (or asked without logging in) and not yet linked.
        query = await session.get(AssistantQuery, data.assistant_query_id)
        if (
            query is not None
            and query.consultation_id is None
            and query.user_id in (None, actor.id)
            and query.municipality_id in (None, municipality_id)
        ):
            query.consultation_id = c.id
        else:
            raise UnprocessableEntity("La pregunta del asistente indicada no puede vincularse")
    await _event(session, c, actor, "created", to_status=c.status, data={"channel": channel})
    await audit.record(
        session,
        actor,
        "consultation.create",
        "consultation",
        c.id,
        audit.snapshot(c, ["reference", "municipality_id", "channel", "priority", "service_id"])
        | {"assistant_query_id": str(data.assistant_query_id) if data.assistant_query_id else None},
    )
    return c, code


async def get(session: AsyncSession, actor: Actor, consultation_id: uuid.UUID) -> Consultation:
    return await get_visible(session, Consultation, consultation_id, actor)


async def _check_assignee(session: AsyncSession, c: Consultation, assignee_id: uuid.UUID) -> None:
    user = await session.get(User, assignee_id)
    ok = (
        user is not None
        and user.is_active
        and (
            user.role in (Role.admin, Role.oaaa_staff)
            or (user.role == Role.area_staff and user.area_id == c.area_id)
        )
    )
    if not ok:
        raise UnprocessableEntity(
            "Solo puede asignarse a personal de la oficina o del área que la tramita"
        )


async def update(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    data: ConsultationUpdate,
    if_match: str | None,
    now: datetime | None = None,
) -> Consultation:
    now = now or datetime.now(UTC)
    c = await get(session, actor, consultation_id)
    if not _is_staff(actor):
        raise Forbidden("Solo el personal de la oficina o del área puede modificar la consulta")
    check_if_match(c, if_match, required=True)
    patch = data.model_dump(exclude_unset=True)
    queries.reject_nulls(Consultation, patch)
    if "service_id" in patch:
        await _check_service(session, patch["service_id"])
    if patch.get("assignee_id") is not None:
        await _check_assignee(session, c, patch["assignee_id"])
    before = audit.snapshot(c, patch.keys())
    for field, value in patch.items():
        setattr(c, field, value)
    changes = audit.diff(before, audit.snapshot(c, patch.keys()))
    if not changes:
        return c
    if "priority" in changes or "service_id" in changes:
        await sla.recompute(session, c, now)
        changes["resolution_due_at"] = {"to": audit.jsonable(c.resolution_due_at)}
    c.version += 1
    if "assignee_id" in changes:
        await _event(
            session, c, actor, "assigned", is_public=False, data={"assignee_id": c.assignee_id}
        )
    if "priority" in changes or "service_id" in changes:
        await _event(session, c, actor, "sla_recomputed", data=changes)
    await session.flush()
    await audit.record(session, actor, "consultation.update", "consultation", c.id, changes)
    return c


def allowed_targets(c: Consultation, actor: Actor) -> list[str]:
    targets = set(TRANSITIONS.get(c.status, ()))
    if actor.role == Role.area_staff:
        targets &= AREA_TARGETS
    elif actor.role == Role.municipal_user:
        targets &= MUNICIPAL_TARGETS
        if c.status not in (S.answered, S.closed):
            targets = set()
    elif actor.role not in (Role.admin, Role.oaaa_staff):
        targets = set()
    return sorted(targets)


async def transition(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    req: TransitionRequest,
    if_match: str | None,
    now: datetime | None = None,
) -> Consultation:
    now = now or datetime.now(UTC)
    c = await get(session, actor, consultation_id)
    check_if_match(c, if_match, required=False)
    allowed = allowed_targets(c, actor)
    if req.to not in allowed:
        raise InvalidTransition(f"No se puede pasar de «{c.status}» a «{req.to}»", allowed=allowed)
    previous = c.status
    data: dict[str, Any] = {}
    if previous == S.waiting_on_municipality:
        await sla.resume(session, c, now)
        c.status_before_wait, c.waiting_reason = None, None
    if req.to == S.forwarded:
        if req.area_id is None:
            raise UnprocessableEntity("Indique el área a la que se remite la consulta")
        area = await session.get(Area, req.area_id)
        if area is None or not area.is_active:
            raise UnprocessableEntity("El área indicada no existe o no está activa")
        if c.area_id != area.id and c.assignee_id is not None:
            c.assignee_id = None  # the new área assigns its own people
        c.area_id = area.id
        data["area_id"], data["area"] = area.id, area.name
    elif req.area_id is not None:
        raise UnprocessableEntity("Solo se indica un área al remitir la consulta")
    if req.to == S.in_progress and previous == S.forwarded and actor.role == Role.area_staff:
        data["returned_by_area"] = c.area_id
    if req.to == S.waiting_on_municipality:
        if not req.reason or not req.reason.strip():
            raise UnprocessableEntity("Indique qué se espera del municipio (motivo)")
        c.status_before_wait = previous
        c.waiting_reason = req.reason.strip()
        data["reason"] = c.waiting_reason
    if req.to == S.answered:
        c.answered_at = now
        c.first_responded_at = c.first_responded_at or now
    if req.to == S.closed:
        c.closed_at = now
    if req.to == S.in_progress and previous in (S.answered, S.closed):
        c.answered_at, c.closed_at = None, None
        data["reopened"] = True
    c.status = req.to
    if req.to == S.waiting_on_municipality:
        await sla.pause(c, now)
    else:
        sla.apply_state(c, await sla.thresholds_for(session, c), now)
    c.version += 1
    kind = "reopened" if data.get("reopened") else "status_changed"
    await _event(session, c, actor, kind, from_status=previous, to_status=c.status, data=data)
    if req.note:
        # Staff notes stay internal; a municipality's note (closing, reopening) is a public
        # message of the municipality, visible to it and to the office.
        staff = _is_staff(actor)
        session.add(
            ConsultationMessage(
                consultation_id=c.id,
                visibility=MessageVisibility.internal if staff else MessageVisibility.public,
                author_type=actor.kind,
                author_id=actor.id,
                author_label=actor.label,
                from_office=staff,
                body=req.note,
            )
        )
    await session.flush()
    await audit.record(
        session,
        actor,
        "consultation.transition",
        "consultation",
        c.id,
        {"status": {"from": previous, "to": c.status}, **audit.jsonable(data)},
    )
    return c


async def list_messages(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, params: PageParams
) -> tuple[list[ConsultationMessage], str | None]:
    c = await get(session, actor, consultation_id)
    stmt = select(ConsultationMessage).where(col(ConsultationMessage.consultation_id) == c.id)
    if not _is_staff(actor):
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
    c = await get(session, actor, consultation_id)
    staff = _is_staff(actor)
    if actor.role == INTEGRATION_ROLE:
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
        await _event(
            session,
            c,
            actor,
            "status_changed",
            from_status=previous,
            to_status=c.status,
            data={"resumed_by_reply": True},
        )
    c.version += 1
    await _event(
        session, c, actor, "message_added", is_public=public, data={"visibility": data.visibility}
    )
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


async def history(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, params: PageParams
) -> tuple[list[ConsultationEvent], str | None]:
    c = await get(session, actor, consultation_id)
    stmt = select(ConsultationEvent).where(col(ConsultationEvent.consultation_id) == c.id)
    if not _is_staff(actor):
        stmt = stmt.where(col(ConsultationEvent.is_public).is_(True))
    keys: list[Any] = [ConsultationEvent.id]
    return await paginate(session, stmt, params, keys=keys)


async def regenerate_access_code(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> tuple[Consultation, str]:
    c = await get(session, actor, consultation_id)
    if actor.role not in (Role.admin, Role.oaaa_staff, Role.municipal_user):
        raise Forbidden("Su perfil no permite renovar el código de seguimiento")
    code = new_access_code()
    c.access_code_hash = hash_password(code)
    await session.flush()
    await audit.record(session, actor, "consultation.access_code", "consultation", c.id)
    return c, code


@dataclass(frozen=True)
class ListFilters:
    status: list[ConsultationStatus] | None = None
    open_only: bool = False
    area_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    municipality_id: uuid.UUID | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    sla_state: list[SlaState] | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None


SORTS = ("-received_at", "resolution_due_at")


async def list_consultations(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    filters: ListFilters,
    sort: str = "-received_at",
) -> tuple[list[Consultation], str | None]:
    stmt = select(Consultation).where(visible(Consultation, actor))
    f = filters
    if f.status:
        stmt = stmt.where(col(Consultation.status).in_([s.value for s in f.status]))
    if f.open_only:
        stmt = stmt.where(col(Consultation.status) != S.closed)
    stmt = queries.where_equal(
        stmt,
        [
            (Consultation.area_id, f.area_id),
            (Consultation.service_id, f.service_id),
            (Consultation.municipality_id, f.municipality_id),
            (Consultation.channel, f.channel),
            (Consultation.priority, f.priority),
            (Consultation.assignee_id, f.assignee_id),
        ],
    )
    if f.sla_state:
        stmt = stmt.where(col(Consultation.sla_state).in_([s.value for s in f.sla_state]))
    if f.received_from:
        stmt = stmt.where(col(Consultation.received_at) >= f.received_from)
    if f.received_to:
        stmt = stmt.where(col(Consultation.received_at) < f.received_to)
    if f.q:
        return await _ranked_search(session, stmt, params, f.q)
    if sort == "resolution_due_at":
        keys: list[Any] = [Consultation.resolution_due_at, Consultation.id]
        stmt = stmt.where(col(Consultation.resolution_due_at).is_not(None))
        return await paginate(session, stmt, params, keys=keys)
    keys = [Consultation.received_at, Consultation.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def _ranked_search(
    session: AsyncSession, stmt: Any, params: PageParams, q: str
) -> tuple[list[Consultation], str | None]:
    """Spanish full-text search (stemming, accents ignored), best matches first."""
    query = func.websearch_to_tsquery(cast(literal("spanish"), REGCONFIG), func.oaaa_unaccent(q))
    rank = cast(func.ts_rank_cd(col(Consultation.search_vector), query), Float)
    rank_key = func.round(cast(rank, Float) * 1_000_000)
    stmt = stmt.where(col(Consultation.search_vector).op("@@")(query)).add_columns(rank_key)
    keys: list[Any] = [Consultation.reference]  # fingerprint for cursors of ranked listings
    if params.cursor:
        try:
            raw = decode_cursor(params.cursor, keys, descending=True)
            last_rank, last_id = int(raw[0].split(":")[0]), uuid.UUID(raw[0].split(":")[1])
        except (ValueError, IndexError, AttributeError) as exc:
            raise InvalidCursor("El cursor no es válido para esta búsqueda") from exc
        stmt = stmt.where(
            tuple_(rank_key, col(Consultation.id)) < tuple_(literal(last_rank), literal(last_id))
        )
    stmt = stmt.order_by(rank_key.desc(), col(Consultation.id).desc()).limit(params.limit + 1)
    rows = list((await session.execute(stmt)).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last, last_rank_value = rows[-1][0], int(rows[-1][1])
        next_cursor = encode_cursor([f"{last_rank_value}:{last.id}"], keys, descending=True)
    return [r[0] for r in rows], next_cursor


async def find_by_reference(session: AsyncSession, reference: str) -> Consultation | None:
    stmt = select(Consultation).where(col(Consultation.reference) == reference.strip().upper())
    return (await session.execute(stmt)).scalars().first()


async def track(
    session: AsyncSession, reference: str, code: str
) -> tuple[Consultation, list[ConsultationEvent], list[ConsultationMessage]]:
    """Public tracking: the same NotFound for an unknown reference and a wrong code."""
    c = await find_by_reference(session, reference)
    ok = verify_password(normalise_code(code), c.access_code_hash if c else None)
    if c is None or not ok:
        raise NotFound("No hay ninguna consulta con esa referencia y ese código")
    events = (
        (
            await session.execute(
                select(ConsultationEvent)
                .where(
                    col(ConsultationEvent.consultation_id) == c.id,
                    col(ConsultationEvent.is_public).is_(True),
                    col(ConsultationEvent.to_status).is_not(None),
                )
                .order_by(col(ConsultationEvent.id))
            )
        )
        .scalars()
        .all()
    )
    replies = (
        (
            await session.execute(
                select(ConsultationMessage)
                .where(
                    col(ConsultationMessage.consultation_id) == c.id,
                    col(ConsultationMessage.visibility) == MessageVisibility.public,
                )
                .order_by(col(ConsultationMessage.created_at), col(ConsultationMessage.id))
            )
        )
        .scalars()
        .all()
    )
    return c, list(events), list(replies)


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


async def track_public(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    reference: str,
    code: str,
    client_ip: str | None,
) -> tuple[Consultation, list[ConsultationEvent], list[ConsultationMessage]]:
    """`track` behind two limits: look-ups per client address, and wrong codes per reference
    (which stops guessing one consultation's code from many addresses)."""
    ref = reference.strip().upper()[:40]
    await ratelimit.enforce_rate_limit(
        redis,
        "track-ip",
        client_ip,
        settings.public_tracking_max_per_ip,
        settings.public_tracking_window_seconds,
    )
    try:
        failures = await ratelimit.count(redis, "track-ref", ref)
    except RedisError:
        failures = 0
    if failures >= settings.public_tracking_max_failures_per_reference:
        raise TooManyRequests(
            "Demasiados códigos erróneos para esta referencia; inténtelo más tarde",
            headers={"Retry-After": str(await ratelimit.retry_after(redis, "track-ref", ref))},
        )
    try:
        return await track(session, ref, code)
    except NotFound:
        with contextlib.suppress(RedisError):
            await ratelimit.hit(redis, "track-ref", ref, 3600)
        raise


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


async def recompute_open(
    session: AsyncSession,
    *,
    municipality_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> int:
    """Recomputes due dates of open consultations after a calendar or policy change."""
    now = now or datetime.now(UTC)
    stmt = select(Consultation).where(col(Consultation.status).in_(list(OPEN_STATUSES)))
    if municipality_id is not None:
        stmt = stmt.where(col(Consultation.municipality_id) == municipality_id)
    if policy_id is not None:
        stmt = stmt.where(col(Consultation.sla_policy_id) == policy_id)
    if window is not None:
        start, end = window
        stmt = stmt.where(
            col(Consultation.sla_started_at) < end, col(Consultation.resolution_due_at) >= start
        )
    count = 0
    for c in (await session.execute(stmt)).scalars().all():
        before = (c.first_response_due_at, c.resolution_due_at)
        if c.paused_at is not None:
            continue  # recomputed on resumption
        await sla.recompute(session, c, now, reselect_policy=False)
        if (c.first_response_due_at, c.resolution_due_at) != before:
            c.version += 1
            count += 1
    await session.flush()
    return count
