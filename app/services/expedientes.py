"""Expedientes: procedure types, the stage timeline, people's and integrations' writes,
listing and the per-municipality summary, and the detection of stalled stages."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud, queries
from app.core.errors import (
    Forbidden,
    NotFound,
    UnprocessableEntity,
)
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.core.time import MADRID
from app.models.area import Area
from app.models.base import Role
from app.models.consultation import Consultation
from app.models.expediente import (
    Expediente,
    ExpedienteConsultation,
    ExpedienteDocument,
    ExpedienteStageEntry,
    ExpedienteStatus,
    ProcedureType,
    StageDefinition,
)
from app.models.municipality import Municipality
from app.models.notification import NotificationKind
from app.schemas.expedientes import (
    DocumentIn,
    DocumentPublic,
    ExpedienteCreate,
    ExpedienteDetail,
    ExpedientePublic,
    ExpedienteUpdate,
    ExpedienteUpsert,
    MunicipalitySummary,
    ProcedureTypeCreate,
    ProcedureTypePublic,
    ProcedureTypeUpdate,
    StageDefinitionPublic,
    StageEntryPublic,
    StageEventIn,
)
from app.services.notifications import outbox
from app.services.sla import clock as sla
from app.services.sla.working_days import WorkingCalendar

# ---- Procedure types ------------------------------------------------------------------------


async def stages_of(session: AsyncSession, procedure_type_id: uuid.UUID) -> list[StageDefinition]:
    stmt = (
        select(StageDefinition)
        .where(col(StageDefinition.procedure_type_id) == procedure_type_id)
        .order_by(col(StageDefinition.position))
    )
    return list((await session.execute(stmt)).scalars().all())


async def procedure_public(session: AsyncSession, p: ProcedureType) -> ProcedureTypePublic:
    stages = await stages_of(session, p.id)
    return ProcedureTypePublic(
        id=p.id,
        area_id=p.area_id,
        code=p.code,
        name=p.name,
        description=p.description,
        legal_term_days=p.legal_term_days,
        is_active=p.is_active,
        stages=[StageDefinitionPublic.model_validate(s) for s in stages],
    )


async def create_procedure_type(
    session: AsyncSession, actor: Actor, data: ProcedureTypeCreate
) -> ProcedureType:
    if not actor.is_admin:
        raise Forbidden("Solo la administración define tipos de procedimiento")
    if await session.get(Area, data.area_id) is None:
        raise UnprocessableEntity("El área indicada no existe")
    p = ProcedureType(
        area_id=data.area_id,
        code=data.code,
        name=data.name,
        description=data.description,
        legal_term_days=data.legal_term_days,
    )
    await crud.create(session, actor, p, "procedure_type")
    for position, stage in enumerate(data.stages, start=1):
        session.add(
            StageDefinition(procedure_type_id=p.id, position=position, **stage.model_dump())
        )
    await crud.flush(session)
    return p


async def update_procedure_type(
    session: AsyncSession, actor: Actor, procedure_type_id: uuid.UUID, data: ProcedureTypeUpdate
) -> ProcedureType:
    p = await get_visible(session, ProcedureType, procedure_type_id, actor)
    if not actor.is_admin:
        raise Forbidden("Solo la administración define tipos de procedimiento")
    return await crud.update(
        session, actor, p, data.model_dump(exclude_unset=True), "procedure_type"
    )


async def list_procedure_types(
    session: AsyncSession, actor: Actor, params: PageParams, area_id: uuid.UUID | None
) -> tuple[list[ProcedureType], str | None]:
    stmt = select(ProcedureType).where(visible(ProcedureType, actor))
    if area_id:
        stmt = stmt.where(col(ProcedureType.area_id) == area_id)
    keys: list[Any] = [ProcedureType.name, ProcedureType.id]
    return await paginate(session, stmt, params, keys=keys)


# ---- The timeline ---------------------------------------------------------------------------


def stage_due_on(
    cal: WorkingCalendar, stage: StageDefinition | None, entered: datetime
) -> datetime | None:
    """When a stay in `stage` that began at `entered` becomes stalled: its expected term (in
    its unit) later, on the calendar `cal` (the municipality's and the organ's seat)."""
    if stage is None or stage.expected_working_days is None or stage.waits_on_municipality:
        return None
    start = cal.effective_start(entered)
    return cal.due_instant(start, stage.expected_working_days, stage.expected_unit).astimezone(UTC)


def upsert_fields(
    data: ExpedienteUpsert, municipality_id: uuid.UUID, procedure_type_id: uuid.UUID
) -> dict[str, Any]:
    """The columns an integration upsert sets (one item alone or in a set-based batch)."""
    return {
        "municipality_id": municipality_id,
        "procedure_type_id": procedure_type_id,
        "title": data.title,
        "description": data.description,
        "status": data.status,
        "opened_at": data.opened_at,
        "closed_at": data.closed_at if data.status != ExpedienteStatus.open else None,
        "deadline_date": data.deadline_date,
        "deadline_is_legal": data.deadline_is_legal,
    }


def needs_calendar(stage: StageDefinition | None) -> bool:
    return not (stage is None or stage.expected_working_days is None or stage.waits_on_municipality)


async def _stage_due(
    session: AsyncSession,
    exp: Expediente,
    stage: StageDefinition | None,
    entered: datetime,
    now: datetime,
) -> datetime | None:
    """When the current stage becomes stalled: its expected term (in its unit) after it began,
    on the municipality's and the área seat's calendar."""
    if not needs_calendar(stage):
        return None
    cal = await sla.load_calendar(
        session, exp.municipality_id, sla.calendar_years(entered, now), area_id=exp.area_id
    )
    return stage_due_on(cal, stage, entered)


class Stay(Protocol):
    """What the timeline rules read and set of a stage entry (a row, or a batch's copy)."""

    stage_code: str
    entered_at: datetime
    left_at: datetime | None

    @property
    def id(self) -> int | None: ...


class Timeline(Protocol):
    """What the timeline and notification rules read and set of an expediente (a row, or a
    batch's copy)."""

    id: uuid.UUID
    municipality_id: uuid.UUID
    area_id: uuid.UUID
    external_ref: str
    title: str
    status: str
    closed_at: datetime | None
    current_stage_code: str | None
    current_stage_entered_at: datetime | None
    stage_due_at: datetime | None
    stalled: bool
    stalled_since: datetime | None
    version: int


S = TypeVar("S", bound=Stay)


def order_timeline(exp: Timeline, entries: list[S]) -> S | None:
    """Sorts the entries by the time they happened (ties by id), closes each stay when the next
    begins and the last one when the expediente closes; returns the last entry (the current
    stay), or None after clearing the current stage when there are none."""
    entries.sort(key=lambda e: (e.entered_at, e.id or 0))
    for current, following in itertools.pairwise(entries):
        current.left_at = following.entered_at
    if not entries:
        exp.current_stage_code = exp.current_stage_entered_at = exp.stage_due_at = None
        exp.stalled, exp.stalled_since = False, None
        return None
    last = entries[-1]
    last.left_at = exp.closed_at if exp.status != ExpedienteStatus.open else None
    return last


def settle_current_stage(exp: Timeline, last: Stay, due: datetime | None) -> None:
    """Makes `last` the current stay with its stall instant `due`; a new stay clears any stall
    (it belonged to the previous one; the scan flags this one in time)."""
    previous = (exp.current_stage_code, exp.current_stage_entered_at)
    exp.current_stage_code, exp.current_stage_entered_at = last.stage_code, last.entered_at
    exp.stage_due_at = due
    if (exp.current_stage_code, exp.current_stage_entered_at) != previous or due is None:
        exp.stalled, exp.stalled_since = False, None


async def rebuild_timeline(
    session: AsyncSession,
    exp: Expediente,
    now: datetime,
    stages: dict[str, StageDefinition] | None = None,
) -> None:
    """Orders the stage entries by the time they happened (late and out-of-order events fall
    into place), closes each stay when the next begins, and derives the current stage, its
    stall instant and the stalled flag."""
    entries = list(
        (
            await session.execute(
                select(ExpedienteStageEntry)
                .where(col(ExpedienteStageEntry.expediente_id) == exp.id)
                .order_by(col(ExpedienteStageEntry.entered_at), col(ExpedienteStageEntry.id))
            )
        )
        .scalars()
        .all()
    )
    last = order_timeline(exp, entries)
    if last is None:
        return
    if stages is None:
        stages = {s.code: s for s in await stages_of(session, exp.procedure_type_id)}
    due = (
        await _stage_due(session, exp, stages.get(last.stage_code), last.entered_at, now)
        if exp.status == ExpedienteStatus.open
        else None
    )
    settle_current_stage(exp, last, due)


async def add_stage_event(
    session: AsyncSession,
    actor: Actor,
    exp: Expediente,
    event: StageEventIn,
    now: datetime | None = None,
) -> ExpedienteStageEntry | None:
    """Places an entry in the timeline; None when the event id was already recorded."""
    now = now or datetime.now(UTC)
    if event.occurred_at > now + sla_future_tolerance():
        raise UnprocessableEntity("occurred_at no puede ser futura")
    if event.event_id is not None:
        seen = (
            await session.execute(
                select(col(ExpedienteStageEntry.id)).where(
                    col(ExpedienteStageEntry.expediente_id) == exp.id,
                    col(ExpedienteStageEntry.external_event_id) == event.event_id,
                )
            )
        ).first()
        if seen is not None:
            return None
    stages = {s.code: s for s in await stages_of(session, exp.procedure_type_id)}
    stage = stages.get(event.stage_code)
    if stage is None:
        raise UnprocessableEntity(
            f"La fase «{event.stage_code}» no pertenece al procedimiento",
            allowed=sorted(stages),
        )
    entry = ExpedienteStageEntry(
        expediente_id=exp.id,
        stage_code=stage.code,
        stage_name=stage.name,
        entered_at=event.occurred_at,
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        comment=event.comment,
        external_event_id=event.event_id,
    )
    session.add(entry)
    await crud.flush(session)
    previous = (exp.current_stage_code, exp.current_stage_entered_at)
    await rebuild_timeline(session, exp, now, stages)
    exp.version += 1
    await crud.flush(session)
    current = (exp.current_stage_code, exp.current_stage_entered_at)
    if previous[0] is not None and current != previous and exp.current_stage_code == stage.code:
        await outbox.emit(session, stage_changed_notice(exp, actor, entry.id, stage))
    await audit.record(
        session,
        actor,
        "expediente.stage",
        "expediente",
        exp.id,
        {
            "stage": stage.code,
            "occurred_at": event.occurred_at.isoformat(),
            "event_id": event.event_id,
        },
    )
    return entry


def sla_future_tolerance() -> timedelta:
    """Clocks of the áreas' systems run a little ahead of ours."""
    return timedelta(minutes=5)


# ---- Documents and related consultations ----------------------------------------------------


async def _replace_documents(
    session: AsyncSession, exp: Expediente, docs: list[DocumentIn]
) -> tuple[bool, list[str]]:
    """Makes the expediente's documents the given ones; returns whether anything changed and
    the titles of the documents added."""
    current = {
        d.url: d
        for d in (
            await session.execute(
                select(ExpedienteDocument).where(col(ExpedienteDocument.expediente_id) == exp.id)
            )
        )
        .scalars()
        .all()
    }
    wanted = {str(d.url): d for d in docs}
    changed = False
    added: list[str] = []
    for url, doc in current.items():
        if url not in wanted:
            await session.delete(doc)
            changed = True
    for url, d in wanted.items():
        existing = current.get(url)
        if existing is None:
            session.add(
                ExpedienteDocument(
                    expediente_id=exp.id,
                    title=d.title,
                    url=url,
                    verification_code=d.verification_code,
                )
            )
            changed = True
            added.append(d.title)
        elif (existing.title, existing.verification_code) != (d.title, d.verification_code):
            existing.title, existing.verification_code = d.title, d.verification_code
            changed = True
    return changed, added


async def _replace_consultations(
    session: AsyncSession, actor: Actor, exp: Expediente, ids: list[uuid.UUID]
) -> None:
    for cid in set(ids):
        c = await get_visible(session, Consultation, cid, actor)
        if c.municipality_id != exp.municipality_id:
            raise UnprocessableEntity("La consulta relacionada es de otro municipio")
    await session.execute(
        delete(ExpedienteConsultation).where(col(ExpedienteConsultation.expediente_id) == exp.id)
    )
    for cid in set(ids):
        session.add(ExpedienteConsultation(expediente_id=exp.id, consultation_id=cid))


# ---- People ---------------------------------------------------------------------------------


async def create(
    session: AsyncSession, actor: Actor, data: ExpedienteCreate, now: datetime | None = None
) -> Expediente:
    now = now or datetime.now(UTC)
    if not actor.can_manage_area(data.area_id):
        raise Forbidden("Solo la oficina o el área responsable registra expedientes")
    procedure = await session.get(ProcedureType, data.procedure_type_id)
    if procedure is None or procedure.area_id != data.area_id or not procedure.is_active:
        raise UnprocessableEntity("El tipo de procedimiento no existe en esa área")
    if await session.get(Municipality, data.municipality_id) is None:
        raise UnprocessableEntity("El municipio indicado no existe")
    opened = data.opened_at or now
    exp = Expediente(
        municipality_id=data.municipality_id,
        area_id=data.area_id,
        procedure_type_id=procedure.id,
        external_ref=data.external_ref,
        title=data.title,
        description=data.description,
        opened_at=opened,
        deadline_date=data.deadline_date,
        deadline_is_legal=data.deadline_is_legal,
    )
    await crud.create(session, actor, exp, "expediente")
    await _replace_documents(session, exp, data.documents)
    await _replace_consultations(session, actor, exp, data.consultation_ids)
    stages = await stages_of(session, procedure.id)
    first = data.stage_code or stages[0].code
    await add_stage_event(
        session, actor, exp, StageEventIn(stage_code=first, occurred_at=opened), now
    )
    await _notify_created(session, exp, actor)
    return exp


def etag(exp: Expediente) -> str:
    return queries.version_etag(exp.version)


async def update(
    session: AsyncSession,
    actor: Actor,
    expediente_id: uuid.UUID,
    data: ExpedienteUpdate,
    if_match: str | None,
    now: datetime | None = None,
) -> Expediente:
    now = now or datetime.now(UTC)
    exp = await get_visible(session, Expediente, expediente_id, actor, lock="wait")
    if not actor.can_manage_area(exp.area_id):
        raise Forbidden("Solo la oficina o el área responsable modifica el expediente")
    queries.check_if_match(exp.version, if_match, required=True, what="el expediente")
    patch = data.model_dump(exclude_unset=True, exclude={"documents", "consultation_ids"})
    queries.reject_nulls(Expediente, patch)
    before = audit.snapshot(exp, patch.keys())
    for key, value in patch.items():
        setattr(exp, key, value)
    if "status" in patch:
        exp.closed_at = None if exp.status == ExpedienteStatus.open else (exp.closed_at or now)
    changes = audit.diff(before, audit.snapshot(exp, patch.keys()))
    added: list[str] = []
    if data.documents is not None:
        docs_changed, added = await _replace_documents(session, exp, data.documents)
        if docs_changed:
            changes["documents"] = {"changed": True}
    if data.consultation_ids is not None:
        await _replace_consultations(session, actor, exp, data.consultation_ids)
        changes["consultation_ids"] = {"to": [str(i) for i in data.consultation_ids]}
    if changes:
        await rebuild_timeline(session, exp, now)
        exp.version += 1
        await crud.flush(session)
        await audit.record(session, actor, "expediente.update", "expediente", exp.id, changes)
        await _notify_changes(session, exp, actor, changes, added)
    return exp


async def add_stage_by_person(
    session: AsyncSession, actor: Actor, expediente_id: uuid.UUID, event: StageEventIn
) -> Expediente:
    exp = await get_visible(session, Expediente, expediente_id, actor, lock="wait")
    if not actor.can_manage_area(exp.area_id):
        raise Forbidden("Solo la oficina o el área responsable cambia la fase")
    await add_stage_event(session, actor, exp, event)
    return exp


async def detail(session: AsyncSession, actor: Actor, expediente_id: uuid.UUID) -> ExpedienteDetail:
    exp = await get_visible(session, Expediente, expediente_id, actor)
    return await render_detail(session, exp)


async def render_detail(session: AsyncSession, exp: Expediente) -> ExpedienteDetail:
    entries = (
        await session.execute(
            select(ExpedienteStageEntry)
            .where(col(ExpedienteStageEntry.expediente_id) == exp.id)
            .order_by(col(ExpedienteStageEntry.entered_at), col(ExpedienteStageEntry.id))
        )
    ).scalars()
    docs = (
        await session.execute(
            select(ExpedienteDocument)
            .where(col(ExpedienteDocument.expediente_id) == exp.id)
            .order_by(col(ExpedienteDocument.created_at), col(ExpedienteDocument.id))
        )
    ).scalars()
    consultations = (
        await session.execute(
            select(col(ExpedienteConsultation.consultation_id)).where(
                col(ExpedienteConsultation.expediente_id) == exp.id
            )
        )
    ).scalars()
    return ExpedienteDetail(
        **ExpedientePublic.model_validate(exp).model_dump(),
        timeline=[StageEntryPublic.model_validate(e) for e in entries],
        documents=[DocumentPublic.model_validate(d) for d in docs],
        consultation_ids=sorted(consultations, key=str),
    )


@dataclass(frozen=True)
class ListFilters:
    municipality_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    procedure_type_id: uuid.UUID | None = None
    stage_code: str | None = None
    status: list[ExpedienteStatus] | None = None
    stalled: bool | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    q: str | None = None
    consultation_id: uuid.UUID | None = None


async def list_expedientes(
    session: AsyncSession, actor: Actor, params: PageParams, f: ListFilters
) -> tuple[list[Expediente], str | None]:
    stmt = select(Expediente).where(visible(Expediente, actor))
    stmt = queries.where_equal(
        stmt,
        [
            (Expediente.municipality_id, f.municipality_id),
            (Expediente.area_id, f.area_id),
            (Expediente.procedure_type_id, f.procedure_type_id),
            (Expediente.current_stage_code, f.stage_code),
            (Expediente.stalled, f.stalled),
        ],
    )
    if f.status:
        stmt = stmt.where(col(Expediente.status).in_([s.value for s in f.status]))
    if f.deadline_from:
        stmt = stmt.where(col(Expediente.deadline_date) >= f.deadline_from)
    if f.deadline_to:
        stmt = stmt.where(col(Expediente.deadline_date) <= f.deadline_to)
    if f.consultation_id:
        stmt = stmt.where(
            col(Expediente.id).in_(
                select(col(ExpedienteConsultation.expediente_id)).where(
                    col(ExpedienteConsultation.consultation_id) == f.consultation_id
                )
            )
        )
    if f.q:
        from sqlalchemy import cast, literal
        from sqlalchemy.dialects.postgresql import REGCONFIG

        query = func.websearch_to_tsquery(
            cast(literal("spanish"), REGCONFIG), func.oaaa_unaccent(f.q)
        )
        stmt = stmt.where(
            or_(
                col(Expediente.search_vector).op("@@")(query),
                col(Expediente.external_ref) == f.q.strip(),
            )
        )
    keys: list[Any] = [Expediente.opened_at, Expediente.id]
    return await paginate(session, stmt, params, keys=keys, descending=True)


async def summary(
    session: AsyncSession, actor: Actor, municipality_id: uuid.UUID
) -> MunicipalitySummary:
    """A municipality's open expedientes by área and stage, stalled ones, next deadlines."""
    if actor.role == Role.municipal_user and actor.municipality_id != municipality_id:
        raise NotFound(f"La entidad local {municipality_id} no existe")
    base = (
        visible(Expediente, actor),
        col(Expediente.municipality_id) == municipality_id,
        col(Expediente.status) == ExpedienteStatus.open,
    )
    by_area_rows = (
        await session.execute(
            select(col(Area.id), col(Area.name), func.count())
            .join(Expediente, col(Expediente.area_id) == col(Area.id))
            .where(*base)
            .group_by(col(Area.id), col(Area.name))
            .order_by(func.count().desc())
        )
    ).all()
    by_stage_rows = (
        await session.execute(
            select(
                col(Expediente.current_stage_code),
                func.count(),
                func.count().filter(col(Expediente.stalled)),
            )
            .where(*base)
            .group_by(col(Expediente.current_stage_code))
            .order_by(func.count().desc())
        )
    ).all()
    next_rows = (
        (
            await session.execute(
                select(Expediente)
                .where(*base, col(Expediente.deadline_date).is_not(None))
                .order_by(col(Expediente.deadline_date), col(Expediente.id))
                .limit(10)
            )
        )
        .scalars()
        .all()
    )
    total = sum(r[2] for r in by_area_rows)
    stalled = sum(r[2] for r in by_stage_rows)
    return MunicipalitySummary(
        municipality_id=municipality_id,
        open=total,
        stalled=stalled,
        by_area=[{"area_id": str(r[0]), "area": r[1], "open": r[2]} for r in by_area_rows],
        by_stage=[{"stage_code": r[0], "open": r[1], "stalled": r[2]} for r in by_stage_rows],
        next_deadlines=[ExpedientePublic.model_validate(e) for e in next_rows],
    )


# ---- Integrations ---------------------------------------------------------------------------


# `json.dumps` with options builds an encoder per call; the canonical form is always this one.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def payload_hash(data: ExpedienteUpsert) -> str:
    canonical = _CANONICAL_JSON.encode(data.model_dump(mode="json"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _resolve_municipality(session: AsyncSession, data: ExpedienteUpsert) -> uuid.UUID:
    if data.municipality_id is not None:
        if await session.get(Municipality, data.municipality_id) is None:
            raise UnprocessableEntity("El municipio indicado no existe")
        return data.municipality_id
    if data.municipality_ine_code:
        found = (
            await session.execute(
                select(col(Municipality.id)).where(
                    col(Municipality.ine_code) == data.municipality_ine_code
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise UnprocessableEntity(
                f"No hay ningún municipio con código INE {data.municipality_ine_code}"
            )
        return found
    raise UnprocessableEntity("Indique municipality_id o municipality_ine_code")


async def find_by_external_ref(
    session: AsyncSession, actor: Actor, external_ref: str
) -> Expediente | None:
    stmt = select(Expediente).where(
        visible(Expediente, actor),
        col(Expediente.area_id) == actor.area_id,
        col(Expediente.external_ref) == external_ref,
    )
    return (await session.execute(stmt.with_for_update())).scalars().first()


@dataclass
class UpsertResult:
    expediente: Expediente
    created: bool
    changed: bool
    extra: dict[str, Any] = field(default_factory=dict)


async def upsert_from_integration(
    session: AsyncSession,
    actor: Actor,
    external_ref: str,
    data: ExpedienteUpsert,
    now: datetime | None = None,
) -> UpsertResult:
    """Creates or updates the integration's expediente `external_ref` within its área; the same
    body twice changes nothing and records nothing."""
    now = now or datetime.now(UTC)
    if not actor.is_integration or actor.area_id is None:
        raise Forbidden("Operación reservada a los sistemas de las áreas")
    digest = payload_hash(data)
    exp = await find_by_external_ref(session, actor, external_ref)
    if exp is not None and exp.source_hash == digest:
        return UpsertResult(exp, created=False, changed=False)
    municipality_id = await _resolve_municipality(session, data)
    procedure = (
        (
            await session.execute(
                select(ProcedureType).where(
                    col(ProcedureType.area_id) == actor.area_id,
                    col(ProcedureType.code) == data.procedure_code,
                    col(ProcedureType.is_active).is_(True),
                )
            )
        )
        .scalars()
        .first()
    )
    if procedure is None:
        raise UnprocessableEntity(f"El procedimiento «{data.procedure_code}» no existe en su área")
    fields = upsert_fields(data, municipality_id, procedure.id)
    created = exp is None
    if exp is None:
        exp = Expediente(
            area_id=actor.area_id, external_ref=external_ref, source_hash=digest, **fields
        )
        if exp.status != ExpedienteStatus.open and exp.closed_at is None:
            exp.closed_at = now
        await crud.create(session, actor, exp, "expediente")
        changes: dict[str, Any] = {}
    else:
        before = audit.snapshot(exp, fields.keys())
        for key, value in fields.items():
            setattr(exp, key, value)
        if exp.status != ExpedienteStatus.open and exp.closed_at is None:
            exp.closed_at = now
        exp.source_hash = digest
        changes = audit.diff(before, audit.snapshot(exp, fields.keys()))
    docs_changed, added = await _replace_documents(session, exp, data.documents)
    if docs_changed:
        changes["documents"] = {"changed": True}
    await rebuild_timeline(session, exp, now)
    if created:
        await _notify_created(session, exp, actor)
    else:
        exp.version += 1
        await crud.flush(session)
        await audit.record(session, actor, "expediente.upsert", "expediente", exp.id, changes)
        await _notify_changes(session, exp, actor, changes, added)
    return UpsertResult(exp, created=created, changed=True)


# ---- What the municipality is told ---------------------------------------------------------


def notice(
    exp: Timeline,
    actor: Actor,
    kind: NotificationKind,
    change: str,
    title: str,
    body: str,
    payload: dict[str, Any] | None = None,
) -> outbox.EventSpec:
    """One event per change (`change` names it), for the municipality's people."""
    exp_id = str(exp.id)
    return outbox.EventSpec(
        kind=kind,
        dedupe_key=f"expediente:{exp_id}:{change}",
        entity_type="expediente",
        entity_id=exp_id,
        title=title[:300],
        body=body[:2000],
        occurred_at=datetime.now(UTC),
        municipality_id=exp.municipality_id,
        area_id=exp.area_id,
        link=f"/expedientes/{exp_id}",
        payload={
            "expediente_id": exp_id,
            "external_ref": exp.external_ref,
            "title": exp.title,
            "status": exp.status,
            "stage_code": exp.current_stage_code,
            **(payload or {}),
        },
        audience=outbox.MUNICIPALITY,
        author_id=actor.id,
    )


def created_notice(exp: Timeline, actor: Actor) -> outbox.EventSpec:
    return notice(
        exp,
        actor,
        NotificationKind.expediente_created,
        "created",
        f"Nuevo expediente para su ayuntamiento: {exp.external_ref}",
        f"Se ha abierto el expediente «{exp.title}».",
    )


def stage_changed_notice(
    exp: Timeline, actor: Actor, entry_id: int | None, stage: StageDefinition
) -> outbox.EventSpec:
    return notice(
        exp,
        actor,
        NotificationKind.expediente_stage_changed,
        f"stage_changed:{entry_id}",
        f"El expediente {exp.external_ref} pasa a «{stage.name}»",
        f"El expediente «{exp.title}» ha entrado en la fase «{stage.name}».",
        {"stage_code": stage.code, "stage_name": stage.name},
    )


def change_notices(
    exp: Timeline, actor: Actor, changes: dict[str, Any], added: list[str]
) -> list[outbox.EventSpec]:
    out: list[outbox.EventSpec] = []
    if added:
        out.append(
            notice(
                exp,
                actor,
                NotificationKind.expediente_documents_added,
                f"documents_added:v{exp.version}",
                f"Nuevos documentos en el expediente {exp.external_ref}",
                "Documentos añadidos: " + "; ".join(added),
                {"documents": added},
            )
        )
    if "status" in changes and exp.status == ExpedienteStatus.resolved and exp.closed_at:
        out.append(
            notice(
                exp,
                actor,
                NotificationKind.expediente_resolved,
                f"resolved:{exp.closed_at.astimezone(UTC).isoformat()}",
                f"Expediente resuelto: {exp.external_ref}",
                f"El expediente «{exp.title}» se ha resuelto.",
            )
        )
    return out


async def _notify_created(session: AsyncSession, exp: Expediente, actor: Actor) -> None:
    await outbox.emit(session, created_notice(exp, actor))


async def _notify_changes(
    session: AsyncSession,
    exp: Expediente,
    actor: Actor,
    changes: dict[str, Any],
    added: list[str],
) -> None:
    for spec in change_notices(exp, actor, changes, added):
        await outbox.emit(session, spec)


# ---- Stalled stages -------------------------------------------------------------------------


@dataclass(frozen=True)
class StallScan:
    processed: int
    emitted: list[outbox.Emitted]


def stall_event(exp: Expediente, stage_name: str) -> outbox.EventSpec:
    entered = exp.current_stage_entered_at
    assert entered is not None
    assert exp.stage_due_at is not None
    due_local = exp.stage_due_at.astimezone(MADRID).strftime("%d/%m/%Y")
    return outbox.EventSpec(
        kind=NotificationKind.expediente_stalled,
        dedupe_key=f"expediente:{exp.id}:stalled:{exp.current_stage_code}:"
        f"{entered.astimezone(UTC).isoformat()}",
        entity_type="expediente",
        entity_id=str(exp.id),
        title=f"Expediente {exp.external_ref} detenido en «{stage_name}»",
        body=(
            f"El expediente «{exp.title}» lleva en la fase «{stage_name}» más de lo previsto "
            f"(debía avanzar antes del {due_local})."
        ),
        occurred_at=exp.stage_due_at,
        municipality_id=exp.municipality_id,
        area_id=exp.area_id,
        link=f"/expedientes/{exp.id}",
        payload={
            "external_ref": exp.external_ref,
            "stage_code": exp.current_stage_code,
            "stage_entered_at": entered.astimezone(UTC).isoformat(),
            "stage_due_at": exp.stage_due_at.astimezone(UTC).isoformat(),
        },
        audience=outbox.Audience(office=True, area=True, municipality=True),
    )


async def detect_stalled(
    session: AsyncSession, now: datetime | None = None, batch: int = 500
) -> StallScan:
    """Flags open expedientes whose current stage outlived its expected working days and
    records one notification per stall, in the same transaction."""
    now = now or datetime.now(UTC)
    rows = (
        (
            await session.execute(
                select(Expediente)
                .where(
                    col(Expediente.status) == ExpedienteStatus.open,
                    col(Expediente.stalled).is_(False),
                    col(Expediente.stage_due_at).is_not(None),
                    col(Expediente.stage_due_at) <= now,
                )
                .order_by(col(Expediente.stage_due_at))
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    emitted: list[outbox.Emitted] = []
    fanout = outbox.FanoutCache()
    names: dict[tuple[uuid.UUID, str], str] = {}
    for exp in rows:
        exp.stalled, exp.stalled_since = True, exp.stage_due_at
        key = (exp.procedure_type_id, exp.current_stage_code or "")
        if key not in names:
            stage = (
                await session.execute(
                    select(col(StageDefinition.name)).where(
                        col(StageDefinition.procedure_type_id) == exp.procedure_type_id,
                        col(StageDefinition.code) == exp.current_stage_code,
                    )
                )
            ).scalar_one_or_none()
            names[key] = stage or (exp.current_stage_code or "")
        item = await outbox.emit(session, stall_event(exp, names[key]), now, fanout)
        if item is not None:
            emitted.append(item)
    await session.flush()
    return StallScan(processed=len(rows), emitted=emitted)
