"""Request and response shapes of the consultations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import ValidationInfo, field_validator
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
from app.models.sla import TERM_LIMITS, SlaUnit, term_limit_error
from app.schemas.base import Instant, Int32, PatchInput, StrictInput

TermTarget = Annotated[Int32, Ge(1), Le(max(TERM_LIMITS.values()))]


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


class SlaOverride(StrictInput):
    """A legal term fixed for this consultation (e.g. by a law or a resolution), replacing its
    SLA policy's resolution target and, when given, its first-response target."""

    unit: SlaUnit = Field(description="Unidad del plazo (días hábiles, horas hábiles…)")
    resolution_target: TermTarget = Field(description="Plazo de resolución en esa unidad")
    first_response_target: TermTarget | None = Field(
        default=None,
        description="Plazo de primera respuesta en esa unidad (vacío: el de la política)",
    )
    basis: str = Field(
        min_length=3, max_length=200, description="Fundamento legal, p. ej. «Art. 21.3 Ley 39/2015»"
    )

    @field_validator("basis")
    @classmethod
    def _basis(cls, v: str) -> str:
        v = v.strip()
        if len(v) < 3:
            raise ValueError("indique el fundamento legal del plazo")
        return v

    @field_validator("resolution_target", "first_response_target")
    @classmethod
    def _within_unit(cls, v: int | None, info: ValidationInfo) -> int | None:
        unit = info.data.get("unit")
        error = term_limit_error(unit, v) if unit is not None else None
        if error:
            raise ValueError(error)
        resolution = info.data.get("resolution_target")
        later = v is not None and resolution is not None and v > resolution
        if info.field_name == "first_response_target" and later:
            raise ValueError("la primera respuesta no puede vencer después de la resolución")
        return v


class SlaOverridePublic(SQLModel):
    unit: SlaUnit
    resolution_target: int
    first_response_target: int | None
    basis: str


class ConsultationUpdate(PatchInput):
    table_model = Consultation

    subject: str | None = Field(default=None, min_length=3, max_length=300)
    service_id: uuid.UUID | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    requester_name: str | None = Field(default=None, max_length=200)
    requester_email: str | None = Field(default=None, max_length=254)
    requester_phone: str | None = Field(default=None, max_length=40)
    sla_override: SlaOverride | None = Field(
        default=None,
        description="Plazo legal fijado para esta consulta en lugar del de su política;"
        " null lo retira",
    )


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
    sla_override: SlaOverridePublic | None = Field(
        description="Plazo legal fijado para esta consulta en lugar del de su política"
    )
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
