"""Case files (expedientes) that link a municipality with the Diputación: procedure types with
their stages, the stage timeline, documents in the sede electrónica, related consultations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AnyHttpUrl, StringConstraints, field_validator
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
    StrictInput,
    aware_datetime_field,
    check_day,
    check_instant,
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


class StageDefinitionIn(StrictInput):
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    expected_working_days: int | None = Field(default=None, ge=1, le=3650)
    waits_on_municipality: bool = False


class StageDefinitionPublic(SQLModel):
    position: int
    code: str
    name: str
    expected_working_days: int | None
    waits_on_municipality: bool


class ProcedureTypeCreate(StrictInput):
    area_id: uuid.UUID
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    legal_term_days: int | None = Field(default=None, ge=1, le=3650)
    stages: list[StageDefinitionIn] = Field(min_length=1, max_length=100)

    @field_validator("stages")
    @classmethod
    def _unique_codes(cls, v: list[StageDefinitionIn]) -> list[StageDefinitionIn]:
        codes = [s.code for s in v]
        if len(codes) != len(set(codes)):
            raise ValueError("los códigos de fase deben ser únicos")
        return v


class ProcedureTypeUpdate(StrictInput):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    legal_term_days: int | None = Field(default=None, ge=1, le=3650)
    is_active: bool | None = None


class ProcedureTypePublic(SQLModel):
    id: uuid.UUID
    area_id: uuid.UUID
    code: str
    name: str
    description: str | None
    legal_term_days: int | None
    is_active: bool
    stages: list[StageDefinitionPublic]


class DocumentIn(StrictInput):
    title: str = Field(min_length=2, max_length=300)
    url: AnyHttpUrl
    verification_code: str | None = Field(default=None, max_length=100)


class DocumentPublic(SQLModel):
    id: uuid.UUID
    title: str
    url: str
    verification_code: str | None


class StageEntryPublic(SQLModel):
    id: int
    stage_code: str
    stage_name: str
    entered_at: datetime
    left_at: datetime | None
    actor_type: str
    actor_label: str | None
    comment: str | None
    external_event_id: str | None


class ExpedientePublic(SQLModel):
    id: uuid.UUID
    municipality_id: uuid.UUID
    area_id: uuid.UUID
    procedure_type_id: uuid.UUID
    external_ref: str
    title: str
    description: str | None
    status: ExpedienteStatus
    current_stage_code: str | None
    current_stage_entered_at: datetime | None
    stage_due_at: datetime | None
    stalled: bool
    stalled_since: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    deadline_date: date | None
    deadline_is_legal: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ExpedienteDetail(ExpedientePublic):
    timeline: list[StageEntryPublic]
    documents: list[DocumentPublic]
    consultation_ids: list[uuid.UUID]


class ExpedienteCreate(StrictInput):
    """What a person records; the áreas' systems use the integration API instead."""

    municipality_id: uuid.UUID
    area_id: uuid.UUID
    procedure_type_id: uuid.UUID
    external_ref: Annotated[str, StringConstraints(pattern=EXTERNAL_REF_PATTERN)] = Field(
        max_length=100
    )
    title: str = Field(min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    opened_at: datetime | None = None
    deadline_date: date | None = None
    deadline_is_legal: bool = False
    stage_code: str | None = Field(
        default=None, description="Fase inicial (por defecto, la primera)"
    )
    documents: list[DocumentIn] = Field(default_factory=list, max_length=100)
    consultation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)

    @field_validator("opened_at")
    @classmethod
    def _instant(cls, v: datetime | None) -> datetime | None:
        return check_instant(v)

    @field_validator("deadline_date")
    @classmethod
    def _day(cls, v: date | None) -> date | None:
        return check_day(v)


class ExpedienteUpdate(StrictInput):
    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    status: ExpedienteStatus | None = None
    deadline_date: date | None = None
    deadline_is_legal: bool | None = None
    documents: list[DocumentIn] | None = Field(default=None, max_length=100)
    consultation_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)


class StageEventIn(StrictInput):
    """An expediente entering a stage, as the área's system or a person reports it."""

    event_id: str | None = Field(
        default=None, max_length=100, description="Identificador del evento en el sistema de origen"
    )
    stage_code: str = Field(max_length=63)
    occurred_at: datetime
    comment: str | None = Field(default=None, max_length=2000)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        checked = check_instant(v)
        assert checked is not None
        return checked


class ExpedienteUpsert(StrictInput):
    """The área system's view of one expediente, keyed by its own reference (in the URL)."""

    municipality_ine_code: str | None = Field(default=None, max_length=11)
    municipality_id: uuid.UUID | None = None
    procedure_code: str = Field(max_length=63)
    title: str = Field(min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    status: ExpedienteStatus = ExpedienteStatus.open
    opened_at: datetime
    closed_at: datetime | None = None
    deadline_date: date | None = None
    deadline_is_legal: bool = False
    documents: list[DocumentIn] = Field(default_factory=list, max_length=100)

    @field_validator("opened_at", "closed_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return check_instant(v)

    @field_validator("deadline_date")
    @classmethod
    def _day(cls, v: date | None) -> date | None:
        return check_day(v)


class MunicipalitySummary(SQLModel):
    municipality_id: uuid.UUID
    open: int
    stalled: int
    by_area: list[dict[str, Any]]
    by_stage: list[dict[str, Any]]
    next_deadlines: list[ExpedientePublic]
