"""Consultations (consultas): questions from municipalities, their thread and history."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    Identity,
    Index,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class ConsultationStatus(StrEnum):
    received = "received"
    in_progress = "in_progress"
    forwarded = "forwarded"
    waiting_on_municipality = "waiting_on_municipality"
    answered = "answered"
    closed = "closed"


OPEN_STATUSES = (
    ConsultationStatus.received,
    ConsultationStatus.in_progress,
    ConsultationStatus.forwarded,
    ConsultationStatus.waiting_on_municipality,
)


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class SlaState(StrEnum):
    on_track = "on_track"
    warning = "warning"
    breached = "breached"
    met = "met"
    paused = "paused"


class MessageVisibility(StrEnum):
    public = "public"
    internal = "internal"


class Consultation(SQLModel, table=True):
    __tablename__ = "consultation"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id", area="area_id")
    __label__: ClassVar[str] = "La consulta"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received', 'in_progress', 'forwarded', 'waiting_on_municipality',"
            " 'answered', 'closed')",
            name="status_values",
        ),
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority_values"),
        CheckConstraint(
            "sla_state IN ('on_track', 'warning', 'breached', 'met', 'paused')",
            name="sla_state_values",
        ),
        CheckConstraint("status <> 'forwarded' OR area_id IS NOT NULL", name="forwarded_has_area"),
        # A legal term set for this consultation: unit, resolution term and legal basis together.
        CheckConstraint(
            "sla_override_unit IS NULL OR sla_override_unit IN"
            " ('working_days', 'working_hours', 'natural_days', 'months')",
            name="sla_override_unit_values",
        ),
        CheckConstraint(
            "(sla_override_unit IS NULL) = (sla_override_resolution_target IS NULL)"
            " AND (sla_override_unit IS NULL) = (sla_override_basis IS NULL)"
            " AND (sla_override_unit IS NOT NULL OR sla_override_first_response_target IS NULL)",
            name="sla_override_complete",
        ),
        # A municipality's open consultations, newest first.
        Index(
            "ix_consultation_municipality_open",
            "municipality_id",
            text("received_at DESC"),
            text("id DESC"),
            postgresql_where=text("status <> 'closed'"),
        ),
        # The office's triage queue: open consultations by nearest due date.
        Index(
            "ix_consultation_triage",
            "resolution_due_at",
            "id",
            postgresql_where=text("status <> 'closed'"),
        ),
        # A municipality's default list (every status, newest first): an ELM's few rows are
        # read directly instead of walking the whole province's newest-first index.
        Index(
            "ix_consultation_municipality_received",
            "municipality_id",
            text("received_at DESC"),
            text("id DESC"),
        ),
        # The triage queue without `open_only` (closed ones too), by nearest due date.
        Index("ix_consultation_due", "resolution_due_at", "id"),
        Index("ix_consultation_area_due", "area_id", "resolution_due_at", "id"),
        # An área's default list, newest first.
        Index(
            "ix_consultation_area_received", "area_id", text("received_at DESC"), text("id DESC")
        ),
        Index("ix_consultation_received", text("received_at DESC"), text("id DESC")),
        Index("ix_consultation_sla_state", "sla_state", "resolution_due_at"),
        # The worker's scan: the next instant at which some consultation's SLA state may change.
        Index(
            "ix_consultation_sla_next_check",
            "sla_next_check_at",
            postgresql_where=text("sla_next_check_at IS NOT NULL"),
        ),
        Index("ix_consultation_search", "search_vector", postgresql_using="gin"),
    )

    id: uuid.UUID = id_field()
    reference: str = Field(max_length=20, unique=True)
    access_code_hash: str = Field(max_length=255)
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id")
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    service_id: uuid.UUID | None = Field(default=None, foreign_key="catalogue_service.id")
    sla_policy_id: uuid.UUID | None = Field(default=None, foreign_key="sla_policy.id")
    channel: str = Field(max_length=16)
    priority: str = Field(default=Priority.normal, max_length=16)
    status: str = Field(default=ConsultationStatus.received, max_length=32)
    status_before_wait: str | None = Field(default=None, max_length=32)
    waiting_reason: str | None = Field(default=None, max_length=1000)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    requester_name: str | None = Field(default=None, max_length=200)
    requester_email: str | None = Field(default=None, max_length=254)
    requester_phone: str | None = Field(default=None, max_length=40)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", index=True)

    received_at: datetime = aware_datetime_field(nullable=False)
    sla_started_at: datetime = aware_datetime_field(nullable=False)
    first_response_due_at: datetime | None = aware_datetime_field()
    resolution_due_at: datetime | None = aware_datetime_field()
    first_responded_at: datetime | None = aware_datetime_field()
    answered_at: datetime | None = aware_datetime_field()
    closed_at: datetime | None = aware_datetime_field()
    paused_at: datetime | None = aware_datetime_field()
    paused_working_days: int = 0
    paused_working_seconds: float = 0.0
    sla_state: str = Field(default=SlaState.on_track, max_length=16)
    sla_next_check_at: datetime | None = aware_datetime_field()
    sla_breached_at: datetime | None = aware_datetime_field()
    # A legal term fixed for this consultation, overriding its policy's targets (same unit for
    # both; without a first-response term the policy's applies).
    sla_override_unit: str | None = Field(default=None, max_length=16)
    sla_override_resolution_target: int | None = None
    sla_override_first_response_target: int | None = None
    sla_override_basis: str | None = Field(default=None, max_length=200)

    version: int = 1
    search_vector: Any = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(reference, '') || ' ' "
                "|| coalesce(subject, ''))), 'A') || "
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(body, ''))), 'B')",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @property
    def sla_override(self) -> dict[str, Any] | None:
        """The legal term fixed for this consultation, if any, as shown in responses."""
        if self.sla_override_unit is None:
            return None
        return {
            "unit": self.sla_override_unit,
            "resolution_target": self.sla_override_resolution_target,
            "first_response_target": self.sla_override_first_response_target,
            "basis": self.sla_override_basis,
        }


class ConsultationEvent(SQLModel, table=True):
    """The consultation's history: every transition, assignment and change, attributed."""

    __tablename__ = "consultation_event"
    __table_args__ = (Index("ix_consultation_event_consultation", "consultation_id", "id"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", ondelete="CASCADE")
    occurred_at: datetime = created_at_field()
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = None
    actor_label: str | None = Field(default=None, max_length=254)
    kind: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    # Internal events (assignment, internal notes) are hidden from the municipality.
    is_public: bool = True
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)


class ConsultationMessage(SQLModel, table=True):
    __tablename__ = "consultation_message"
    __table_args__ = (
        Index("ix_consultation_message_consultation", "consultation_id", "created_at", "id"),
        CheckConstraint("visibility IN ('public', 'internal')", name="visibility_values"),
    )

    id: uuid.UUID = id_field()
    consultation_id: uuid.UUID = Field(foreign_key="consultation.id", ondelete="CASCADE")
    visibility: str = Field(max_length=16)
    author_type: str = Field(max_length=16)
    author_id: uuid.UUID | None = None
    author_label: str | None = Field(default=None, max_length=254)
    from_office: bool = True
    body: str = Field(sa_type=Text)
    created_at: datetime = created_at_field()


class ReferenceCounter(SQLModel, table=True):
    """Last consultation number issued per year; incremented inside the creating transaction,
    so a rolled-back creation gives its number back and references have no gaps."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_value: int = 0


# ---- API shapes -------------------------------------------------------------------------
