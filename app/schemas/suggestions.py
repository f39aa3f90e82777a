"""Request and response shapes of the suggestions API."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.survey import Suggestion, SuggestionKind, SuggestionStatus
from app.schemas.base import PatchInput, StrictInput


class SuggestionCreate(StrictInput):
    kind: SuggestionKind = SuggestionKind.suggestion
    title: str = Field(min_length=3, max_length=300)
    body: str = Field(min_length=3, max_length=20000)
    municipality_id: uuid.UUID | None = Field(
        default=None, description="Solo para la oficina; un municipio usa el suyo"
    )


class SuggestionUpdate(PatchInput):
    table_model = Suggestion

    status: SuggestionStatus | None = None
    public_answer: str | None = Field(default=None, max_length=20000)


class SuggestionPublic(SQLModel):
    id: uuid.UUID
    municipality_id: uuid.UUID
    kind: SuggestionKind
    title: str
    body: str
    status: SuggestionStatus
    public_answer: str | None
    answered_at: datetime | None
    created_at: datetime
    updated_at: datetime
