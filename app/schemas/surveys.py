"""Request and response shapes of the surveys API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, Field
from sqlmodel import SQLModel

from app.schemas.base import Int32, StrictInput


class SurveyGroupBy(StrEnum):
    area = "area"
    service = "service"
    municipality = "municipality"
    month = "month"
    quarter = "quarter"
    year = "year"


class SurveyAnswer(StrictInput):
    attention: Annotated[Int32, Ge(1), Le(5)] = Field(description="Atención recibida (1–5)")
    process: Annotated[Int32, Ge(1), Le(5)] = Field(description="Proceso seguido y plazos (1–5)")
    resolution: Annotated[Int32, Ge(1), Le(5)] = Field(description="Resolución del problema (1–5)")
    comment: str | None = Field(default=None, max_length=4000)


class SurveyPublic(SQLModel):
    id: uuid.UUID
    consultation_id: uuid.UUID
    attention: int
    process: int
    resolution: int
    comment: str | None
    answered_at: datetime


class SurveySummaryRow(BaseModel):
    key: str | None = Field(
        description="Identificador del grupo (id, o periodo AAAA-MM / AAAA-Tn / AAAA); "
        "null en la fila total y en «sin área/servicio»"
    )
    label: str = Field(description="Nombre legible del grupo")
    count: int
    attention: float | None = Field(description="Media de atención recibida (1–5)")
    process: float | None = Field(description="Media de proceso y plazos (1–5)")
    resolution: float | None = Field(description="Media de resolución del problema (1–5)")


class SurveySummary(BaseModel):
    group_by: SurveyGroupBy
    from_date: date | None
    to_date: date | None
    rows: list[SurveySummaryRow]
    overall: SurveySummaryRow


class PublicSurveyInfo(BaseModel):
    """What the holder of a survey link sees before answering."""

    reference: str
    subject: str
    closed_at: datetime
    answered: bool


class SurveyLink(BaseModel):
    token: str
    url: str = Field(description="Enlace para responder sin iniciar sesión")
