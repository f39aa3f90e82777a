"""Punto Informativo: the shared calendar (events, grant calls, participation), its addressing
to municipalities, registrations to events and private feed tokens."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class EntryKind(StrEnum):
    event = "event"
    grant_call = "grant_call"
    participation = "participation"
    announcement = "announcement"


class Modality(StrEnum):
    in_person = "in_person"
    online = "online"
    hybrid = "hybrid"


class AudienceKind(StrEnum):
    all = "all"
    comarca = "comarca"
    municipalities = "municipalities"


class EntryStatus(StrEnum):
    draft = "draft"
    published = "published"
    cancelled = "cancelled"


class CalendarEntry(SQLModel, table=True):
    """One entry of the calendar; recurring ones carry an RFC 5545 RRULE and EXDATEs."""

    __tablename__ = "calendar_entry"
    __label__: ClassVar[str] = "La entrada del calendario"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('event', 'grant_call', 'participation', 'announcement')", name="kind_values"
        ),
        CheckConstraint("status IN ('draft', 'published', 'cancelled')", name="status_values"),
        CheckConstraint("audience IN ('all', 'comarca', 'municipalities')", name="audience_values"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint("audience <> 'comarca' OR comarca_id IS NOT NULL", name="comarca_given"),
        Index("ix_calendar_entry_range", "starts_at", "ends_at"),
        Index(
            "ix_calendar_entry_recurring",
            "starts_at",
            postgresql_where=text("rrule IS NOT NULL"),
        ),
        Index("ix_calendar_entry_closing", "application_closes_on"),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=16)
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=Text)
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id", index=True)
    starts_at: datetime = aware_datetime_field(nullable=False)
    ends_at: datetime = aware_datetime_field(nullable=False)
    all_day: bool = False
    modality: str | None = Field(default=None, max_length=16)
    location: str | None = Field(default=None, max_length=300)
    online_url: str | None = Field(default=None, max_length=2000)
    audience: str = Field(default=AudienceKind.all, max_length=16)
    comarca_id: uuid.UUID | None = Field(default=None, foreign_key="comarca.id")
    is_public: bool = False
    status: str = Field(default=EntryStatus.draft, max_length=16, index=True)
    registration_required: bool = False
    capacity: int | None = None
    registration_deadline: datetime | None = aware_datetime_field()
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    rrule: str | None = Field(default=None, max_length=500)
    exdates: list[datetime] = Field(
        default_factory=list,
        sa_type=ARRAY(DateTime(timezone=True)),
    )
    # Grant calls (convocatorias).
    application_opens_on: date | None = None
    application_closes_on: date | None = None
    closing_term_working_days: int | None = None
    # Unit of `closing_term_working_days` (a SlaUnit other than working_hours).
    closing_term_unit: str = Field(
        default="working_days", max_length=16, sa_column_kwargs={"server_default": "working_days"}
    )
    bulletin_url: str | None = Field(default=None, max_length=2000)
    budget: Decimal | None = Field(default=None, sa_type=Numeric(14, 2))
    beneficiaries: str | None = Field(default=None, max_length=2000)
    # Reminders N working days before the closing date, once per call and recipient.
    reminder_working_days: list[int] = Field(
        default_factory=list,
        sa_type=ARRAY(Integer),
    )
    # iCalendar SEQUENCE: grows with every change that matters to subscribers.
    sequence: int = 0
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    published_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @classmethod
    def scope_clause(cls, actor: Any) -> Any:
        """Rows `actor` (a `core.scoping.Actor`) may see, as a SQL predicate for `visible()`."""
        from sqlalchemy import and_, exists, false, or_, select, true
        from sqlmodel import col

        from app.models.municipality import Municipality

        # Published, or cancelled after being published: subscribers must see the cancellation.
        published = and_(
            col(cls.status).in_((EntryStatus.published, EntryStatus.cancelled)),
            col(cls.published_at).is_not(None),
        )
        if actor.is_office:
            return true()
        if actor.is_area_staff:
            return or_(col(cls.area_id) == actor.area_id, published)
        if actor.is_municipal:
            comarca = (
                select(col(Municipality.comarca_id))
                .where(col(Municipality.id) == actor.municipality_id)
                .scalar_subquery()
            )
            listed = exists().where(
                col(CalendarEntryMunicipality.entry_id) == col(cls.id),
                col(CalendarEntryMunicipality.municipality_id) == actor.municipality_id,
            )
            return and_(
                published,
                or_(
                    col(cls.audience) == AudienceKind.all,
                    and_(col(cls.audience) == AudienceKind.comarca, col(cls.comarca_id) == comarca),
                    and_(col(cls.audience) == AudienceKind.municipalities, listed),
                ),
            )
        if actor.role is None or actor.kind in ("anonymous", "integration"):
            return and_(published, col(cls.is_public).is_(True))
        return false()


class CalendarEntryMunicipality(SQLModel, table=True):
    """The municipalities an entry is addressed to, when its audience is a list."""

    __tablename__ = "calendar_entry_municipality"

    entry_id: uuid.UUID = Field(
        foreign_key="calendar_entry.id", primary_key=True, ondelete="CASCADE"
    )
    municipality_id: uuid.UUID = Field(
        foreign_key="municipality.id", primary_key=True, ondelete="CASCADE", index=True
    )


class EventRegistration(SQLModel, table=True):
    __tablename__ = "event_registration"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id")
    __label__: ClassVar[str] = "La inscripción"
    __table_args__ = (
        CheckConstraint("status IN ('registered', 'cancelled')", name="status_values"),
        Index(
            "ix_event_registration_active",
            "entry_id",
            "occurrence_start",
            postgresql_where=text("status = 'registered'"),
        ),
    )

    id: uuid.UUID = id_field()
    entry_id: uuid.UUID = Field(foreign_key="calendar_entry.id", ondelete="CASCADE")
    occurrence_start: datetime = aware_datetime_field(nullable=False)
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id", index=True)
    attendee_name: str = Field(max_length=200)
    attendee_role: str | None = Field(default=None, max_length=200)
    attendee_email: str | None = Field(default=None, max_length=254)
    status: str = Field(default="registered", max_length=16)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    cancelled_at: datetime | None = aware_datetime_field()


class FeedToken(SQLModel, table=True):
    """A revocable token in the URL of a municipality's private iCalendar feed."""

    __tablename__ = "feed_token"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id")
    __label__: ClassVar[str] = "El enlace del calendario"

    id: uuid.UUID = id_field()
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str | None = Field(default=None, max_length=200)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = aware_datetime_field()
    last_used_at: datetime | None = aware_datetime_field()
