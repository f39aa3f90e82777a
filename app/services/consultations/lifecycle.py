"""The lifecycle of a consultation: reading it, editing it, moving it between statuses, and
its status history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from typing_extensions import Unpack

from app.core import audit, queries
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    UnprocessableEntity,
)
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, Lock, get_visible
from app.models.area import Area, CatalogueService
from app.models.base import Role
from app.models.consultation import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ConsultationStatus,
    MessageVisibility,
)
from app.models.user import User
from app.schemas.consultations import ConsultationUpdate, TransitionRequest
from app.services.consultations import notices
from app.services.sla import clock as sla

S = ConsultationStatus

# The lifecycle. Reopening goes back to in_progress; waiting on the municipality pauses the SLA.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.received: (S.in_progress, S.forwarded, S.waiting_on_municipality, S.answered),
    S.in_progress: (S.forwarded, S.waiting_on_municipality, S.answered),
    S.forwarded: (S.in_progress, S.forwarded, S.waiting_on_municipality, S.answered),
    S.waiting_on_municipality: (S.in_progress, S.forwarded, S.answered),
    S.answered: (S.closed, S.in_progress),
    S.closed: (S.in_progress,),
}
# What each kind of caller may do on top of the lifecycle.
AREA_TARGETS = frozenset({S.in_progress, S.waiting_on_municipality, S.answered})
MUNICIPAL_TARGETS = frozenset({S.closed, S.in_progress})


# A legal term set on one consultation: the columns it is stored in, and its unit in words.
OVERRIDE_FIELDS = (
    "sla_override_unit",
    "sla_override_resolution_target",
    "sla_override_first_response_target",
    "sla_override_basis",
)
UNIT_WORDS = {
    "working_days": "días hábiles",
    "working_hours": "horas hábiles",
    "natural_days": "días naturales",
    "months": "meses",
}
OVERRIDE_CLEARED = "plazo de la política restablecido"


def _override_columns(value: dict[str, Any] | None) -> dict[str, Any]:
    """The PATCH's `sla_override` object (or null) as the columns that store it."""
    if value is None:
        return dict.fromkeys(OVERRIDE_FIELDS)
    return {
        "sla_override_unit": str(value["unit"]),
        "sla_override_resolution_target": value["resolution_target"],
        "sla_override_first_response_target": value.get("first_response_target"),
        "sla_override_basis": value["basis"],
    }


def override_words(c: Consultation) -> str:
    """The history line of a legal term set on the consultation, in Spanish."""
    if c.sla_override_unit is None:
        return OVERRIDE_CLEARED
    unit = UNIT_WORDS.get(c.sla_override_unit, c.sla_override_unit)
    text = f"plazo fijado para esta consulta: {c.sla_override_resolution_target} {unit}"
    if c.sla_override_first_response_target is not None:
        text += f" (primera respuesta: {c.sla_override_first_response_target} {unit})"
    return f"{text}; fundamento: {c.sla_override_basis}"


def etag(c: Consultation) -> str:
    return queries.version_etag(c.version)


def check_if_match(c: Consultation, if_match: str | None, *, required: bool) -> None:
    queries.check_if_match(c.version, if_match, required=required, what="la consulta")


class EventDetails(TypedDict, total=False):
    """What a history entry may say besides its kind (`record_event`, `event_row`)."""

    from_status: str | None
    to_status: str | None
    is_public: bool  # internal events (assignment, internal notes): False
    data: dict[str, Any]


async def record_event(
    session: AsyncSession, c: Consultation, actor: Actor, kind: str, **details: Unpack[EventDetails]
) -> None:
    """Appends to the consultation's history (written at once: one row, no ORM object)."""
    await queries.insert_rows(session, EVENTS, [event_row(c, actor, kind, **details)])


EVENTS: Table = ConsultationEvent.__table__  # type: ignore[attr-defined]


def event_row(
    c: Consultation, actor: Actor, kind: str, **details: Unpack[EventDetails]
) -> dict[str, Any]:
    """A history entry of `c`, as the row `record_event` writes."""
    return {
        "consultation_id": c.id,
        "occurred_at": datetime.now(UTC),
        "actor_type": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "kind": kind,
        "from_status": details.get("from_status"),
        "to_status": details.get("to_status"),
        "is_public": details.get("is_public", True),
        "data": audit.jsonable(details.get("data") or {}),
    }


async def get(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *, lock: Lock | None = None
) -> Consultation:
    """A consultation the actor may see; writers lock it (see `get_visible`)."""
    return await get_visible(session, Consultation, consultation_id, actor, lock=lock)


async def _check_assignee(session: AsyncSession, c: Consultation, assignee_id: uuid.UUID) -> None:
    user = await session.get(User, assignee_id)
    ok = (
        user is not None
        and user.is_active
        and (
            user.role in (Role.admin, Role.oaaa_staff)
            or (user.role == Role.area_staff and user.area_id == c.area_id)
        )
    )
    if not ok:
        raise UnprocessableEntity(
            "Solo puede asignarse a personal de la oficina o del área que la tramita"
        )


async def update(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    data: ConsultationUpdate,
    if_match: str | None,
    now: datetime | None = None,
) -> Consultation:
    now = now or datetime.now(UTC)
    c = await get(session, actor, consultation_id, lock="wait")
    if not actor.is_staff:
        raise Forbidden("Solo el personal de la oficina o del área puede modificar la consulta")
    check_if_match(c, if_match, required=True)
    patch = data.model_dump(exclude_unset=True)
    if "sla_override" in patch:
        patch.update(_override_columns(patch.pop("sla_override")))
    queries.reject_nulls(Consultation, patch)
    if "service_id" in patch:
        await check_service(session, patch["service_id"])
    if patch.get("assignee_id") is not None:
        await _check_assignee(session, c, patch["assignee_id"])
    before = audit.snapshot(c, patch.keys())
    for field, value in patch.items():
        setattr(c, field, value)
    changes = audit.diff(before, audit.snapshot(c, patch.keys()))
    if not changes:
        return c
    override_changed = any(f in changes for f in OVERRIDE_FIELDS)
    sla_changed = "priority" in changes or "service_id" in changes or override_changed
    if sla_changed:
        await sla.recompute(session, c, now)
        changes["resolution_due_at"] = {"to": audit.jsonable(c.resolution_due_at)}
    c.version += 1
    if "assignee_id" in changes:
        await record_event(
            session, c, actor, "assigned", is_public=False, data={"assignee_id": c.assignee_id}
        )
        await notices.assigned(session, c, actor)
    if override_changed:
        kind = "deadline_override_set" if c.sla_override_unit else "deadline_override_cleared"
        await record_event(session, c, actor, kind, data={"reason": override_words(c), **changes})
    elif sla_changed:
        await record_event(session, c, actor, "sla_recomputed", data=changes)
    await session.flush()
    await audit.record(session, actor, "consultation.update", "consultation", c.id, changes)
    return c


def allowed_targets(c: Consultation, actor: Actor) -> list[str]:
    targets = set(TRANSITIONS.get(c.status, ()))
    if actor.role == Role.area_staff:
        targets &= AREA_TARGETS
    elif actor.role == Role.municipal_user:
        targets &= MUNICIPAL_TARGETS
        if c.status not in (S.answered, S.closed):
            targets = set()
    elif not actor.is_office:
        targets = set()
    return sorted(targets)


async def transition(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    req: TransitionRequest,
    if_match: str | None,
    now: datetime | None = None,
) -> Consultation:
    now = now or datetime.now(UTC)
    # With If-Match the caller names the version it changes: wait, then 412 if it moved on.
    # Without, the caller changes the state it has just seen: wait briefly for the row (the
    # SLA scan and other background work hold it for a moment and leave the state alone),
    # then 409 if another transition moved it meanwhile, so that of simultaneous transitions
    # from one state exactly one wins.
    if if_match:
        c = await get(session, actor, consultation_id, lock="wait")
        check_if_match(c, if_match, required=False)
    else:
        seen = await get(session, actor, consultation_id)
        seen_state = (seen.status, seen.area_id)
        c = await get(session, actor, consultation_id, lock="brief")
        if (c.status, c.area_id) != seen_state:
            raise Conflict("La consulta ha cambiado de estado mientras tanto; vuelva a consultarla")
    allowed = allowed_targets(c, actor)
    if req.to not in allowed:
        raise InvalidTransition(f"No se puede pasar de «{c.status}» a «{req.to}»", allowed=allowed)
    previous = c.status
    data: dict[str, Any] = {}
    if previous == S.waiting_on_municipality:
        await sla.resume(session, c, now)
        c.status_before_wait, c.waiting_reason = None, None
    if req.to == S.forwarded:
        if req.area_id is None:
            raise UnprocessableEntity("Indique el área a la que se remite la consulta")
        area = await session.get(Area, req.area_id)
        if area is None or not area.is_active:
            raise UnprocessableEntity("El área indicada no existe o no está activa")
        if c.area_id != area.id and c.assignee_id is not None:
            c.assignee_id = None  # the new área assigns its own people
        previous_area = await session.get(Area, c.area_id) if c.area_id else None
        previous_seat = previous_area.seat_municipality_id if previous_area else None
        c.area_id = area.id
        if previous_seat != area.seat_municipality_id:
            # Another seat, other local holidays (art. 30.6): the plazo is counted again.
            await sla.recompute(session, c, now, reselect_policy=False)
        data["area_id"], data["area"] = area.id, area.name
    elif req.area_id is not None:
        raise UnprocessableEntity("Solo se indica un área al remitir la consulta")
    if req.to == S.in_progress and previous == S.forwarded and actor.role == Role.area_staff:
        data["returned_by_area"] = c.area_id
    if req.to == S.waiting_on_municipality:
        if not req.reason or not req.reason.strip():
            raise UnprocessableEntity("Indique qué se espera del municipio (motivo)")
        c.status_before_wait = previous
        c.waiting_reason = req.reason.strip()
        data["reason"] = c.waiting_reason
    if req.to == S.answered:
        c.answered_at = now
        c.first_responded_at = c.first_responded_at or now
    if req.to == S.closed:
        c.closed_at = now
    if req.to == S.in_progress and previous in (S.answered, S.closed):
        c.answered_at, c.closed_at = None, None
        data["reopened"] = True
    c.status = req.to
    if req.to == S.waiting_on_municipality:
        await sla.pause(c, now)
    else:
        sla.apply_state(c, await sla.thresholds_for(session, c), now)
    c.version += 1
    kind = "reopened" if data.get("reopened") else "status_changed"
    await record_event(session, c, actor, kind, from_status=previous, to_status=c.status, data=data)
    await notices.transitioned(session, c, actor, previous, reopened=bool(data.get("reopened")))
    if req.note:
        # Staff notes stay internal; a municipality's note (closing, reopening) is a public
        # message of the municipality, visible to it and to the office.
        staff = actor.is_staff
        session.add(
            ConsultationMessage(
                consultation_id=c.id,
                visibility=MessageVisibility.internal if staff else MessageVisibility.public,
                author_type=actor.kind,
                author_id=actor.id,
                author_label=actor.label,
                from_office=staff,
                body=req.note,
            )
        )
    await session.flush()
    await audit.record(
        session,
        actor,
        "consultation.transition",
        "consultation",
        c.id,
        {"status": {"from": previous, "to": c.status}, **audit.jsonable(data)},
    )
    return c


async def history(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, params: PageParams
) -> tuple[list[ConsultationEvent], str | None]:
    c = await get(session, actor, consultation_id)
    stmt = select(ConsultationEvent).where(col(ConsultationEvent.consultation_id) == c.id)
    if not actor.is_staff:
        stmt = stmt.where(col(ConsultationEvent.is_public).is_(True))
    keys: list[Any] = [ConsultationEvent.id]
    return await paginate(session, stmt, params, keys=keys)


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


async def check_service(session: AsyncSession, service_id: uuid.UUID | None) -> None:
    if service_id is None:
        return
    service = await session.get(CatalogueService, service_id)
    if service is None or not service.is_active:
        raise UnprocessableEntity("El servicio indicado no existe o no está activo")
