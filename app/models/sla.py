"""SLA policies and the holiday calendar they are counted on."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import StringConstraints
from sqlalchemy import ARRAY, BigInteger, CheckConstraint, Index, Integer, text
from sqlmodel import Field, SQLModel

from app.models.base import ScopeSpec, created_at_field, id_field, updated_at_field
from app.models.consultation import Priority


class SlaUnit(StrEnum):
    """Units of a term (Ley 39/2015 art. 30): días hábiles, horas hábiles, días naturales (only
    when a law says so) and months counted date to date."""

    working_days = "working_days"
    working_hours = "working_hours"
    natural_days = "natural_days"
    months = "months"


class DayTermUnit(StrEnum):
    """Units of terms that end on a day (grant-call windows, procedure stages)."""

    working_days = "working_days"
    natural_days = "natural_days"
    months = "months"


# Longest target per unit, about three years: every computation stays inside the calendar years
# the clock loads, so no term can run past them.
TERM_LIMITS: dict[str, int] = {
    SlaUnit.working_days: 750,
    SlaUnit.working_hours: 5000,
    SlaUnit.natural_days: 1095,
    SlaUnit.months: 36,
}


def term_limit_error(unit: str, *targets: int | None) -> str | None:
    """A Spanish message if a target exceeds its unit's limit, else None."""
    limit = TERM_LIMITS[unit]
    if any(t is not None and t > limit for t in targets):
        return f"en la unidad {unit} el plazo admite como máximo {limit}"
    return None


class SlaPolicyBase(SQLModel):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] = Field(
        max_length=63
    )
    name: str = Field(min_length=2, max_length=200)
    service_id: uuid.UUID | None = Field(
        default=None, description="Servicio al que aplica (vacío: cualquiera)"
    )
    priority: Priority | None = Field(default=None, description="Prioridad (vacío: cualquiera)")
    unit: SlaUnit = SlaUnit.working_days
    first_response_target: int = Field(ge=1, le=2000, description="Plazo de primera respuesta")
    resolution_target: int = Field(ge=1, le=5000, description="Plazo de resolución")
    warning_thresholds: list[int] = Field(
        default_factory=lambda: [50, 80],
        description="Avisos al alcanzar estos porcentajes del plazo",
    )
    is_default: bool = Field(
        default=False, description="Política general: se aplica cuando ninguna otra encaja"
    )


class SlaPolicy(SlaPolicyBase, table=True):
    __tablename__ = "sla_policy"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "La política de plazos"
    __table_args__ = (
        CheckConstraint("first_response_target <= resolution_target", name="targets_order"),
        CheckConstraint(
            "unit IN ('working_days', 'working_hours', 'natural_days', 'months')",
            name="unit_values",
        ),
        # At most one active policy per (service, priority) combination it is matched on.
        Index(
            "uq_sla_policy_match",
            "service_id",
            "priority",
            unique=True,
            postgresql_where=text("is_active AND (service_id IS NOT NULL OR priority IS NOT NULL)"),
            postgresql_nulls_not_distinct=True,
        ),
        # Exactly one general policy, the fallback when nothing more specific applies.
        Index(
            "uq_sla_policy_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default AND is_active"),
        ),
    )

    id: uuid.UUID = id_field()
    code: str = Field(max_length=63, unique=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="catalogue_service.id")
    priority: str | None = Field(default=None, max_length=16)  # type: ignore[assignment]
    unit: str = Field(default=SlaUnit.working_days, max_length=16)  # type: ignore[assignment]
    warning_thresholds: list[int] = Field(default_factory=lambda: [50, 80], sa_type=ARRAY(Integer))
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


def _check_thresholds(values: list[int] | None) -> list[int] | None:
    if values is None:
        return None
    if any(v <= 0 or v >= 100 for v in values):
        raise ValueError("los umbrales de aviso son porcentajes entre 1 y 99")
    return sorted(set(values))


class HolidayKind(StrEnum):
    local = "local"
    regional_correction = "regional_correction"


class Holiday(SQLModel, table=True):
    """A municipality's local holiday, or a correction of the official national/regional list.

    `municipality_id` NULL applies to the whole province; `is_holiday` false removes an official
    date (e.g. a regional holiday moved by decree)."""

    __tablename__ = "holiday"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "El festivo"
    __table_args__ = (
        Index(
            "uq_holiday_municipality_day",
            "municipality_id",
            "day",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: uuid.UUID = id_field()
    municipality_id: uuid.UUID | None = Field(
        default=None, foreign_key="municipality.id", ondelete="CASCADE"
    )
    day: date
    name: str = Field(max_length=200)
    is_holiday: bool = True
    created_at: datetime = created_at_field()


class OfficialCalendarYear(SQLModel, table=True):
    """A year whose official calendar of non-working days (art. 30.7: national, Extremadura and
    local days) has been published and loaded. Terms touching other years carry a warning."""

    __tablename__ = "official_calendar_year"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "El calendario oficial"

    year: int = Field(primary_key=True, sa_type=Integer, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=500)
    recorded_at: datetime = created_at_field()


class ReferenceDataVersion(SQLModel, table=True):
    """One row whose `version` changes with every change to the data SLA clocks read
    (holidays, policies, áreas' seats, municipalities): triggers set it from a sequence in the
    writing transaction, so a process that keeps that data in memory notices the change when
    it next reads the number, and a number seen in a rolled-back transaction never returns."""

    __tablename__ = "reference_data_version"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(default=0, sa_type=BigInteger)
