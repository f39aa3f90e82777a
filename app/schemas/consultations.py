"""Request and response shapes of the consultations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.models.area import Channel
from app.models.audit import ActorType
from app.models.base import (
    check_instant,
)
from app.models.consultation import (
    Consultation,
    ConsultationStatus,
    MessageVisibility,
    Priority,
    SlaState,
)
from app.schemas.base import Instant, PatchInput, StrictInput


class ConsultationCreate(StrictInput):
    subject: str = Field(min_length=3, max_length=300)
    body: str = Field(min_length=3, max_length=20000)
    municipality_id: uuid.UUID | None = Field(
        default=None, description="Obligatorio para el personal de la oficina"
    )
    channel: Channel | None = Field(
        default=None, description="web para municipios; teléfono, correo… para la oficina"
    )
    received_at: Instant | None = Field(
        default=None, description="Momento real de recepción (no futuro); por defecto, ahora"
    )
    service_id: uuid.UUID | None = None
    priority: Priority = Priority.normal
    requester_name: str | None = Field(default=None, max_length=200)
    requester_email: str | None = Field(default=None, max_length=254)
    requester_phone: str | None = Field(default=None, max_length=40)
    assistant_query_id: uuid.UUID | None = Field(
        default=None, description="Pregunta del asistente de la que nace esta consulta"
    )

    @field_validator("received_at")
    @classmethod
    def _instant(cls, v: datetime | None) -> datetime | None:
        return check_instant(v)


class ConsultationUpdate(PatchInput):
    table_model = Consultation

    subject: str | None = Field(default=None, min_length=3, max_length=300)
    service_id: uuid.UUID | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    requester_name: str | None = Field(default=None, max_length=200)
    requester_email: str | None = Field(default=None, max_length=254)
    requester_phone: str | None = Field(default=None, max_length=40)


class TransitionRequest(StrictInput):
    to: ConsultationStatus
    area_id: uuid.UUID | None = Field(default=None, description="Área destino al remitir")
    reason: str | None = Field(
        default=None, max_length=1000, description="Motivo (obligatorio al esperar al municipio)"
    )
    note: str | None = Field(default=None, max_length=5000, description="Nota interna opcional")


class MessageCreate(StrictInput):
    body: str = Field(min_length=1, max_length=20000)
    visibility: MessageVisibility = MessageVisibility.public


class ConsultationPublic(SQLModel):
    id: uuid.UUID
    reference: str
    municipality_id: uuid.UUID
    area_id: uuid.UUID | None
    service_id: uuid.UUID | None
    sla_policy_id: uuid.UUID | None
    channel: Channel
    priority: Priority
    status: ConsultationStatus
    waiting_reason: str | None
    subject: str
    body: str
    requester_name: str | None
    requester_email: str | None
    requester_phone: str | None
    created_by_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    received_at: datetime
    sla_started_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    paused_at: datetime | None
    sla_state: SlaState
    version: int
    created_at: datetime
    updated_at: datetime


class ConsultationCreated(ConsultationPublic):
    access_code: str = Field(
        description="Código de seguimiento sin registro; se muestra una sola vez"
    )


class ConsultationEventPublic(SQLModel):
    id: int
    occurred_at: datetime
    actor_type: ActorType
    actor_label: str | None
    kind: str
    from_status: ConsultationStatus | None
    to_status: ConsultationStatus | None
    data: dict[str, Any]


class MessagePublic(SQLModel):
    id: uuid.UUID
    visibility: MessageVisibility
    author_label: str | None
    from_office: bool
    body: str
    created_at: datetime


class AccessCodeResponse(SQLModel):
    reference: str
    access_code: str


class PublicTracking(SQLModel):
    """What anyone holding the reference and access code may see."""

    reference: str
    status: ConsultationStatus
    subject: str
    received_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    history: list[ConsultationEventPublic]
    replies: list[MessagePublic]
