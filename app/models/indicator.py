"""Publication state of the indicators, set by the office over the catalogue's defaults."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.models.base import updated_at_field


class IndicatorPublication(SQLModel, table=True):
    __tablename__ = "indicator_publication"
    __table_args__ = (
        CheckConstraint(
            "reporting_status IN ('complete', 'inprogress', 'notstarted')",
            name="reporting_status_values",
        ),
    )

    indicator_id: str = Field(max_length=64, primary_key=True)
    published: bool
    reporting_status: str = Field(max_length=16)
    updated_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = updated_at_field()
