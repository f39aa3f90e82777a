"""Request and response shapes of the FAQ assistant and its knowledge base."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models.area import Channel
from app.models.faq import FaqEntry, FaqEntryBase, Feedback
from app.schemas.base import Bool, PatchInput, StrictInput


class FaqEntryCreate(FaqEntryBase, StrictInput):
    pass


class FaqEntryUpdate(PatchInput):
    table_model = FaqEntry

    question: str | None = Field(default=None, min_length=5, max_length=500)
    answer: str | None = Field(default=None, min_length=5, max_length=20000)
    area_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    tags: list[str] | None = None
    is_published: Bool | None = None


class FaqEntryPublic(FaqEntryBase):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class AskRequest(StrictInput):
    question: str = Field(min_length=3, max_length=500, description="Pregunta en lenguaje natural")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("La pregunta debe tener al menos 3 caracteres")
        return value


class AskAnswer(BaseModel):
    faq_id: uuid.UUID
    question: str
    answer: str
    score: float = Field(ge=0, le=1, description="Confianza de la respuesta (0–1)")


class ConsultationDraft(BaseModel):
    """What to send to `POST /consultations` to ask the office instead."""

    subject: str
    body: str
    channel: Channel = Channel.assistant
    service_id: uuid.UUID | None = None
    assistant_query_id: uuid.UUID


class AskResponse(BaseModel):
    query_id: uuid.UUID = Field(description="Identificador para valorar la respuesta")
    answered: bool = Field(description="Si la mejor respuesta supera el umbral de confianza")
    answers: list[AskAnswer] = Field(description="Hasta tres respuestas, la mejor primero")
    message: str
    consultation_draft: ConsultationDraft | None = Field(
        default=None, description="Borrador de consulta cuando no hay respuesta fiable"
    )


class FeedbackRequest(StrictInput):
    helpful: Bool = Field(description="Si la respuesta resolvió la duda")


class FeedbackResponse(BaseModel):
    query_id: uuid.UUID
    feedback: Feedback
    feedback_at: datetime


class AssistantQueryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    question: str
    answered: bool
    best_faq_id: uuid.UUID | None
    best_score: float | None
    feedback: Feedback | None
    consultation_id: uuid.UUID | None
    municipality_id: uuid.UUID | None
    created_at: datetime


class AssistantStats(BaseModel):
    from_date: date | None
    to_date: date | None
    total: int = Field(description="Preguntas recibidas")
    answered: int = Field(description="Preguntas con respuesta por encima del umbral")
    helpful: int = Field(description="Valoradas como útiles")
    not_helpful: int = Field(description="Valoradas como no útiles")
    converted: int = Field(description="Convertidas en consulta a la oficina")
    deflected: int = Field(
        description="Respondidas, no valoradas como no útiles y no convertidas en consulta"
    )
    deflection_rate: float | None = Field(
        description="deflected / total (null si no hay preguntas)"
    )
