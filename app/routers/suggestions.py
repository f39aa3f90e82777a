"""Suggestions and requests for new services from the municipalities."""

from __future__ import annotations

import uuid

from app.core.db import SessionDep
from app.core.deps import CurrentActor, OfficeActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter
from app.models.survey import SuggestionKind, SuggestionStatus
from app.schemas.suggestions import SuggestionCreate, SuggestionPublic, SuggestionUpdate
from app.services import suggestions as suggestion_service

router = ApiRouter(tags=["suggestions"], route_class=ApiRoute)


@router.post(
    "/suggestions",
    operation_id="suggestions_create",
    summary="Enviar una sugerencia o pedir un servicio",
    status_code=201,
    response_model=SuggestionPublic,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_suggestion(
    data: SuggestionCreate, session: SessionDep, actor: CurrentActor
) -> SuggestionPublic:
    """Un municipio, para sí mismo; la oficina, indicando el municipio (municipality_id)."""
    suggestion = await suggestion_service.create_suggestion(session, actor, data)
    return SuggestionPublic.model_validate(suggestion)


@router.get(
    "/suggestions",
    operation_id="suggestions_list",
    summary="Listar sugerencias",
    response_model=Page[SuggestionPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_suggestions(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    status: SuggestionStatus | None = None,
    kind: SuggestionKind | None = None,
    municipality_id: uuid.UUID | None = None,
) -> Page[SuggestionPublic]:
    """Un municipio ve las suyas y la oficina todas, las más recientes antes."""
    rows, cursor = await suggestion_service.list_suggestions(
        session, actor, page, status=status, kind=kind, municipality_id=municipality_id
    )
    return Page(items=[SuggestionPublic.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/suggestions/{suggestion_id}",
    operation_id="suggestions_get",
    summary="Consultar una sugerencia",
    response_model=SuggestionPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_suggestion(
    suggestion_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> SuggestionPublic:
    """Una sugerencia, si es del municipio de quien llama (o para la oficina)."""
    suggestion = await suggestion_service.get_suggestion(session, actor, suggestion_id)
    return SuggestionPublic.model_validate(suggestion)


@router.patch(
    "/suggestions/{suggestion_id}",
    operation_id="suggestions_update",
    summary="Tramitar o responder una sugerencia",
    response_model=SuggestionPublic,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
)
async def update_suggestion(
    suggestion_id: uuid.UUID, data: SuggestionUpdate, session: SessionDep, actor: OfficeActor
) -> SuggestionPublic:
    """La oficina cambia el estado y publica la respuesta (que fija answered_at)."""
    suggestion = await suggestion_service.update_suggestion(session, actor, suggestion_id, data)
    return SuggestionPublic.model_validate(suggestion)
