"""Integration batches applied set-based: the same outcome, rows, audit trail and notifications
as applying the items one by one, in a number of SQL statements that does not grow with the
batch; a failure of the set-based attempt leaves no trace and the items are applied one by one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scoping import Actor, ActorRole
from app.core.time import MADRID
from app.models.audit import ActorType
from app.models.base import Role
from app.models.notification import WebhookSubscription
from app.models.sla import Holiday
from app.services import integrations
from app.services.integrations_batch import SetBasedBatch, SetBasedUnavailable
from app.services.sla import clock
from tests import factories as f
from tests.integrations.test_router import _procedure

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ALMENDRALEJO, BADAJOZ = "06011", "06015"


def _at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


async def _integration(session: AsyncSession, code: str) -> Actor:
    area = await f.area(session, code)
    await _procedure(session, area.id, "obras")
    await _procedure(session, area.id, "menor")
    c = await f.integration_client(session, area.id, scopes=["expedientes:write"])
    return Actor(
        kind=ActorType.integration,
        id=c.id,
        role=ActorRole.integration,
        label=f"integración {c.client_id}",
        area_id=area.id,
        scopes=frozenset({"expedientes:read", "expedientes:write"}),
    )


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "municipality_ine_code": ALMENDRALEJO,
        "procedure_code": "obras",
        "title": "Licencia de obra menor en la calle Mayor",
        "opened_at": T0.isoformat(),
    } | changes


def _doc(n: int, title: str | None = None) -> dict[str, Any]:
    return {"title": title or f"Documento {n}", "url": f"https://sede.example.org/doc/{n}"}


def _upsert(ref: str, **changes: Any) -> dict[str, Any]:
    return {"op": "upsert", "external_ref": ref, "expediente": _body(**changes)}


def _event(ref: str, event_id: str | None, stage: str, hours: int, **extra: Any) -> dict[str, Any]:
    ev = {"stage_code": stage, "occurred_at": _at(hours)} | extra
    if event_id is not None:
        ev["event_id"] = event_id
    return {"op": "event", "external_ref": ref, "event": ev}


# Existing expedientes before the batch: one with documents and a timeline, one to be resolved.
BEFORE = [
    _upsert("P-1", documents=[_doc(1), _doc(2)]),
    _event("P-1", "p1-ini", "INI", 1),
    _event("P-1", "p1-tra", "TRA", 30),
    _upsert("P-2", municipality_ine_code=BADAJOZ),
    _event("P-2", "p2-ini", "INI", 2),
]

BATCH = [
    # A new expediente, its stages reported late and out of order, a re-entry and a duplicate.
    _upsert("N-1", documents=[_doc(10), _doc(11)]),
    _event("N-1", "n1-a", "INI", 1),
    _event("N-1", "n1-b", "TRA", 50),
    _event("N-1", "n1-c", "INI", 90),
    _event("N-1", "n1-d", "TRA", 20),
    _event("N-1", "n1-b", "TRA", 50),
    _upsert("N-1", title="Título nuevo", documents=[_doc(11, "Informe revisado"), _doc(12)]),
    _upsert("N-1", title="Título nuevo", documents=[_doc(11, "Informe revisado"), _doc(12)]),
    # Existing ones: documents dropped, procedure changed, resolved, and a stage at a tie.
    _upsert("P-1", procedure_code="menor", documents=[_doc(2, "Documento dos")]),
    _event("P-1", "p1-res", "RES", 30),
    _upsert("P-2", municipality_ine_code=BADAJOZ, status="resolved", closed_at=_at(100)),
    _event("P-2", "p2-tra", "TRA", 40),
    # Failures, each on its own.
    _upsert("N-2", municipality_id=str(uuid.UUID(int=7))),
    _upsert("N-3", procedure_code="nada"),
    _upsert("N-6", municipality_ine_code="99999"),
    _upsert("N-7", municipality_ine_code=None),
    _event("X-9", "x", "INI", 1),
    _event("N-1", "n1-z", "NOPE", 1),
    _event("N-1", "n1-f", "TRA", 24 * 40),
    "not an object",
    {"op": "upsert", "external_ref": "-bad", "expediente": _body()},
    # Created closed, then a stage; another without documents or stages.
    _upsert("N-4", municipality_ine_code=BADAJOZ, status="archived"),
    _event("N-4", "n4-ini", "INI", 3, comment="Entrada por registro"),
    _upsert("N-5", municipality_ine_code=BADAJOZ, procedure_code="menor"),
]


async def _world(session: AsyncSession) -> tuple[Actor, Actor]:
    almendralejo = await f.municipality(session, ALMENDRALEJO)
    badajoz = await f.municipality(session, BADAJOZ)
    await f.user(session, Role.municipal_user, municipality_id=almendralejo.id)
    await f.user(session, Role.municipal_user, municipality_id=badajoz.id)
    # A local holiday inside the stays above moves their stall instants.
    session.add(Holiday(municipality_id=almendralejo.id, day=date(2026, 3, 5), name="Fiesta local"))
    session.add(
        WebhookSubscription(url="https://hooks.example.org/oaaa", secret="whsec_" + "a" * 32)
    )
    await session.commit()
    return await _integration(session, "fomento"), await _integration(session, "cultura")


async def _one_by_one(session: AsyncSession, actor: Actor, items: list[Any]) -> list[Any]:
    return await integrations._run_items(session, actor, items, NOW)


async def _state(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    """Everything the batch wrote for one área, without ids and instants of writing."""
    ids: dict[str, str] = {}
    for table in ("procedure_type", "expediente"):
        key = "code" if table == "procedure_type" else "external_ref"
        rows = await session.execute(
            text(f"SELECT id, {key} FROM {table} WHERE area_id = :a"),
            {"a": actor.area_id},
        )
        ids |= {str(i): f"<{k}>" for i, k in rows.all()}
    ids[str(actor.area_id)] = "<area>"

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: norm(v)
                for k, v in value.items()
                if k not in ("created_at", "updated_at", "expediente_id")
            }
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, uuid.UUID):
            value = str(value)
        return ids.get(value, value) if isinstance(value, str) else value

    exps = (
        await session.execute(
            text("SELECT * FROM expediente WHERE area_id = :a ORDER BY external_ref"),
            {"a": actor.area_id},
        )
    ).mappings()
    out: dict[str, Any] = {}
    for e in exps:
        eid = e["id"]
        timeline = (
            await session.execute(
                text(
                    "SELECT stage_code, stage_name, entered_at, left_at, actor_type, actor_id,"
                    " comment, external_event_id FROM expediente_stage_entry"
                    " WHERE expediente_id = :e ORDER BY entered_at, id"
                ),
                {"e": eid},
            )
        ).all()
        docs = (
            await session.execute(
                text(
                    "SELECT url, title, verification_code FROM expediente_document"
                    " WHERE expediente_id = :e ORDER BY url"
                ),
                {"e": eid},
            )
        ).all()
        audits = (
            await session.execute(
                text(
                    "SELECT action, actor_type, actor_id, changes FROM audit_log"
                    " WHERE entity_type = 'expediente' AND entity_id = :e ORDER BY id"
                ),
                {"e": str(eid)},
            )
        ).all()
        events = (
            await session.execute(
                text(
                    "SELECT e.kind, e.title, e.body, e.payload, e.municipality_id,"
                    " (SELECT count(*) FROM notification n WHERE n.event_id = e.id),"
                    " (SELECT count(*) FROM webhook_delivery w WHERE w.event_id = e.id)"
                    " FROM notification_event e WHERE e.entity_id = :e ORDER BY e.id"
                ),
                {"e": str(eid)},
            )
        ).all()
        row = {k: v for k, v in e.items() if k not in ("id", "created_at", "updated_at", "area_id")}
        out[e["external_ref"]] = norm(
            {
                "row": row,
                "timeline": [[*t[:4], t[4], t[5] == actor.id, *t[6:]] for t in timeline],
                "documents": [list(d) for d in docs],
                "audit": [[a[0], a[1], a[2] == actor.id, a[3]] for a in audits],
                "events": [list(ev) for ev in events],
            }
        )
    return out


def _outcomes(results: list[Any]) -> list[Any]:
    return [
        (
            r.status,
            r.version,
            r.expediente_id is not None,
            r.error.model_dump() if r.error else None,
        )
        for r in results
    ]


def _itemwise_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: Any) -> Any:
        raise AssertionError("the batch was applied item by item")

    monkeypatch.setattr(integrations, "_run_items", refuse)


async def _both_ways(
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    set_based: Actor,
    one_by_one: Actor,
    items: Sequence[Any],
) -> Any:
    """`items` applied item by item for `one_by_one` and set-based (the item-by-item path
    forbidden) for `set_based`, each in its own área; the outcomes must be the same. Returns the
    set-based batch's result."""
    expected = await _one_by_one(session, one_by_one, list(items))
    with monkeypatch.context() as m:
        _itemwise_forbidden(m)
        got = await integrations.run_batch(session, set_based, list(items), NOW)
    await session.commit()
    assert _outcomes(got.items) == _outcomes(expected)
    return got


async def test_set_based_batch_writes_what_items_one_by_one_write(session, monkeypatch):
    set_based, one_by_one = await _world(session)
    for actor in (set_based, one_by_one):
        await _one_by_one(session, actor, BEFORE)
    await session.commit()

    got = await _both_ways(session, monkeypatch, set_based, one_by_one, BATCH)
    assert [r.status for r in got.items] == [
        "created",
        "placed",
        "placed",
        "placed",
        "placed",
        "duplicate",
        "updated",
        "unchanged",
        "updated",
        "placed",
        "updated",
        "placed",
        *["error"] * 9,
        "created",
        "placed",
        "created",
    ]
    state, reference = await _state(session, set_based), await _state(session, one_by_one)
    assert set(state) == {"P-1", "P-2", "N-1", "N-4", "N-5"}
    for ref in reference:
        assert state[ref] == reference[ref], ref
    # What the comparison covers is really there.
    n1 = state["N-1"]
    assert [t[0] for t in n1["timeline"]] == ["INI", "TRA", "TRA", "INI"]
    assert n1["row"]["stage_due_at"] is not None
    stage_audits = ["expediente.stage"] * 4
    assert [a[0] for a in n1["audit"]] == ["expediente.create", *stage_audits, "expediente.upsert"]
    kinds = [ev[0] for ev in n1["events"]]
    assert kinds.count("expediente.created") == 1
    assert "expediente.documents_added" in kinds
    assert all(ev[5] == 1 and ev[6] == 1 for ev in n1["events"])
    assert "expediente.resolved" in [ev[0] for ev in state["P-2"]["events"]]
    assert state["P-1"]["documents"] == [["https://sede.example.org/doc/2", "Documento dos", None]]


async def test_stall_instants_follow_each_municipalitys_calendar_and_day(session, monkeypatch):
    set_based, one_by_one = await _world(session)
    # Stays entered the same day (Madrid time) in two municipalities, one of them with a local
    # holiday inside the term; twice that day in one of them; one on a Saturday.
    items = [
        _upsert("A", municipality_ine_code=ALMENDRALEJO),
        _event("A", "a", "INI", 1),
        _upsert("B", municipality_ine_code=BADAJOZ),
        _event("B", "b", "INI", 2),
        _upsert("C", municipality_ine_code=BADAJOZ),
        _event("C", "c", "INI", 9),
        _upsert("D", municipality_ine_code=BADAJOZ),
        _event("D", "d", "INI", 5 * 24 + 2),
    ]
    await _both_ways(session, monkeypatch, set_based, one_by_one, items)
    state, reference = await _state(session, set_based), await _state(session, one_by_one)
    assert state == reference
    due = {ref: state[ref]["row"]["stage_due_at"] for ref in state}
    assert due["B"] == due["C"]
    assert due["A"] > due["B"]  # the local holiday of Almendralejo lengthens its term
    assert due["D"] > due["B"]


async def test_statements_per_batch_do_not_grow_with_its_size(session, monkeypatch):
    actor, _ = await _world(session)
    _itemwise_forbidden(monkeypatch)
    counted = 0

    def count(*_: Any) -> None:
        nonlocal counted
        counted += 1

    async def statements(prefix: str, n: int) -> int:
        nonlocal counted
        items: list[Any] = []
        for i in range(n):
            ref = f"{prefix}-{i}"
            items += [
                _upsert(ref, documents=[_doc(i)]),
                _event(ref, f"{ref}:INI", "INI", 1),
                _event(ref, f"{ref}:TRA", "TRA", 2 + i % 5),
            ]
        counted = 0
        result = await integrations.run_batch(session, actor, items, NOW)
        assert result.counts["created"] == n
        assert result.counts["placed"] == 2 * n
        return counted

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        await statements("W", 1)  # the session's first statements of its kind
        small = await statements("S", 5)
        large = await statements("L", 160)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert small == large
    assert large <= 25
    entries = await session.execute(text("SELECT count(*) FROM expediente_stage_entry"))
    assert entries.scalar_one() == 2 * 166


async def test_a_failed_set_based_attempt_leaves_nothing_and_items_are_applied(
    session, monkeypatch
):
    actor, _ = await _world(session)
    items = [
        _upsert("F-1", documents=[_doc(1)]),
        _event("F-1", "f1", "INI", 1),
        _upsert("F-2", procedure_code="nada"),
    ]
    original = SetBasedBatch._write
    attempts: list[int] = []

    async def write_then_fail(self: SetBasedBatch) -> None:
        await original(self)  # everything written, then a late failure
        attempts.append(1)
        raise SetBasedUnavailable("simultaneous first insert")

    monkeypatch.setattr(SetBasedBatch, "_write", write_then_fail)
    result = await integrations.run_batch(session, actor, items, NOW)
    await session.commit()
    assert attempts == [1]
    assert [r.status for r in result.items] == ["created", "placed", "error"]
    state = await _state(session, actor)
    assert set(state) == {"F-1"}
    f1 = state["F-1"]
    assert [a[0] for a in f1["audit"]] == ["expediente.create", "expediente.stage"]
    assert [ev[0] for ev in f1["events"]] == ["expediente.created"]
    assert len(f1["timeline"]) == 1
    assert len(f1["documents"]) == 1


@pytest.mark.committed
async def test_simultaneous_batches_with_the_same_new_references_create_each_once(client, session):
    from tests.integrations import test_router as http

    w = await http._world(client, session)
    items = [
        {"op": "upsert", "external_ref": "C-1", "expediente": http._body()},
        {"op": "event", "external_ref": "C-1", "event": http._event("c1", "INI", 1)},
        {"op": "upsert", "external_ref": "C-2", "expediente": http._body(title="Otro")},
    ]
    responses = await asyncio.gather(
        *[
            client.post(f"{http.BASE}/batch", json={"items": items}, headers=w["ha"])
            for _ in range(3)
        ]
    )
    assert [r.status_code for r in responses] == [200] * 3, [r.text for r in responses]
    statuses = sorted(tuple(i["status"] for i in r.json()["items"]) for r in responses)
    assert statuses == [
        ("created", "placed", "created"),
        ("unchanged", "duplicate", "unchanged"),
        ("unchanged", "duplicate", "unchanged"),
    ]
    ids = {tuple(i["expediente_id"] for i in r.json()["items"]) for r in responses}
    assert len(ids) == 1
    assert await http._scalar(session, "SELECT count(*) FROM expediente") == 2
    assert await http._scalar(session, "SELECT count(*) FROM expediente_stage_entry") == 1
    c1 = responses[0].json()["items"][0]["expediente_id"]
    assert [a.action for a in await http._audit_rows(session, c1)] == [
        "expediente.create",
        "expediente.stage",
    ]
    created = await http._scalar(
        session, "SELECT count(*) FROM notification_event WHERE kind = 'expediente.created'"
    )
    assert created == 2


async def test_batches_read_the_calendars_again_only_when_the_reference_data_change(
    session, monkeypatch
):
    clock.forget_reference_data()
    actor, _ = await _world(session)
    _itemwise_forbidden(monkeypatch)

    async def due_of(ref: str) -> datetime:
        items = [_upsert(ref), _event(ref, f"{ref}:INI", "INI", 1)]
        result = await integrations.run_batch(session, actor, items, NOW)
        assert result.counts["placed"] == 1
        await session.commit()
        due = await session.execute(
            text("SELECT stage_due_at FROM expediente WHERE external_ref = :ref"), {"ref": ref}
        )
        found: datetime = due.scalar_one()
        return found

    first = await due_of("K-1")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        second = await due_of("K-2")
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert second == first
    assert any("reference_data_version" in s for s in statements)
    assert not [s for s in statements if "FROM holiday" in s]

    # A province-wide holiday inside the stay's five working days: the next batch counts it.
    session.add(Holiday(municipality_id=None, day=date(2026, 3, 4), name="Festivo de prueba"))
    await session.commit()
    third = await due_of("K-3")
    assert third.astimezone(MADRID).date() == first.astimezone(MADRID).date() + timedelta(days=1)
