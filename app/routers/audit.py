"""The audit log, for administrators."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core import audit
from app.core.db import SessionDep
from app.core.deps import AdminActor
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute, ApiRouter
from app.models.audit import ActorType
from app.schemas.audit import AuditLogPublic
from app.schemas.base import Instant

router = ApiRouter(tags=["audit"], route_class=ApiRoute)


@router.get(
    "/audit-log",
    operation_id="audit_log_list",
    summary="Consultar el registro de auditoría",
    response_model=Page[AuditLogPublic],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_audit_log(
    session: SessionDep,
    actor: AdminActor,
    page: PageDep,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=128)] = None,
    actor_id: uuid.UUID | None = None,
    actor_type: ActorType | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> Page[AuditLogPublic]:
    """Newest first; filter by entity, actor, action and time range."""
    rows, cursor = await audit.list_entries(
        session,
        page,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        since=since,
        until=until,
    )
    return Page.of(AuditLogPublic, rows, cursor)
