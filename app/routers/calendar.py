"""Punto Informativo calendar: entries, occurrences in a range, registrations, iCalendar feeds."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

from fastapi import Header, Query, Response

from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.deps import CurrentActor, OptionalActor
from app.core.errors import problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import Actor
from app.models.calendar import EntryKind
from app.schemas.base import Instant
from app.schemas.calendar import (
    EntryCreate,
    EntryDetail,
    EntryPublic,
    EntryUpdate,
    FeedTokenCreate,
    FeedTokenCreated,
    FeedTokenPublic,
    OccurrenceList,
    RegistrationCreate,
    RegistrationPublic,
)
from app.services.calendar import agenda, entries, feeds, ical, registrations

router = ApiRouter(tags=["calendar"], route_class=ApiRoute)

ICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/calendar": {}},
        "description": "Calendario iCalendar (con `ETag`)",
        "headers": {
            "ETag": {"description": "Versión del calendario", "schema": {"type": "string"}}
        },
    },
    304: {"description": "Sin cambios desde la versión de `If-None-Match`"},
}
IfNoneMatch = Annotated[
    str | None,
    Header(description="ETag de la última versión recibida: si no ha cambiado, 304 sin cuerpo"),
]
# Calendar programs poll feeds (every hour or so, per REFRESH-INTERVAL); five minutes of
# freshness, then a conditional request that costs a 304 while nothing changed.
PUBLIC_CACHE = "public, max-age=300, must-revalidate"
PRIVATE_CACHE = "private, max-age=300, must-revalidate"


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against any of the listed tags, or `*`."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def _ics(body: bytes, filename: str, if_none_match: str | None, *, public: bool) -> Response:
    """The feed with a strong ETag of its bytes; 304 when the client already has them."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE}
    if not public:
        headers["Vary"] = "Authorization"
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(
        content=body,
        media_type=ical.MEDIA_TYPE,
        headers={**headers, "Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get(
    "/events",
    operation_id="events_list",
    summary="Consultar el calendario en un intervalo",
    response_model=OccurrenceList,
    responses=problem_responses(401, 403, 422),
)
async def list_events(
    session: SessionDep,
    actor: OptionalActor,
    from_: Annotated[Instant, Query(alias="from", description="Comienzo del intervalo")],
    to: Annotated[Instant, Query(description="Final del intervalo (máximo 400 días)")],
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    municipality_id: Annotated[
        uuid.UUID | None, Query(description="Entradas dirigidas a esa entidad (solo la oficina)")
    ] = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
    registered: Annotated[
        bool,
        Query(
            description="Solo las sesiones en las que su entidad tiene inscripciones activas "
            "(usuarios municipales)"
        ),
    ] = False,
) -> OccurrenceList:
    """Occurrences in the range, recurrences expanded, sorted by start; scoped to the caller."""
    filters = agenda.RangeFilters(
        start=from_,
        end=to,
        kind=kind,
        area_id=area_id,
        municipality_id=municipality_id,
        q=q,
        registered=registered,
    )
    return await agenda.list_occurrences(session, actor, filters)


@router.get(
    "/public/events",
    operation_id="public_events_list",
    summary="Calendario público",
    response_model=OccurrenceList,
    responses=problem_responses(422),
    tags=["public"],
)
async def list_public_events(
    session: SessionDep,
    from_: Annotated[Instant, Query(alias="from", description="Comienzo del intervalo")],
    to: Annotated[Instant, Query(description="Final del intervalo (máximo 400 días)")],
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
) -> OccurrenceList:
    """Public, published entries without login, whoever asks (recurrences expanded)."""
    filters = agenda.RangeFilters(start=from_, end=to, kind=kind, area_id=area_id, q=q)
    return await agenda.list_occurrences(session, Actor.anonymous(), filters)


@router.post(
    "/events",
    operation_id="events_create",
    summary="Crear una entrada del calendario",
    status_code=201,
    response_model=EntryPublic,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_event(
    data: EntryCreate, session: SessionDep, actor: CurrentActor, response: Response
) -> EntryPublic:
    """Creates a draft entry (office: any área; área staff: their own)."""
    entry = await entries.create_entry(session, actor, data)
    response.headers["Location"] = f"/api/v1/events/{entry.id}"
    return await entries.entry_public(session, entry)


@router.get(
    "/events/{entry_id}.ics",
    operation_id="events_get_ics",
    summary="Descargar una entrada en formato iCalendar",
    response_class=Response,
    responses={**ICS_RESPONSE, **problem_responses(401, 404, 422)},
)
async def get_event_ics(
    entry_id: uuid.UUID,
    session: SessionDep,
    actor: OptionalActor,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One entry as an .ics file."""
    entry = await entries.get_entry(session, actor, entry_id)
    reminders = await entries.reminder_days(session, [entry])
    body = ical.render(
        [entry],
        base_url=get_settings().public_base_url,
        name=entry.title,
        reminders=reminders,
    )
    return _ics(body, f"{entry.id}.ics", if_none_match, public=False)


@router.get(
    "/events/{entry_id}",
    operation_id="events_get",
    summary="Consultar una entrada del calendario",
    response_model=EntryDetail,
    responses=problem_responses(401, 404, 422),
)
async def get_event(
    entry_id: uuid.UUID,
    session: SessionDep,
    actor: OptionalActor,
    occurrence_start: Annotated[
        Instant | None, Query(description="Sesión de una actividad periódica")
    ] = None,
) -> EntryDetail:
    """One entry with the registered and remaining places of an occurrence."""
    return await entries.entry_detail(session, actor, entry_id, occurrence_start)


@router.patch(
    "/events/{entry_id}",
    operation_id="events_update",
    summary="Modificar o cancelar una entrada del calendario",
    response_model=EntryPublic,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def update_event(
    entry_id: uuid.UUID, data: EntryUpdate, session: SessionDep, actor: CurrentActor
) -> EntryPublic:
    """Changes an entry; every change increments its iCalendar SEQUENCE."""
    entry = await entries.update_entry(session, actor, entry_id, data)
    return await entries.entry_public(session, entry)


@router.post(
    "/events/{entry_id}/publish",
    operation_id="events_publish",
    summary="Publicar una entrada del calendario",
    response_model=EntryPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def publish_event(
    entry_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> EntryPublic:
    """Publishes a draft to its audience."""
    entry = await entries.publish_entry(session, actor, entry_id)
    return await entries.entry_public(session, entry)


@router.post(
    "/events/{entry_id}/registrations",
    operation_id="events_register",
    summary="Inscribir a una persona en una actividad",
    status_code=201,
    response_model=RegistrationPublic,
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
)
async def create_registration(
    entry_id: uuid.UUID, data: RegistrationCreate, session: SessionDep, actor: CurrentActor
) -> RegistrationPublic:
    """Registers an attendee of the caller's municipality; a full activity answers 409."""
    reg = await registrations.register(session, actor, entry_id, data)
    return RegistrationPublic.model_validate(reg)


@router.get(
    "/events/{entry_id}/registrations",
    operation_id="events_registrations",
    summary="Listar las inscripciones de una actividad",
    response_model=list[RegistrationPublic],
    responses=problem_responses(401, 404, 422),
)
async def list_registrations(
    entry_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> list[RegistrationPublic]:
    """A municipality sees its own registrations; the office and the área all of them."""
    rows = await registrations.list_registrations(session, actor, entry_id)
    return [RegistrationPublic.model_validate(r) for r in rows]


@router.post(
    "/events/{entry_id}/registrations/{registration_id}/cancel",
    operation_id="events_registration_cancel",
    summary="Cancelar una inscripción",
    response_model=RegistrationPublic,
    responses=problem_responses(401, 404, 409, 422),
)
async def cancel_registration(
    entry_id: uuid.UUID, registration_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> RegistrationPublic:
    """Cancels a registration, freeing its place."""
    reg = await registrations.cancel_registration(session, actor, entry_id, registration_id)
    return RegistrationPublic.model_validate(reg)


@router.get(
    "/calendar.ics",
    operation_id="calendar_public_ics",
    summary="Calendario público en formato iCalendar",
    response_class=Response,
    responses={**ICS_RESPONSE, **problem_responses(422)},
)
async def public_feed(
    session: SessionDep,
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Public published entries (cancelled ones too, so subscribers drop them)."""
    entries, reminders = await agenda.feed_entries(
        session, Actor.anonymous(), kind=kind, area_id=area_id
    )
    body = ical.render(
        entries,
        base_url=get_settings().public_base_url,
        name="Punto Informativo — Diputación de Badajoz",
        reminders=reminders,
    )
    return _ics(body, "calendario.ics", if_none_match, public=True)


@router.post(
    "/calendar/feed-tokens",
    operation_id="calendar_feed_tokens_create",
    summary="Crear un enlace privado de suscripción al calendario",
    status_code=201,
    response_model=FeedTokenCreated,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_feed_token(
    session: SessionDep, actor: CurrentActor, data: FeedTokenCreate | None = None
) -> FeedTokenCreated:
    """A private feed URL for the caller's municipality, shown only once."""
    return await feeds.create_feed_token(session, actor, data or FeedTokenCreate())


@router.get(
    "/calendar/feed-tokens",
    operation_id="calendar_feed_tokens_list",
    summary="Listar los enlaces privados del calendario",
    response_model=list[FeedTokenPublic],
    responses=problem_responses(401),
)
async def list_feed_tokens(session: SessionDep, actor: CurrentActor) -> list[FeedTokenPublic]:
    """Active feed links of the caller's municipality (without their secret)."""
    rows = await feeds.list_feed_tokens(session, actor)
    return [FeedTokenPublic.model_validate(r) for r in rows]


@router.delete(
    "/calendar/feed-tokens/{token_id}",
    operation_id="calendar_feed_tokens_revoke",
    summary="Revocar un enlace privado del calendario",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_feed_token(
    token_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> Response:
    """Revokes a feed link: its URL answers 404 from now on."""
    await feeds.revoke_feed_token(session, actor, token_id)
    return Response(status_code=204)


@router.get(
    "/calendar/{token}.ics",
    operation_id="calendar_private_ics",
    summary="Calendario privado de una entidad en formato iCalendar",
    response_class=Response,
    responses={**ICS_RESPONSE, **problem_responses(404, 422)},
)
async def private_feed(
    token: str,
    session: SessionDep,
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """What is addressed to the token's municipality; unknown or revoked tokens answer 404."""
    actor = await feeds.feed_actor(session, token)
    entries, reminders = await agenda.feed_entries(session, actor, kind=kind, area_id=area_id)
    body = ical.render(
        entries,
        base_url=get_settings().public_base_url,
        name="Punto Informativo — calendario de la entidad",
        reminders=reminders,
    )
    return _ics(body, "calendario.ics", if_none_match, public=False)
