"""Request and response shapes of the newsletter API."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlmodel import Field, SQLModel


class DigestItem(SQLModel):
    id: uuid.UUID
    title: str
    summary: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    online_url: str | None = None
    application_opens_on: date | None = None
    application_closes_on: date | None = None
    bulletin_url: str | None = None
    link: str


class Newsletter(SQLModel):
    quarter: str
    title: str
    period_start: date
    period_end: date = Field(description="Último día del trimestre, incluido")
    announcements: list[DigestItem]
    events: list[DigestItem]
    participation: list[DigestItem]
    grant_calls: list[DigestItem]


class DispatchResult(SQLModel):
    quarter: str
    created: int = Field(description="Envíos nuevos registrados por esta petición")
    pending: int = Field(description="Envíos pendientes puestos en cola")
