"""Request and response shapes of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import SQLModel

from app.models.audit import ActorType


class AuditLogPublic(SQLModel):
    id: int
    occurred_at: datetime
    actor_type: ActorType
    actor_id: uuid.UUID | None
    actor_label: str | None
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict[str, Any]
    request_id: str | None
