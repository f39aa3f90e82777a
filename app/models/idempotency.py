"""Idempotency keys of the integration API: a retried write answers what the first one did."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import (
    aware_datetime_field,
    created_at_field,
)


class IdempotencyRecord(SQLModel, table=True):
    """A write answered once under an Idempotency-Key: retries get the stored answer."""

    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_expires", "expires_at"),)

    client_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(max_length=200, primary_key=True)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: dict[str, Any] | list[Any] | None = Field(default=None, sa_type=JSONB)
    created_at: datetime = created_at_field()
    expires_at: datetime = aware_datetime_field(nullable=False)
