"""Request and response shapes of the visits API."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import StringConstraints, field_validator
from sqlmodel import SQLModel

from app.models.base import check_day
from app.schemas.base import Day, Int32, StrictInput

PAGE_PATTERN = r"^[a-z0-9/_-]{1,100}$"


class InPersonVisits(StrictInput):
    day: Day
    count: Annotated[Int32, Ge(1), Le(100_000)]
    page: Annotated[str, StringConstraints(pattern=PAGE_PATTERN, max_length=100)] = "oficina"

    @field_validator("day")
    @classmethod
    def _day(cls, v: date) -> date:
        checked = check_day(v)
        assert checked is not None
        return checked


class VisitRow(SQLModel):
    day: date
    page: str
    channel: str
    count: int


class VisitTotals(SQLModel):
    web: int = 0
    in_person: int = 0
    all: int = 0


class VisitReport(SQLModel):
    from_day: date
    to_day: date
    channel: str | None
    items: list[VisitRow]
    totals: VisitTotals
