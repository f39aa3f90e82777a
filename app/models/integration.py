"""Machine clients: the áreas' own systems, authenticated with client credentials."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import ARRAY, String
from sqlmodel import Field, SQLModel

from app.models.base import ScopeSpec, aware_datetime_field, created_at_field, id_field


class IntegrationScope(StrEnum):
    expedientes_read = "expedientes:read"
    expedientes_write = "expedientes:write"
    notifications_read = "notifications:read"
    notifications_ack = "notifications:ack"
    events_write = "events:write"


class IntegrationClientBase(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    area_id: uuid.UUID
    scopes: list[IntegrationScope] = Field(default_factory=list)


class IntegrationClient(IntegrationClientBase, table=True):
    __tablename__ = "integration_client"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(office_only=True)
    __label__: ClassVar[str] = "El cliente de integración"

    id: uuid.UUID = id_field()
    client_id: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=255)
    area_id: uuid.UUID = Field(foreign_key="area.id", index=True)
    scopes: list[str] = Field(default_factory=list, sa_type=ARRAY(String(64)))  # type: ignore[assignment]
    is_active: bool = True
    last_used_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
