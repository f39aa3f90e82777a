"""Satisfaction surveys on closed consultations, and suggestions from municipalities."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class SatisfactionSurvey(SQLModel, table=True):
    __tablename__ = "satisfaction_survey"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id", area="area_id")
    __table_args__ = (
        CheckConstraint("attention BETWEEN 1 AND 5", name="attention_range"),
        CheckConstraint("process BETWEEN 1 AND 5", name="process_range"),
        CheckConstraint("resolution BETWEEN 1 AND 5", name="resolution_range"),
    )

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", unique=True)
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id", index=True)
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id", index=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="catalogue_service.id")
    attention: int
    process: int
    resolution: int
    comment: str | None = Field(default=None, sa_type=Text)
    via_link: bool = False
    respondent_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    answered_at: datetime = created_at_field()


class SuggestionKind(StrEnum):
    suggestion = "suggestion"
    new_service = "new_service"


class SuggestionStatus(StrEnum):
    received = "received"
    under_review = "under_review"
    accepted = "accepted"
    rejected = "rejected"
    implemented = "implemented"


class Suggestion(SQLModel, table=True):
    __tablename__ = "suggestion"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id")
    __label__: ClassVar[str] = "La sugerencia"

    id: uuid.UUID = id_field()
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id", index=True)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    kind: str = Field(max_length=16)
    title: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    status: str = Field(default=SuggestionStatus.received, max_length=16, index=True)
    public_answer: str | None = Field(default=None, sa_type=Text)
    answered_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
