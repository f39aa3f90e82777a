"""Satisfaction surveys on closed consultations: answers, signed links and aggregates.

A survey rates three dimensions from 1 to 5 (attention received; process followed and
deadlines; problem resolution), once per consultation. The municipality answers it from the
platform or from a link that needs no login: the link's token is the consultation id plus an
HMAC of the id and the closing instant, so it cannot be forged and a consultation reopened and
closed again gets a new link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import String, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import crud
from app.core.config import get_settings
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import PageParams, paginate
from app.core.ratelimit import enforce_rate_limit
from app.core.scoping import Actor, get_visible, visible
from app.core.time import day_bounds
from app.models.area import Area, CatalogueService
from app.models.base import Role
from app.models.consultation import Consultation, ConsultationStatus
from app.models.municipality import Municipality
from app.models.survey import SatisfactionSurvey
from app.schemas.surveys import (
    PublicSurveyInfo,
    SurveyAnswer,
    SurveyGroupBy,
    SurveyLink,
    SurveySummary,
    SurveySummaryRow,
)
from app.services.faq import RATE_WINDOW_SECONDS

# Public survey-link requests per client address and minute.
LINK_LIMIT = 30

_LINK_NOT_FOUND = "La encuesta no existe o el enlace no es válido"


# ---- Tokens ---------------------------------------------------------------------------------


# A link shared by e-mail stays usable for a season, not forever.
SURVEY_LINK_LIFETIME = timedelta(days=90)


def _signature(consultation_id: uuid.UUID, closed_at: datetime) -> str:
    key = get_settings().jwt_secret.get_secret_value().encode()
    # In UTC whatever zone the caller's datetime carries, as the database returns it.
    message = f"survey:{consultation_id}:{closed_at.astimezone(UTC).isoformat()}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def survey_token(consultation_id: uuid.UUID, closed_at: datetime) -> str:
    """The token of the survey link of a consultation closed at `closed_at`."""
    return f"{consultation_id}.{_signature(consultation_id, closed_at)}"


async def _consultation_for_token(session: AsyncSession, token: str) -> Consultation:
    """The closed consultation a valid token points to; `NotFound` for anything else."""
    raw_id, sep, signature = token.partition(".")
    try:
        consultation_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound(_LINK_NOT_FOUND) from None
    if not sep or not signature:
        raise NotFound(_LINK_NOT_FOUND)
    # Not scoped: the signed token is the capability, checked just below.
    consultation = await session.get(Consultation, consultation_id)
    if (
        consultation is None
        or consultation.status != ConsultationStatus.closed
        or consultation.closed_at is None
    ):
        raise NotFound(_LINK_NOT_FOUND)
    expected = _signature(consultation.id, consultation.closed_at)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise NotFound(_LINK_NOT_FOUND)
    if datetime.now(UTC) > consultation.closed_at + SURVEY_LINK_LIFETIME:
        raise NotFound(_LINK_NOT_FOUND)
    return consultation


async def link_for(session: AsyncSession, actor: Actor, consultation_id: uuid.UUID) -> SurveyLink:
    """The survey link of a closed consultation, for the office or the municipality to share."""
    consultation = await get_visible(session, Consultation, consultation_id, actor)
    if not actor.can_ask:
        raise Forbidden("Su perfil no permite obtener el enlace de la encuesta")
    if consultation.status != ConsultationStatus.closed or consultation.closed_at is None:
        raise Conflict("La encuesta se habilita cuando la consulta está cerrada")
    token = survey_token(consultation.id, consultation.closed_at)
    return SurveyLink(token=token, url=survey_url(token))


def survey_url(token: str) -> str:
    """Where a survey is answered (the public API, or the web application that fronts it)."""
    return f"{get_settings().public_base_url.rstrip('/')}/api/v1/public/surveys/{token}"


# ---- Answers --------------------------------------------------------------------------------


async def _survey_of(
    session: AsyncSession, consultation_id: uuid.UUID
) -> SatisfactionSurvey | None:
    stmt = select(SatisfactionSurvey).where(
        col(SatisfactionSurvey.consultation_id) == consultation_id
    )
    return (await session.execute(stmt)).scalars().first()


async def _answer(
    session: AsyncSession,
    actor: Actor,
    consultation: Consultation,
    data: SurveyAnswer,
    *,
    via_link: bool,
) -> SatisfactionSurvey:
    if consultation.status != ConsultationStatus.closed:
        raise Conflict(
            "La encuesta de satisfacción solo puede responderse cuando la consulta está cerrada"
        )
    if await _survey_of(session, consultation.id) is not None:
        raise Conflict("La encuesta de esta consulta ya se ha respondido")
    survey = SatisfactionSurvey(
        consultation_id=consultation.id,
        municipality_id=consultation.municipality_id,
        area_id=consultation.area_id,
        service_id=consultation.service_id,
        attention=data.attention,
        process=data.process,
        resolution=data.resolution,
        comment=data.comment.strip() if data.comment and data.comment.strip() else None,
        via_link=via_link,
        respondent_id=actor.id if actor.role == Role.municipal_user else None,
    )
    # A concurrent answer trips the unique constraint: crud turns it into a 409 as well.
    return await crud.create(session, actor, survey, "satisfaction_survey")


async def answer(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, data: SurveyAnswer
) -> SatisfactionSurvey:
    """The municipality rates its closed consultation (once)."""
    consultation = await get_visible(session, Consultation, consultation_id, actor)
    if actor.role != Role.municipal_user:
        raise Forbidden("Solo el municipio de la consulta puede responder su encuesta")
    return await _answer(session, actor, consultation, data, via_link=False)


async def get_for_consultation(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> SatisfactionSurvey:
    await get_visible(session, Consultation, consultation_id, actor)
    survey = await _survey_of(session, consultation_id)
    if survey is None:
        raise NotFound("La encuesta de esta consulta no se ha respondido")
    return survey


async def link_info(
    session: AsyncSession, redis: Redis, token: str, client_ip: str | None
) -> PublicSurveyInfo:
    await enforce_rate_limit(redis, "survey-link", client_ip, LINK_LIMIT, RATE_WINDOW_SECONDS)
    consultation = await _consultation_for_token(session, token)
    assert consultation.closed_at is not None
    return PublicSurveyInfo(
        reference=consultation.reference,
        subject=consultation.subject,
        closed_at=consultation.closed_at,
        answered=await _survey_of(session, consultation.id) is not None,
    )


async def answer_by_link(
    session: AsyncSession, redis: Redis, token: str, data: SurveyAnswer, client_ip: str | None
) -> SatisfactionSurvey:
    """Whoever holds the signed link answers, without logging in (recorded as anonymous)."""
    await enforce_rate_limit(redis, "survey-link", client_ip, LINK_LIMIT, RATE_WINDOW_SECONDS)
    consultation = await _consultation_for_token(session, token)
    return await _answer(session, Actor.anonymous(), consultation, data, via_link=True)


async def list_surveys(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
) -> tuple[list[SatisfactionSurvey], str | None]:
    stmt = select(SatisfactionSurvey).where(visible(SatisfactionSurvey, actor))
    if municipality_id:
        stmt = stmt.where(col(SatisfactionSurvey.municipality_id) == municipality_id)
    if area_id:
        stmt = stmt.where(col(SatisfactionSurvey.area_id) == area_id)
    if service_id:
        stmt = stmt.where(col(SatisfactionSurvey.service_id) == service_id)
    start, end = day_bounds(from_date, to_date)
    if start:
        stmt = stmt.where(col(SatisfactionSurvey.answered_at) >= start)
    if end:
        stmt = stmt.where(col(SatisfactionSurvey.answered_at) < end)
    keys: list[Any] = [SatisfactionSurvey.answered_at, SatisfactionSurvey.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


# ---- Aggregates -----------------------------------------------------------------------------

_PERIOD_FORMATS = {
    SurveyGroupBy.month: "YYYY-MM",
    SurveyGroupBy.quarter: 'YYYY-"T"Q',
    SurveyGroupBy.year: "YYYY",
}
_NO_GROUP_LABELS = {
    SurveyGroupBy.area: "Sin área",
    SurveyGroupBy.service: "Sin servicio",
}


def _avg(column: Any) -> Any:
    # avg() of integers is numeric in PostgreSQL: round(numeric, 2) is exact.
    return func.round(func.avg(column), 2)


def _row(key: Any, label: Any, count: int, att: Any, proc: Any, res: Any) -> SurveySummaryRow:
    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return SurveySummaryRow(
        key=None if key is None else str(key),
        label=str(label),
        count=int(count),
        attention=num(att),
        process=num(proc),
        resolution=num(res),
    )


async def summary(
    session: AsyncSession,
    actor: Actor,
    group_by: SurveyGroupBy,
    from_date: date | None = None,
    to_date: date | None = None,
) -> SurveySummary:
    """Count and average of each dimension per group, plus the overall row (scoped)."""
    s = SatisfactionSurvey
    start, end = day_bounds(from_date, to_date)
    filters: list[Any] = [visible(s, actor)]
    if start:
        filters.append(col(s.answered_at) >= start)
    if end:
        filters.append(col(s.answered_at) < end)
    measures = [
        func.count(),
        _avg(col(s.attention)),
        _avg(col(s.process)),
        _avg(col(s.resolution)),
    ]

    if group_by in _PERIOD_FORMATS:
        local = func.timezone("Europe/Madrid", col(s.answered_at))
        period = func.to_char(local, _PERIOD_FORMATS[group_by])
        stmt: Any = (
            select(period, period, *measures).where(*filters).group_by(period).order_by(period)
        )
    else:
        groups: dict[SurveyGroupBy, tuple[Any, Any, Any]] = {
            SurveyGroupBy.area: (col(s.area_id), Area, col(Area.name)),
            SurveyGroupBy.service: (
                col(s.service_id),
                CatalogueService,
                col(CatalogueService.name),
            ),
            SurveyGroupBy.municipality: (
                col(s.municipality_id),
                Municipality,
                col(Municipality.name),
            ),
        }
        fk, model, name = groups[group_by]
        label = func.coalesce(name, literal(_NO_GROUP_LABELS.get(group_by, ""), String))
        stmt = (
            select(fk, label, *measures)
            .select_from(s)
            .outerjoin(model, model.id == fk)
            .where(*filters)
            .group_by(fk, name)
            .order_by(name.asc().nulls_last(), fk)
        )
    rows = [_row(*r) for r in (await session.execute(stmt)).all()]
    total = (await session.execute(select(*measures).select_from(s).where(*filters))).one()
    return SurveySummary(
        group_by=group_by,
        from_date=from_date,
        to_date=to_date,
        rows=rows,
        overall=_row(None, "Total", *total),
    )
