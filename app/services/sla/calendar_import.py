"""Yearly import of the official calendar of non-working days (art. 30.7): the national and
Extremadura days and each municipality's local days as published, from CSV, with a preview of
what changes and which open deadlines move, then an idempotent, audited apply."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.errors import invalid_field
from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.municipality import Municipality, MunicipalityKind
from app.models.sla import Holiday, OfficialCalendarYear
from app.schemas.holidays import (
    CalendarChange,
    CalendarImport,
    CalendarImportReport,
    MovedDeadlinePublic,
)
from app.services.sla.scan import recompute_open_changes
from app.services.sla.working_days import official_holidays

HEADER = ("date", "scope", "ine_code", "name")
SCOPES = ("national", "regional", "local")
MAX_ROWS = 2000
NOT_A_HOLIDAY = "No es festivo según el calendario oficial"


@dataclass(frozen=True)
class _Row:
    line: int
    day: date
    scope: str
    ine_code: str | None
    name: str


def _bad(line: int, message: str) -> Exception:
    return invalid_field("csv", f"línea {line}: {message}")


def _parse_day(text: str, line: int, year: int) -> date:
    text = text.strip()
    try:
        if "/" in text:
            d, m, y = (int(p) for p in text.split("/"))
            day = date(y, m, d)
        else:
            day = date.fromisoformat(text)
    except ValueError:
        raise _bad(line, f"fecha no válida «{text[:20]}» (AAAA-MM-DD o DD/MM/AAAA)") from None
    if day.year != year:
        raise _bad(line, f"la fecha {day:%d/%m/%Y} no es del año {year}")
    return day


def parse(data: CalendarImport) -> list[_Row]:
    reader = csv.reader(io.StringIO(data.csv.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise _bad(1, f"la cabecera debe ser {','.join(HEADER)}")
    rows: list[_Row] = []
    seen: set[tuple[date, str | None]] = set()
    for line, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(HEADER):
            raise _bad(line, f"se esperaban {len(HEADER)} columnas y hay {len(fields)}")
        if len(rows) >= MAX_ROWS:
            raise _bad(line, f"como máximo {MAX_ROWS} filas")
        day_text, scope, ine, name = (f.strip() for f in fields)
        day = _parse_day(day_text, line, data.year)
        scope = scope.lower()
        if scope not in SCOPES:
            raise _bad(line, f"ámbito «{scope[:20]}» no válido ({', '.join(SCOPES)})")
        if scope == "local" and not ine:
            raise _bad(line, "una fiesta local necesita el código INE del municipio")
        if scope != "local" and ine:
            raise _bad(line, "solo las fiestas locales llevan código INE")
        if not 2 <= len(name) <= 200:
            raise _bad(line, "el nombre debe tener entre 2 y 200 caracteres")
        key = (day, ine or None)
        if key in seen:
            raise _bad(line, "fecha repetida para el mismo ámbito")
        seen.add(key)
        rows.append(_Row(line, day, scope, ine or None, name))
    if not rows:
        raise _bad(2, "el CSV no trae ninguna fecha")
    return rows


async def run(
    session: AsyncSession, actor: Actor, data: CalendarImport, *, apply: bool
) -> CalendarImportReport:
    """Preview (`apply` false: computed inside a savepoint that is rolled back) or apply."""
    rows = parse(data)
    ines = sorted({r.ine_code for r in rows if r.ine_code})
    places = {
        m.ine_code: m
        for m in (
            await session.execute(select(Municipality).where(col(Municipality.ine_code).in_(ines)))
        )
        .scalars()
        .all()
    }
    for row in rows:
        if row.ine_code and row.ine_code not in places:
            raise _bad(row.line, f"no hay ningún municipio con código INE {row.ine_code}")
    savepoint = await session.begin_nested()
    changes = await _write(session, data.year, rows, places)
    official = any(r.scope != "local" for r in rows)
    if official:
        known = await session.get(OfficialCalendarYear, data.year)
        if known is None:
            session.add(OfficialCalendarYear(year=data.year, source=data.source))
        else:
            known.source = data.source
    await session.flush()
    window = (
        datetime.combine(date(data.year, 1, 1), time(0), MADRID),
        datetime.combine(date(data.year + 1, 1, 1), time(0), MADRID),
    )
    moved = await recompute_open_changes(
        session, window=window, now=datetime.now(UTC), calendar_change=actor
    )
    without = await _without_local_days(session, data.year)
    report = CalendarImportReport(
        year=data.year,
        applied=apply,
        marks_year_known=official,
        changes=changes,
        moved_deadlines=[
            MovedDeadlinePublic(
                consultation_id=m.consultation_id,
                reference=m.reference,
                resolution_due_before=_instant(m.before["resolution_due_at"]),
                resolution_due_after=_instant(m.after["resolution_due_at"]),
            )
            for m in moved
        ],
        municipalities_with_local_days=len({r.ine_code for r in rows if r.ine_code}),
        municipalities_without_local_days=without,
    )
    if not apply:
        await savepoint.rollback()
        return report
    await savepoint.commit()
    await audit.record(
        session,
        actor,
        "holiday.import",
        "official_calendar_year",
        data.year,
        {
            "source": data.source,
            "changes": [c.model_dump(mode="json") for c in changes],
            "moved_deadlines": len(moved),
        },
    )
    return report


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def _write(
    session: AsyncSession, year: int, rows: list[_Row], places: dict[str | None, Municipality]
) -> list[CalendarChange]:
    """Brings the stored rows of `year` to what the CSV says; returns what changed."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    stored = (
        (
            await session.execute(
                select(Holiday).where(col(Holiday.day) >= first, col(Holiday.day) <= last)
            )
        )
        .scalars()
        .all()
    )
    # Desired rows keyed by (municipality or None, day) → (is_holiday, name).
    desired: dict[tuple[uuid.UUID | None, date], tuple[bool, str]] = {}
    managed: set[uuid.UUID | None] = set()
    official_rows = {r.day: r.name for r in rows if r.scope != "local"}
    if official_rows:
        managed.add(None)
        package = official_holidays([year])
        for d, name in official_rows.items():
            if d not in package:
                desired[(None, d)] = (True, name)
        for d in package:
            if d not in official_rows:
                desired[(None, d)] = (False, NOT_A_HOLIDAY)
    for r in rows:
        if r.scope == "local":
            place_id = places[r.ine_code].id
            managed.add(place_id)
            desired[(place_id, r.day)] = (True, r.name)
    names = {m.id: m.name for m in places.values()}
    changes: list[CalendarChange] = []

    def change(action: str, mid: uuid.UUID | None, d: date, name: str) -> None:
        changes.append(
            CalendarChange(
                action=action,
                scope="local" if mid else "official",
                day=d,
                name=name,
                municipality_id=mid,
                municipality_name=names.get(mid) if mid else None,
            )
        )

    current = {(h.municipality_id, h.day): h for h in stored}
    for key, row in current.items():
        owner = key[0]
        # A municipality's own cancellation of an official day is not part of the import.
        if owner not in managed or (owner is not None and not row.is_holiday):
            continue
        if key not in desired:
            await session.delete(row)
            change("remove", owner, row.day, row.name)
    for (owner, d), (is_holiday, name) in sorted(
        desired.items(), key=lambda kv: (kv[0][1], str(kv[0][0]))
    ):
        existing = current.get((owner, d))
        if existing is None:
            session.add(Holiday(municipality_id=owner, day=d, name=name, is_holiday=is_holiday))
            change("add" if is_holiday else "remove", owner, d, name)
        elif existing.is_holiday != is_holiday or existing.name != name:
            existing.is_holiday, existing.name = is_holiday, name
            change("rename" if is_holiday else "remove", owner, d, name)
    await session.flush()
    return sorted(changes, key=lambda c: (c.day, c.municipality_name or ""))


async def _without_local_days(session: AsyncSession, year: int) -> list[str]:
    with_days = (
        select(col(Holiday.municipality_id))
        .where(
            col(Holiday.is_holiday).is_(True),
            col(Holiday.day) >= date(year, 1, 1),
            col(Holiday.day) <= date(year, 12, 31),
            col(Holiday.municipality_id).is_not(None),
        )
        .distinct()
    )
    stmt = (
        select(col(Municipality.name))
        .where(
            col(Municipality.kind) == MunicipalityKind.municipality,
            col(Municipality.id).not_in(with_days),
        )
        .order_by(col(Municipality.name))
    )
    return list((await session.execute(stmt)).scalars().all())
