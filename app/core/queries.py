"""Small query and concurrency helpers shared by the services."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Result,
    Row,
    Select,
    String,
    Table,
    TextClause,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
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


# ---- Set-based writes -------------------------------------------------------------------------
#
# Any number of rows in one statement that binds one array per column: unlike a multi-row
# VALUES list, its text does not depend on the number of rows, so SQLAlchemy compiles it once
# and PostgreSQL prepares it once, and it stays far below the limit of 32,767 parameters. A
# value every row shares is bound once instead of as an array of copies.

# The values of some rows, one list per column (each list holds a value for every row).
Columns = Mapping[str, Sequence[Any]]

_DIALECT = PGDialect()  # type: ignore[no-untyped-call]


@functools.cache
def _column_kind(column: Column[Any]) -> tuple[str, str]:
    """(the type a value is bound as, the expression that reads it into the column: `{}`
    stands for the bound value)."""
    # SQLModel's strings are a decorator around `String`: what counts is the type it stores.
    stored = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(stored, JSON):
        return "text", "CAST({} AS jsonb)"
    if isinstance(stored, String):
        # Into text: an explicit cast to varchar(n) would cut a value short silently; the
        # assignment to the column still checks its length.
        return "text", "{}"
    return column.type.compile(dialect=_DIALECT), "{}"


def columns_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """`rows` (dicts with the same keys) as one list of values per column."""
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def _row_count(columns: Columns) -> int:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError("every column needs one value per row")
    return lengths.pop() if lengths else 0


def _source(
    table: Table, columns: Columns, same: Mapping[str, Any], prefix: str
) -> tuple[str, Sequence[str], dict[str, Any]]:
    """The rows of `columns` as `unnest(…) … AS v(…, n)` (`n`: their order), the expressions
    that read each value of `columns` and then of `same`, and the parameters."""
    _row_count(columns)
    if not same.keys().isdisjoint(columns):
        raise ValueError("a column is given both per row and for every row")
    source, reads, names = _shape(table, tuple(columns), tuple(same), prefix)
    params: dict[str, Any] = {}
    for (name, is_json), values in zip(names, columns.values(), strict=False):
        params[name] = [None if v is None else _json(v) for v in values] if is_json else values
    for (name, is_json), value in zip(names[len(columns) :], same.values(), strict=True):
        params[name] = _json(value) if is_json and value is not None else value
    return source, reads, params


def _json(value: Any) -> str:
    """`value` as JSON text (orjson: several times faster than `json.dumps` on the audit
    snapshots and notices a batch writes). Instants, days and UUIDs are written as their ISO
    8601 and canonical text, as `audit.jsonable` writes them."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_default(value: Any) -> Any:
    # What orjson leaves to its caller: UUIDs of other classes (asyncpg's, read from a row)
    # and decimals, as text.
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@functools.lru_cache(maxsize=1024)
def _shape(
    table: Table, columns: tuple[str, ...], same: tuple[str, ...], prefix: str
) -> tuple[str, tuple[str, ...], tuple[tuple[str, bool], ...]]:
    """What `_source` writes for these columns, once per shape: the `unnest(…)` source, the
    reading expressions, and each parameter's name with whether it holds JSON."""
    arrays: list[str] = []
    reads: list[str] = []
    names: list[tuple[str, bool]] = []
    for i, name in enumerate(columns):
        column = table.c[name]
        kind, read = _column_kind(column)
        arrays.append(f"CAST(:{prefix}{i} AS {kind}[])")
        reads.append(read.format(f'v."{name}"'))
        names.append((f"{prefix}{i}", isinstance(column.type, JSON)))
    for i, name in enumerate(same):
        column = table.c[name]
        kind, read = _column_kind(column)
        reads.append(read.format(f"CAST(:{prefix}s{i} AS {kind})"))
        names.append((f"{prefix}s{i}", isinstance(column.type, JSON)))
    aliases = ", ".join(f'"{n}"' for n in columns)
    source = f"unnest({', '.join(arrays)}) WITH ORDINALITY AS v({aliases}, n)"
    return source, tuple(reads), tuple(names)


def _fold_shared(
    table: Table, columns: Columns, same: Mapping[str, Any]
) -> tuple[Columns, Mapping[str, Any]]:
    """`columns` and `same`, with every column whose rows all hold the same value (of the same
    type) moved to `same`: bound once, not as an array of copies. JSON values stay per row (equal
    values may be written differently: 1 and 1.0)."""
    per_row: dict[str, Sequence[Any]] = {}
    shared = dict(same)
    json_columns = _json_columns(table)
    for name, values in columns.items():
        if len(values) > 1 and name not in json_columns:
            first = values[0]
            kind = type(first)
            # The last row first: a column whose rows differ is then rarely read through.
            if (
                values[-1] == first
                and values.count(first) == len(values)
                and all(type(v) is kind for v in values)
            ):
                shared[name] = first
                continue
        per_row[name] = values
    if not per_row:
        # One column stays per row: it gives the statement its number of rows.
        name = next(iter(columns))
        per_row[name] = columns[name]
        del shared[name]
    return per_row, shared


@functools.cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


@functools.cache
def _written(table: Table) -> tuple[tuple[str, bool], ...]:
    """(name, whether PostgreSQL fills it when it is left out) of the columns one writes."""
    return tuple(
        (c.name, c.identity is not None or c.server_default is not None)
        for c in table.columns
        if c.computed is None
    )


def row_values(obj: object, table: Table) -> dict[str, Any]:
    """The values of `obj` (a model instance or any object with its attributes) for the
    columns of `table` one writes: not the computed ones, nor those left unset that the
    database fills (identities, server defaults)."""
    row: dict[str, Any] = {}
    for name, filled in _written(table):
        value = getattr(obj, name)
        if value is None and filled:
            continue
        row[name] = value
    return row


# A `:name` parameter, or a quoted literal (left as it is).
_NAMED = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=512)
def _driver_sql(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its `:name` parameters written as the driver's `$1, $2, …`, and the names in
    that order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        order.append(match.group(1))
        return f"${len(order)}"

    return _NAMED.sub(number, sql), tuple(order)


async def run_sql(
    session: AsyncSession, sql: str, params: Mapping[str, Any]
) -> Result[*tuple[Any, ...]]:
    """Runs a statement with `:name` parameters (the set-based writes, and statements composed of
    them) in the session's transaction straight through the driver: its text is made the
    driver's once (`_driver_sql`), so nothing is compiled or processed per call, which cost
    several times what the driver does on this path. Every parameter's type must follow from
    where it stands in the statement (a column it is compared with or written to, a cast). As
    `session.execute` would, the session's pending changes are flushed first."""
    driver_sql, names = _driver_sql(sql)
    return await _through_driver(session, driver_sql, names, params)


async def _through_driver(
    session: AsyncSession, driver_sql: str, names: Sequence[str], params: Mapping[str, Any]
) -> Result[*tuple[Any, ...]]:
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    return await _execute(connection, driver_sql, tuple(params[n] for n in names))


async def _execute(
    connection: AsyncConnection, sql: str, args: tuple[Any, ...]
) -> Result[*tuple[Any, ...]]:
    """`connection.exec_driver_sql(sql, args)` without its layers between SQLAlchemy's asyncpg
    adapter and the caller (the execution context, the cursor and its result), which cost more
    of the process's CPU than asyncpg itself: a one-row read through `run_text` took 231 µs of
    CPU with them, 146 µs without, asyncpg alone 85 µs.

    What they do still happens: the statement is announced to the `before_cursor_execute`
    listeners (`core.callers` forgets the callers when users change), it runs in the adapter's
    transaction (begun first if need be) with the adapter's prepared statement, and a driver
    error arrives as SQLAlchemy's (`IntegrityError`, …), the connection invalidated if it was
    lost. The rows come as from `exec_driver_sql`, which processes none of a textual
    statement's values either. The adapter's own attributes are used (`_execute_mutex`,
    `_transaction`, `_prepare`, `_handle_exception`): an upgrade of SQLAlchemy that changes
    them fails every test that writes."""
    sync = connection.sync_connection
    assert sync is not None
    dialect: Any = sync.dialect
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    adapter: Any = sync.connection.dbapi_connection
    async with adapter._execute_mutex:
        try:
            if adapter._transaction is None:
                await adapter._start_transaction()
            prepared, attributes = await adapter._prepare(
                sql, dialect._invalidate_schema_cache_asof
            )
            records = await prepared.fetch(*args)
        except Exception as error:  # translated as SQLAlchemy's cursor would
            try:
                adapter._handle_exception(error)
            except dialect.loaded_dbapi.Error as translated:
                lost = dialect.is_disconnect(translated, adapter, None)
                if lost:
                    await connection.invalidate(translated)
                raise DBAPIError.instance(
                    sql,
                    args,
                    translated,
                    dialect.loaded_dbapi.Error,
                    connection_invalidated=lost,
                    dialect=dialect,
                ) from error
            raise
    keys = [attribute.name for attribute in attributes or ()]
    return IteratorResult(SimpleResultMetaData(keys), iter(records))


# Hot fixed statements written for the driver: statement -> (its text, its parameters' names),
# or None when a parameter's type processes its values (then SQLAlchemy runs it).
_COMPILED: dict[TextClause | Select[Any], tuple[str, tuple[str, ...]] | None] = {}


async def run_text(
    session: AsyncSession, statement: TextClause | Select[Any], params: Mapping[str, Any]
) -> Result[*tuple[Any, ...]]:
    """`session.execute(statement, params)` for a fixed statement of a hot path (a module
    constant, or one built once per shape): compiled for the driver once, then only bound.
    An array parameter is bound untyped, its type following from the statement (`ANY(:ids)`
    compared with a column, or an explicit `CAST`): a typed one is processed per call."""
    if statement not in _COMPILED:
        compiled = statement.compile(dialect=session.get_bind().dialect)
        # Not when a parameter is rendered per call (an expanding `IN`): its text changes.
        plain = (
            not compiled._bind_processors
            and compiled.positiontup is not None
            and "POSTCOMPILE" not in compiled.string
        )
        _COMPILED[statement] = (
            (compiled.string, tuple(compiled.positiontup or ())) if plain else None
        )
    found = _COMPILED[statement]
    if found is None:
        return await session.execute(statement, params)
    return await _through_driver(session, found[0], found[1], params)


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> Sequence[Row[Any]]:
    """`insert_columns` of `rows` (dicts with the same keys)."""
    return await insert_columns(
        session, table, columns_of(rows), on_conflict=on_conflict, returning=returning
    )


async def insert_columns(
    session: AsyncSession,
    table: Table,
    columns: Columns,
    *,
    same: Mapping[str, Any] | None = None,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> Sequence[Row[Any]]:
    """`INSERT INTO table (…) SELECT … FROM unnest(…)` of the rows `columns` holds, in their
    order (identity values follow it); `same`: columns with one value for every row.
    `on_conflict`: an `ON CONFLICT …` clause; `returning`: column names to return."""
    if not _row_count(columns):
        return []
    sql, params = _insert(table, columns, same or {}, "p", on_conflict, returning)
    result = await run_sql(session, sql, params)
    return result.all() if returning else []


def insert_statement(
    table: Table,
    columns: Columns,
    *,
    same: Mapping[str, Any] | None = None,
    on_conflict: str = "",
    returning: Sequence[str] = (),
    prefix: str = "p",
) -> tuple[str, dict[str, Any]]:
    """The text and parameters of `insert_columns`, to be part of a larger statement (a
    data-modifying CTE); `prefix` keeps its parameter names apart from the rest's."""
    return _insert(table, columns, same or {}, prefix, on_conflict, returning)


def _insert(
    table: Table,
    columns: Columns,
    same: Mapping[str, Any],
    prefix: str,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> tuple[str, dict[str, Any]]:
    columns, same = _fold_shared(table, columns, same)
    _source_sql, _reads, params = _source(table, columns, same, prefix)
    sql = _insert_sql(table, tuple(columns), tuple(same), prefix, on_conflict, tuple(returning))
    return sql, params


@functools.lru_cache(maxsize=1024)
def _insert_sql(
    table: Table,
    columns: tuple[str, ...],
    same: tuple[str, ...],
    prefix: str,
    on_conflict: str,
    returning: tuple[str, ...],
) -> str:
    # Identifiers from the table's metadata (`_shape` looks every name up); values bound.
    source, reads, _names = _shape(table, columns, same, prefix)
    names = ", ".join(f'"{n}"' for n in (*columns, *same))
    sql = f'INSERT INTO "{table.name}" ({names}) SELECT {", ".join(reads)}'
    sql += f" FROM {source} ORDER BY v.n {on_conflict}"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{n}"' for n in returning)
    return sql


async def insert_rows_together(
    session: AsyncSession, parts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    """Several `insert_rows` in one statement (data-modifying CTEs: one round trip). Foreign
    keys between them hold whatever their order, as PostgreSQL checks them when the statement
    ends."""
    inserts: list[str] = []
    params: dict[str, Any] = {}
    for k, (table, rows) in enumerate(parts):
        if rows:
            sql, part = _insert(table, columns_of(rows), {}, f"p{k}_")
            inserts.append(sql)
            params |= part
    if not inserts:
        return
    *first, last = inserts
    ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first))
    await run_sql(session, f"WITH {ctes} {last}" if ctes else last, params)


async def update_rows(
    session: AsyncSession, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`update_columns` of `rows` (dicts with the same keys, `key` among them)."""
    await update_columns(session, table, key, columns_of(rows))


async def update_columns(session: AsyncSession, table: Table, key: str, columns: Columns) -> None:
    """`UPDATE table SET … FROM unnest(…) WHERE table.key = v.key`: each row of `columns`
    (`key` among them) sets its other columns on the row it names."""
    if not _row_count(columns):
        return
    source, reads, params = _source(table, columns, {}, "p")
    sets = ", ".join(f'"{n}" = {read}' for n, read in zip(columns, reads, strict=True) if n != key)
    sql = f'UPDATE "{table.name}" SET {sets} FROM {source}'  # noqa: S608
    sql += f' WHERE "{table.name}"."{table.c[key].name}" = v."{key}"'
    await run_sql(session, sql, params)
