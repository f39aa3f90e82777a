"""FAQ knowledge base and the assistant that answers from it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from app.core.db import SessionDep
from app.core.deps import OfficeActor, OptionalActor, require_roles
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.redis import RedisDep
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import Actor
from app.schemas.base import Day
from app.schemas.faq import (
    AskRequest,
    AskResponse,
    AssistantQueryPublic,
    AssistantStats,
    FaqEntryCreate,
    FaqEntryPublic,
    FaqEntryUpdate,
    FeedbackRequest,
    FeedbackResponse,
)
from app.services import faq as faq_service

router = ApiRouter(tags=["faq"], route_class=ApiRoute)

FaqEditor = Annotated[Actor, Depends(require_roles("oaaa_staff", "area_staff"))]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get(
    "/faq",
    operation_id="faq_list",
    summary="Listar preguntas frecuentes",
    response_model=Page[FaqEntryPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_faq(
    session: SessionDep,
    actor: OptionalActor,
    page: PageDep,
    include_unpublished: Annotated[
        bool,
        Query(
            description="Incluir borradores: la oficina ve todos; el personal de un área, "
            "los de su área. Para el resto no tiene efecto"
        ),
    ] = False,
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    tag: Annotated[
        str | None,
        Query(
            min_length=1, max_length=50, description="Etiqueta (sin importar tildes ni mayúsculas)"
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Texto (sin importar tildes)"),
    ] = None,
) -> Page[FaqEntryPublic]:
    """Preguntas publicadas, por orden alfabético; filtros por área, servicio, etiqueta y texto."""
    rows, cursor = await faq_service.list_entries(
        session,
        actor,
        page,
        include_unpublished=include_unpublished,
        area_id=area_id,
        service_id=service_id,
        tag=tag,
        q=q,
    )
    return Page(items=[FaqEntryPublic.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/faq/{faq_id}",
    operation_id="faq_get",
    summary="Consultar una pregunta frecuente",
    response_model=FaqEntryPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_faq(faq_id: uuid.UUID, session: SessionDep, actor: OptionalActor) -> FaqEntryPublic:
    """Una pregunta; las no publicadas solo existen para quien puede editarlas."""
    return FaqEntryPublic.model_validate(await faq_service.get_entry(session, actor, faq_id))


@router.post(
    "/faq",
    operation_id="faq_create",
    summary="Crear una pregunta frecuente",
    status_code=201,
    response_model=FaqEntryPublic,
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def create_faq(data: FaqEntryCreate, session: SessionDep, actor: FaqEditor) -> FaqEntryPublic:
    """Añade una pregunta; el personal de un área, solo para su propia área."""
    return FaqEntryPublic.model_validate(await faq_service.create_entry(session, actor, data))


@router.patch(
    "/faq/{faq_id}",
    operation_id="faq_update",
    summary="Modificar una pregunta frecuente",
    response_model=FaqEntryPublic,
    responses=problem_responses(401, 403, 404, 413, 415, 422),
)
async def update_faq(
    faq_id: uuid.UUID, data: FaqEntryUpdate, session: SessionDep, actor: FaqEditor
) -> FaqEntryPublic:
    """Edita o (des)publica una pregunta; las de otra área no existen para el personal de área."""
    entry = await faq_service.update_entry(session, actor, faq_id, data)
    return FaqEntryPublic.model_validate(entry)


@router.post(
    "/assistant/ask",
    operation_id="assistant_ask",
    summary="Preguntar al asistente",
    description=(
        "Busca en la base de conocimiento y devuelve hasta tres respuestas publicadas con una "
        "puntuación de 0 a 1 que combina la búsqueda de texto completo (raíces en español, sin "
        "importar tildes ni mayúsculas) y la similitud por trigramas (tolera erratas). Si la "
        "mejor no alcanza el umbral de confianza, `answered` es falso y se ofrece "
        "`consultation_draft`, un borrador de consulta con la pregunta, listo para "
        "`POST /consultations`. Cada pregunta se guarda (`query_id`) para medir el desvío y "
        "ampliar la base de conocimiento. Límite: 30 preguntas por minuto y dirección "
        "(429 con `Retry-After`)."
    ),
    response_model=AskResponse,
    responses=problem_responses(401, 413, 415, 422, 429),
)
async def ask(
    data: AskRequest,
    request: Request,
    session: SessionDep,
    redis: RedisDep,
    actor: OptionalActor,
) -> AskResponse:
    """Responde con hasta tres preguntas frecuentes publicadas y su puntuación (0–1)."""
    return await faq_service.ask(session, redis, actor, data.question, _client_ip(request))


@router.post(
    "/assistant/queries/{query_id}/feedback",
    operation_id="assistant_feedback",
    summary="Valorar una respuesta del asistente",
    response_model=FeedbackResponse,
    responses=problem_responses(401, 404, 409, 413, 415, 422, 429),
)
async def feedback(
    query_id: uuid.UUID,
    data: FeedbackRequest,
    request: Request,
    session: SessionDep,
    redis: RedisDep,
    actor: OptionalActor,
) -> FeedbackResponse:
    """Indica si la respuesta fue útil; una sola vez por pregunta (la segunda, 409)."""
    return await faq_service.give_feedback(
        session, redis, actor, query_id, data.helpful, _client_ip(request)
    )


@router.get(
    "/assistant/unanswered",
    operation_id="assistant_unanswered",
    summary="Preguntas sin respuesta útil",
    response_model=Page[AssistantQueryPublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def unanswered(
    session: SessionDep, actor: OfficeActor, page: PageDep
) -> Page[AssistantQueryPublic]:
    """Preguntas sin respuesta o con respuesta valorada como no útil, las más recientes antes."""
    rows, cursor = await faq_service.list_unanswered(session, actor, page)
    return Page(items=[AssistantQueryPublic.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/assistant/stats",
    operation_id="assistant_stats",
    summary="Indicadores del asistente",
    description=(
        "Totales del periodo (días en hora de Madrid, ambos incluidos): preguntas recibidas "
        "(`total`), respondidas por encima del umbral (`answered`), valoradas como útiles y "
        "como no útiles, y convertidas en consulta (`converted`: la consulta se creó desde el "
        "borrador del asistente). **Tasa de desvío** (`deflection_rate`) = preguntas "
        "respondidas que no se valoraron como no útiles ni se convirtieron en consulta "
        "(`deflected`), dividido entre `total`; null si no hay preguntas."
    ),
    response_model=AssistantStats,
    responses=problem_responses(401, 403, 422),
)
async def stats(
    session: SessionDep,
    actor: OfficeActor,
    from_date: Annotated[
        Day | None, Query(alias="from", description="Primer día (Europe/Madrid), incluido")
    ] = None,
    to_date: Annotated[
        Day | None, Query(alias="to", description="Último día (Europe/Madrid), incluido")
    ] = None,
) -> AssistantStats:
    """Preguntas recibidas, respondidas, no útiles, convertidas en consulta y tasa de desvío."""
    return await faq_service.stats(session, actor, from_date, to_date)
