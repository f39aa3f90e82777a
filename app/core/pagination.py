"""Keyset (cursor) pagination shared by every list endpoint.

A cursor is an opaque, URL-safe token holding the sort-key values of the last row returned, plus
a fingerprint of the sort so that a cursor from one ordering is refused by another, signed with
an HMAC keyed from the application secret: only cursors this server issued are accepted, so no
forged value (a NUL, a lone surrogate, an integer beyond int64, a date-time at the end of the
calendar) reaches the database. Every value is range-checked as well. The next page
is `WHERE (k1, k2) > (v1, v2) ORDER BY k1, k2 LIMIT n + 1`, which an index on the sort keys serves
at the same cost for page 5,000 as for page 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy import types as sa_types
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.config import get_settings
from app.core.errors import InvalidCursor
from app.schemas.problems import FieldError

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def of(cls, schema: type[T], rows: Sequence[Any], next_cursor: str | None) -> Page[T]:
        """A page of `rows` rendered through `schema` (a pydantic model)."""
        validate = schema.model_validate  # type: ignore[attr-defined]
        return cls(items=[validate(r) for r in rows], next_cursor=next_cursor)


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Número máximo de elementos por página")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="Cursor opaco devuelto como `next_cursor`"),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def _fingerprint(keys: Sequence[InstrumentedAttribute[Any]], descending: bool) -> str:
    raw = ",".join(f"{k.class_.__name__}.{k.key}" for k in keys) + (":d" if descending else ":a")
    return hashlib.sha256(raw.encode()).hexdigest()[:8]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Keys stored as PostgreSQL `timestamptz`/`date`: years it can hold and Python can shift by a day.
_MIN_DATETIME = datetime(2, 1, 1, tzinfo=UTC)
_MAX_DATETIME = datetime(9998, 12, 31, tzinfo=UTC)
_SIGNATURE_BYTES = 16


@lru_cache(maxsize=4)
def _signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"oaaa-pagination-cursor-v1", hashlib.sha256).digest()


def _signature(payload: bytes) -> bytes:
    key = _signing_key(get_settings().jwt_secret.get_secret_value())
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _storable_text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("not a string")
    if "\x00" in raw:
        raise ValueError("NUL in text")
    raw.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError
    return raw


def _decode_value(raw: Any, key: InstrumentedAttribute[Any]) -> Any:
    column_type = key.property.columns[0].type
    if isinstance(column_type, sa_types.TypeDecorator):
        column_type = column_type.impl_instance
    if raw is None:
        raise ValueError("null sort key")
    if isinstance(column_type, sa_types.DateTime):
        value = datetime.fromisoformat(_storable_text(raw))
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        if not _MIN_DATETIME <= value <= _MAX_DATETIME:
            raise ValueError("datetime out of range")
        return value
    if isinstance(column_type, sa_types.Date):
        day = date.fromisoformat(_storable_text(raw))
        if not _MIN_DATETIME.date() <= day <= _MAX_DATETIME.date():
            raise ValueError("date out of range")
        return day
    if isinstance(column_type, sa_types.Uuid):
        return uuid.UUID(_storable_text(raw))
    if isinstance(column_type, sa_types.Integer):
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError("not an int")
        if not INT64_MIN <= raw <= INT64_MAX:
            raise ValueError("int out of range")
        return raw
    if isinstance(column_type, sa_types.String):
        return _storable_text(raw)
    raise ValueError(f"unsupported sort key type {column_type!r}")


def encode_cursor(
    values: Sequence[Any], keys: Sequence[InstrumentedAttribute[Any]], descending: bool
) -> str:
    payload = {"f": _fingerprint(keys, descending), "v": [_encode_value(v) for v in values]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return f"{_b64encode(raw)}.{_b64encode(_signature(raw))}"


def decode_cursor(
    cursor: str, keys: Sequence[InstrumentedAttribute[Any]], descending: bool
) -> list[Any]:
    """The sort-key values of a cursor this server issued for this listing; anything else (a
    cursor altered, forged, from another listing or signed with another secret) is a 400."""
    try:
        body, _, signature = cursor.partition(".")
        raw = _b64decode(body)
        if not hmac.compare_digest(_b64decode(signature), _signature(raw)):
            raise ValueError("bad signature")
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("f") != _fingerprint(keys, descending):
            raise ValueError("cursor from another listing")
        values = payload.get("v")
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("wrong number of values")
        return [_decode_value(v, k) for v, k in zip(values, keys, strict=True)]
    except (
        ValueError,
        TypeError,
        OverflowError,
        binascii.Error,
        UnicodeError,
        json.JSONDecodeError,
    ) as exc:
        raise InvalidCursor(
            "El cursor no es válido para este listado; repita la consulta sin cursor",
            errors=[
                FieldError(
                    loc=["query", "cursor"],
                    pointer="/cursor",
                    message="cursor no válido",
                    code="invalid-cursor",
                )
            ],
        ) from exc


# Page statements by shape (`paginate_shaped`): a few dozen in practice (roles × filters given ×
# sort × first or later page); emptied if ever that many more.
_SHAPED: dict[Hashable, Select[Any]] = {}
_SHAPED_KEPT = 512


async def paginate_shaped(
    session: AsyncSession,
    shape: Hashable,
    build: Callable[[], Select[Any]],
    values: Mapping[str, Any],
    params: PageParams,
    *,
    keys: Sequence[InstrumentedAttribute[Any]],
    descending: bool = False,
) -> tuple[list[Mapping[str, Any]], str | None]:
    """`paginate(..., as_mappings=True)` for the hottest lists: `build()` makes the statement
    with every value a named bind parameter (`values` holds them), and `shape` names what the
    statement depends on (which filters, which scope), not the values. The complete page
    statement is built once per shape and reused, so a request neither builds it again nor
    computes its cache key (SQLAlchemy remembers both for the same statement object)."""
    after = decode_cursor(params.cursor, keys, descending) if params.cursor else None
    key = (shape, tuple(str(k) for k in keys), descending, after is not None)
    stmt = _SHAPED.get(key)
    if stmt is None:
        stmt = build()
        columns = list(keys)
        if after is not None:
            marks = tuple_(*(bindparam(f"_after_{i}", type_=c.type) for i, c in enumerate(columns)))
            row_key = tuple_(*columns)
            stmt = stmt.where(row_key < marks if descending else row_key > marks)
        order = [c.desc() for c in columns] if descending else [c.asc() for c in columns]
        stmt = stmt.order_by(*order).limit(bindparam("_limit", type_=sa_types.Integer))
        if len(_SHAPED) >= _SHAPED_KEPT:
            _SHAPED.clear()
        _SHAPED[key] = stmt
    bound = {**values, "_limit": params.limit + 1}
    for i, value in enumerate(after or ()):
        bound[f"_after_{i}"] = value
    await session.flush()
    result = await (await session.connection()).execute(stmt, bound)
    rows: list[Mapping[str, Any]] = list(result.mappings().all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor([last[c.key] for c in keys], keys, descending)
    return rows, next_cursor


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    *,
    keys: Sequence[InstrumentedAttribute[Any]],
    descending: bool = False,
    as_mappings: bool = False,
) -> tuple[list[Any], str | None]:
    """Rows of one page of `stmt` ordered by `keys`, which must end with a unique column, and
    the cursor of the next page (None on the last one). `stmt` selects one entity (its objects
    are returned) or, with `as_mappings`, columns (each row is returned as a mapping by column
    name, and `keys` must be among them)."""
    columns = list(keys)
    if params.cursor:
        after = decode_cursor(params.cursor, keys, descending)
        row_key = tuple_(*columns)
        stmt = stmt.where(row_key < tuple_(*after) if descending else row_key > tuple_(*after))
    order = [c.desc() for c in columns] if descending else [c.asc() for c in columns]
    stmt = stmt.order_by(*order).limit(params.limit + 1)
    if as_mappings:
        # Plain rows need none of the session's ORM machinery: the statement runs on the
        # session's connection (after a flush, as the session itself would do).
        await session.flush()
        result = await (await session.connection()).execute(stmt)
        rows: list[Any] = list(result.mappings().all())
    else:
        rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        values = [last[c.key] if as_mappings else getattr(last, c.key) for c in columns]
        next_cursor = encode_cursor(values, keys, descending)
    return rows, next_cursor
