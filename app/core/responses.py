"""Responses rendered in one pass, for the hottest reads.

FastAPI validates whatever a handler returns against its `response_model` and then serialises
it; for a page of rows already rendered through their schema that is a second full pass over
every row. A handler that returns `page_response(...)` validates each row once into its schema
(straight from the row's attributes, without the ORM-to-dict detour), serialises the page to
JSON bytes with pydantic's own serialiser, and hands FastAPI a finished `Response`, which it
sends as is. The operation keeps `response_model=Page[Schema]`, so the contract is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

from app.core.pagination import Page


@cache
def _page_model(schema: type[BaseModel]) -> type[Page[Any]]:
    return Page[schema]  # type: ignore[valid-type]


def page_response(
    schema: type[BaseModel], rows: Sequence[Any], next_cursor: str | None
) -> Response:
    """The page `{items, next_cursor}` of `rows` rendered through `schema`, as JSON."""
    validate = schema.__pydantic_validator__.validate_python
    items = [validate(row, from_attributes=True) for row in rows]
    page = _page_model(schema).model_construct(items=items, next_cursor=next_cursor)
    return Response(page.model_dump_json(), media_type="application/json")
