"""Request and response shapes of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models.notification import NotificationKind
from app.schemas.base import Bool, StrictInput


class NotificationPublic(SQLModel):
    id: int
    event_id: int
    kind: str
    title: str
    body: str
    link: str | None
    entity_type: str
    entity_id: str
    payload: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    read_at: datetime | None


class UnreadCount(SQLModel):
    unread: int


class PreferenceItem(StrictInput):
    kind: NotificationKind
    in_app: Bool = True
    email: Bool = True


class StreamTicket(SQLModel):
    ticket: str = Field(description="Ticket de un solo uso para `?ticket=` del flujo")
    expires_in: int = Field(description="Segundos de validez")


class DigestUpdate(StrictInput):
    enabled: Bool = Field(description="Un único correo diario en lugar de uno por aviso")


class DigestPublic(SQLModel):
    enabled: bool = Field(description="Recibe un único correo diario con los avisos del día")
    hour: int = Field(description="Hora (Europe/Madrid) a la que se envía el resumen")


class PreferencesPublic(SQLModel):
    items: list[PreferenceItem]
