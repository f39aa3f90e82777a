"""Small query and concurrency helpers shared by the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import col

from app.core.errors import PreconditionFailed, PreconditionRequired, UnprocessableEntity
from app.schemas.problems import FieldError


def where_equal(stmt: Any, pairs: Iterable[tuple[Any, Any]]) -> Any:
    """Adds `column = value` for each pair whose value was given (None: no filter)."""
    for column, value in pairs:
        if value is not None:
            stmt = stmt.where(col(column) == value)
    return stmt


def version_etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(
    version: int, if_match: str | None, *, required: bool, what: str = "el recurso"
) -> None:
    """Optimistic concurrency: the caller must name the version it is changing (`ETag`)."""
    current = version_etag(version)
    if if_match is None:
        if required:
            raise PreconditionRequired(f"Indique en If-Match la versión (ETag) de {what}")
        return
    candidates = {v.strip().removeprefix("W/") for v in if_match.split(",")}
    if "*" not in candidates and current not in candidates:
        raise PreconditionFailed(
            f"{what[0].upper()}{what[1:]} ha cambiado (versión actual {current}); "
            "recárguelo y vuelva a intentarlo",
            headers={"ETag": current},
        )


def reject_nulls(model: Any, patch: dict[str, Any]) -> None:
    """An explicit null for a column that cannot be empty is a 422 naming the field, not a
    database error."""
    table = model.__table__
    bad = [
        name
        for name, value in patch.items()
        if value is None and name in table.columns and not table.columns[name].nullable
    ]
    if bad:
        raise UnprocessableEntity(
            "Estos campos no pueden quedar vacíos: " + ", ".join(bad),
            errors=[
                FieldError(loc=["body", n], pointer=f"/{n}", message="no admite null", code="null")
                for n in bad
            ],
        )
