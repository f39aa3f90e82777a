"""Daily visit counts of the Punto de Información (web and in person)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    CheckConstraint,
)
from sqlmodel import Field, SQLModel


class VisitDaily(SQLModel, table=True):
    """Visits to the Punto de Información per day, page and channel: counts only, never who."""

    __tablename__ = "visit_daily"
    __table_args__ = (CheckConstraint("channel IN ('web', 'in_person')", name="channel_values"),)

    day: date = Field(primary_key=True)
    page: str = Field(max_length=100, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    count: int = 0
