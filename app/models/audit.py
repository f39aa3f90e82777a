"""Append-only audit log of every write."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import ScopeSpec, created_at_field


class ActorType(StrEnum):
    user = "user"
    integration = "integration"
    system = "system"
    anonymous = "anonymous"


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(office_only=True)
    __table_args__ = (
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
        Index("ix_audit_log_actor", "actor_type", "actor_id"),
    )

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger,
        sa_column_args=[Identity(always=True)],
    )
    occurred_at: datetime = created_at_field()
    actor_type: ActorType = Field(sa_type=String(16))
    actor_id: uuid.UUID | None = None
    actor_label: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=64)
    entity_id: str | None = Field(default=None, max_length=128)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    request_id: str | None = Field(default=None, max_length=64)
    client_ip: str | None = Field(default=None, max_length=64)
