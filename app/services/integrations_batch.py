"""Integration batches applied set-based: whatever the number of items, a bounded number of SQL
statements.

Everything the items may touch is read first (the área's expedientes with those references,
locked, with their timelines and documents; municipalities, procedure types and their stages;
the working-day calendars of the municipalities concerned), the items are applied in order to
that state in memory, by the same rules as one upsert or one event
(`expedientes.upsert_from_integration`, `expedientes.add_stage_event`), and the result is
written with one statement per table and kind of change: new expedientes, changed ones, stage
entries, documents, the audit rows (one per item, as before) and the notifications
(`outbox.emit_many`).

An item that breaks a rule is reported on its own and changes nothing, as before. What only
the database can tell (another request inserting the same reference at the same moment, a
constraint the rules above do not foresee) raises `SetBasedUnavailable` or a `DBAPIError`; the
caller then undoes the whole attempt and applies the items one by one.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    func,
    text,
    true,
)
from sqlalchemy import select as select_table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, queries
from app.core.errors import AppError, NotFound, UnprocessableEntity
from app.core.observability import client_ip_var, request_id_var
from app.core.scoping import SCOPE_PARAM, Actor, visible_predicate, visible_shape
from app.core.time import MADRID
from app.models.audit import AuditLog
from app.models.base import new_id, utcnow
from app.models.expediente import (
    Expediente,
    ExpedienteDocument,
    ExpedienteStageEntry,
    ExpedienteStatus,
    StageDefinition,
)
from app.schemas.expedientes import DocumentIn, ExpedienteUpsert
from app.schemas.integrations import BatchEventItem, BatchItemError, BatchUpsertItem, ItemStatus
from app.services import expedientes
from app.services.notifications import outbox
from app.services.sla import clock as sla
from app.services.sla.working_days import TermUnit, WorkingCalendar

# What one item came to: its failure, or (status, expediente id, version after the item).
Outcome = BatchItemError | tuple[ItemStatus, uuid.UUID, int]


class SetBasedUnavailable(Exception):
    """The batch needs the item-by-item path (e.g. a simultaneous first insert)."""


def item_error(exc: AppError) -> BatchItemError:
    return BatchItemError(
        status=exc.status,
        code=exc.code,
        detail=exc.detail or exc.title,
        errors=exc.errors,
        allowed=exc.allowed,
    )


def _columns(
    objs: Sequence[object], table: Table, same: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """The values of `objs` for the columns of `table` that are written (not computed ones),
    one list per column, but for the columns `same` (given once for every row)."""
    return {
        name: list(map(operator.attrgetter(name), objs))
        for name in _written_columns(table)
        if name not in same
    }


@functools.cache
def _written_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.computed is None)


@dataclass(slots=True, eq=False, kw_only=True)
class _Expediente:
    """A batch's copy of an `Expediente` row (a plain object: building thousands of ORM
    instances cost more than the writes)."""

    id: uuid.UUID
    municipality_id: uuid.UUID
    area_id: uuid.UUID
    procedure_type_id: uuid.UUID
    external_ref: str
    title: str
    opened_at: datetime
    description: str | None = None
    status: str = ExpedienteStatus.open
    current_stage_code: str | None = None
    current_stage_entered_at: datetime | None = None
    stage_due_at: datetime | None = None
    stalled: bool = False
    stalled_since: datetime | None = None
    closed_at: datetime | None = None
    deadline_date: date | None = None
    deadline_is_legal: bool = False
    source_hash: str | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True, eq=False, kw_only=True)
class _Entry:
    """A batch's copy of an `ExpedienteStageEntry` row."""

    id: int
    expediente_id: uuid.UUID
    stage_code: str
    stage_name: str
    entered_at: datetime
    actor_type: str
    left_at: datetime | None = None
    actor_id: uuid.UUID | None = None
    actor_label: str | None = None
    comment: str | None = None
    external_event_id: str | None = None
    created_at: datetime


@dataclass(slots=True, eq=False)
class _Document:
    """A batch's copy of an `ExpedienteDocument` row."""

    expediente_id: uuid.UUID
    title: str
    url: str
    verification_code: str | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


# The fields a creation's audit snapshot records (`crud.create`: every field of the model),
# none of them a secret. Read as they are: written as JSON (`queries`), their instants, days
# and UUIDs come out as `audit.snapshot` writes them.
_SNAPSHOT_FIELDS = audit.recorded_fields(Expediente)
assert audit.SECRET_FIELDS.isdisjoint(_SNAPSHOT_FIELDS)
_snapshot_values = operator.attrgetter(*_SNAPSHOT_FIELDS)


@dataclass
class _Held:
    """One expediente of the batch as it stands after the items applied so far."""

    exp: _Expediente
    in_db: bool
    entries: list[_Entry] = field(default_factory=list)
    docs: dict[str, _Document] = field(default_factory=dict)
    # As read: entry id → left_at; document id → (title, verification code).
    read_left_at: dict[int, datetime | None] = field(default_factory=dict)
    read_docs: dict[uuid.UUID, tuple[str, str | None]] = field(default_factory=dict)
    touched: bool = False
    docs_touched: bool = False


@dataclass
class _AuditRow:
    action: str
    entity_id: uuid.UUID
    changes: dict[str, Any]
    at: datetime


# Columns rewritten when an existing expediente changes.
_UPDATED_COLUMNS = (
    "municipality_id",
    "procedure_type_id",
    "title",
    "description",
    "status",
    "opened_at",
    "closed_at",
    "deadline_date",
    "deadline_is_legal",
    "source_hash",
    "current_stage_code",
    "current_stage_entered_at",
    "stage_due_at",
    "stalled",
    "stalled_since",
    "version",
    "updated_at",
)


@functools.cache
def _probe(scope: tuple[str, str | None]) -> Any:
    """The expedientes of the references `refs` within the scope `scope`, locked, in the
    references' sorted order (one lock order for every writer of these rows).

    A lateral probe of the unique (área, reference) index per reference: as a join, its plan
    had become a hash join over every row of the área. For an integration the scope is
    `area_id = <its área>`. Only stored columns: the search vector is PostgreSQL's to compute.
    Built once per scope shape: building it cost more than running it."""
    t: Table = Expediente.__table__  # type: ignore[attr-defined]
    wanted = (
        func.unnest(cast(bindparam("refs"), ARRAY(String())))
        .table_valued("ref")
        .render_derived(name="wanted")
    )
    probe = (
        select_table(*(t.c[name] for name in _written_columns(t)))
        .where(t.c.external_ref == wanted.c.ref, visible_predicate(Expediente, scope))
        .with_for_update()
        .lateral("probe")
    )
    return (
        select_table(probe).select_from(wanted).join(probe, true()).order_by(probe.c.external_ref)
    )


# The municipalities the upserts name, by id or by INE code.
_MUNICIPALITIES = text(
    "SELECT id, ine_code FROM municipality"
    " WHERE id = ANY(CAST(:ids AS uuid[])) OR ine_code = ANY(CAST(:codes AS text[]))"
)

# The área's active procedure types of some codes.
_PROCEDURES = text(
    "SELECT code, id FROM procedure_type"
    " WHERE area_id = :area_id AND code = ANY(CAST(:codes AS text[])) AND is_active"
)

# Ids for `n` new stage entries, in one row (the sequence is looked up once, not per id).
_ENTRY_IDS = text(
    "WITH s AS MATERIALIZED (SELECT"
    " pg_get_serial_sequence('expediente_stage_entry', 'id')::regclass AS seq)"
    " SELECT array_agg(nextval(s.seq)) FROM s, generate_series(1, :n)"
)


class SetBasedBatch:
    """Applies one batch of validated items (see the module's description)."""

    def __init__(self, session: AsyncSession, actor: Actor, now: datetime | None) -> None:
        assert actor.area_id is not None
        self.session = session
        self.actor = actor
        self.area_id: uuid.UUID = actor.area_id
        self.now = now or datetime.now(UTC)
        # When the batch's rows are written: one instant for all of them, as PostgreSQL's
        # `now()` is one instant for a transaction.
        self.stamp = datetime.now(UTC)
        # Events may not happen later than this (`expedientes.add_stage_event`).
        self.latest_event = self.now + expedientes.sla_future_tolerance()
        self.held: dict[str, _Held] = {}
        self.created: list[_Held] = []
        self.new_entries: list[_Entry] = []
        self.entry_ids: list[int] = []
        self.audits: list[_AuditRow] = []
        self.notices: list[outbox.EventSpec] = []
        self.municipality_ids: set[uuid.UUID] = set()
        self.municipality_by_ine: dict[str, uuid.UUID] = {}
        # Code → id of the área's active procedure types the upserts name.
        self.procedures: dict[str, uuid.UUID] = {}
        self.stages: dict[uuid.UUID, dict[str, StageDefinition]] = {}
        self.calendars: dict[uuid.UUID, WorkingCalendar] = {}
        self.calendar_kind: dict[uuid.UUID, int] = {}
        self.due_by_day: dict[tuple[int, uuid.UUID, date], datetime | None] = {}

    async def run(
        self, items: Sequence[BatchUpsertItem | BatchEventItem | BatchItemError]
    ) -> list[Outcome]:
        valid = [i for i in items if not isinstance(i, BatchItemError)]
        await self._read(valid)
        outcomes: list[Outcome] = []
        for item in items:
            if isinstance(item, BatchItemError):
                outcomes.append(item)
                continue
            try:
                if isinstance(item, BatchUpsertItem):
                    outcomes.append(self._upsert(item.external_ref, item.expediente))
                else:
                    outcomes.append(self._event(item))
            except AppError as exc:
                outcomes.append(item_error(exc))
        await self._write()
        return outcomes

    # ---- reading what the batch touches ----------------------------------------------------

    async def _read(self, items: list[BatchUpsertItem | BatchEventItem]) -> None:
        session = self.session
        refs = {i.external_ref for i in items}
        upserts = [i.expediente for i in items if isinstance(i, BatchUpsertItem)]
        events = [i.event for i in items if isinstance(i, BatchEventItem)]
        if refs:
            scope, scope_value = visible_shape(Expediente, self.actor)
            rows = (
                await queries.run_text(
                    session, _probe(scope), {"refs": sorted(refs), SCOPE_PARAM: scope_value}
                )
            ).all()
            for row in rows:
                exp = _Expediente(**row._asdict())
                self.held[exp.external_ref] = _Held(exp=exp, in_db=True)
        by_id = {h.exp.id: h for h in self.held.values()}
        if by_id:
            # One array parameter, not one parameter per expediente.
            ids = bindparam("ids", list(by_id), type_=ARRAY(Uuid()))
            et: Table = ExpedienteStageEntry.__table__  # type: ignore[attr-defined]
            for row in (
                await session.execute(select_table(et).where(et.c.expediente_id == any_(ids)))
            ).all():
                entry = _Entry(**row._asdict())
                held = by_id[entry.expediente_id]
                held.entries.append(entry)
                assert entry.id is not None
                held.read_left_at[entry.id] = entry.left_at
            dt: Table = ExpedienteDocument.__table__  # type: ignore[attr-defined]
            for row in (
                await session.execute(select_table(dt).where(dt.c.expediente_id == any_(ids)))
            ).all():
                doc = _Document(**row._asdict())
                held = by_id[doc.expediente_id]
                held.docs[doc.url] = doc
                held.read_docs[doc.id] = (doc.title, doc.verification_code)

        municipality_ids = {u.municipality_id for u in upserts if u.municipality_id is not None}
        codes = {
            u.municipality_ine_code
            for u in upserts
            if u.municipality_id is None and u.municipality_ine_code
        }
        if municipality_ids or codes:
            found = await queries.run_text(
                session, _MUNICIPALITIES, {"ids": list(municipality_ids), "codes": list(codes)}
            )
            for mid, ine in found:
                self.municipality_ids.add(mid)
                if ine in codes:
                    self.municipality_by_ine[ine] = mid

        procedure_codes = {u.procedure_code for u in upserts}
        if procedure_codes:
            procedures = await queries.run_text(
                session, _PROCEDURES, {"area_id": self.area_id, "codes": list(procedure_codes)}
            )
            self.procedures = {code: procedure_id for code, procedure_id in procedures}
        procedure_ids = set(self.procedures.values()) | {
            h.exp.procedure_type_id for h in self.held.values()
        }
        self.stages = {pid: {} for pid in procedure_ids}
        if procedure_ids:
            for stage in (
                await session.execute(
                    select(StageDefinition)
                    .where(col(StageDefinition.procedure_type_id).in_(procedure_ids))
                    .order_by(col(StageDefinition.position))
                )
            ).scalars():
                self.stages[stage.procedure_type_id][stage.code] = stage

        # The calendars of every municipality an expediente of the batch may end up in, over
        # the years any of its stays may start in.
        municipalities = (
            self.municipality_ids
            | set(self.municipality_by_ine.values())
            | {h.exp.municipality_id for h in self.held.values()}
        )
        if municipalities and (events or any(h.entries for h in self.held.values())):
            instants = [self.now, *(e.occurred_at for e in events)]
            instants += [
                max(e.entered_at for e in h.entries) for h in self.held.values() if h.entries
            ]
            self.calendars = await sla.load_calendars(
                session,
                sorted(municipalities),
                sla.calendar_years(*instants),
                area_id=self.area_id,
                version=await sla.reference_version(session),
            )
            # Municipalities with the same working days count a term alike: the due instant
            # of a stay is computed once for all of them.
            alike: dict[WorkingCalendar, int] = {}
            self.calendar_kind = {
                mid: alike.setdefault(cal, len(alike)) for mid, cal in self.calendars.items()
            }

        if events:
            # Ids for the new stage entries, taken in order: entries at the same instant keep
            # the order in which they were reported.
            taken = await queries.run_text(session, _ENTRY_IDS, {"n": len(events)})
            self.entry_ids = sorted(taken.scalar_one(), reverse=True)

    # ---- applying the items ----------------------------------------------------------------

    def _audit(self, action: str, exp: _Expediente, changes: dict[str, Any]) -> None:
        # `changes` is JSON already (`audit.diff` or plain values) or a creation's snapshot.
        self.audits.append(_AuditRow(action, exp.id, changes, self.stamp))

    def _municipality(self, data: ExpedienteUpsert) -> uuid.UUID:
        if data.municipality_id is not None:
            if data.municipality_id not in self.municipality_ids:
                raise UnprocessableEntity("El municipio indicado no existe")
            return data.municipality_id
        if data.municipality_ine_code:
            found = self.municipality_by_ine.get(data.municipality_ine_code)
            if found is None:
                raise UnprocessableEntity(
                    f"No hay ningún municipio con código INE {data.municipality_ine_code}"
                )
            return found
        raise UnprocessableEntity("Indique municipality_id o municipality_ine_code")

    def _rebuild(self, held: _Held) -> None:
        """`expedientes.rebuild_timeline` on the state in memory."""
        exp = held.exp
        last = expedientes.order_timeline(exp, held.entries)
        if last is None:
            return
        due = None
        if exp.status == ExpedienteStatus.open:
            stage = self.stages.get(exp.procedure_type_id, {}).get(last.stage_code)
            if expedientes.needs_calendar(stage):
                assert stage is not None
                due = self._stage_due(exp.municipality_id, stage, last.entered_at)
        expedientes.settle_current_stage(exp, last, due)

    def _stage_due(
        self, municipality_id: uuid.UUID, stage: StageDefinition, entered: datetime
    ) -> datetime | None:
        """`expedientes.stage_due_on` on the municipality's calendar. A term in days ends on a
        day that depends only on the day the stay began (Madrid time), so it is counted once
        per calendar, stage and day."""
        calendar = self.calendars.get(municipality_id)
        if calendar is None:
            raise SetBasedUnavailable("no calendar read for the municipality")
        if stage.expected_unit == TermUnit.working_hours:
            return expedientes.stage_due_on(calendar, stage, entered)
        key = (self.calendar_kind[municipality_id], stage.id, entered.astimezone(MADRID).date())
        if key not in self.due_by_day:
            self.due_by_day[key] = expedientes.stage_due_on(calendar, stage, entered)
        return self.due_by_day[key]

    def _replace_documents(self, held: _Held, docs: list[DocumentIn]) -> tuple[bool, list[str]]:
        """`expedientes._replace_documents` on the state in memory."""
        current = held.docs
        wanted = {str(d.url): d for d in docs}
        changed = False
        added: list[str] = []
        for url in list(current):
            if url not in wanted:
                del current[url]
                changed = True
        for url, d in wanted.items():
            existing = current.get(url)
            if existing is None:
                current[url] = _Document(
                    expediente_id=held.exp.id,
                    title=d.title,
                    url=url,
                    verification_code=d.verification_code,
                    created_at=self.stamp,
                )
                changed = True
                added.append(d.title)
            elif (existing.title, existing.verification_code) != (d.title, d.verification_code):
                existing.title, existing.verification_code = d.title, d.verification_code
                changed = True
        held.docs_touched |= changed
        return changed, added

    def _upsert(self, external_ref: str, data: ExpedienteUpsert) -> Outcome:
        """`expedientes.upsert_from_integration` on the state in memory."""
        digest = expedientes.payload_hash(data)
        held = self.held.get(external_ref)
        if held is not None and held.exp.source_hash == digest:
            return "unchanged", held.exp.id, held.exp.version
        municipality_id = self._municipality(data)
        procedure_id = self.procedures.get(data.procedure_code)
        if procedure_id is None:
            raise UnprocessableEntity(
                f"El procedimiento «{data.procedure_code}» no existe en su área"
            )
        fields = expedientes.upsert_fields(data, municipality_id, procedure_id)
        created = held is None
        if held is None:
            exp = _Expediente(
                id=new_id(),
                area_id=self.area_id,
                external_ref=external_ref,
                source_hash=digest,
                created_at=self.stamp,
                updated_at=self.stamp,
                **fields,
            )
            if exp.status != ExpedienteStatus.open and exp.closed_at is None:
                exp.closed_at = self.now
            held = _Held(exp=exp, in_db=False)
            self.held[external_ref] = held
            self.created.append(held)
            self._audit(
                "expediente.create",
                exp,
                dict(zip(_SNAPSHOT_FIELDS, _snapshot_values(exp), strict=True)),
            )
            changes: dict[str, Any] = {}
        else:
            exp = held.exp
            before = audit.snapshot(exp, fields.keys())
            for key, value in fields.items():
                setattr(exp, key, value)
            if exp.status != ExpedienteStatus.open and exp.closed_at is None:
                exp.closed_at = self.now
            exp.source_hash = digest
            changes = audit.diff(before, audit.snapshot(exp, fields.keys()))
        docs_changed, added = self._replace_documents(held, data.documents)
        if docs_changed:
            changes["documents"] = {"changed": True}
        self._rebuild(held)
        held.touched = True
        if created:
            self.notices.append(expedientes.created_notice(exp, self.actor))
            return "created", exp.id, exp.version
        exp.version += 1
        self._audit("expediente.upsert", exp, changes)
        self.notices.extend(expedientes.change_notices(exp, self.actor, changes, added))
        return "updated", exp.id, exp.version

    def _event(self, item: BatchEventItem) -> Outcome:
        """`expedientes.add_stage_event` on the state in memory."""
        held = self.held.get(item.external_ref)
        if held is None:
            raise NotFound(f"El expediente {item.external_ref} no existe")
        exp, event = held.exp, item.event
        if event.occurred_at > self.latest_event:
            raise UnprocessableEntity("occurred_at no puede ser futura")
        if event.event_id is not None and any(
            e.external_event_id == event.event_id for e in held.entries
        ):
            return "duplicate", exp.id, exp.version
        stages = self.stages.get(exp.procedure_type_id, {})
        stage = stages.get(event.stage_code)
        if stage is None:
            raise UnprocessableEntity(
                f"La fase «{event.stage_code}» no pertenece al procedimiento",
                allowed=sorted(stages),
            )
        entry = _Entry(
            id=self.entry_ids.pop(),
            expediente_id=exp.id,
            stage_code=stage.code,
            stage_name=stage.name,
            entered_at=event.occurred_at,
            actor_type=self.actor.kind,
            actor_id=self.actor.id,
            actor_label=self.actor.label,
            comment=event.comment,
            external_event_id=event.event_id,
            created_at=self.stamp,
        )
        held.entries.append(entry)
        self.new_entries.append(entry)
        previous = (exp.current_stage_code, exp.current_stage_entered_at)
        self._rebuild(held)
        exp.version += 1
        held.touched = True
        current = (exp.current_stage_code, exp.current_stage_entered_at)
        if previous[0] is not None and current != previous and exp.current_stage_code == stage.code:
            self.notices.append(expedientes.stage_changed_notice(exp, self.actor, entry.id, stage))
        self._audit(
            "expediente.stage",
            exp,
            {
                "stage": stage.code,
                "occurred_at": event.occurred_at.isoformat(),
                "event_id": event.event_id,
            },
        )
        return "placed", exp.id, exp.version

    # ---- writing the result ----------------------------------------------------------------

    async def _write(self) -> None:
        session = self.session
        actor = {
            "actor_type": self.actor.kind,
            "actor_id": self.actor.id,
            "actor_label": self.actor.label,
        }
        t: Table = Expediente.__table__  # type: ignore[attr-defined]
        created = [h.exp for h in self.created]
        inserted = await queries.insert_columns(
            session,
            t,
            _columns(created, t, same=("area_id",)),
            same={"area_id": self.area_id},
            on_conflict="ON CONFLICT ON CONSTRAINT uq_expediente_area_external_ref DO NOTHING",
            returning=("id",),
        )
        if len(inserted) != len(created):
            # Another request inserted one of these references meanwhile.
            raise SetBasedUnavailable("simultaneous first insert")

        changed = [h.exp for h in self.held.values() if h.in_db and h.touched]
        for exp in changed:
            exp.updated_at = self.stamp
        await queries.update_columns(
            session,
            t,
            "id",
            {
                name: list(map(operator.attrgetter(name), changed))
                for name in ("id", *_UPDATED_COLUMNS)
            },
        )

        await self._write_documents()
        await self._write_entries(actor)

        audits = self.audits
        await queries.insert_columns(
            session,
            AuditLog.__table__,  # type: ignore[attr-defined]
            {
                "occurred_at": [a.at for a in audits],
                "action": [a.action for a in audits],
                "entity_id": [str(a.entity_id) for a in audits],
                "changes": [a.changes for a in audits],
            },
            same=actor
            | {
                "entity_type": "expediente",
                "request_id": request_id_var.get(),
                "client_ip": client_ip_var.get(),
            },
        )

        await outbox.emit_many(session, self.notices)

    async def _write_documents(self) -> None:
        session = self.session
        doomed: list[uuid.UUID] = []
        fresh: list[_Document] = []
        edited: list[_Document] = []
        dt: Table = ExpedienteDocument.__table__  # type: ignore[attr-defined]
        for h in self.held.values():
            if not h.docs_touched:
                continue
            kept = {d.id for d in h.docs.values()}
            doomed += [doc_id for doc_id in h.read_docs if doc_id not in kept]
            for d in h.docs.values():
                read = h.read_docs.get(d.id)
                if read is None:
                    fresh.append(d)
                elif read != (d.title, d.verification_code):
                    edited.append(d)
        if doomed:
            await session.execute(
                delete(ExpedienteDocument).where(col(ExpedienteDocument.id).in_(doomed))
            )
        await queries.insert_columns(session, dt, _columns(fresh, dt))
        await queries.update_columns(
            session,
            dt,
            "id",
            {
                "id": [d.id for d in edited],
                "title": [d.title for d in edited],
                "verification_code": [d.verification_code for d in edited],
            },
        )

    async def _write_entries(self, actor: dict[str, Any]) -> None:
        session = self.session
        et: Table = ExpedienteStageEntry.__table__  # type: ignore[attr-defined]
        await queries.insert_columns(
            session, et, _columns(self.new_entries, et, same=actor), same=actor
        )
        moved = [
            e
            for h in self.held.values()
            if h.touched
            for e in h.entries
            if e.id in h.read_left_at and h.read_left_at[e.id] != e.left_at
        ]
        await queries.update_columns(
            session,
            et,
            "id",
            {"id": [e.id for e in moved], "left_at": [e.left_at for e in moved]},
        )
