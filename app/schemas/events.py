"""The event catalogue: every notification kind with its payload, as webhook receivers get it.

The same document reaches every channel: the in-app feed shows it to people, e-mails render it
and webhooks carry it signed (Standard Webhooks). The catalogue is published in the OpenAPI
document's `webhooks` section and at `GET /api/v1/webhooks/event-types`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app.models.notification import NotificationKind as K


class ConsultationPayload(BaseModel):
    """A change in a consultation's life."""

    model_config = ConfigDict(extra="allow")

    consultation_id: uuid.UUID
    reference: str = Field(description="Referencia legible, p. ej. OAAA-2026-000123")
    subject: str
    status: str = Field(description="Estado de la consulta tras el cambio")
    area_id: uuid.UUID | None = Field(description="Área que la tramita, si la hay")
    area: str | None = Field(default=None, description="Nombre del área (remisiones)")
    reason: str | None = Field(
        default=None, description="Qué se espera del municipio (esperando al ayuntamiento)"
    )
    clock_paused: bool | None = Field(
        default=None, description="El plazo queda suspendido mientras se espera al municipio"
    )


class ConsultationSlaPayload(BaseModel):
    """A consultation's deadline is near (warning) or passed (breach)."""

    model_config = ConfigDict(extra="allow")

    reference: str
    clock: Literal["first_response", "resolution"]
    threshold: int | None = Field(description="Porcentaje del plazo consumido; null: vencido")
    due_at: datetime
    status: str
    priority: str


class ExpedientePayload(BaseModel):
    """A change in an expediente (its stage, documents or resolution) or its stall."""

    model_config = ConfigDict(extra="allow")

    expediente_id: uuid.UUID | None = Field(default=None)
    external_ref: str = Field(description="Referencia del expediente en el sistema del área")
    title: str | None = None
    status: str | None = None
    stage_code: str | None = Field(description="Fase actual")
    stage_name: str | None = None
    documents: list[str] | None = Field(default=None, description="Títulos añadidos")


class CalendarPayload(BaseModel):
    """A calendar entry: a grant call opened, an event changed or cancelled."""

    model_config = ConfigDict(extra="allow")

    entry_id: uuid.UUID
    entry_kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    application_opens_on: date | None = None
    application_closes_on: date | None = None
    changed: list[str] | None = Field(default=None, description="Campos que cambiaron")


class GrantCallClosingPayload(BaseModel):
    """A grant call closes in a few working days."""

    model_config = ConfigDict(extra="allow")

    closes_on: date
    working_days_before: int
    bulletin_url: str | None


class AnnouncementPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    announcement_id: uuid.UUID
    title: str


P = TypeVar("P", bound=BaseModel)


class EventData(BaseModel, Generic[P]):
    id: int = Field(description="Identificador del evento (el mismo en cada reintento)")
    kind: str = Field(description="Tipo de evento (véase el catálogo)")
    title: str
    body: str
    link: str | None = Field(description="Dirección del objeto en la aplicación web")
    entity_type: str
    entity_id: str
    municipality_id: uuid.UUID | None
    area_id: uuid.UUID | None
    occurred_at: datetime
    payload: P


class WebhookEvent(BaseModel, Generic[P]):
    """The body of a webhook delivery, signed with the `webhook-id`, `webhook-timestamp` and
    `webhook-signature` headers of Standard Webhooks."""

    type: str = Field(description="Tipo de evento")
    timestamp: datetime
    data: EventData[P]


class EventType(BaseModel):
    type: K
    title: str = Field(description="Qué ha pasado")
    recipients: str = Field(description="Quién recibe la notificación")
    payload_schema: str = Field(description="Esquema de `data.payload` en el documento OpenAPI")


# kind -> (what happened, who is told, payload model)
CATALOGUE: dict[K, tuple[str, str, type[BaseModel]]] = {
    K.consultation_received: (
        "Consulta registrada",
        "Personas del municipio (con el código de seguimiento, que los webhooks no llevan)",
        ConsultationPayload,
    ),
    K.consultation_replied: (
        "Respuesta pública de la oficina o del área",
        "Personas del municipio",
        ConsultationPayload,
    ),
    K.consultation_forwarded: (
        "Consulta remitida a un área",
        "Personas del municipio",
        ConsultationPayload,
    ),
    K.consultation_new_for_area: (
        "Nueva consulta remitida al área",
        "Personal del área",
        ConsultationPayload,
    ),
    K.consultation_assigned: (
        "Consulta asignada a una persona",
        "La persona asignada",
        ConsultationPayload,
    ),
    K.consultation_waiting_on_municipality: (
        "La consulta espera al ayuntamiento; el plazo queda suspendido",
        "Personas del municipio",
        ConsultationPayload,
    ),
    K.consultation_municipality_replied: (
        "El ayuntamiento escribe en la consulta",
        "Quien la tramita: la persona asignada, o el área, o la oficina",
        ConsultationPayload,
    ),
    K.consultation_answered: (
        "Consulta respondida",
        "Personas del municipio",
        ConsultationPayload,
    ),
    K.consultation_closed: (
        "Consulta cerrada (con la encuesta de satisfacción, que los webhooks no llevan)",
        "Personas del municipio y la persona asignada",
        ConsultationPayload,
    ),
    K.consultation_reopened: (
        "Consulta reabierta",
        "Personas del municipio y quien la tramita",
        ConsultationPayload,
    ),
    K.consultation_sla_warning: (
        "Plazo de la consulta próximo a vencer",
        "Oficina y área",
        ConsultationSlaPayload,
    ),
    K.consultation_sla_breached: (
        "Plazo de la consulta vencido",
        "Oficina, área y municipio",
        ConsultationSlaPayload,
    ),
    K.expediente_created: ("Expediente abierto", "Personas del municipio", ExpedientePayload),
    K.expediente_stage_changed: (
        "El expediente cambia de fase",
        "Personas del municipio",
        ExpedientePayload,
    ),
    K.expediente_documents_added: (
        "Documentos añadidos al expediente",
        "Personas del municipio",
        ExpedientePayload,
    ),
    K.expediente_resolved: ("Expediente resuelto", "Personas del municipio", ExpedientePayload),
    K.expediente_stalled: (
        "Expediente detenido más de lo previsto en una fase",
        "Oficina, área y municipio",
        ExpedientePayload,
    ),
    K.grant_call_opened: (
        "Convocatoria publicada para el municipio",
        "Personas de los municipios destinatarios",
        CalendarPayload,
    ),
    K.grant_call_closing: (
        "Una convocatoria cierra en pocos días hábiles",
        "Oficina, área y municipios destinatarios",
        GrantCallClosingPayload,
    ),
    K.event_changed: (
        "Cambia la fecha, el lugar o la modalidad de una actividad con inscritos",
        "Personas de los municipios con inscripciones",
        CalendarPayload,
    ),
    K.event_cancelled: (
        "Actividad con inscritos cancelada",
        "Personas de los municipios con inscripciones",
        CalendarPayload,
    ),
    K.announcement_published: (
        "Comunicado publicado",
        "Personas de los municipios destinatarios",
        AnnouncementPayload,
    ),
}


def event_types() -> list[EventType]:
    return [
        EventType(type=kind, title=title, recipients=who, payload_schema=model.__name__)
        for kind, (title, who, model) in CATALOGUE.items()
    ]
