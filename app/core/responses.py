"""Responses rendered in one pass, for the hottest reads.

FastAPI validates whatever a handler returns against its `response_model` and then serialises
it; for a page of rows that is a second full pass over every row, and building ORM objects and
then schema objects from them are two more. A handler that returns `page_response(...)` hands
FastAPI a finished `Response` instead: the rows, read as plain database rows (mappings holding
the schema's fields), are written straight to JSON by one serialiser compiled from the schema,
so every value is formatted exactly as the schema would format it (UUIDs, aware date-times,
enumerations, nested objects) in the schema's field order. The operation keeps
`response_model=Page[Schema]`, so the contract is unchanged.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Union, get_args, get_origin

from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict


def _as_stored(annotation: Any) -> Any:
    """The type of a schema field as the database hands it over: an enumeration is its text
    value, a nested schema a mapping of its own fields; containers and unions keep their shape."""
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return str
        if issubclass(annotation, BaseModel):
            return _row_type(annotation)
        return annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None or not args:
        return annotation
    stored = tuple(_as_stored(a) for a in args)
    if origin in (Union, types.UnionType):
        return Union[stored]  # noqa: UP007 (built from a tuple)
    return origin[stored] if len(stored) > 1 else origin[stored[0]]


@cache
def _row_type(schema: type[BaseModel]) -> Any:
    fields = {name: _as_stored(f.annotation) for name, f in schema.model_fields.items()}
    return TypedDict(f"{schema.__name__}Row", fields)  # type: ignore[operator]


@cache
def _page_serializer(schema: type[BaseModel]) -> tuple[TypeAdapter[Any], tuple[str, ...]]:
    fields = {"items": list[_row_type(schema)], "next_cursor": str | None}  # type: ignore[misc]
    page = TypedDict(f"{schema.__name__}RowPage", fields)  # type: ignore[misc]
    return TypeAdapter(page), tuple(schema.model_fields)


def page_response(
    schema: type[BaseModel], rows: Sequence[Mapping[str, Any]], next_cursor: str | None
) -> Response:
    """The page `{items, next_cursor}` of `rows` (mappings holding every field of `schema`,
    values as read from the database) rendered as `Page[schema]`, as JSON."""
    serializer, names = _page_serializer(schema)
    items = [{name: row[name] for name in names} for row in rows]
    body = serializer.dump_json({"items": items, "next_cursor": next_cursor})
    return Response(body, media_type="application/json")
