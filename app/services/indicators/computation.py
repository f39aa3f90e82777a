"""Computing an indicator: the exact statement for a disaggregation, run against live data.

Statements are assembled only from constants of the catalogue (sources, aggregates, dimension
columns); every value reaches PostgreSQL as a bound parameter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.indicators.catalogue import DIMENSION_COLUMNS, Dimension, Indicator
from app.services.indicators.periods import Period

Number = int | float


@dataclass
class Cell:
    """The series values of one disaggregation value (key None: the total)."""

    key: str | None
    values: dict[str, Number | None] = field(default_factory=dict)


@dataclass
class Figures:
    total: Cell
    breakdown: list[Cell]


def uses_rollup(indicator: Indicator, period: Period) -> bool:
    """Whole-month periods of indicators with monthly aggregates read the aggregates."""
    return indicator.rollup is not None and period.whole_months


def query_for(indicator: Indicator, dimension: Dimension | None, rollup: bool = False) -> str:
    """The one SQL statement that computes the indicator's series, total and breakdown: from
    the live tables (the definition), or from the worker's monthly aggregates."""
    if rollup:
        assert indicator.rollup is not None
        source = indicator.rollup(dimension)
        aggregates = ", ".join(
            f"{s.rollup_aggregate or s.aggregate} AS {s.id}" for s in indicator.series
        )
    else:
        source = indicator.source_sql
        aggregates = ", ".join(f"{s.aggregate} AS {s.id}" for s in indicator.series)
    if dimension is None:
        return f"SELECT NULL AS key, 1 AS is_total, {aggregates} FROM ({source}) f"  # noqa: S608
    column = f"f.{DIMENSION_COLUMNS[dimension]}"
    return (
        f"SELECT CAST({column} AS text) AS key, GROUPING({column}) AS is_total, {aggregates}"  # noqa: S608
        f" FROM ({source}) f GROUP BY GROUPING SETS ((), ({column}))"
    )


def _number(value: object) -> Number | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    raise TypeError(f"unexpected aggregate value {value!r}")


async def compute(
    session: AsyncSession,
    indicator: Indicator,
    period: Period,
    dimension: Dimension | None,
    *,
    live: bool = False,
) -> Figures:
    """The figures; `live` forces the definition over the live tables."""
    rollup = not live and uses_rollup(indicator, period)
    statement = text(query_for(indicator, dimension, rollup))
    rows = (await session.execute(statement, period.params())).all()
    total = Cell(None, {s.id: 0 for s in indicator.series})
    breakdown: list[Cell] = []
    for row in rows:
        mapping = row._mapping
        values = {s.id: _number(mapping[s.id]) for s in indicator.series}
        if mapping["is_total"]:
            total = Cell(None, values)
        else:
            key = mapping["key"]
            breakdown.append(Cell(key if key is not None else "", values))
    return Figures(total, breakdown)


@dataclass(frozen=True)
class Entity:
    name: str
    ine_code: str | None
    kind: str


@dataclass
class References:
    """Names of what the keys point at (municipalities, comarcas, áreas)."""

    entities: dict[str, Entity]
    comarcas: dict[str, str]
    areas: dict[str, str]


async def load_references(session: AsyncSession) -> References:
    entities = {
        str(r.id): Entity(r.name, r.ine_code, r.kind)
        for r in (
            await session.execute(text("SELECT id, name, ine_code, kind FROM municipality"))
        ).all()
    }
    comarcas = {
        str(r.id): str(r.name)
        for r in (await session.execute(text("SELECT id, name FROM comarca"))).all()
    }
    areas = {
        str(r.id): str(r.name)
        for r in (await session.execute(text("SELECT id, name FROM area"))).all()
    }
    return References(entities, comarcas, areas)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
