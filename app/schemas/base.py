"""The base of every request body (unknown fields are refused) and the shared input types.

Every number, flag, day and instant that a client sends goes through one of these types, so the
limits are the same everywhere and the schema shows them: integers fit their column, a flag is
`true` or `false` (not `0`), a day or an instant is an ISO 8601 text (not a number) inside a
range where day arithmetic cannot overflow and PostgreSQL can store it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlmodel import SQLModel


class StrictInput(SQLModel):
    """Base for request bodies: unknown fields are rejected, not silently dropped."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class BulkInput(BaseModel):
    """`StrictInput` for the shapes an integration batch validates by the hundred in one
    request (its items, and what they carry). A plain pydantic model: SQLModel's own
    `__init__` validates every nested object a second time, which made each item cost nearly
    twice as much. Same rules, same published schema."""

    model_config = ConfigDict(extra="forbid")


def _not_null_fields(cls: type[PatchInput]) -> list[str]:
    table = getattr(cls.table_model, "__table__", None)
    if table is None:
        return []
    columns = table.columns
    return [n for n in cls.model_fields if n in columns and not columns[n].nullable]


def _offer_null_only_where_accepted(schema: dict[str, Any], cls: type[Any]) -> None:
    for name in _not_null_fields(cls):
        prop = schema.get("properties", {}).get(name)
        if prop is None or "anyOf" not in prop:
            continue
        options = [o for o in prop["anyOf"] if o != {"type": "null"}]
        del prop["anyOf"]
        if len(options) == 1:
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        if prop.get("default", ...) is None:
            del prop["default"]


class PatchInput(StrictInput):
    """A partial update (PATCH): a field left out keeps its value and `null` empties it, but only
    where the `table_model`'s column can be empty. On the others `null` is refused by validation
    (a 422 naming the field) and the schema does not offer it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_offer_null_only_where_accepted)
    table_model: ClassVar[Any] = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            bad = [n for n in _not_null_fields(cls) if n in data and data[n] is None]
            if bad:
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        InitErrorDetails(
                            type=PydanticCustomError("null_not_allowed", "no admite null"),
                            loc=(name,),
                            input=None,
                        )
                        for name in bad
                    ],
                )
        return data


# A decimal may be sent as a JSON number or as text; the text must be a plain decimal numeral.
DECIMAL_TEXT: dict[str, Any] = {"pattern": r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"}

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_day_text(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("debe ser una fecha AAAA-MM-DD")
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise ValueError("debe ser una fecha AAAA-MM-DD")
    return value


def _iso_instant_text(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_INSTANT.match(value):
        raise ValueError("debe ser una fecha y hora ISO 8601 (AAAA-MM-DDTHH:MM…)")
    if not isinstance(value, str | datetime):
        raise ValueError("debe ser una fecha y hora ISO 8601 (AAAA-MM-DDTHH:MM…)")
    return value


def _day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"debe estar entre {FIRST_DAY.isoformat()} y {LAST_DAY.isoformat()}")
    return value


def _instant_in_range(value: datetime) -> datetime:
    # The wall-clock part is checked, so no offset (±24 h) can carry it past what day
    # arithmetic and PostgreSQL's timestamptz can hold. The range is whole years: its year
    # says it (without building a naive copy of every instant).
    if not FIRST_DAY.year <= value.year <= LAST_DAY.year:
        raise ValueError(f"debe estar entre los años {FIRST_DAY.year} y {LAST_DAY.year}")
    return value


_DAY_SCHEMA = {"formatMinimum": FIRST_DAY.isoformat(), "formatMaximum": LAST_DAY.isoformat()}
_INSTANT_SCHEMA = {
    "formatMinimum": f"{FIRST_DAY.isoformat()}T00:00:00Z",
    "formatMaximum": f"{LAST_DAY.isoformat()}T23:59:59Z",
}

# A field narrows the range inside the annotation, `Annotated[Int32, Ge(1), Le(5)]`: a `ge`/`le`
# given to `Field()` would lose to the type's own on some fields.
Int32 = Annotated[int, Strict(), Ge(INT32_MIN), Le(INT32_MAX)]
"""A JSON integer that fits a PostgreSQL `integer` (no `"5"`, no `true`)."""
Int64 = Annotated[int, Strict(), Ge(INT64_MIN), Le(INT64_MAX)]
"""A JSON integer that fits a PostgreSQL `bigint`."""
Bool = Annotated[bool, Strict()]
"""A JSON `true` or `false`: neither `0`/`1` nor `"yes"`."""
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
"""A finite JSON number."""
Day = Annotated[
    date,
    BeforeValidator(_iso_day_text),
    AfterValidator(_day_in_range),
    Field(json_schema_extra=_DAY_SCHEMA),
]
"""A calendar day as `AAAA-MM-DD`, between 1900-01-01 and 2199-12-31."""
Instant = Annotated[
    datetime,
    BeforeValidator(_iso_instant_text),
    AfterValidator(_instant_in_range),
    Field(json_schema_extra=_INSTANT_SCHEMA),
]
"""An ISO 8601 date-time between the years 1900 and 2199 (any UTC offset)."""
