"""Request and response shapes of the trainings API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from app.models.calendar import Modality
from app.models.training import TrainingAction
from app.schemas.base import DECIMAL_TEXT, Day, Instant, PatchInput, StrictInput


class SessionIn(StrictInput):
    starts_at: Instant
    ends_at: Instant
    location: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _order(self) -> SessionIn:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("Las fechas de sesión deben llevar zona horaria")
        if self.ends_at < self.starts_at:
            raise ValueError("Una sesión no puede terminar antes de empezar")
        return self


class SessionPublic(SQLModel):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    location: str | None


class TrainingCreate(StrictInput):
    title: str = Field(min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    audience: str = Field(min_length=2, max_length=200, description="A quién se dirige")
    modality: Modality
    hours: Decimal = Field(
        gt=0,
        le=1000,
        max_digits=6,
        decimal_places=2,
        schema_extra={"json_schema_extra": DECIMAL_TEXT},
    )
    area_id: uuid.UUID | None = None
    starts_on: Day | None = None
    sessions: list[SessionIn] = Field(default_factory=list, max_length=200)


class TrainingUpdate(PatchInput):
    table_model = TrainingAction

    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    audience: str | None = Field(default=None, min_length=2, max_length=200)
    modality: Modality | None = None
    hours: Decimal | None = Field(
        default=None,
        gt=0,
        le=1000,
        max_digits=6,
        decimal_places=2,
        schema_extra={"json_schema_extra": DECIMAL_TEXT},
    )
    starts_on: Day | None = None
    sessions: list[SessionIn] | None = Field(
        default=None, max_length=200, description="Sustituye todas las sesiones"
    )


class TrainingPublic(SQLModel):
    id: uuid.UUID
    title: str
    description: str | None
    audience: str
    modality: str
    hours: Decimal
    area_id: uuid.UUID | None
    starts_on: date | None
    sessions: list[SessionPublic] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class AttendanceCreate(StrictInput):
    municipality_id: uuid.UUID
    role: str = Field(min_length=1, max_length=100, description="Cargo o puesto")
    attended_hours: Decimal = Field(
        ge=0,
        le=1000,
        max_digits=6,
        decimal_places=2,
        schema_extra={"json_schema_extra": DECIMAL_TEXT},
    )
    name: str | None = Field(default=None, max_length=200, description="Opcional")


class AttendancePublic(SQLModel):
    id: uuid.UUID
    training_id: uuid.UUID
    municipality_id: uuid.UUID | None
    role: str
    attended_hours: Decimal
    name: str | None
    created_at: datetime


class ImportRow(SQLModel):
    row: int = Field(description="Línea del fichero (la cabecera es la 1)")
    status: Literal["imported", "error"]
    errors: list[str] = Field(default_factory=list)


class ImportReport(SQLModel):
    imported: int
    failed: int
    rows: list[ImportRow]
