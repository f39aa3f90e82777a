"""CSV exports of the lists staff work with, streamed from a server-side cursor.

Spanish column headers, instants in Europe/Madrid, cells that a spreadsheet would run as a
formula escaped (`csvfmt.safe`). Office staff export everything; area staff their área's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import invalid_field
from app.core.scoping import Actor
from app.services.indicators import periods
from app.services.reports import csvfmt
from app.services.reports.scope import area_scope

MAX_RANGE_DAYS = 731


@dataclass(frozen=True)
class Dataset:
    headers: tuple[str, ...]
    sql: str  # selects the columns in header order; {where} receives the filters
    date_column: str
    area_column: str
    filters: dict[str, str]  # query parameter -> column


DATASETS: dict[str, Dataset] = {
    "consultations": Dataset(
        (
            "Referencia",
            "Entidad local",
            "Código INE",
            "Área",
            "Canal",
            "Prioridad",
            "Estado",
            "Asunto",
            "Recibida",
            "Primera respuesta",
            "Respondida",
            "Cerrada",
            "Estado del plazo",
            "Vencimiento de la resolución",
        ),
        "SELECT c.reference, m.name, m.ine_code, a.name, c.channel, c.priority, c.status,"
        " c.subject, c.received_at, c.first_responded_at, c.answered_at, c.closed_at,"
        " c.sla_state, c.resolution_due_at"
        " FROM consultation c JOIN municipality m ON m.id = c.municipality_id"
        " LEFT JOIN area a ON a.id = c.area_id WHERE {where}"
        " ORDER BY c.received_at, c.id",
        "c.received_at",
        "c.area_id",
        {"status": "c.status", "channel": "c.channel", "municipality_id": "c.municipality_id"},
    ),
    "expedientes": Dataset(
        (
            "Referencia del área",
            "Título",
            "Entidad local",
            "Código INE",
            "Área",
            "Procedimiento",
            "Estado",
            "Fase actual",
            "Abierto",
            "Cerrado",
            "Fecha límite",
            "Detenido",
        ),
        "SELECT e.external_ref, e.title, m.name, m.ine_code, a.name, p.name, e.status,"
        " e.current_stage_code, e.opened_at, e.closed_at, e.deadline_date, e.stalled"
        " FROM expediente e JOIN municipality m ON m.id = e.municipality_id"
        " JOIN area a ON a.id = e.area_id JOIN procedure_type p ON p.id = e.procedure_type_id"
        " WHERE {where} ORDER BY e.opened_at, e.id",
        "e.opened_at",
        "e.area_id",
        {"status": "e.status", "municipality_id": "e.municipality_id"},
    ),
    "registrations": Dataset(
        (
            "Evento",
            "Inicio de la sesión",
            "Entidad local",
            "Código INE",
            "Asistente",
            "Cargo",
            "Estado",
            "Inscrita",
            "Cancelada",
        ),
        "SELECT ce.title, r.occurrence_start, m.name, m.ine_code, r.attendee_name,"
        " r.attendee_role, r.status, r.created_at, r.cancelled_at"
        " FROM event_registration r JOIN calendar_entry ce ON ce.id = r.entry_id"
        " JOIN municipality m ON m.id = r.municipality_id WHERE {where}"
        " ORDER BY r.occurrence_start, r.id",
        "r.occurrence_start",
        "ce.area_id",
        {"status": "r.status", "municipality_id": "r.municipality_id"},
    ),
    "attendance": Dataset(
        (
            "Acción formativa",
            "Modalidad",
            "Área",
            "Primera sesión",
            "Entidad local",
            "Código INE",
            "Nombre",
            "Cargo",
            "Horas asistidas",
        ),
        "SELECT t.title, t.modality, a.name, f.first_at, m.name, m.ine_code, at.name, at.role,"
        " at.attended_hours"
        " FROM training_attendance at JOIN training_action t ON t.id = at.training_id"
        " LEFT JOIN LATERAL (SELECT min(s.starts_at) AS first_at FROM training_session s"
        "  WHERE s.training_id = t.id) f ON true"
        " LEFT JOIN area a ON a.id = t.area_id"
        " LEFT JOIN municipality m ON m.id = at.municipality_id WHERE {where}"
        " ORDER BY f.first_at NULLS LAST, t.id, at.id",
        "f.first_at",
        "t.area_id",
        {"municipality_id": "at.municipality_id"},
    ),
    "surveys": Dataset(
        (
            "Consulta",
            "Entidad local",
            "Código INE",
            "Área",
            "Atención recibida",
            "Proceso y plazos",
            "Resolución de problemas",
            "Comentario",
            "Respondida",
        ),
        "SELECT c.reference, m.name, m.ine_code, a.name, s.attention, s.process, s.resolution,"
        " s.comment, s.answered_at"
        " FROM satisfaction_survey s JOIN consultation c ON c.id = s.consultation_id"
        " JOIN municipality m ON m.id = s.municipality_id"
        " LEFT JOIN area a ON a.id = s.area_id WHERE {where} ORDER BY s.answered_at, s.id",
        "s.answered_at",
        "s.area_id",
        {"municipality_id": "s.municipality_id"},
    ),
}


@dataclass(frozen=True)
class Export:
    headers: Sequence[str]
    rows: AsyncIterator[Sequence[object]]


def _parse_filters(dataset: Dataset, filters: dict[str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if name not in dataset.filters:
            raise invalid_field(name, "este filtro no se aplica a esta exportación", "query")
        if name.endswith("_id"):
            try:
                out[name] = uuid.UUID(value)
            except ValueError:
                raise invalid_field(name, "no es un identificador válido", "query") from None
        else:
            out[name] = value
    return out


def build(
    actor: Actor,
    name: str,
    from_day: date | None,
    to_day: date | None,
    filters: dict[str, str | None],
) -> tuple[str, dict[str, Any], Dataset]:
    """The statement and parameters of an export for this caller (raises before streaming)."""
    area_id, _ = area_scope(actor)
    dataset = DATASETS[name]
    when = periods.parse(None, from_day, to_day) if from_day or to_day else None
    params: dict[str, Any] = {}
    where = ["true"]
    if when is not None:
        p = when.params()
        params.update(start=p["start"], end=p["end"])
        where.append(f"{dataset.date_column} >= :start AND {dataset.date_column} < :end")
    if area_id is not None:
        params["area_id"] = area_id
        where.append(f"{dataset.area_column} = :area_id")
    for key, value in _parse_filters(dataset, filters).items():
        params[key] = value
        where.append(f"{dataset.filters[key]} = :{key}")
    return dataset.sql.format(where=" AND ".join(where)), params, dataset


async def stream_rows(
    session: AsyncSession, sql: str, params: dict[str, Any]
) -> AsyncIterator[Sequence[object]]:
    result = await session.stream(text(sql).execution_options(yield_per=500), params)
    async for row in result:
        yield tuple(row)


async def stream(
    session: AsyncSession, sql: str, params: dict[str, Any], headers: Sequence[str]
) -> AsyncIterator[bytes]:
    async for chunk in csvfmt.stream(headers, stream_rows(session, sql, params)):
        yield chunk
