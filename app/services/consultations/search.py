"""Listing and full-text search of consultations, scoped to the caller, keyset-paginated."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, bindparam, case, cast, func, literal, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.errors import (
    InvalidCursor,
)
from app.core.pagination import (
    PageParams,
    decode_cursor,
    encode_cursor,
    paginate_shaped,
)
from app.core.scoping import SCOPE_PARAM, Actor, visible_predicate, visible_shape
from app.models.area import Channel
from app.models.consultation import (
    Consultation,
    ConsultationStatus,
    Priority,
    SlaState,
)
from app.services.consultations.lifecycle import S


@dataclass(frozen=True)
class ListFilters:
    status: list[ConsultationStatus] | None = None
    open_only: bool = False
    area_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    municipality_id: uuid.UUID | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    assignee_id: uuid.UUID | None = None
    sla_state: list[SlaState] | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None


SORTS = ("-received_at", "resolution_due_at")

# Never shown in a list, and the largest columns of the row: not fetched.
NOT_LISTED = ("search_vector", "access_code_hash")
_TABLE = Consultation.__table__  # type: ignore[attr-defined]
# The legal term fixed for a consultation (`Consultation.sla_override`), built by the database.
_SLA_OVERRIDE = case(
    (
        _TABLE.c.sla_override_unit.is_not(None),
        func.json_build_object(
            "unit",
            _TABLE.c.sla_override_unit,
            "resolution_target",
            _TABLE.c.sla_override_resolution_target,
            "first_response_target",
            _TABLE.c.sla_override_first_response_target,
            "basis",
            _TABLE.c.sla_override_basis,
            type_=JSON,
        ),
    ),
).label("sla_override")
# A listed consultation is only rendered: its columns are read as plain rows (mappings by
# column name), without building ORM objects.
LISTED: list[Any] = [c for c in _TABLE.c if c.name not in NOT_LISTED] + [_SLA_OVERRIDE]
_LISTING = select(*LISTED)


async def list_consultations(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    filters: ListFilters,
    sort: str = "-received_at",
) -> tuple[list[Mapping[str, Any]], str | None]:
    """One page of the consultations the caller may see, each a mapping of the consultation's
    columns (but `NOT_LISTED`) and `sla_override`."""
    f = filters
    scope, scope_value = visible_shape(Consultation, actor)
    equal = {name: getattr(f, name) for name in _EQUAL if getattr(f, name) is not None}
    values: dict[str, Any] = {SCOPE_PARAM: scope_value, **equal}
    if f.status:
        values["status"] = [s.value for s in f.status]
    if f.sla_state:
        values["sla_state"] = [s.value for s in f.sla_state]
    if f.received_from:
        values["received_from"] = f.received_from
    if f.received_to:
        values["received_to"] = f.received_to
    values = {k: v for k, v in values.items() if v is not None}
    if f.q:
        stmt = _filtered(scope, f.open_only, values)
        return await _ranked_search(session, stmt, values, params, f.q)
    shape = (scope, f.open_only, sort, tuple(sorted(values)))

    def build() -> Any:
        stmt = _filtered(scope, f.open_only, values)
        if sort == "resolution_due_at":
            stmt = stmt.where(col(Consultation.resolution_due_at).is_not(None))
        return stmt

    if sort == "resolution_due_at":
        keys: list[Any] = [Consultation.resolution_due_at, Consultation.id]
        return await paginate_shaped(session, shape, build, values, params, keys=keys)
    keys = [Consultation.received_at, Consultation.id]
    return await paginate_shaped(session, shape, build, values, params, keys=keys, descending=True)


# Filters by equality (`ListFilters` field = column name) and ranges (field -> column).
_EQUAL = ("area_id", "service_id", "municipality_id", "channel", "priority", "assignee_id")
_RANGES = {"received_from": "received_at", "received_to": "received_at"}


def _filtered(scope: Any, open_only: bool, values: Mapping[str, Any]) -> Any:
    """The listing narrowed to the caller's scope and to the filters `values` names, each
    value a bind parameter of that name (`values` is bound when the statement runs)."""
    stmt = _LISTING.where(visible_predicate(Consultation, scope))
    if open_only:
        stmt = stmt.where(col(Consultation.status) != S.closed)
    for name in values:
        if name == SCOPE_PARAM:
            continue
        column = _TABLE.c[_RANGES.get(name, name)]
        if name in ("status", "sla_state"):
            stmt = stmt.where(column.in_(bindparam(name, expanding=True)))
        elif name == "received_from":
            stmt = stmt.where(column >= bindparam(name, type_=column.type))
        elif name == "received_to":
            stmt = stmt.where(column < bindparam(name, type_=column.type))
        else:
            stmt = stmt.where(column == bindparam(name, type_=column.type))
    return stmt


async def _ranked_search(
    session: AsyncSession, stmt: Any, values: Mapping[str, Any], params: PageParams, q: str
) -> tuple[list[Mapping[str, Any]], str | None]:
    """Spanish full-text search (stemming, accents ignored), best matches first."""
    query = func.websearch_to_tsquery(cast(literal("spanish"), REGCONFIG), func.oaaa_unaccent(q))
    rank = cast(func.ts_rank_cd(col(Consultation.search_vector), query), Float)
    rank_key = func.round(cast(rank, Float) * 1_000_000)
    stmt = stmt.where(col(Consultation.search_vector).op("@@")(query)).add_columns(
        rank_key.label("rank")
    )
    keys: list[Any] = [Consultation.reference]  # fingerprint for cursors of ranked listings
    if params.cursor:
        try:
            raw = decode_cursor(params.cursor, keys, descending=True)
            last_rank, last_id = int(raw[0].split(":")[0]), uuid.UUID(raw[0].split(":")[1])
        except (ValueError, IndexError, AttributeError) as exc:
            raise InvalidCursor("El cursor no es válido para esta búsqueda") from exc
        stmt = stmt.where(
            tuple_(rank_key, col(Consultation.id)) < tuple_(literal(last_rank), literal(last_id))
        )
    stmt = stmt.order_by(rank_key.desc(), col(Consultation.id).desc()).limit(params.limit + 1)
    rows: list[Any] = list((await session.execute(stmt, values)).mappings().all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor([f"{int(last['rank'])}:{last['id']}"], keys, descending=True)
    return rows, next_cursor
