"""Consultations: intake, list and search, lifecycle, thread, history, public tracking."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Query, Request, Response

from app.core.db import SessionDep, SettingsDep, read_only
from app.core.deps import CurrentActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.redis import RedisDep
from app.core.responses import page_response
from app.core.routing import ApiRoute, ApiRouter
from app.models.area import Channel
from app.models.audit import ActorType
from app.models.consultation import Consultation, ConsultationStatus, Priority, SlaState
from app.schemas.base import Instant
from app.schemas.consultations import (
    AccessCodeResponse,
    ConsultationCreate,
    ConsultationCreated,
    ConsultationEventPublic,
    ConsultationPublic,
    ConsultationUpdate,
    MessageCreate,
    MessagePublic,
    PublicTracking,
    TransitionRequest,
)
from app.services.consultations import intake, lifecycle, search, thread, tracking

router = ApiRouter(tags=["consultations"], route_class=ApiRoute)

IfMatch = Annotated[
    str | None,
    Header(description="ETag de la versión que se modifica (control de concurrencia)"),
]


def _public(c: Consultation, response: Response) -> ConsultationPublic:
    response.headers["ETag"] = lifecycle.etag(c)
    return ConsultationPublic.model_validate(c)


@router.post(
    "/consultations",
    operation_id="consultations_create",
    summary="Registrar una consulta",
    status_code=201,
    response_model=ConsultationCreated,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_consultation(
    data: ConsultationCreate, session: SessionDep, actor: CurrentActor, response: Response
) -> ConsultationCreated:
    """A municipality asks through the web; the office records phone, e-mail, in-person and
    video-call intake on its behalf, with the real reception time. The answer carries the
    reference and the tracking code (shown only once)."""
    c, code = await intake.create(session, actor, data)
    public = _public(c, response)
    response.headers["Location"] = f"/api/v1/consultations/{c.id}"
    return ConsultationCreated(**public.model_dump(), access_code=code)


@router.get(
    "/consultations",
    operation_id="consultations_list",
    summary="Listar y buscar consultas",
    response_model=Page[ConsultationPublic],
    responses=problem_responses(400, 401, 422),
)
@read_only
async def list_consultations(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    status: Annotated[list[ConsultationStatus] | None, Query()] = None,
    open_only: Annotated[bool, Query(description="Solo las no cerradas")] = False,
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    municipality_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    priority: Priority | None = None,
    assignee_id: uuid.UUID | None = None,
    sla_state: Annotated[list[SlaState] | None, Query()] = None,
    received_from: Instant | None = None,
    received_to: Instant | None = None,
    q: Annotated[
        str | None,
        Query(min_length=2, max_length=200, description="Texto libre (español, sin tildes)"),
    ] = None,
    sort: Annotated[
        str,
        Query(
            pattern="^(-received_at|resolution_due_at)$",
            description="-received_at (recientes primero) o resolution_due_at (cola de triaje)",
        ),
    ] = "-received_at",
) -> Response:
    """Scoped to the caller; with `q`, ranked by relevance."""
    filters = search.ListFilters(
        status=status,
        open_only=open_only,
        area_id=area_id,
        service_id=service_id,
        municipality_id=municipality_id,
        channel=channel,
        priority=priority,
        assignee_id=assignee_id,
        sla_state=sla_state,
        received_from=received_from,
        received_to=received_to,
        q=q,
    )
    rows, cursor = await search.list_consultations(session, actor, page, filters, sort)
    return page_response(ConsultationPublic, rows, cursor)


@router.get(
    "/consultations/{consultation_id}",
    operation_id="consultations_get",
    summary="Consultar una consulta",
    response_model=ConsultationPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_consultation(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor, response: Response
) -> ConsultationPublic:
    """One consultation, with its ETag."""
    return _public(await lifecycle.get(session, actor, consultation_id), response)


@router.patch(
    "/consultations/{consultation_id}",
    operation_id="consultations_update",
    summary="Modificar una consulta",
    response_model=ConsultationPublic,
    responses=problem_responses(401, 403, 404, 412, 415, 422, 428),
)
async def update_consultation(
    consultation_id: uuid.UUID,
    data: ConsultationUpdate,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> ConsultationPublic:
    """Subject, service, priority, assignee, requester and a legal term fixed for this
    consultation (`sla_override`, null to go back to the policy's); requires If-Match (412 when
    stale). A new priority, service or legal term recomputes the due dates."""
    c = await lifecycle.update(session, actor, consultation_id, data, if_match)
    return _public(c, response)


@router.post(
    "/consultations/{consultation_id}/transitions",
    operation_id="consultations_transition",
    summary="Cambiar el estado de una consulta",
    response_model=ConsultationPublic,
    responses=problem_responses(401, 404, 409, 412, 415, 422),
)
async def transition_consultation(
    consultation_id: uuid.UUID,
    data: TransitionRequest,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> ConsultationPublic:
    """Moves the consultation along its lifecycle; an illegal move is 409 listing the allowed
    ones. Waiting on the municipality pauses the SLA clock; leaving it extends the due dates."""
    c = await lifecycle.transition(session, actor, consultation_id, data, if_match)
    return _public(c, response)


@router.get(
    "/consultations/{consultation_id}/messages",
    operation_id="consultations_messages_list",
    summary="Hilo de mensajes",
    response_model=Page[MessagePublic],
    responses=problem_responses(400, 401, 404, 422),
)
async def list_messages(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor, page: PageDep
) -> Page[MessagePublic]:
    """Oldest first; municipalities see public replies only, never internal notes."""
    rows, cursor = await thread.list_messages(session, actor, consultation_id, page)
    return Page.of(MessagePublic, rows, cursor)


@router.post(
    "/consultations/{consultation_id}/messages",
    operation_id="consultations_messages_create",
    summary="Responder o añadir una nota interna",
    status_code=201,
    response_model=MessagePublic,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def add_message(
    consultation_id: uuid.UUID, data: MessageCreate, session: SessionDep, actor: CurrentActor
) -> MessagePublic:
    """A public reply (the first one from the office is the first response) or an internal
    note (office and áreas only). A municipality's reply resumes a paused consultation."""
    message = await thread.add_message(session, actor, consultation_id, data)
    return MessagePublic.model_validate(message)


@router.get(
    "/consultations/{consultation_id}/history",
    operation_id="consultations_history",
    summary="Historial de la consulta",
    response_model=Page[ConsultationEventPublic],
    responses=problem_responses(400, 401, 404, 422),
)
async def consultation_history(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor, page: PageDep
) -> Page[ConsultationEventPublic]:
    """Every transition and change, timestamped and attributed (internal ones for staff only)."""
    rows, cursor = await lifecycle.history(session, actor, consultation_id, page)
    return Page.of(ConsultationEventPublic, rows, cursor)


@router.post(
    "/consultations/{consultation_id}/access-code",
    operation_id="consultations_access_code",
    summary="Renovar el código de seguimiento",
    response_model=AccessCodeResponse,
    responses=problem_responses(401, 403, 404, 422),
)
async def regenerate_access_code(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> AccessCodeResponse:
    """Issues a new tracking code; the previous one stops working."""
    c, code = await intake.regenerate_access_code(session, actor, consultation_id)
    return AccessCodeResponse(reference=c.reference, access_code=code)


@router.get(
    "/public/consultations/{reference}",
    operation_id="public_consultation_track",
    summary="Seguimiento sin registro",
    response_model=PublicTracking,
    responses=problem_responses(404, 422, 429),
    tags=["public"],
)
async def track_consultation(
    reference: str,
    code: Annotated[str, Query(min_length=4, max_length=32, description="Código de seguimiento")],
    request: Request,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> PublicTracking:
    """Status, dates and public replies of a consultation for whoever holds its reference and
    access code. Unknown references and wrong codes get the same answer; rate-limited."""
    c, events, replies = await tracking.track_public(
        session,
        redis,
        settings,
        reference=reference,
        code=code,
        client_ip=request.client.host if request.client else None,
    )
    return PublicTracking(
        reference=c.reference,
        status=ConsultationStatus(c.status),
        subject=c.subject,
        received_at=c.received_at,
        first_response_due_at=c.first_response_due_at,
        resolution_due_at=c.resolution_due_at,
        answered_at=c.answered_at,
        closed_at=c.closed_at,
        history=[
            ConsultationEventPublic(
                id=e.id or 0,
                occurred_at=e.occurred_at,
                actor_type=ActorType(e.actor_type),
                actor_label=None,
                kind=e.kind,
                from_status=ConsultationStatus(e.from_status) if e.from_status else None,
                to_status=ConsultationStatus(e.to_status) if e.to_status else None,
                data={},
            )
            for e in events
        ],
        replies=[
            MessagePublic(
                id=m.id,
                visibility=m.visibility,  # type: ignore[arg-type]
                author_label="Oficina de Atención a Alcaldes" if m.from_office else "Municipio",
                from_office=m.from_office,
                body=m.body,
                created_at=m.created_at,
            )
            for m in replies
        ],
    )
