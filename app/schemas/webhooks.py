"""Request and response shapes of the webhooks API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator
from sqlmodel import Field, SQLModel

from app.models.notification import (
    DeliveryStatus,
    NotificationKind,
    WebhookDelivery,
    WebhookSubscription,
)
from app.schemas.base import Bool, PatchInput, StrictInput


def message_id(delivery_id: uuid.UUID) -> str:
    """The `webhook-id` of a delivery: identical on every retry of it."""
    return f"msg_{delivery_id.hex}"


MAX_URL_LENGTH = 2000


def _check_url(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("la URL no puede contener espacios ni caracteres de control")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on an invalid port
    except ValueError as exc:
        raise ValueError("la URL no es válida") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("la URL debe empezar por http:// o https://")
    if "@" in parts.netloc:
        raise ValueError("la URL no puede llevar usuario ni contraseña")
    if not parts.hostname:
        raise ValueError("la URL debe indicar un servidor")
    if "#" in value:
        raise ValueError("la URL no puede llevar fragmento (#)")
    return value


WebhookUrl = Annotated[
    str,
    Field(
        min_length=8,
        max_length=MAX_URL_LENGTH,
        description="Dirección http(s) que recibe los eventos (sin credenciales ni fragmento)",
        # What `_check_url` enforces, as far as a pattern can say it.
        schema_extra={
            "json_schema_extra": {"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s@#/?]+[^\s#]*$"}
        },
    ),
    AfterValidator(_check_url),
]

EventTypes = Annotated[
    list[NotificationKind],
    Field(max_length=50, description="Tipos de evento que se envían (vacío: todos)"),
]


class WebhookSubscriptionCreate(StrictInput):
    url: WebhookUrl
    description: str | None = Field(default=None, max_length=500)
    event_types: EventTypes = Field(default_factory=list)
    is_active: Bool = True
    area_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "Solo eventos de esta área (vacío: todas). Una integración siempre queda ligada a "
            "su área"
        ),
    )


class WebhookSubscriptionUpdate(PatchInput):
    table_model = WebhookSubscription

    url: WebhookUrl | None = None
    description: str | None = Field(default=None, max_length=500)
    event_types: EventTypes | None = None
    is_active: Bool | None = None
    area_id: uuid.UUID | None = None


class WebhookSubscriptionPublic(SQLModel):
    id: uuid.UUID
    integration_client_id: uuid.UUID | None
    area_id: uuid.UUID | None
    url: str
    description: str | None
    event_types: list[str]
    is_active: bool
    previous_secret_valid_until: datetime | None = Field(
        default=None,
        description=(
            "Tras rotar el secreto, hasta cuándo se firma también con el anterior (cada envío "
            "lleva ambas firmas en webhook-signature)"
        ),
    )
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionWithSecret(WebhookSubscriptionPublic):
    secret: str = Field(
        description="Secreto de firma (whsec_…); se muestra una sola vez, guárdelo de forma segura"
    )


class WebhookDeliveryPublic(SQLModel):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: int
    webhook_id: str = Field(description="Valor de la cabecera webhook-id (igual en cada reintento)")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_latency_ms: float | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryPublic:
        data = delivery.model_dump()
        data["webhook_id"] = message_id(delivery.id)
        return cls.model_validate(data)


class WebhookAttemptPublic(SQLModel):
    id: int
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
