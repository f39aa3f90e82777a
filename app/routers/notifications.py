"""The notification feed of the person calling: list, unread count, read, stream, preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from app.core.db import SessionDep, get_sessionmaker, read_only
from app.core.deps import (
    STREAM_TICKET_SECONDS,
    BearerToken,
    CurrentActor,
    StreamActor,
    issue_stream_ticket,
)
from app.core.errors import invalid_field, problem_responses
from app.core.pagination import Page, PageDep
from app.core.redis import RedisDep
from app.core.routing import ApiRoute, ApiRouter
from app.models.notification import NotificationKind
from app.schemas.notifications import (
    DigestPublic,
    DigestUpdate,
    NotificationPublic,
    PreferenceItem,
    PreferencesPublic,
    StreamTicket,
    UnreadCount,
)
from app.services.notifications import digest, feed

router = ApiRouter(tags=["notifications"], route_class=ApiRoute)

MAX_ID = 2**63 - 1  # bigint identity


@router.get(
    "/notifications",
    operation_id="notifications_list",
    summary="Mis notificaciones",
    response_model=Page[NotificationPublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_notifications(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    unread_only: bool = False,
    kind: NotificationKind | None = None,
) -> Page[NotificationPublic]:
    """The caller's own notifications, newest first."""
    items, cursor = await feed.list_feed(session, actor, page, unread_only=unread_only, kind=kind)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/notifications/unread-count",
    operation_id="notifications_unread_count",
    summary="Número de notificaciones sin leer",
    response_model=UnreadCount,
    responses=problem_responses(401, 403),
)
@read_only
async def unread_count(session: SessionDep, actor: CurrentActor) -> UnreadCount:
    """How many of the caller's notifications are unread."""
    return UnreadCount(unread=await feed.unread_count(session, actor))


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="notifications_mark_read",
    summary="Marcar como leída",
    response_model=NotificationPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, actor: CurrentActor
) -> NotificationPublic:
    """Marks one of the caller's notifications read (idempotent)."""
    return await feed.mark_read(session, actor, notification_id)


@router.post(
    "/notifications/read-all",
    operation_id="notifications_mark_all_read",
    summary="Marcar todas como leídas",
    response_model=UnreadCount,
    responses=problem_responses(401, 403),
)
async def mark_all_read(session: SessionDep, actor: CurrentActor) -> UnreadCount:
    """Marks every unread notification of the caller read; answers the new unread count."""
    await feed.mark_all_read(session, actor)
    return UnreadCount(unread=0)


@router.get(
    "/notifications/stream",
    operation_id="notifications_stream",
    summary="Notificaciones en directo (SSE)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Flujo Server-Sent Events"},
        **problem_responses(401, 403, 422),
    },
)
async def stream(
    request: Request,
    actor: StreamActor,
    redis: RedisDep,
    last_event_id: Annotated[
        str | None,
        Header(
            max_length=feed.RESUME_MAX_LENGTH,
            description="El `id:` del último evento recibido, tal cual (reconexión)",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=feed.RESUME_MAX_LENGTH,
            description=(
                "Como Last-Event-ID, para clientes sin cabeceras; también un id de notificación "
                "(se tienen todas hasta él)"
            ),
        ),
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: `event: notification`, `data:` the notification, `id:` an opaque
    resume token. Reconnecting with it as `Last-Event-ID` (or `since`) sends what was missed,
    each notification once, even one with a lower id that committed meanwhile. A browser's
    `EventSource` authenticates with a single-use `ticket` instead of the bearer token."""
    user_id = feed.require_person(actor)
    if last_event_id is not None:
        field, where, value = "Last-Event-ID", "header", last_event_id
    else:
        field, where, value = "since", "query", since or "0"
    resume = feed.parse_resume(value.strip())
    if resume is None:
        raise invalid_field(
            field,
            "No es un identificador de reanudación válido: envíe el id del último evento",
            where,
        )
    generator = feed.stream(get_sessionmaker(), redis, user_id, resume, request.is_disconnected)
    return StreamingResponse(
        generator,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/notifications/stream-ticket",
    operation_id="notifications_stream_ticket",
    summary="Ticket para abrir el flujo en directo",
    response_model=StreamTicket,
    responses=problem_responses(401, 403),
)
async def create_stream_ticket(
    actor: CurrentActor, redis: RedisDep, token: BearerToken
) -> StreamTicket:
    """A single-use ticket, valid for 30 seconds, for `GET /notifications/stream?ticket=`."""
    feed.require_person(actor)
    ticket = await issue_stream_ticket(redis, token or "")
    return StreamTicket(ticket=ticket, expires_in=STREAM_TICKET_SECONDS)


@router.get(
    "/notifications/preferences",
    operation_id="notifications_preferences_get",
    summary="Mis preferencias de aviso",
    response_model=PreferencesPublic,
    responses=problem_responses(401, 403),
)
async def get_preferences(session: SessionDep, actor: CurrentActor) -> PreferencesPublic:
    """Which kinds reach the caller, in the app and by e-mail (default: everything)."""
    return PreferencesPublic(items=await feed.preferences(session, actor))


@router.put(
    "/notifications/preferences",
    operation_id="notifications_preferences_set",
    summary="Cambiar mis preferencias de aviso",
    response_model=PreferencesPublic,
    responses=problem_responses(401, 403, 415, 422),
)
async def set_preferences(
    items: list[PreferenceItem], session: SessionDep, actor: CurrentActor
) -> PreferencesPublic:
    """Sets the channels of the listed kinds; kinds not listed keep their setting."""
    return PreferencesPublic(items=await feed.set_preferences(session, actor, items))


@router.get(
    "/notifications/digest",
    operation_id="notifications_digest_get",
    summary="Mi resumen diario por correo",
    response_model=DigestPublic,
    responses=problem_responses(401, 403),
)
async def get_digest(session: SessionDep, actor: CurrentActor) -> DigestPublic:
    """Whether the caller gets one e-mail a day with the day's notifications."""
    user = await digest.get(session, actor)
    return DigestPublic(enabled=user.email_digest, hour=digest.HOUR)


@router.put(
    "/notifications/digest",
    operation_id="notifications_digest_set",
    summary="Elegir el resumen diario por correo",
    response_model=DigestPublic,
    responses=problem_responses(401, 403, 415, 422),
)
async def set_digest(data: DigestUpdate, session: SessionDep, actor: CurrentActor) -> DigestPublic:
    """With the digest on, the notifications that would arrive by e-mail (per-kind choices)
    arrive together each morning at 07:00 instead of one by one; the feed is unchanged."""
    user = await digest.set_enabled(session, actor, data.enabled)
    return DigestPublic(enabled=user.email_digest, hour=digest.HOUR)
