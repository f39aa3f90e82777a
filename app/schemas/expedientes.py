"""Request and response shapes of the expedientes API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AnyHttpUrl, StringConstraints, ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from app.models.base import (
    check_day,
    check_instant,
)
from app.models.expediente import (
    CODE_PATTERN,
    EXTERNAL_REF_PATTERN,
    Expediente,
    ExpedienteStatus,
    ProcedureType,
)
from app.models.sla import DayTermUnit, term_limit_error
from app.schemas.base import Bool, BulkInput, Day, Instant, Int32, PatchInput, StrictInput


class StageDefinitionIn(StrictInput):
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    expected_unit: DayTermUnit = Field(
        default=DayTermUnit.working_days,
        description="Unidad: working_days (por defecto), natural_days o months",
    )
    expected_working_days: Annotated[Int32, Ge(1), Le(750)] | None = Field(
        default=None, description="Duración prevista, en la unidad expected_unit"
    )
    waits_on_municipality: Bool = False

    @field_validator("expected_working_days")
    @classmethod
    def _term(cls, v: int | None, info: ValidationInfo) -> int | None:
        error = term_limit_error(info.data.get("expected_unit", DayTermUnit.working_days), v)
        if error:
            raise ValueError(error)
        return v


class StageDefinitionPublic(SQLModel):
    position: int
    code: str
    name: str
    expected_working_days: int | None
    expected_unit: DayTermUnit
    waits_on_municipality: bool


class ProcedureTypeCreate(StrictInput):
    area_id: uuid.UUID
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    legal_term_days: Annotated[Int32, Ge(1), Le(3650)] | None = Field(default=None)
    stages: list[StageDefinitionIn] = Field(min_length=1, max_length=100)

    @field_validator("stages")
    @classmethod
    def _unique_codes(cls, v: list[StageDefinitionIn]) -> list[StageDefinitionIn]:
        codes = [s.code for s in v]
        if len(codes) != len(set(codes)):
            raise ValueError("los códigos de fase deben ser únicos")
        return v


class ProcedureTypeUpdate(PatchInput):
    table_model = ProcedureType

    name: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    legal_term_days: Annotated[Int32, Ge(1), Le(3650)] | None = Field(default=None)
    is_active: Bool | None = None


class ProcedureTypePublic(SQLModel):
    id: uuid.UUID
    area_id: uuid.UUID
    code: str
    name: str
    description: str | None
    legal_term_days: int | None
    is_active: bool
    stages: list[StageDefinitionPublic]


class DocumentIn(BulkInput):
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
    opened_at: Instant | None = None
    deadline_date: Day | None = None
    deadline_is_legal: Bool = False
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


class ExpedienteUpdate(PatchInput):
    table_model = Expediente

    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    status: ExpedienteStatus | None = None
    deadline_date: Day | None = None
    deadline_is_legal: Bool | None = None
    documents: list[DocumentIn] | None = Field(default=None, max_length=100)
    consultation_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)


class StageEventIn(BulkInput):
    """An expediente entering a stage, as the área's system or a person reports it."""

    event_id: str | None = Field(
        default=None, max_length=100, description="Identificador del evento en el sistema de origen"
    )
    stage_code: str = Field(max_length=63)
    occurred_at: Instant
    comment: str | None = Field(default=None, max_length=2000)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        checked = check_instant(v)
        assert checked is not None
        return checked


class ExpedienteUpsert(BulkInput):
    """The área system's view of one expediente, keyed by its own reference (in the URL)."""

    municipality_ine_code: str | None = Field(default=None, max_length=11)
    municipality_id: uuid.UUID | None = None
    procedure_code: str = Field(max_length=63)
    title: str = Field(min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    status: ExpedienteStatus = ExpedienteStatus.open
    opened_at: Instant
    closed_at: Instant | None = None
    deadline_date: Day | None = None
    deadline_is_legal: Bool = False
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
