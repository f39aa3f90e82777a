"""Request and response shapes of the holidays API."""

from __future__ import annotations

import uuid
from datetime import date

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
