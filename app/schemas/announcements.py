"""Request and response shapes of the announcements API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from app.models.announcement import Announcement
from app.models.calendar import AudienceKind
from app.schemas.base import Bool, PatchInput, StrictInput

MAX_MUNICIPALITIES = 500


class AnnouncementCreate(StrictInput):
    title: str = Field(min_length=3, max_length=300)
    body: str = Field(min_length=1, max_length=50_000)
    area_id: uuid.UUID | None = Field(
        default=None, description="Área que lo emite (obligatoria para el personal de área)"
    )
    audience: AudienceKind = AudienceKind.all
    comarca_id: uuid.UUID | None = None
    municipality_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_MUNICIPALITIES)
    is_public: Bool = False

    @model_validator(mode="after")
    def _audience_shape(self) -> AnnouncementCreate:
        _check_audience(self.audience, self.comarca_id, self.municipality_ids)
        return self


class AnnouncementUpdate(PatchInput):
    table_model = Announcement

    title: str | None = Field(default=None, min_length=3, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=50_000)
    audience: AudienceKind | None = None
    comarca_id: uuid.UUID | None = None
    municipality_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_MUNICIPALITIES)
    is_public: Bool | None = None


class AnnouncementPublic(SQLModel):
    id: uuid.UUID
    title: str
    body: str
    area_id: uuid.UUID | None
    audience: str
    comarca_id: uuid.UUID | None
    municipality_ids: list[uuid.UUID]
    is_public: bool
    status: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None = Field(
        default=None, description="Cuándo lo leyó el municipio de quien consulta (solo municipios)"
    )


class PublicAnnouncement(SQLModel):
    """What anyone may read of a public announcement."""

    id: uuid.UUID
    title: str
    body: str
    area_id: uuid.UUID | None
    published_at: datetime | None


class ReadReceipt(SQLModel):
    announcement_id: uuid.UUID
    municipality_id: uuid.UUID
    read_at: datetime


class ReadReportRow(SQLModel):
    municipality_id: uuid.UUID
    name: str
    ine_code: str | None
    read_at: datetime | None


class ReadReport(SQLModel):
    announcement_id: uuid.UUID
    addressed: int
    read: int
    items: list[ReadReportRow]


class UnreadCount(SQLModel):
    unread: int


def _check_audience(
    audience: str | None, comarca_id: uuid.UUID | None, municipality_ids: list[uuid.UUID] | None
) -> None:
    if audience == AudienceKind.comarca and comarca_id is None:
        raise ValueError("La audiencia «comarca» requiere comarca_id")
    if audience == AudienceKind.municipalities and not municipality_ids:
        raise ValueError("La audiencia «municipalities» requiere al menos un municipality_ids")
