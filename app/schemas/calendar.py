"""Request and response shapes of the calendar API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models.base import check_day, check_instant
from app.models.calendar import (
    AudienceKind,
    CalendarEntry,
    EntryKind,
    EntryStatus,
    Modality,
)
from app.models.sla import DayTermUnit
from app.schemas.base import DECIMAL_TEXT, Bool, Day, Instant, Int32, PatchInput, StrictInput


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")


class EntryFields(StrictInput):
    """Fields shared by creation and modification (all optional here)."""

    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    area_id: uuid.UUID | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    all_day: Bool | None = None
    modality: Modality | None = None
    location: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    audience: AudienceKind | None = None
    comarca_id: uuid.UUID | None = None
    municipality_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)
    is_public: Bool | None = None
    registration_required: Bool | None = None
    capacity: Annotated[Int32, Ge(1), Le(100000)] | None = Field(default=None)
    registration_deadline: Instant | None = None
    attachments: list[Attachment] | None = Field(default=None, max_length=50)
    rrule: str | None = Field(default=None, max_length=500)
    exdates: list[Instant] | None = Field(default=None, max_length=500)
    application_opens_on: Day | None = None
    application_closes_on: Day | None = None
    closing_term_working_days: Annotated[Int32, Ge(1), Le(365)] | None = Field(
        default=None,
        description="Duración del plazo de solicitud, en la unidad closing_term_unit",
    )
    closing_term_unit: DayTermUnit | None = Field(
        default=None,
        description="Unidad del plazo de solicitud: working_days (por defecto), natural_days o "
        "months",
    )
    bulletin_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    budget: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=2, json_schema_extra=DECIMAL_TEXT
    )
    beneficiaries: str | None = Field(default=None, max_length=2000)
    reminder_working_days: list[Int32] | None = Field(default=None, max_length=10)

    @field_validator("starts_at", "ends_at", "registration_deadline")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return check_instant(v)

    @field_validator("application_opens_on", "application_closes_on")
    @classmethod
    def _day(cls, v: date | None) -> date | None:
        return check_day(v)

    @field_validator("exdates")
    @classmethod
    def _exdates(cls, v: list[datetime] | None) -> list[datetime] | None:
        return [d for d in (check_instant(x) for x in v) if d is not None] if v else v

    @field_validator("reminder_working_days")
    @classmethod
    def _reminders(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(n < 1 or n > 60 for n in v):
            raise ValueError("cada aviso debe estar entre 1 y 60 días hábiles")
        return sorted(set(v), reverse=True) if v is not None else None


class EntryCreate(EntryFields):
    kind: EntryKind
    title: str = Field(min_length=3, max_length=300)
    starts_at: Instant


class EntryUpdate(EntryFields, PatchInput):
    table_model = CalendarEntry

    status: EntryStatus | None = None


class EntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    title: str
    description: str | None
    area_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    modality: str | None
    location: str | None
    online_url: str | None
    audience: str
    comarca_id: uuid.UUID | None
    municipality_ids: list[uuid.UUID] = []
    is_public: bool
    status: str
    registration_required: bool
    capacity: int | None
    registration_deadline: datetime | None
    attachments: list[dict[str, Any]]
    rrule: str | None
    exdates: list[datetime]
    application_opens_on: date | None
    application_closes_on: date | None
    closing_term_working_days: int | None
    closing_term_unit: DayTermUnit
    bulletin_url: str | None
    budget: Decimal | None
    beneficiaries: str | None
    reminder_working_days: list[int]
    sequence: int
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    web_url: str = ""


class EntryDetail(EntryPublic):
    occurrence_start: datetime | None = Field(
        default=None, description="Sesión a la que se refieren las plazas"
    )
    registered: int = 0
    remaining: int | None = Field(default=None, description="Plazas libres (sin límite: null)")


class OccurrencePublic(EntryPublic):
    entry_id: uuid.UUID
    occurrence_start: datetime
    occurrence_end: datetime


class OccurrenceList(BaseModel):
    items: list[OccurrencePublic]
    truncated: bool = False


class RegistrationCreate(StrictInput):
    attendee_name: str = Field(min_length=2, max_length=200)
    attendee_role: str | None = Field(default=None, max_length=200)
    attendee_email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )
    occurrence_start: Instant | None = None


class RegistrationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entry_id: uuid.UUID
    occurrence_start: datetime
    municipality_id: uuid.UUID
    attendee_name: str
    attendee_role: str | None
    attendee_email: str | None
    status: str
    created_at: datetime
    cancelled_at: datetime | None


class FeedTokenCreate(StrictInput):
    label: str | None = Field(default=None, max_length=200)


class FeedTokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    municipality_id: uuid.UUID
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class FeedTokenCreated(FeedTokenPublic):
    url: str = Field(description="Dirección de suscripción; solo se muestra una vez")
