"""The FAQ knowledge base and the assistant's questions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import ARRAY, Column, Computed, Index, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class FaqEntryBase(SQLModel):
    question: str = Field(min_length=5, max_length=500)
    answer: str = Field(min_length=5, max_length=20000, sa_type=Text)
    area_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    tags: list[str] = Field(default_factory=list)
    is_published: bool = False


class FaqEntry(FaqEntryBase, table=True):
    __tablename__ = "faq_entry"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "La pregunta frecuente"
    __table_args__ = (
        Index("ix_faq_entry_search", "search_vector", postgresql_using="gin"),
        Index(
            "ix_faq_entry_question_trgm",
            "question_normalized",
            postgresql_using="gin",
            postgresql_ops={"question_normalized": "gin_trgm_ops"},
        ),
    )

    id: uuid.UUID = id_field()
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    service_id: uuid.UUID | None = Field(default=None, foreign_key="catalogue_service.id")
    tags: list[str] = Field(default_factory=list, sa_type=ARRAY(String(50)))
    # Lower-case, accent-free question: what trigram similarity compares against.
    question_normalized: str = Field(default="", max_length=500)
    search_vector: Any = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(question, ''))), 'A') || "
                "setweight(to_tsvector('spanish', oaaa_unaccent(oaaa_join_text(tags))), 'B')"
                " || setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(answer, ''))), 'C')",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Feedback(StrEnum):
    helpful = "helpful"
    not_helpful = "not_helpful"


class AssistantQuery(SQLModel, table=True):
    """A question put to the assistant: kept to measure deflection and grow the knowledge base."""

    __tablename__ = "assistant_query"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(office_only=True)
    __table_args__ = (Index("ix_assistant_query_unanswered", "answered", "created_at"),)

    id: uuid.UUID = id_field()
    question: str = Field(max_length=1000)
    answered: bool
    best_faq_id: uuid.UUID | None = Field(
        default=None, foreign_key="faq_entry.id", ondelete="SET NULL"
    )
    best_score: float | None = None
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id")
    user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    consultation_id: uuid.UUID | None = Field(default=None, foreign_key="consultation.id")
    feedback: str | None = Field(default=None, max_length=16)
    feedback_at: datetime | None = aware_datetime_field()
    resolved_by_faq_id: uuid.UUID | None = Field(
        default=None, foreign_key="faq_entry.id", ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
