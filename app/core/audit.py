"""Audit trail: every write records who, what, when and which fields changed."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from app.core.observability import client_ip_var, request_id_var
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor
from app.models.audit import ActorType, AuditLog

# Never written to the audit log, whatever the entity.
SECRET_FIELDS = frozenset({"password", "password_hash", "secret_hash", "client_secret", "token"})


_PLAIN = frozenset({str, int, float, bool, type(None)})
_TEXT: dict[type, Any] = {
    uuid.UUID: str,
    Decimal: str,
    datetime: datetime.isoformat,
    date: date.isoformat,
}


def jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # most values: nothing to convert, no isinstance checks
        return value
    exact = _TEXT.get(kind)
    if exact is not None:
        return exact(value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@functools.cache
def recorded_fields(model: type[SQLModel]) -> tuple[str, ...]:
    """The fields a snapshot of a whole `model` row records: all but the columns PostgreSQL
    computes from the others (search vectors), which say nothing a person changed."""
    table = getattr(model, "__table__", None)
    computed = (
        {c.name for c in table.columns if c.computed is not None} if table is not None else set()
    )
    return tuple(name for name in model.model_fields if name not in computed)


def snapshot(
    obj: object, fields: Iterable[str] | None = None, *, for_diff: bool = False
) -> dict[str, Any]:
    """Field values of `obj` as JSON. Secrets are left out, or (`for_diff`) replaced by a
    digest so that a change to them is noticed without recording them."""
    if fields is None:
        assert isinstance(obj, SQLModel), "the fields of anything else must be named"
        fields = recorded_fields(type(obj))
    keys = list(fields)
    out: dict[str, Any] = {}
    for key in keys:
        value = getattr(obj, key, None)
        if key in SECRET_FIELDS:
            if for_diff:
                out[key] = hashlib.sha256(str(value).encode()).hexdigest()
            continue
        out[key] = jsonable(value)
    return out


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Changed fields as {field: {"from": old, "to": new}}; for secrets only that they changed."""
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            if key in SECRET_FIELDS:
                out[key] = {"changed": True}
            else:
                out[key] = {"from": jsonable(old), "to": jsonable(new)}
    return out


def entry_row(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of the audit entry `record` adds, as a plain row, for a caller that writes
    it with its own statement."""
    return {
        "occurred_at": datetime.now(UTC),
        "actor_type": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id is not None else None,
        "changes": jsonable(dict(changes or {})),
        "request_id": request_id_var.get(),
        "client_ip": client_ip_var.get(),
    }


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    row = AuditLog(**entry_row(actor, action, entity_type, entity_id, changes))
    session.add(row)
    await session.flush()
    return row


async def list_entries(
    session: AsyncSession,
    params: PageParams,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    actor_type: ActorType | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditLog], str | None]:
    stmt = select(AuditLog)
    if entity_type:
        stmt = stmt.where(col(AuditLog.entity_type) == entity_type)
    if entity_id:
        stmt = stmt.where(col(AuditLog.entity_id) == entity_id)
    if actor_id:
        stmt = stmt.where(col(AuditLog.actor_id) == actor_id)
    if actor_type:
        stmt = stmt.where(col(AuditLog.actor_type) == actor_type)
    if action:
        stmt = stmt.where(col(AuditLog.action) == action)
    if since:
        stmt = stmt.where(col(AuditLog.occurred_at) >= since)
    if until:
        stmt = stmt.where(col(AuditLog.occurred_at) < until)
    return await paginate(session, stmt, params, keys=[AuditLog.id], descending=True)  # type: ignore[list-item]
