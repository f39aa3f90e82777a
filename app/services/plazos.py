"""The legal-deadline calculator: any term of Ley 39/2015 art. 30 computed on the one clock,
explained day by day, before anything is registered."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.errors import invalid_field
from app.core.time import MADRID
from app.models.municipality import Municipality
from app.models.sla import Holiday, OfficialCalendarYear, SlaUnit, term_limit_error
from app.schemas.plazos import PlaceRef, PlazoPublic, SkippedDay, StartKind
from app.services.sla import clock

# The official holidays package knows years up to 2100; the longest term from 2096 ends by then.
FIRST_YEAR, LAST_YEAR = 2000, 2096
# Years loaded from the start: the longest admissible term (TERM_LIMITS, about three years)
# always ends inside them.
_YEARS_LOADED = 5

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def date_in_words(d: date) -> str:
    return f"{WEEKDAYS[d.weekday()]}, {d.day} de {MONTHS[d.month - 1]} de {d.year}"


def parse_start(text: str) -> datetime:
    """A date (YYYY-MM-DD: its first instant) or an instant (ISO 8601; without an offset it is
    Madrid wall-clock time), returned in Madrid time."""
    try:
        if len(text) == 10:
            at = datetime.combine(date.fromisoformat(text), time(0), MADRID)
        else:
            at = datetime.fromisoformat(text)
            at = at.replace(tzinfo=MADRID) if at.tzinfo is None else at.astimezone(MADRID)
    except ValueError:
        raise invalid_field(
            "start", "no es una fecha (AAAA-MM-DD) ni una fecha y hora ISO 8601", "query"
        ) from None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise invalid_field("start", f"el año debe estar entre {FIRST_YEAR} y {LAST_YEAR}", "query")
    return at


def _place(m: Municipality | None) -> PlaceRef | None:
    return PlaceRef(id=m.id, name=m.name, ine_code=m.ine_code) if m is not None else None


async def compute(
    session: AsyncSession,
    *,
    start: str,
    term: int,
    unit: SlaUnit,
    municipality_id: uuid.UUID | None,
    start_kind: StartKind,
) -> PlazoPublic:
    at = parse_start(start)
    error = term_limit_error(unit, term)
    if error:
        raise invalid_field("term", error, "query")
    municipality = None
    if municipality_id is not None:
        municipality = await session.get(Municipality, municipality_id)
        if municipality is None:
            raise invalid_field("municipality_id", "el municipio indicado no existe", "query")
    seat = await clock.seat_municipality(session)
    years = range(at.year, at.year + _YEARS_LOADED)
    cal = await clock.load_calendar(session, municipality_id, years)
    result = cal.compute_term(at, term, unit, submission=start_kind == StartKind.submission)
    due_day = result.due_at.date()
    touched = range(at.year, due_day.year + 1)
    warnings = await _warnings(session, touched, municipality, seat)
    due_words = date_in_words(due_day)
    if unit == SlaUnit.working_hours:
        due_words += f", a las {result.due_at:%H:%M}"
    else:
        due_words += ", hasta las 23:59"
    return PlazoPublic(
        start=result.received_at,
        start_kind=start_kind,
        deemed_start=result.deemed_start,
        deemed_start_moved=result.deemed_start != result.received_at,
        term=term,
        unit=unit,
        municipality=_place(municipality),
        seat=_place(seat),
        due_at=result.due_at,
        due_date=due_day,
        due_in_words=due_words,
        skipped=[
            SkippedDay(day=s.day, kind=s.kind, description=s.description) for s in result.skipped
        ],
        legal_basis=list(result.legal_basis),
        calendar_known=not any(w.startswith(UNKNOWN_YEAR) for w in warnings),
        warnings=warnings,
    )


UNKNOWN_YEAR = "El calendario oficial de días inhábiles de"


async def _warnings(
    session: AsyncSession,
    years: range,
    municipality: Municipality | None,
    seat: Municipality | None,
) -> list[str]:
    """Never silent: a year without its official calendar (art. 30.7) and a place without its
    local days recorded for a known year are said in words."""
    known = set(
        (
            await session.execute(
                select(col(OfficialCalendarYear.year)).where(
                    col(OfficialCalendarYear.year).in_(list(years))
                )
            )
        )
        .scalars()
        .all()
    )
    out: list[str] = []
    for year in years:
        if year not in known:
            out.append(
                f"{UNKNOWN_YEAR} {year} no está publicado o no se ha cargado (art. 30.7 Ley "
                "39/2015): el cálculo solo descuenta las fiestas nacionales y autonómicas "
                "previstas, sin las locales, y puede cambiar cuando se publique."
            )
            continue
        for place in {m.id: m for m in (municipality, seat) if m is not None}.values():
            has_local = (
                await session.execute(
                    select(col(Holiday.id))
                    .where(
                        col(Holiday.municipality_id) == place.id,
                        col(Holiday.is_holiday).is_(True),
                        col(Holiday.day) >= date(year, 1, 1),
                        col(Holiday.day) <= date(year, 12, 31),
                    )
                    .limit(1)
                )
            ).first()
            if has_local is None:
                out.append(
                    f"No constan las fiestas locales de {place.name} para {year}: el cálculo "
                    "no las descuenta."
                )
    return out
