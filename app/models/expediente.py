"""Case files (expedientes) that link a municipality with the Diputación: procedure types with
their stages, the stage timeline, documents in the sede electrónica, related consultations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field, SQLModel

from app.models.base import (
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
EXTERNAL_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$"


class ExpedienteStatus(StrEnum):
    open = "open"
    resolved = "resolved"
    archived = "archived"


class ProcedureType(SQLModel, table=True):
    """A kind of procedure an área handles, with its ordered stages."""

    __tablename__ = "procedure_type"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "El tipo de procedimiento"
    __table_args__ = (UniqueConstraint("area_id", "code", name="uq_procedure_type_area_code"),)

    id: uuid.UUID = id_field()
    area_id: uuid.UUID = Field(foreign_key="area.id", index=True)
    code: str = Field(max_length=63)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=Text)
    legal_term_days: int | None = Field(
        default=None, description="Plazo legal de resolución en días hábiles"
    )
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class StageDefinition(SQLModel, table=True):
    __tablename__ = "stage_definition"
    __table_args__ = (
        UniqueConstraint("procedure_type_id", "code", name="uq_stage_definition_code"),
        UniqueConstraint("procedure_type_id", "position", name="uq_stage_definition_position"),
    )

    id: uuid.UUID = id_field()
    procedure_type_id: uuid.UUID = Field(foreign_key="procedure_type.id", ondelete="CASCADE")
    position: int
    code: str = Field(max_length=63)
    name: str = Field(max_length=200)
    expected_working_days: int | None = None
    # Unit of `expected_working_days` (a SlaUnit other than working_hours).
    expected_unit: str = Field(
        default="working_days", max_length=16, sa_column_kwargs={"server_default": "working_days"}
    )
    waits_on_municipality: bool = False


class Expediente(SQLModel, table=True):
    __tablename__ = "expediente"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(
        municipality="municipality_id", area="area_id", integration_area="area_id"
    )
    __label__: ClassVar[str] = "El expediente"
    __table_args__ = (
        UniqueConstraint("area_id", "external_ref", name="uq_expediente_area_external_ref"),
        CheckConstraint("status IN ('open', 'resolved', 'archived')", name="status_values"),
        Index(
            "ix_expediente_municipality", "municipality_id", text("opened_at DESC"), text("id DESC")
        ),
        Index("ix_expediente_area", "area_id", text("opened_at DESC"), text("id DESC")),
        Index("ix_expediente_opened", text("opened_at DESC"), text("id DESC")),
        Index("ix_expediente_stalled", "stalled_since", postgresql_where=text("stalled")),
        # The stall scan: open expedientes whose current stage has outlived its expected time.
        Index(
            "ix_expediente_stage_due",
            "stage_due_at",
            postgresql_where=text("status = 'open' AND NOT stalled AND stage_due_at IS NOT NULL"),
        ),
        Index("ix_expediente_deadline", "deadline_date", postgresql_where=text("status = 'open'")),
        Index("ix_expediente_search", "search_vector", postgresql_using="gin"),
    )

    id: uuid.UUID = id_field()
    municipality_id: uuid.UUID = Field(foreign_key="municipality.id")
    area_id: uuid.UUID = Field(foreign_key="area.id")
    procedure_type_id: uuid.UUID = Field(foreign_key="procedure_type.id", index=True)
    external_ref: str = Field(max_length=100)
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=ExpedienteStatus.open, max_length=16)
    current_stage_code: str | None = Field(default=None, max_length=63)
    current_stage_entered_at: datetime | None = aware_datetime_field()
    stage_due_at: datetime | None = aware_datetime_field()
    stalled: bool = False
    stalled_since: datetime | None = aware_datetime_field()
    opened_at: datetime = aware_datetime_field(nullable=False)
    closed_at: datetime | None = aware_datetime_field()
    deadline_date: date | None = None
    deadline_is_legal: bool = False
    # Hash of the last integration payload applied: an identical upsert changes nothing.
    source_hash: str | None = Field(default=None, max_length=64)
    version: int = 1
    search_vector: Any = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "setweight(to_tsvector('spanish', oaaa_unaccent(coalesce(external_ref, '') || ' '"
                " || coalesce(title, ''))), 'A') || setweight(to_tsvector('spanish',"
                " oaaa_unaccent(coalesce(description, ''))), 'B')",
                persisted=True,
            ),
            nullable=True,
        ),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ExpedienteStageEntry(SQLModel, table=True):
    """One stay in a stage: the timeline is these entries ordered by `entered_at`; each one
    leaves when the next one enters (late or out-of-order events are placed in time order)."""

    __tablename__ = "expediente_stage_entry"
    __table_args__ = (
        UniqueConstraint("expediente_id", "external_event_id", name="uq_stage_entry_event"),
        Index("ix_stage_entry_timeline", "expediente_id", "entered_at", "id"),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    expediente_id: uuid.UUID = Field(foreign_key="expediente.id", ondelete="CASCADE")
    stage_code: str = Field(max_length=63)
    stage_name: str = Field(max_length=200)
    entered_at: datetime = aware_datetime_field(nullable=False)
    left_at: datetime | None = aware_datetime_field()
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = None
    actor_label: str | None = Field(default=None, max_length=254)
    comment: str | None = Field(default=None, max_length=2000)
    external_event_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()


class ExpedienteDocument(SQLModel, table=True):
    __tablename__ = "expediente_document"
    __table_args__ = (UniqueConstraint("expediente_id", "url", name="uq_expediente_document_url"),)

    id: uuid.UUID = id_field()
    expediente_id: uuid.UUID = Field(foreign_key="expediente.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=300)
    url: str = Field(max_length=2000)
    verification_code: str | None = Field(
        default=None, max_length=100, description="Código seguro de verificación (CSV)"
    )
    created_at: datetime = created_at_field()


class ExpedienteConsultation(SQLModel, table=True):
    __tablename__ = "expediente_consultation"

    expediente_id: uuid.UUID = Field(
        foreign_key="expediente.id", primary_key=True, ondelete="CASCADE"
    )
    consultation_id: uuid.UUID = Field(
        foreign_key="consultation.id", primary_key=True, ondelete="CASCADE", index=True
    )
    created_at: datetime = created_at_field()


# ---- API shapes -------------------------------------------------------------------------
