"""Satisfaction surveys on closed consultations: answers, signed links and aggregates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from app.core.db import SessionDep
from app.core.deps import CurrentActor, require_roles
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.redis import RedisDep
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import Actor
from app.schemas.base import Day
from app.schemas.surveys import (
    PublicSurveyInfo,
    SurveyAnswer,
    SurveyGroupBy,
    SurveyLink,
    SurveyPublic,
    SurveySummary,
)
from app.services import surveys as survey_service

router = ApiRouter(tags=["surveys"], route_class=ApiRoute)

SurveyReader = Annotated[Actor, Depends(require_roles("oaaa_staff", "area_staff"))]
Token = Annotated[
    str, Path(min_length=3, max_length=200, description="Token del enlace de la encuesta")
]
FromDate = Annotated[
    Day | None, Query(alias="from", description="Primer día (Europe/Madrid), incluido")
]
ToDate = Annotated[
    Day | None, Query(alias="to", description="Último día (Europe/Madrid), incluido")
]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/consultations/{consultation_id}/survey",
    operation_id="surveys_answer",
    summary="Responder la encuesta de una consulta",
    status_code=201,
    response_model=SurveyPublic,
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
)
async def answer_survey(
    consultation_id: uuid.UUID, data: SurveyAnswer, session: SessionDep, actor: CurrentActor
) -> SurveyPublic:
    """El municipio valora su consulta cerrada (1–5 en tres dimensiones), una sola vez."""
    survey = await survey_service.answer(session, actor, consultation_id, data)
    return SurveyPublic.model_validate(survey)


@router.get(
    "/consultations/{consultation_id}/survey-link",
    operation_id="surveys_link",
    summary="Enlace de la encuesta sin registro",
    response_model=SurveyLink,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def survey_link(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> SurveyLink:
    """El enlace firmado con el que el municipio puede responder sin iniciar sesión."""
    return await survey_service.link_for(session, actor, consultation_id)


@router.get(
    "/consultations/{consultation_id}/survey",
    operation_id="surveys_get",
    summary="Consultar la encuesta de una consulta",
    response_model=SurveyPublic,
    responses=problem_responses(401, 404, 422),
)
async def get_survey(
    consultation_id: uuid.UUID, session: SessionDep, actor: CurrentActor
) -> SurveyPublic:
    """La respuesta a la encuesta de una consulta visible para quien llama; 404 si no hay."""
    survey = await survey_service.get_for_consultation(session, actor, consultation_id)
    return SurveyPublic.model_validate(survey)


@router.get(
    "/public/surveys/{token}",
    operation_id="surveys_link_get",
    summary="Abrir el enlace de una encuesta",
    response_model=PublicSurveyInfo,
    responses=problem_responses(404, 422, 429),
)
async def link_info(
    token: Token, request: Request, session: SessionDep, redis: RedisDep
) -> PublicSurveyInfo:
    """Sin iniciar sesión: la consulta a la que se refiere el enlace y si ya se respondió."""
    return await survey_service.link_info(session, redis, token, _client_ip(request))


@router.post(
    "/public/surveys/{token}",
    operation_id="surveys_link_answer",
    summary="Responder una encuesta desde su enlace",
    status_code=201,
    response_model=SurveyPublic,
    responses=problem_responses(404, 409, 413, 415, 422, 429),
)
async def answer_by_link(
    token: Token, data: SurveyAnswer, request: Request, session: SessionDep, redis: RedisDep
) -> SurveyPublic:
    """Sin iniciar sesión, con el enlace recibido al cerrar la consulta; una sola vez."""
    survey = await survey_service.answer_by_link(session, redis, token, data, _client_ip(request))
    return SurveyPublic.model_validate(survey)


@router.get(
    "/surveys/summary",
    operation_id="surveys_summary",
    summary="Resultados agregados de las encuestas",
    response_model=SurveySummary,
    responses=problem_responses(401, 403, 422),
)
async def summary(
    session: SessionDep,
    actor: SurveyReader,
    group_by: SurveyGroupBy = SurveyGroupBy.area,
    from_date: FromDate = None,
    to_date: ToDate = None,
) -> SurveySummary:
    """Respuestas y media de cada dimensión por grupo y en total; un área ve solo las suyas."""
    return await survey_service.summary(session, actor, group_by, from_date, to_date)


@router.get(
    "/surveys",
    operation_id="surveys_list",
    summary="Listar encuestas respondidas",
    response_model=Page[SurveyPublic],
    responses=problem_responses(400, 401, 422),
)
async def list_surveys(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
) -> Page[SurveyPublic]:
    """Respuestas visibles para quien llama (su municipio, su área o todas), recientes antes."""
    rows, cursor = await survey_service.list_surveys(
        session,
        actor,
        page,
        municipality_id=municipality_id,
        area_id=area_id,
        service_id=service_id,
        from_date=from_date,
        to_date=to_date,
    )
    return Page(items=[SurveyPublic.model_validate(r) for r in rows], next_cursor=cursor)
