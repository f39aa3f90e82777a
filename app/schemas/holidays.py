"""Request and response shapes of the holidays API."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.models.base import check_day
from app.schemas.base import Bool, Day, StrictInput


class HolidayCreate(StrictInput):
    municipality_id: uuid.UUID | None = Field(
        default=None, description="Municipio (vacío: corrección para toda la provincia)"
    )
    day: Day

    @field_validator("day")
    @classmethod
    def _day(cls, v: date) -> date:
        checked = check_day(v)
        assert checked is not None
        return checked

    name: str = Field(min_length=2, max_length=200)
    is_holiday: Bool = Field(
        default=True, description="false: el día deja de ser festivo (corrección oficial)"
    )


class HolidayPublic(SQLModel):
    id: uuid.UUID | None = Field(description="Vacío para los festivos oficiales")
    municipality_id: uuid.UUID | None
    day: date
    name: str
    is_holiday: bool
    source: str = Field(description="national_regional, local o correction")


class CalendarImport(StrictInput):
    """A year's official calendar as published (DOE/BOE), as CSV text."""

    year: int = Field(ge=2000, le=2099, description="Año del calendario")
    source: str = Field(
        min_length=3, max_length=500, description="Disposición publicada (p. ej. DOE nº, fecha)"
    )
    csv: str = Field(
        min_length=1,
        max_length=200_000,
        description="CSV con cabecera date,scope,ine_code,name; scope: national, regional o "
        "local (con ine_code); fechas AAAA-MM-DD o DD/MM/AAAA",
    )


class CalendarChange(SQLModel):
    action: str = Field(description="add, remove o rename")
    scope: str = Field(description="official (nacional o autonómico) o local")
    day: date
    name: str
    municipality_id: uuid.UUID | None
    municipality_name: str | None


class MovedDeadlinePublic(SQLModel):
    consultation_id: uuid.UUID
    reference: str
    resolution_due_before: datetime | None
    resolution_due_after: datetime | None


class CalendarImportReport(SQLModel):
    year: int
    applied: bool = Field(description="false: vista previa, nada se ha guardado")
    marks_year_known: bool = Field(
        description="El CSV trae los días nacionales y autonómicos: el año pasa a tener "
        "calendario oficial conocido"
    )
    changes: list[CalendarChange]
    moved_deadlines: list[MovedDeadlinePublic] = Field(
        description="Consultas abiertas cuyo inicio o vencimiento cambia"
    )
    municipalities_with_local_days: int
    municipalities_without_local_days: list[str] = Field(
        description="Municipios sin fiestas locales registradas para el año tras la importación"
    )
