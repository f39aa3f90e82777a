"""Visits to the Punto de Información: daily counts per page and channel, never who visited."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.config import get_settings
from app.core.errors import MalformedBody, UnprocessableEntity
from app.core.ratelimit import enforce_rate_limit
from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.base import check_day
from app.models.visit import VisitDaily
from app.schemas.problems import FieldError
from app.schemas.visits import PAGE_PATTERN, InPersonVisits, VisitReport, VisitRow, VisitTotals

_PAGE_RE = re.compile(PAGE_PATTERN)
MAX_BEACON_BYTES = 2048
BEACON_LIMIT = 120
BEACON_WINDOW_SECONDS = 600
MAX_RANGE_DAYS = 731


def today() -> date:
    return datetime.now(UTC).astimezone(MADRID).date()


def _invalid(message: str, pointer: str = "/page") -> UnprocessableEntity:
    loc: list[str | int] = ["body", *[p for p in pointer.split("/") if p]]
    return UnprocessableEntity(
        message,
        errors=[FieldError(loc=loc, pointer=pointer, message=message, code="invalid")],
    )


def parse_beacon(raw: bytes) -> str:
    """The page of a beacon body (`{"page": "..."}`); anything else is a 422 problem."""
    if not raw.strip():
        raise _invalid('El cuerpo está vacío; se espera {"page": "..."}', "")
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBody() from exc
    if not isinstance(data, dict):
        raise _invalid('Se espera un objeto {"page": "..."}', "")
    extra = sorted(str(k) for k in data if k != "page")
    if extra:
        raise _invalid(f"Campo no admitido: {extra[0]}", f"/{extra[0]}"[:120])
    page = data.get("page")
    if not isinstance(page, str) or not _PAGE_RE.fullmatch(page):
        raise _invalid("page debe ser una ruta conocida: minúsculas, dígitos, / _ - (1-100)")
    return page


def anonymous_bucket(client_ip: str | None) -> str:
    """A keyed, daily-rotating digest of the address: the rate-limit key never holds the address
    itself and cannot be linked from one day to the next."""
    secret = get_settings().jwt_secret.get_secret_value().encode()
    message = f"{today().isoformat()}|{client_ip or 'unknown'}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


async def record_beacon(
    session: AsyncSession, redis: Redis, raw: bytes, client_ip: str | None
) -> None:
    """Counts one web visit of a page for today (Europe/Madrid)."""
    await enforce_rate_limit(
        redis, "visit-beacon", anonymous_bucket(client_ip), BEACON_LIMIT, BEACON_WINDOW_SECONDS
    )
    page = parse_beacon(raw)
    await add(session, today(), page, "web", 1)


async def add(session: AsyncSession, day: date, page: str, channel: str, count: int) -> int:
    """Adds `count` visits to the day's counter (one atomic upsert); returns the new total."""
    stmt = (
        insert(VisitDaily)
        .values(day=day, page=page, channel=channel, count=count)
        .on_conflict_do_update(
            index_elements=["day", "page", "channel"],
            set_={"count": col(VisitDaily.count) + count},
        )
        .returning(col(VisitDaily.count))
    )
    return int((await session.execute(stmt)).scalar_one())


async def record_in_person(session: AsyncSession, actor: Actor, data: InPersonVisits) -> VisitRow:
    if data.day > today():
        raise UnprocessableEntity("No se pueden registrar visitas de días futuros")
    total = await add(session, data.day, data.page, "in_person", data.count)
    await audit.record(
        session,
        actor,
        "visit.in_person",
        "visit_daily",
        f"{data.day.isoformat()}:{data.page}",
        {"added": data.count, "count": total},
    )
    return VisitRow(day=data.day, page=data.page, channel="in_person", count=total)


async def report(
    session: AsyncSession, from_day: date | None, to_day: date | None, channel: str | None
) -> VisitReport:
    """Daily counts and totals in an inclusive range of days (default: the last 30)."""
    try:
        check_day(from_day)
        check_day(to_day)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from exc
    to_day = to_day or today()
    from_day = from_day or (to_day - timedelta(days=29))
    if from_day > to_day:
        raise UnprocessableEntity("La fecha inicial (from) es posterior a la final (to)")
    if (to_day - from_day).days > MAX_RANGE_DAYS:
        raise UnprocessableEntity(f"El intervalo no puede superar {MAX_RANGE_DAYS} días")
    conditions = [col(VisitDaily.day) >= from_day, col(VisitDaily.day) <= to_day]
    if channel is not None:
        conditions.append(col(VisitDaily.channel) == channel)
    stmt = (
        select(VisitDaily)
        .where(*conditions)
        .order_by(col(VisitDaily.day), col(VisitDaily.channel), col(VisitDaily.page))
    )
    rows = [VisitRow.model_validate(r) for r in (await session.execute(stmt)).scalars().all()]
    sums = select(col(VisitDaily.channel), func.sum(VisitDaily.count)).where(*conditions)
    totals = VisitTotals()
    for ch, total in (await session.execute(sums.group_by(col(VisitDaily.channel)))).all():
        setattr(totals, ch, int(total or 0))
    totals.all = totals.web + totals.in_person
    return VisitReport(from_day=from_day, to_day=to_day, channel=channel, items=rows, totals=totals)
