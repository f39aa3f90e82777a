"""Training actions (formación), their sessions and attendance."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import (
    CheckConstraint,
    Numeric,
    Text,
)
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class TrainingAction(SQLModel, table=True):
    """A training action (formación) for mayors, municipal staff or área staff."""

    __tablename__ = "training_action"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "La acción formativa"
    __table_args__ = (
        CheckConstraint("modality IN ('in_person', 'online', 'hybrid')", name="modality_values"),
    )

    id: uuid.UUID = id_field()
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=Text)
    audience: str = Field(max_length=200)
    modality: str = Field(max_length=16)
    hours: Decimal = Field(sa_type=Numeric(6, 2))
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    starts_on: date | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TrainingSession(SQLModel, table=True):
    __tablename__ = "training_session"

    id: uuid.UUID = id_field()
    training_id: uuid.UUID = Field(foreign_key="training_action.id", ondelete="CASCADE", index=True)
    starts_at: datetime = aware_datetime_field(nullable=False)
    ends_at: datetime = aware_datetime_field(nullable=False)
    location: str | None = Field(default=None, max_length=300)


class TrainingAttendance(SQLModel, table=True):
    __tablename__ = "training_attendance"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id")

    id: uuid.UUID = id_field()
    training_id: uuid.UUID = Field(foreign_key="training_action.id", ondelete="CASCADE", index=True)
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id")
    role: str = Field(max_length=100)
    attended_hours: Decimal = Field(sa_type=Numeric(6, 2))
    name: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at_field()
