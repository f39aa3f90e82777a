"""Set-based writes (`app.core.queries`): several inserts in one statement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import app.core.callers  # noqa: F401  (the statement listeners every engine of the app has)
from app.core import queries
from app.core.security import digest_secret
from app.models.consultation import Consultation, ConsultationEvent
from tests import factories as f

CONSULTATIONS = Consultation.__table__  # type: ignore[attr-defined]
EVENTS = ConsultationEvent.__table__  # type: ignore[attr-defined]


def _consultation(municipality_id: uuid.UUID) -> dict[str, object]:
    now = datetime.now(UTC)
    c = Consultation(
        reference=f"OAAA-T-{uuid.uuid4().hex[:10]}",
        access_code_hash=digest_secret("TESTCODE"),
        municipality_id=municipality_id,
        channel="web",
        subject="Consulta",
        body="Texto",
        received_at=now,
        sla_started_at=now,
    )
    return queries.row_values(c, CONSULTATIONS)


def _event(consultation_id: object) -> dict[str, object]:
    return {
        "consultation_id": consultation_id,
        "occurred_at": datetime.now(UTC),
        "actor_type": "system",
        "kind": "created",
        "is_public": True,
        "data": {"channel": "web"},
    }


async def _count(session, table, column: str, value: object) -> int:
    stmt = select(func.count()).select_from(table).where(table.c[column] == value)
    count: int = (await session.execute(stmt)).scalar_one()
    return count


async def test_inserts_together_are_one_statement_whatever_the_order_of_dependents(session):
    merida = await f.municipality(session, "06083")
    row = _consultation(merida.id)
    statements: list[str] = []
    bind = session.get_bind()

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(bind, "before_cursor_execute", seen)
    try:
        # The history entry before its consultation: the foreign key is checked when the
        # statement ends, not row by row; an empty part is left out.
        await queries.insert_rows_together(
            session,
            [(EVENTS, [_event(row["id"])]), (EVENTS, []), (CONSULTATIONS, [row])],
        )
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert statements[0].startswith('WITH w0 AS (INSERT INTO "consultation_event"')
    assert await _count(session, CONSULTATIONS, "id", row["id"]) == 1
    assert await _count(session, EVENTS, "consultation_id", row["id"]) == 1


async def test_inserts_together_write_nothing_when_one_part_breaks_a_foreign_key(session):
    merida = await f.municipality(session, "06083")
    row = _consultation(merida.id)
    with pytest.raises(IntegrityError):
        await queries.insert_rows_together(
            session, [(CONSULTATIONS, [row]), (EVENTS, [_event(uuid.uuid4())])]
        )
    await session.rollback()
    assert await _count(session, CONSULTATIONS, "id", row["id"]) == 0


async def test_columns_with_values_shared_by_every_row_insert_and_update_as_rows_would(session):
    merida = await f.municipality(session, "06083")
    row = _consultation(merida.id)
    await queries.insert_rows(session, CONSULTATIONS, [row])
    actor_id = uuid.uuid4()
    at = [datetime(2026, 9, 1, 8, i, tzinfo=UTC) for i in range(3)]
    ids = await queries.insert_columns(
        session,
        EVENTS,
        {
            "occurred_at": at,
            "kind": ["created", "assigned", "noted"],
            "data": [{"n": 1}, [], {"to": ["a", "ñ"]}],
        },
        same={
            "consultation_id": row["id"],
            "actor_type": "user",
            "actor_id": actor_id,
            "actor_label": None,
            "is_public": False,
        },
        returning=("id",),
    )
    assert len(ids) == 3
    await queries.insert_columns(
        session,
        EVENTS,
        {"occurred_at": at[:1], "kind": ["closed"]},
        same={
            "consultation_id": row["id"],
            "actor_type": "system",
            "is_public": True,
            "data": {"why": "ok"},
        },
    )
    await queries.update_columns(
        session,
        EVENTS,
        "id",
        {"id": [ids[0][0], ids[2][0]], "actor_label": ["Ana", None], "data": [{}, {"x": 2}]},
    )
    stmt = (
        select(
            EVENTS.c.occurred_at,
            EVENTS.c.kind,
            EVENTS.c.data,
            EVENTS.c.actor_type,
            EVENTS.c.actor_id,
            EVENTS.c.actor_label,
            EVENTS.c.is_public,
        )
        .where(EVENTS.c.consultation_id == row["id"])
        .order_by(EVENTS.c.id)
    )
    assert [tuple(r) for r in (await session.execute(stmt)).all()] == [
        (at[0], "created", {}, "user", actor_id, "Ana", False),
        (at[1], "assigned", [], "user", actor_id, None, False),
        (at[2], "noted", {"x": 2}, "user", actor_id, None, False),
        (at[0], "closed", {"why": "ok"}, "system", None, None, True),
    ]
    # Nothing to write: no statement.
    assert await queries.insert_columns(session, EVENTS, {"kind": []}, same={"x": 1}) == []


async def test_a_column_whose_rows_all_hold_one_value_is_bound_once(session):
    merida = await f.municipality(session, "06083")
    row = _consultation(merida.id)
    await queries.insert_rows(session, CONSULTATIONS, [row])
    at = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    sent: list[dict[int, object]] = []
    bind = session.get_bind()

    def seen(conn, cursor, statement, parameters, *_):
        sent.append(dict(enumerate(parameters)))

    rows = [
        {
            "consultation_id": row["id"],
            "occurred_at": at,
            "actor_type": "system",
            "kind": kind,
            "is_public": True,
            "actor_label": None,
            # Equal values, written differently: JSON stays per row.
            "data": {"n": n},
        }
        # The first and the last row agree on the kind, the middle one does not.
        for kind, n in (("noted", 1), ("created", 1.0), ("noted", 1))
    ]
    event.listen(bind, "before_cursor_execute", seen)
    try:
        await queries.insert_rows(session, EVENTS, rows)
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    arrays = [v for v in sent[0].values() if isinstance(v, list)]
    # Only the kinds and the JSON vary: two arrays; the rest is bound once.
    assert sorted(map(len, arrays)) == [3, 3]
    assert ["noted", "created", "noted"] in arrays
    stored = (
        await session.execute(
            select(EVENTS.c.kind, EVENTS.c.occurred_at, EVENTS.c.is_public, EVENTS.c.data)
            .where(EVENTS.c.consultation_id == row["id"])
            .order_by(EVENTS.c.id)
        )
    ).all()
    assert [tuple(r) for r in stored] == [
        ("noted", at, True, {"n": 1}),
        ("created", at, True, {"n": 1.0}),
        ("noted", at, True, {"n": 1}),
    ]
    assert [type(r.data["n"]) for r in stored] == [int, float, int]
    # Rows that all agree on every column still make as many rows.
    same = [
        {
            "consultation_id": row["id"],
            "occurred_at": at,
            "actor_type": "system",
            "kind": "noted",
            "is_public": False,
            "data": {},
        }
    ] * 2
    await queries.insert_rows(session, EVENTS, same)
    assert await _count(session, EVENTS, "is_public", False) == 2


def test_columns_of_rows_and_columns_that_cannot_make_rows():
    assert queries.columns_of([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]) == {
        "a": [1, 2],
        "b": ["x", "y"],
    }
    assert queries.columns_of([]) == {}
    with pytest.raises(ValueError, match="one value per row"):
        queries._source(EVENTS, {"kind": ["a", "b"], "actor_type": ["user"]}, {}, "p")
    with pytest.raises(ValueError, match="both per row and for every row"):
        queries._source(EVENTS, {"kind": ["a"]}, {"kind": "b"}, "p")


async def test_a_value_longer_than_its_column_is_refused_not_cut_short(session):
    merida = (await f.municipality(session, "06083")).id
    too_long = "x" * 301  # the subject column holds 300 characters
    row = _consultation(merida) | {"subject": too_long}
    with pytest.raises(DBAPIError, match="too long"):
        await queries.insert_rows(session, CONSULTATIONS, [row])
    await session.rollback()
    # The same when every row shares the value.
    other = _consultation(merida)
    del other["subject"]
    with pytest.raises(DBAPIError, match="too long"):
        await queries.insert_columns(
            session, CONSULTATIONS, queries.columns_of([other]), same={"subject": too_long}
        )
    await session.rollback()
    for reference in (row["reference"], other["reference"]):
        assert await _count(session, CONSULTATIONS, "reference", reference) == 0


def test_set_based_statements_are_written_for_the_driver_once():
    sql, names = queries._driver_sql(
        "INSERT INTO t (a, b) SELECT CAST(:p0 AS text[]), x::jsonb, :ps0, ':q' FROM v WHERE :p0"
    )
    assert (
        sql == "INSERT INTO t (a, b) SELECT CAST($1 AS text[]), x::jsonb, $2, ':q' FROM v WHERE $3"
    )
    assert names == ("p0", "ps0", "p0")


async def test_a_set_based_write_sees_what_the_session_added_before_it(session):
    merida = await f.municipality(session, "06083")
    c = Consultation.model_validate(_consultation(merida.id))
    session.add(c)  # not flushed: the events below need it in the database first
    await queries.insert_rows(session, EVENTS, [_event(c.id)])
    assert await _count(session, EVENTS, "consultation_id", c.id) == 1


async def test_a_fixed_statement_runs_through_the_driver_with_what_execute_would_return(session):
    from sqlalchemy import (
        ARRAY,
        JSON,
        Integer,
        String,
        Uuid,
        bindparam,
        cast,
        literal_column,
        text,
    )

    ident = uuid.uuid4()
    plain = text("SELECT CAST(:n AS int) + 1 AS next, CAST(:id AS uuid) AS id").bindparams(
        bindparam("n", type_=Integer), bindparam("id", type_=Uuid)
    )
    got = (await queries.run_text(session, plain, {"id": ident, "n": 41})).one()
    assert (got.next, got.id) == (42, ident)
    assert queries._COMPILED[plain] is not None  # written for the driver
    # A parameter whose type processes its value (JSON to text) goes through SQLAlchemy.
    processed = text("SELECT CAST(:doc AS jsonb) ->> 'a'").bindparams(bindparam("doc", type_=JSON))
    assert (await queries.run_text(session, processed, {"doc": {"a": "ñ"}})).scalar_one() == "ñ"
    assert queries._COMPILED[processed] is None
    # Nor a statement whose text depends on its values (an expanding IN).
    expanding: Any = select(literal_column("1")).where(
        literal_column("2").in_(bindparam("ns", expanding=True))
    )
    assert (await queries.run_text(session, expanding, {"ns": [1, 2, 3]})).scalar_one() == 1
    assert queries._COMPILED[expanding] is None
    # A built statement with an untyped array parameter cast in its text goes to the driver.
    refs = select(func.unnest(cast(bindparam("refs"), ARRAY(String()))).label("ref"))
    got_refs = (await queries.run_text(session, refs, {"refs": ["b", "a"]})).scalars().all()
    assert got_refs == ["b", "a"]
    assert queries._COMPILED[refs] is not None


@pytest.mark.committed
async def test_a_statement_sent_first_in_a_transaction_belongs_to_it(sessions):
    # Sent straight to the driver before anything else: the transaction begins first, so
    # that the statement is undone with it, and kept when it commits.
    async with sessions() as first:
        merida = await f.municipality(first, "06083")
        await first.commit()
    rows = [_consultation(merida.id) for _ in range(2)]
    for row, keep in zip(rows, (False, True), strict=True):
        async with sessions() as s:
            await queries.insert_rows(s, CONSULTATIONS, [row])
            await (s.commit() if keep else s.rollback())
    async with sessions() as s:
        assert await _count(s, CONSULTATIONS, "id", rows[0]["id"]) == 0
        assert await _count(s, CONSULTATIONS, "id", rows[1]["id"]) == 1


@pytest.mark.committed
async def test_a_connection_lost_under_a_statement_is_given_up(sessions):
    async with sessions() as s:
        pid = (await queries.run_sql(s, "SELECT pg_backend_pid()", {})).scalar_one()
        async with sessions() as other:
            await other.execute(select(func.pg_terminate_backend(pid)))
            alive = select(func.count()).select_from(text("pg_stat_activity WHERE pid = :pid"))
            for _ in range(500):  # until the backend has ended
                if not (await other.execute(alive, {"pid": pid})).scalar_one():
                    break
                await asyncio.sleep(0.01)
        with pytest.raises(DBAPIError) as lost:
            await queries.run_sql(s, "SELECT 1", {})
        assert lost.value.connection_invalidated
        await s.rollback()
        # The pool gives the session a live connection again.
        again = (await queries.run_sql(s, "SELECT pg_backend_pid()", {})).scalar_one()
        assert again != pid
