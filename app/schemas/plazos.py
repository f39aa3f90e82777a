"""Shapes of the legal-deadline calculator (`/plazos`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.sla import SlaUnit


class StartKind(StrEnum):
    """What happened on the start date."""

    notification = "notification"  # notificación o publicación: cuenta desde el día siguiente
    submission = "submission"  # presentación del interesado: art. 31.2.b


class PlaceRef(SQLModel):
    id: uuid.UUID
    name: str
    ine_code: str | None


class SkippedDay(SQLModel):
    day: date
    kind: str = Field(
        description="weekend, national, regional (Extremadura), local, seat (sede del órgano) "
        "o correction"
    )
    description: str = Field(description="El motivo, en palabras")


class PlazoPublic(SQLModel):
    start: datetime = Field(description="Fecha y hora de inicio indicadas (hora de Madrid)")
    start_kind: StartKind
    deemed_start: datetime = Field(
        description="Inicio a efectos del cómputo: en una presentación en día inhábil, la "
        "primera hora del primer día hábil siguiente (art. 31.2.b)"
    )
    deemed_start_moved: bool
    term: int
    unit: SlaUnit
    municipality: PlaceRef | None = Field(description="Municipio del interesado")
    seat: PlaceRef | None = Field(description="Municipio sede del órgano (art. 30.6)")
    due_at: datetime = Field(description="Instante en que vence el plazo (hora de Madrid)")
    due_date: date
    due_in_words: str
    skipped: list[SkippedDay] = Field(
        description="Días inhábiles saltados o que desplazaron el inicio o el vencimiento"
    )
    legal_basis: list[str] = Field(description="Fundamento legal del cómputo, en palabras")
    calendar_known: bool = Field(
        description="false si algún año del cómputo no tiene publicado o cargado su calendario "
        "oficial de días inhábiles"
    )
    warnings: list[str]
