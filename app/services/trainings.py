"""Training actions: the catalogue (public), sessions, attendance and CSV import of attendees."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud
from app.core.errors import Forbidden, PayloadTooLarge, UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible
from app.models.area import Area
from app.models.base import Role
from app.models.calendar import Modality
from app.models.municipality import Municipality
from app.models.training import TrainingAction, TrainingAttendance, TrainingSession
from app.schemas.trainings import (
    AttendanceCreate,
    ImportReport,
    ImportRow,
    SessionIn,
    SessionPublic,
    TrainingCreate,
    TrainingPublic,
    TrainingUpdate,
)

MAX_IMPORT_ROWS = 5000
MAX_HOURS = Decimal("1000")


async def sessions_of(session: AsyncSession, training_id: uuid.UUID) -> list[TrainingSession]:
    stmt = (
        select(TrainingSession)
        .where(col(TrainingSession.training_id) == training_id)
        .order_by(col(TrainingSession.starts_at), col(TrainingSession.id))
    )
    return list((await session.execute(stmt)).scalars().all())


async def render(session: AsyncSession, rows: list[TrainingAction]) -> list[TrainingPublic]:
    ids = [t.id for t in rows]
    by_training: dict[uuid.UUID, list[SessionPublic]] = {i: [] for i in ids}
    if ids:
        stmt = (
            select(TrainingSession)
            .where(col(TrainingSession.training_id).in_(ids))
            .order_by(col(TrainingSession.starts_at), col(TrainingSession.id))
        )
        for s in (await session.execute(stmt)).scalars().all():
            by_training[s.training_id].append(SessionPublic.model_validate(s))
    return [TrainingPublic.model_validate(t, update={"sessions": by_training[t.id]}) for t in rows]


def _add_sessions(session: AsyncSession, training_id: uuid.UUID, items: list[SessionIn]) -> None:
    for s in items:
        session.add(TrainingSession(training_id=training_id, **s.model_dump()))


async def create(session: AsyncSession, actor: Actor, data: TrainingCreate) -> TrainingAction:
    area_id = data.area_id
    if actor.role == Role.area_staff and area_id is None:
        area_id = actor.area_id
    if not actor.can_manage_area(area_id):
        raise Forbidden("Solo la oficina o el personal del área gestionan acciones formativas")
    if area_id is not None and await session.get(Area, area_id) is None:
        raise UnprocessableEntity("El área indicada no existe")
    t = TrainingAction(**data.model_dump(exclude={"sessions", "area_id"}), area_id=area_id)
    await crud.create(session, actor, t, "training_action")
    _add_sessions(session, t.id, data.sessions)
    await crud.flush(session)
    return t


async def get(session: AsyncSession, actor: Actor, training_id: uuid.UUID) -> TrainingAction:
    return await get_visible(session, TrainingAction, training_id, actor)


async def _get_managed(
    session: AsyncSession, actor: Actor, training_id: uuid.UUID
) -> TrainingAction:
    t = await get_visible(session, TrainingAction, training_id, actor)
    if not actor.can_manage_area(t.area_id):
        raise Forbidden("Solo la oficina o el área responsable gestionan esta acción formativa")
    return t


async def update(
    session: AsyncSession, actor: Actor, training_id: uuid.UUID, data: TrainingUpdate
) -> TrainingAction:
    t = await _get_managed(session, actor, training_id)
    patch: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"sessions"})
    for required in ("title", "audience", "modality", "hours"):
        if required in patch and patch[required] is None:
            raise UnprocessableEntity(f"{required} no admite null")
    await crud.update(session, actor, t, patch, "training_action")
    if data.sessions is not None:
        await session.execute(
            delete(TrainingSession).where(col(TrainingSession.training_id) == t.id)
        )
        _add_sessions(session, t.id, data.sessions)
        await crud.flush(session)
        await audit.record(
            session,
            actor,
            "training_action.sessions",
            "training_action",
            t.id,
            {"sessions": len(data.sessions)},
        )
    return t


async def delete_training(session: AsyncSession, actor: Actor, training_id: uuid.UUID) -> None:
    t = await _get_managed(session, actor, training_id)
    await session.delete(t)
    await crud.flush(session)
    await audit.record(session, actor, "training_action.delete", "training_action", t.id, {})


async def list_trainings(
    session: AsyncSession,
    page: PageParams,
    *,
    area_id: uuid.UUID | None = None,
    modality: Modality | None = None,
) -> tuple[list[TrainingAction], str | None]:
    stmt = select(TrainingAction)
    if area_id is not None:
        stmt = stmt.where(col(TrainingAction.area_id) == area_id)
    if modality is not None:
        stmt = stmt.where(col(TrainingAction.modality) == modality)
    return await paginate(
        session,
        stmt,
        page,
        keys=[TrainingAction.created_at, TrainingAction.id],  # type: ignore[list-item]
        descending=True,
    )


# ---- attendance -----------------------------------------------------------------------------


async def add_attendance(
    session: AsyncSession, actor: Actor, training_id: uuid.UUID, data: AttendanceCreate
) -> TrainingAttendance:
    t = await _get_managed(session, actor, training_id)
    if data.attended_hours > t.hours:
        raise UnprocessableEntity(
            f"Las horas asistidas ({data.attended_hours}) superan las de la acción ({t.hours})"
        )
    if await session.get(Municipality, data.municipality_id) is None:
        raise UnprocessableEntity("La entidad indicada no existe")
    row = TrainingAttendance(training_id=t.id, **data.model_dump())
    return await crud.create(session, actor, row, "training_attendance")


async def list_attendance(
    session: AsyncSession, actor: Actor, training_id: uuid.UUID, page: PageParams
) -> tuple[list[TrainingAttendance], str | None]:
    """Staff managing the action see every row; a municipal user only their municipality's."""
    t = await get_visible(session, TrainingAction, training_id, actor)
    stmt = select(TrainingAttendance).where(col(TrainingAttendance.training_id) == t.id)
    if not actor.can_manage_area(t.area_id):
        if not actor.is_municipal:
            raise Forbidden("No puede consultar la asistencia de esta acción formativa")
        stmt = stmt.where(col(TrainingAttendance.municipality_id) == actor.municipality_id)
    return await paginate(
        session,
        stmt,
        page,
        keys=[TrainingAttendance.created_at, TrainingAttendance.id],  # type: ignore[list-item]
    )


def _parse_hours(raw: str) -> Decimal:
    value = Decimal(raw.strip().replace(",", "."))
    if not value.is_finite():
        raise InvalidOperation
    return value


def decode_csv(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnprocessableEntity("El fichero no está codificado en UTF-8") from exc


async def import_attendance(
    session: AsyncSession, actor: Actor, training_id: uuid.UUID, text: str
) -> ImportReport:
    """Imports a CSV (`ine_code,role,attended_hours,name`): good rows are imported, bad ones
    reported line by line. Over 5,000 rows is refused whole (413)."""
    t = await _get_managed(session, actor, training_id)
    if "\x00" in text:
        raise UnprocessableEntity("El fichero contiene caracteres nulos")
    try:
        sample = text[:4096]
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header_row = next(reader, None)
        if header_row is None:
            raise UnprocessableEntity("El fichero está vacío")
        header = [h.strip().lower() for h in header_row]
        missing = [c for c in ("ine_code", "role", "attended_hours") if c not in header]
        if missing:
            raise UnprocessableEntity(
                f"Faltan columnas en la cabecera: {', '.join(missing)}",
                allowed=["ine_code", "role", "attended_hours", "name"],
            )
        index = {name: header.index(name) for name in header if name}
        records: list[tuple[int, list[str]]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            records.append((reader.line_num, cells))
            if len(records) > MAX_IMPORT_ROWS:
                raise PayloadTooLarge(f"El fichero supera las {MAX_IMPORT_ROWS} filas")
    except csv.Error as exc:
        raise UnprocessableEntity(f"El fichero CSV no es válido: {exc}") from exc

    municipalities = {
        code: mid
        for code, mid in (
            await session.execute(select(col(Municipality.ine_code), col(Municipality.id)))
        ).all()
        if code
    }

    def cell(cells: list[str], name: str) -> str:
        i = index.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    report: list[ImportRow] = []
    imported = 0
    for line, cells in records:
        errors: list[str] = []
        ine = cell(cells, "ine_code")
        municipality_id = municipalities.get(ine)
        if not ine:
            errors.append("Falta el código INE")
        elif municipality_id is None:
            errors.append(f"Código INE desconocido: {ine[:20]}")
        role = cell(cells, "role")
        if not role:
            errors.append("Falta el cargo (role)")
        elif len(role) > 100:
            errors.append("El cargo (role) supera 100 caracteres")
        hours: Decimal | None = None
        raw_hours = cell(cells, "attended_hours")
        try:
            hours = _parse_hours(raw_hours)
        except (InvalidOperation, ValueError):
            errors.append(f"Horas asistidas no válidas: {raw_hours[:20]!r}")
        if hours is not None:
            if hours < 0:
                errors.append("Las horas asistidas no pueden ser negativas")
            elif hours > t.hours:
                errors.append(f"Las horas asistidas ({hours}) superan las de la acción ({t.hours})")
            elif hours != hours.quantize(Decimal("0.01")):
                errors.append("Las horas asistidas admiten como mucho dos decimales")
        name = cell(cells, "name") or None
        if name is not None and len(name) > 200:
            errors.append("El nombre supera 200 caracteres")
        if errors:
            report.append(ImportRow(row=line, status="error", errors=errors))
            continue
        assert hours is not None
        session.add(
            TrainingAttendance(
                training_id=t.id,
                municipality_id=municipality_id,
                role=role,
                attended_hours=hours,
                name=name,
            )
        )
        imported += 1
        report.append(ImportRow(row=line, status="imported"))
    await crud.flush(session)
    await audit.record(
        session,
        actor,
        "training_attendance.import",
        "training_action",
        t.id,
        {"imported": imported, "failed": len(report) - imported},
    )
    return ImportReport(imported=imported, failed=len(report) - imported, rows=report)
