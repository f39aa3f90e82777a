"""Announcements (drafts, publication, scoped reading, read acknowledgement, public list) and
the quarterly newsletter."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.core.db import SessionDep, read_only
from app.core.deps import CurrentActor, OfficeActor, OptionalActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter
from app.models.calendar import EntryStatus
from app.schemas.announcements import (
    AnnouncementCreate,
    AnnouncementPublic,
    AnnouncementUpdate,
    PublicAnnouncement,
    ReadReceipt,
    ReadReport,
    UnreadCount,
)
from app.schemas.newsletter import DispatchResult, Newsletter
from app.services import announcements as service
from app.services import newsletter

router = ApiRouter(tags=["announcements"], route_class=ApiRoute)

URL = "/announcements"


@router.post(
    URL,
    operation_id="announcements_create",
    summary="Redactar un comunicado",
    status_code=201,
    response_model=AnnouncementPublic,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_announcement(
    data: AnnouncementCreate, session: SessionDep, actor: CurrentActor, response: Response
) -> AnnouncementPublic:
    """A draft from the office or an área (área staff only for their own área)."""
    a = await service.create(session, actor, data)
    response.headers["Location"] = f"/api/v1{URL}/{a.id}"
    return (await service.render(session, actor, [a]))[0]


@router.get(
    URL,
    operation_id="announcements_list",
    summary="Listar comunicados",
    response_model=Page[AnnouncementPublic],
    responses=problem_responses(400, 401, 422),
)
@read_only
async def list_announcements(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    status: EntryStatus | None = None,
    area_id: uuid.UUID | None = None,
    unread_only: Annotated[
        bool, Query(description="Solo los no leídos por su municipio (usuarios municipales)")
    ] = False,
    q: Annotated[
        str | None, Query(min_length=2, max_length=200, description="Texto del título")
    ] = None,
) -> Page[AnnouncementPublic]:
    """Scoped to the caller, newest first."""
    filters = service.ListFilters(status=status, area_id=area_id, unread_only=unread_only, q=q)
    rows, cursor = await service.list_announcements(session, actor, page, filters)
    return Page(items=await service.render(session, actor, rows), next_cursor=cursor)


@router.get(
    f"{URL}/unread-count",
    operation_id="announcements_unread_count",
    summary="Número de comunicados no leídos por su municipio",
    response_model=UnreadCount,
    responses=problem_responses(401, 403),
)
@read_only
async def unread_count(session: SessionDep, actor: CurrentActor) -> UnreadCount:
    """Published announcements addressed to the caller's municipality that it has not read."""
    return await service.unread_count(session, actor)


@router.get(
    f"{URL}/{{announcement_id}}",
    operation_id="announcements_get",
    summary="Consultar un comunicado",
    response_model=AnnouncementPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_announcement(
    announcement_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> AnnouncementPublic:
    """One announcement the caller may see."""
    a = await service.get(session, actor, announcement_id)
    return (await service.render(session, actor, [a]))[0]


@router.patch(
    f"{URL}/{{announcement_id}}",
    operation_id="announcements_update",
    summary="Modificar un comunicado",
    response_model=AnnouncementPublic,
    responses=problem_responses(401, 403, 404, 409, 415, 422),
)
async def update_announcement(
    announcement_id: uuid.UUID,
    data: AnnouncementUpdate,
    session: SessionDep,
    actor: CurrentActor,
) -> AnnouncementPublic:
    """Text changes any time; the audience only while a draft."""
    a = await service.update(session, actor, announcement_id, data)
    return (await service.render(session, actor, [a]))[0]


@router.post(
    f"{URL}/{{announcement_id}}/publish",
    operation_id="announcements_publish",
    summary="Publicar un comunicado",
    response_model=AnnouncementPublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def publish_announcement(
    announcement_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentActor,
) -> AnnouncementPublic:
    """Publishes a draft and notifies the addressed municipalities (once: again is 409)."""
    a, _ = await service.publish(session, actor, announcement_id)
    return (await service.render(session, actor, [a]))[0]


@router.post(
    f"{URL}/{{announcement_id}}/read",
    operation_id="announcements_mark_read",
    summary="Confirmar la lectura de un comunicado",
    response_model=ReadReceipt,
    responses=problem_responses(401, 403, 404, 422),
)
async def mark_read(
    announcement_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> ReadReceipt:
    """The caller's municipality acknowledges it; repeating keeps the first reading time."""
    return await service.mark_read(session, actor, announcement_id)


@router.get(
    f"{URL}/{{announcement_id}}/reads",
    operation_id="announcements_reads",
    summary="Informe de lectura de un comunicado",
    response_model=ReadReport,
    responses=problem_responses(401, 403, 404, 422),
)
async def read_report(
    announcement_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> ReadReport:
    """Every addressed municipality with when it read the announcement (null: not yet)."""
    return await service.read_report(session, actor, announcement_id)


@router.get(
    "/public/announcements",
    operation_id="announcements_public_list",
    summary="Listar los comunicados públicos",
    response_model=Page[PublicAnnouncement],
    responses=problem_responses(400, 422),
)
async def list_public_announcements(session: SessionDep, page: PageDep) -> Page[PublicAnnouncement]:
    """Published public announcements, without login."""
    rows, cursor = await service.list_public(session, page)
    return Page.of(PublicAnnouncement, rows, cursor)


# ---- quarterly newsletter -------------------------------------------------------------------

Quarter = Annotated[
    str,
    Path(pattern=newsletter.QUARTER_PATTERN, description="Trimestre AAAA-Qn, p. ej. 2026-Q4"),
]


def _wants_html(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "html"
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept:
        return False
    # JSON wins when the client lists it first (or alone): only an explicit preference for
    # HTML over JSON switches the format.
    html_at = accept.find("text/html")
    json_at = accept.find("application/json")
    return json_at == -1 or html_at < json_at


@router.get(
    "/newsletters/{quarter}",
    operation_id="newsletters_get",
    summary="Boletín trimestral",
    response_model=Newsletter,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problem_responses(401, 422),
    },
)
async def get_newsletter(
    quarter: Quarter,
    request: Request,
    session: SessionDep,
    actor: OptionalActor,
    fmt: Annotated[
        Literal["json", "html"] | None,
        Query(alias="format", description="json o html (por defecto, según Accept)"),
    ] = None,
) -> Any:
    """The quarter's published announcements, events, participation and grant calls that the
    caller may see (public ones without login), as JSON or accessible HTML."""
    digest = await newsletter.build(session, actor, quarter)
    if _wants_html(request, fmt):
        return HTMLResponse(newsletter.render_html(digest), headers={"Vary": "Accept"})
    return JSONResponse(digest.model_dump(mode="json"), headers={"Vary": "Accept"})


@router.post(
    "/newsletters/{quarter}/send",
    operation_id="newsletters_send",
    summary="Enviar el boletín trimestral por correo",
    status_code=202,
    response_model=DispatchResult,
    responses=problem_responses(401, 403, 422),
)
async def send_newsletter(
    quarter: Quarter, session: SessionDep, actor: OfficeActor
) -> DispatchResult:
    """Queues the e-mail to every active municipal user, once per quarter and person; calling
    again creates no duplicates and re-queues what is still pending."""
    return await newsletter.queue_quarter(session, actor, quarter)
