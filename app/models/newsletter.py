"""The quarterly newsletter: one dispatch row per person and quarter."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models.base import (
    aware_datetime_field,
    created_at_field,
    id_field,
)


class NewsletterDispatch(SQLModel, table=True):
    """A quarter's newsletter sent by e-mail: recorded so the same send is not repeated."""

    __tablename__ = "newsletter_dispatch"
    __table_args__ = (UniqueConstraint("quarter", "user_id", name="uq_newsletter_dispatch"),)

    id: uuid.UUID = id_field()
    quarter: str = Field(max_length=7)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    to_address: str = Field(max_length=254)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
