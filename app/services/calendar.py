"""Punto Informativo calendar: entries, recurrence expansion, registrations, feed tokens and
grant-call closing reminders."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.config import get_settings
from app.core.crud import flush
from app.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    UnprocessableEntity,
)
from app.core.scoping import Actor, get_visible, visible
from app.core.time import MADRID
from app.models.base import Role
from app.models.calendar import (
    AudienceKind,
    CalendarEntry,
    CalendarEntryMunicipality,
    EntryKind,
    EntryStatus,
    EventRegistration,
    FeedToken,
)
from app.models.municipality import Municipality
from app.models.notification import NotificationKind
from app.models.user import User
from app.schemas.calendar import (
    EntryCreate,
    EntryDetail,
    EntryFields,
    EntryPublic,
    EntryUpdate,
    FeedTokenCreate,
    FeedTokenCreated,
    FeedTokenPublic,
    OccurrenceList,
    OccurrencePublic,
    RegistrationCreate,
)
from app.services.notifications import outbox
from app.services.sla.clock import load_calendar
from app.services.sla.working_days import WorkingCalendar

MAX_RANGE_DAYS = 400
MAX_OCCURRENCES = 5000
ENTITY = "calendar_entry"

# ---- Schemas ---------------------------------------------------------------------------------


# ---- Helpers ---------------------------------------------------------------------------------


def web_url(entry_id: uuid.UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/punto-informativo/{entry_id}"


def _invalid(field: str, message: str, where: str = "body") -> UnprocessableEntity:
    """A 422 problem naming the offending field."""
    return UnprocessableEntity(
        f"{field}: {message}",
        errors=[
            FieldError(loc=[where, field], pointer=f"/{field}", message=message, code="invalid")
        ],
    )


def normalise_rrule(value: str) -> str:
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return text.upper()


def parse_rrule(value: str, dtstart: datetime) -> rrule:
    """The rule `value` (RFC 5545 RRULE) anchored at `dtstart` (Madrid wall time)."""
    text = normalise_rrule(value)
    if not text or "\n" in text or "DTSTART" in text or ":" in text:
        raise ValueError("solo se admite una regla RRULE")
    rule = rrulestr(text, dtstart=dtstart.astimezone(MADRID))
    if not isinstance(rule, rrule):
        raise ValueError("solo se admite una regla RRULE")
    # A calendar of meetings and calls repeats daily at most often; finer rules would expand
    # into millions of occurrences.
    freq = re.search(r"FREQ=([A-Z]+)", text.upper())
    if freq is None or freq.group(1) not in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"):
        raise ValueError("la repetición más frecuente admitida es diaria (FREQ=DAILY)")
    return rule


def validate_rrule(value: str, dtstart: datetime) -> str:
    try:
        parse_rrule(value, dtstart)
    except (ValueError, TypeError) as exc:
        raise _invalid("rrule", f"la regla de repetición no es válida ({exc})") from exc
    return normalise_rrule(value)


@dataclass(frozen=True)
class Occurrence:
    entry: CalendarEntry
    start: datetime
    end: datetime


def _overlaps(a_start: datetime, a_end: datetime, start: datetime, end: datetime) -> bool:
    """[a_start, a_end) meets [start, end); an instant (a_start == a_end) counts if inside."""
    return a_start < end and (a_end > start or a_start >= start)


def _wall(dt: datetime) -> datetime:
    return dt.astimezone(MADRID).replace(tzinfo=None)


def occurrences(entry: CalendarEntry, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of `entry` overlapping [start, end): recurring ones expanded in Madrid wall
    time (10:00 stays 10:00 across DST changes), EXDATEs removed."""
    if not entry.rrule:
        if _overlaps(entry.starts_at, entry.ends_at, start, end):
            return [Occurrence(entry, entry.starts_at, entry.ends_at)]
        return []
    # Wall-clock duration, so that a 10:00-12:00 session stays 10:00-12:00 after a DST change.
    duration = _wall(entry.ends_at) - _wall(entry.starts_at)
    rule = parse_rrule(entry.rrule, entry.starts_at)
    excluded = {d.astimezone(UTC) for d in entry.exdates}
    out: list[Occurrence] = []
    window_start = (start - duration - timedelta(days=1)).astimezone(MADRID)
    window_end = end.astimezone(MADRID)
    # Lazily, and never more than a listing can show: stored rules are bounded to daily
    # repetition, but the iteration itself must not depend on that.
    for occ in rule.xafter(window_start, inc=True):
        if occ > window_end or len(out) > MAX_OCCURRENCES:
            break
        occ_start = occ.replace(tzinfo=MADRID)
        if occ_start.astimezone(UTC) in excluded:
            continue
        occ_end = (occ.replace(tzinfo=None) + duration).replace(tzinfo=MADRID)
        if not _overlaps(occ_start, occ_end, start, end):
            continue
        out.append(Occurrence(entry, occ_start.astimezone(UTC), occ_end.astimezone(UTC)))
    return out


def is_occurrence(entry: CalendarEntry, instant: datetime) -> bool:
    return any(
        o.start == instant
        for o in occurrences(entry, instant - timedelta(seconds=1), instant + timedelta(seconds=1))
    )


async def _municipality_ids(
    session: AsyncSession, entry_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    ids = list(entry_ids)
    out: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = select(CalendarEntryMunicipality).where(col(CalendarEntryMunicipality.entry_id).in_(ids))
    for row in (await session.execute(stmt)).scalars().all():
        out[row.entry_id].append(row.municipality_id)
    return out


def to_public(entry: CalendarEntry, municipality_ids: list[uuid.UUID]) -> EntryPublic:
    data = EntryPublic.model_validate(entry)
    return data.model_copy(
        update={"municipality_ids": municipality_ids, "web_url": web_url(entry.id)}
    )


# ---- Entries ---------------------------------------------------------------------------------


def _check_write(actor: Actor, area_id: uuid.UUID | None) -> None:
    if actor.is_office:
        return
    if actor.role == Role.area_staff and actor.area_id is not None and area_id == actor.area_id:
        return
    raise Forbidden("Solo la oficina o el personal del área de la entrada pueden modificarla")


async def _closing_date(session: AsyncSession, opens_on: date, term: int) -> date:
    cal = await load_calendar(session, None, range(opens_on.year, opens_on.year + 3))
    return cal.add_working_days(opens_on, term)


def _normalise_all_day(entry: CalendarEntry) -> None:
    if entry.all_day:
        first = entry.starts_at.astimezone(MADRID).date()
        last = entry.ends_at.astimezone(MADRID).date()
        entry.starts_at = datetime.combine(first, time(0), tzinfo=MADRID)
        entry.ends_at = datetime.combine(last, time(0), tzinfo=MADRID)


async def _validate(session: AsyncSession, entry: CalendarEntry, mun_ids: list[uuid.UUID]) -> None:
    if entry.ends_at < entry.starts_at:
        raise _invalid("ends_at", "el final no puede ser anterior al comienzo")
    if entry.audience == AudienceKind.comarca and entry.comarca_id is None:
        raise _invalid("comarca_id", "indique la comarca destinataria")
    if entry.audience == AudienceKind.municipalities and not mun_ids:
        raise _invalid("municipality_ids", "indique al menos una entidad destinataria")
    if entry.rrule:
        entry.rrule = validate_rrule(entry.rrule, entry.starts_at)
    if entry.registration_required and entry.kind not in (EntryKind.event, EntryKind.participation):
        raise _invalid("registration_required", "solo los eventos admiten inscripción")
    if entry.kind == EntryKind.grant_call:
        if entry.closing_term_working_days is not None and entry.application_closes_on is None:
            if entry.application_opens_on is None:
                raise _invalid(
                    "application_opens_on",
                    "el plazo en días hábiles se cuenta desde la apertura: indíquela",
                )
            entry.application_closes_on = await _closing_date(
                session, entry.application_opens_on, entry.closing_term_working_days
            )
        if (
            entry.application_opens_on
            and entry.application_closes_on
            and entry.application_closes_on < entry.application_opens_on
        ):
            raise _invalid("application_closes_on", "el cierre no puede ser anterior a la apertura")


async def _set_municipalities(
    session: AsyncSession, entry: CalendarEntry, mun_ids: list[uuid.UUID]
) -> None:
    existing = await _municipality_ids(session, [entry.id])
    for row_id in existing[entry.id]:
        row = await session.get(CalendarEntryMunicipality, (entry.id, row_id))
        if row is not None:
            await session.delete(row)
    await session.flush()
    if entry.audience == AudienceKind.municipalities:
        for mid in dict.fromkeys(mun_ids):
            session.add(CalendarEntryMunicipality(entry_id=entry.id, municipality_id=mid))
    await flush(session)


async def create_entry(session: AsyncSession, actor: Actor, data: EntryCreate) -> EntryPublic:
    """Creates a draft entry; área staff only for their own área."""
    if not actor.is_office and data.area_id is None and actor.role == Role.area_staff:
        data = data.model_copy(update={"area_id": actor.area_id})
    _check_write(actor, data.area_id)
    values = data.model_dump(exclude_unset=True, exclude={"municipality_ids"})
    if data.attachments is not None:
        values["attachments"] = [a.model_dump() for a in data.attachments]
    values.setdefault("ends_at", data.starts_at)
    values = {k: v for k, v in values.items() if v is not None}
    entry = CalendarEntry(**values, created_by_id=actor.id if actor.kind == "user" else None)
    mun_ids = list(data.municipality_ids or [])
    _normalise_all_day(entry)
    await _validate(session, entry, mun_ids)
    session.add(entry)
    await flush(session)
    await _set_municipalities(session, entry, mun_ids)
    after = audit.snapshot(entry) | {"municipality_ids": [str(m) for m in mun_ids]}
    await audit.record(session, actor, f"{ENTITY}.create", ENTITY, entry.id, after)
    return to_public(entry, mun_ids if entry.audience == AudienceKind.municipalities else [])


async def get_entry(session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> CalendarEntry:
    return await get_visible(session, CalendarEntry, entry_id, actor)


async def entry_public(session: AsyncSession, entry: CalendarEntry) -> EntryPublic:
    mun = await _municipality_ids(session, [entry.id])
    return to_public(entry, mun[entry.id])


async def active_registrations(
    session: AsyncSession, entry_id: uuid.UUID, occurrence_start: datetime
) -> int:
    stmt = select(func.count()).where(
        col(EventRegistration.entry_id) == entry_id,
        col(EventRegistration.occurrence_start) == occurrence_start,
        col(EventRegistration.status) == "registered",
    )
    return int((await session.execute(stmt)).scalar_one())


def _default_occurrence(entry: CalendarEntry, now: datetime) -> datetime:
    if not entry.rrule:
        return entry.starts_at
    rule = parse_rrule(entry.rrule, entry.starts_at)
    excluded = {d.astimezone(UTC) for d in entry.exdates}
    for occ in rule.xafter(now.astimezone(MADRID), inc=True):
        start = occ.replace(tzinfo=MADRID).astimezone(UTC)
        if start not in excluded:
            return start
    return entry.starts_at


async def entry_detail(
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    occurrence_start: datetime | None = None,
) -> EntryDetail:
    """One entry with the registrations of one occurrence (the next one by default)."""
    entry = await get_entry(session, actor, entry_id)
    public = await entry_public(session, entry)
    detail = EntryDetail(**public.model_dump())
    if entry.registration_required:
        occ = occurrence_start or _default_occurrence(entry, datetime.now(UTC))
        registered = await active_registrations(session, entry.id, occ)
        detail.occurrence_start = occ
        detail.registered = registered
        if entry.capacity is not None:
            detail.remaining = max(entry.capacity - registered, 0)
    return detail


_SUBSCRIBER_FIELDS = frozenset(EntryFields.model_fields) | {"status"}


async def update_entry(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, data: EntryUpdate
) -> EntryPublic:
    """Applies a change; every effective change increments the iCalendar SEQUENCE."""
    entry = await get_entry(session, actor, entry_id)
    _check_write(actor, entry.area_id)
    patch = data.model_dump(exclude_unset=True)
    if "area_id" in patch:
        _check_write(actor, patch["area_id"])
    if "status" in patch:
        new = patch["status"]
        if new is None or (new != entry.status and new != EntryStatus.cancelled):
            raise InvalidTransition(
                "Solo se puede cancelar una entrada aquí; para publicarla use /publish",
                allowed=[EntryStatus.cancelled],
            )
    if "attachments" in patch and data.attachments is not None:
        patch["attachments"] = [a.model_dump() for a in data.attachments]
    for key in ("title", "starts_at", "ends_at", "kind"):
        if key in patch and patch[key] is None:
            raise _invalid(key, "no puede quedar vacío")
    for key in ("all_day", "is_public", "registration_required"):
        if key in patch and patch[key] is None:
            raise _invalid(key, "no puede quedar vacío")
    for key in ("attachments", "exdates", "reminder_working_days"):
        if key in patch and patch[key] is None:
            patch[key] = []
    mun_patch = patch.pop("municipality_ids", None)
    current_mun = (await _municipality_ids(session, [entry.id]))[entry.id]
    mun_ids = list(mun_patch) if mun_patch is not None else current_mun
    term_changed = "application_opens_on" in patch or "closing_term_working_days" in patch
    term = patch.get("closing_term_working_days", entry.closing_term_working_days)
    if term_changed and "application_closes_on" not in patch and term is not None:
        patch["application_closes_on"] = None  # recomputed from the term by _validate
    before = audit.snapshot(entry, patch.keys(), for_diff=True)
    for key, value in patch.items():
        setattr(entry, key, value)
    _normalise_all_day(entry)
    await _validate(session, entry, mun_ids)
    changes = audit.diff(before, audit.snapshot(entry, patch.keys(), for_diff=True))
    if mun_patch is not None and sorted(mun_ids) != sorted(current_mun):
        changes["municipality_ids"] = {
            "from": [str(m) for m in current_mun],
            "to": [str(m) for m in mun_ids],
        }
    if entry.audience != AudienceKind.municipalities:
        mun_ids = []
    if changes:
        await _set_municipalities(session, entry, mun_ids)
        entry.sequence += 1
        entry.updated_at = datetime.now(UTC)
        changes["sequence"] = {"from": entry.sequence - 1, "to": entry.sequence}
        await flush(session)
        await audit.record(session, actor, f"{ENTITY}.update", ENTITY, entry.id, changes)
    return to_public(entry, mun_ids)


async def publish_entry(session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> EntryPublic:
    entry = await get_entry(session, actor, entry_id)
    _check_write(actor, entry.area_id)
    if entry.status != EntryStatus.draft:
        raise InvalidTransition(
            f"Solo se publican borradores; la entrada está «{entry.status}»",
            allowed=[EntryStatus.cancelled] if entry.status == EntryStatus.published else [],
        )
    now = datetime.now(UTC)
    entry.status = EntryStatus.published
    entry.published_at = now
    entry.sequence += 1
    entry.updated_at = now
    await flush(session)
    await audit.record(
        session,
        actor,
        f"{ENTITY}.publish",
        ENTITY,
        entry.id,
        {"status": {"from": "draft", "to": "published"}, "sequence": entry.sequence},
    )
    return await entry_public(session, entry)


# ---- Range queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeFilters:
    start: datetime
    end: datetime
    kind: EntryKind | None = None
    area_id: uuid.UUID | None = None
    municipality_id: uuid.UUID | None = None
    q: str | None = None


def addressed_to(municipality_id: uuid.UUID) -> Any:
    """Entries whose audience includes that municipality (whatever their status)."""
    from app.models.municipality import Municipality

    comarca = (
        select(col(Municipality.comarca_id))
        .where(col(Municipality.id) == municipality_id)
        .scalar_subquery()
    )
    listed = (
        select(col(CalendarEntryMunicipality.entry_id))
        .where(col(CalendarEntryMunicipality.municipality_id) == municipality_id)
        .scalar_subquery()
    )
    return or_(
        col(CalendarEntry.audience) == AudienceKind.all,
        (col(CalendarEntry.audience) == AudienceKind.comarca)
        & (col(CalendarEntry.comarca_id) == comarca),
        (col(CalendarEntry.audience) == AudienceKind.municipalities)
        & col(CalendarEntry.id).in_(listed),
    )


async def list_occurrences(
    session: AsyncSession, actor: Actor, filters: RangeFilters
) -> OccurrenceList:
    """Occurrences in [start, end) visible to the actor, recurrences expanded, by start."""
    if filters.start.tzinfo is None or filters.end.tzinfo is None:
        raise _invalid("from", "las fechas del intervalo deben indicar la zona horaria", "query")
    if filters.end <= filters.start:
        raise _invalid("to", "debe ser posterior a «from»", "query")
    if filters.end - filters.start > timedelta(days=MAX_RANGE_DAYS):
        raise _invalid("to", f"el intervalo no puede superar {MAX_RANGE_DAYS} días", "query")
    if filters.municipality_id is not None and not actor.is_office:
        raise Forbidden("Solo la oficina puede filtrar por entidad destinataria")
    stmt = select(CalendarEntry).where(
        visible(CalendarEntry, actor),
        col(CalendarEntry.starts_at) < filters.end,
        or_(
            col(CalendarEntry.rrule).is_not(None),
            col(CalendarEntry.ends_at) >= filters.start,
        ),
    )
    if filters.kind is not None:
        stmt = stmt.where(col(CalendarEntry.kind) == filters.kind)
    if filters.area_id is not None:
        stmt = stmt.where(col(CalendarEntry.area_id) == filters.area_id)
    if filters.municipality_id is not None:
        stmt = stmt.where(addressed_to(filters.municipality_id))
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                col(CalendarEntry.title).ilike(pattern),
                col(CalendarEntry.description).ilike(pattern),
                col(CalendarEntry.location).ilike(pattern),
            )
        )
    entries = list((await session.execute(stmt)).scalars().all())
    mun = await _municipality_ids(session, [e.id for e in entries])
    found: list[Occurrence] = []
    for entry in entries:
        found.extend(occurrences(entry, filters.start, filters.end))
    found.sort(key=lambda o: (o.start, o.end, str(o.entry.id)))
    truncated = len(found) > MAX_OCCURRENCES
    items = []
    for occ in found[:MAX_OCCURRENCES]:
        public = to_public(occ.entry, mun[occ.entry.id])
        items.append(
            OccurrencePublic(
                **public.model_dump(),
                entry_id=occ.entry.id,
                occurrence_start=occ.start,
                occurrence_end=occ.end,
            )
        )
    return OccurrenceList(items=items, truncated=truncated)


async def feed_entries(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: EntryKind | None = None,
    area_id: uuid.UUID | None = None,
    published_only: bool = True,
) -> tuple[list[CalendarEntry], dict[uuid.UUID, list[date]]]:
    """Entries of a feed (published and cancelled ones) and the reminder days of grant calls."""
    stmt = select(CalendarEntry).where(visible(CalendarEntry, actor))
    if published_only:
        stmt = stmt.where(
            col(CalendarEntry.status).in_((EntryStatus.published, EntryStatus.cancelled)),
            col(CalendarEntry.published_at).is_not(None),
        )
    if kind is not None:
        stmt = stmt.where(col(CalendarEntry.kind) == kind)
    if area_id is not None:
        stmt = stmt.where(col(CalendarEntry.area_id) == area_id)
    stmt = stmt.order_by(col(CalendarEntry.starts_at), col(CalendarEntry.id)).limit(5000)
    entries = list((await session.execute(stmt)).scalars().all())
    return entries, await reminder_days(session, entries)


async def reminder_days(
    session: AsyncSession, entries: Sequence[CalendarEntry]
) -> dict[uuid.UUID, list[date]]:
    closing = [e for e in entries if e.application_closes_on is not None]
    if not closing:
        return {}
    years = [e.application_closes_on.year for e in closing if e.application_closes_on]
    cal = await load_calendar(session, None, range(min(years) - 1, max(years) + 1))
    out: dict[uuid.UUID, list[date]] = {}
    for e in closing:
        assert e.application_closes_on is not None
        out[e.id] = [
            working_days_before(cal, e.application_closes_on, n) for n in e.reminder_working_days
        ]
    return out


def working_days_before(cal: WorkingCalendar, day: date, n: int) -> date:
    """The working day n working days before `day` (so that adding n working days gives it)."""
    d = day
    remaining = n
    while remaining:
        d -= timedelta(days=1)
        if cal.is_working_day(d):
            remaining -= 1
    return d


# ---- Registrations ---------------------------------------------------------------------------


async def register(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, data: RegistrationCreate
) -> EventRegistration:
    """Signs up an attendee of the caller's municipality; the entry row is locked while the
    active registrations are counted, so concurrent sign-ups never exceed the capacity."""
    if actor.role != Role.municipal_user or actor.municipality_id is None:
        raise Forbidden("Solo los usuarios municipales inscriben a personas de su entidad")
    await get_entry(session, actor, entry_id)
    locked = await session.execute(
        select(CalendarEntry)
        .where(col(CalendarEntry.id) == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    entry = locked.scalars().one()
    if entry.status != EntryStatus.published:
        raise Conflict("La entrada no está publicada o ha sido cancelada")
    if not entry.registration_required:
        raise Conflict("Esta entrada no admite inscripción")
    now = datetime.now(UTC)
    if entry.registration_deadline is not None and now > entry.registration_deadline:
        raise Conflict("El plazo de inscripción ha terminado")
    if entry.rrule:
        if data.occurrence_start is None:
            raise _invalid("occurrence_start", "indique la sesión de la actividad periódica")
        if data.occurrence_start.tzinfo is None or not is_occurrence(entry, data.occurrence_start):
            raise _invalid("occurrence_start", "no corresponde a ninguna sesión de la actividad")
        occ = data.occurrence_start.astimezone(UTC)
    else:
        if data.occurrence_start is not None and data.occurrence_start != entry.starts_at:
            raise _invalid("occurrence_start", "no corresponde a la fecha de la actividad")
        occ = entry.starts_at
    if occ <= now:
        raise Conflict("La sesión ya ha comenzado")
    if entry.capacity is not None:
        taken = await active_registrations(session, entry.id, occ)
        if taken >= entry.capacity:
            raise Conflict(f"La actividad está completa: no quedan plazas ({entry.capacity})")
    reg = EventRegistration(
        entry_id=entry.id,
        occurrence_start=occ,
        municipality_id=actor.municipality_id,
        attendee_name=data.attendee_name,
        attendee_role=data.attendee_role,
        attendee_email=data.attendee_email,
        created_by_id=actor.id,
    )
    session.add(reg)
    await flush(session)
    await audit.record(
        session,
        actor,
        "event_registration.create",
        "event_registration",
        reg.id,
        audit.snapshot(reg),
    )
    return reg


def _registration_scope(actor: Actor, entry: CalendarEntry) -> Any:
    if actor.is_office or (actor.role == Role.area_staff and actor.area_id == entry.area_id):
        return col(EventRegistration.entry_id) == entry.id
    if actor.role == Role.municipal_user and actor.municipality_id is not None:
        return col(EventRegistration.municipality_id) == actor.municipality_id
    return col(EventRegistration.id).is_(None)


async def list_registrations(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> list[EventRegistration]:
    entry = await get_entry(session, actor, entry_id)
    stmt = (
        select(EventRegistration)
        .where(col(EventRegistration.entry_id) == entry.id, _registration_scope(actor, entry))
        .order_by(col(EventRegistration.occurrence_start), col(EventRegistration.created_at))
    )
    return list((await session.execute(stmt)).scalars().all())


async def cancel_registration(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, registration_id: uuid.UUID
) -> EventRegistration:
    entry = await get_entry(session, actor, entry_id)
    stmt = select(EventRegistration).where(
        col(EventRegistration.id) == registration_id,
        col(EventRegistration.entry_id) == entry.id,
        _registration_scope(actor, entry),
    )
    reg = (await session.execute(stmt)).scalars().first()
    if reg is None:
        raise NotFound(f"La inscripción {registration_id} no existe")
    if reg.status == "cancelled":
        raise Conflict("La inscripción ya estaba cancelada")
    reg.status = "cancelled"
    reg.cancelled_at = datetime.now(UTC)
    await flush(session)
    await audit.record(
        session,
        actor,
        "event_registration.cancel",
        "event_registration",
        reg.id,
        {"status": {"from": "registered", "to": "cancelled"}},
    )
    return reg


# ---- Feed tokens -----------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/api/v1/calendar/{token}.ics"


async def create_feed_token(
    session: AsyncSession, actor: Actor, data: FeedTokenCreate
) -> FeedTokenCreated:
    if actor.role != Role.municipal_user or actor.municipality_id is None:
        raise Forbidden("Solo los usuarios municipales crean enlaces del calendario de su entidad")
    token = secrets.token_urlsafe(32)
    obj = FeedToken(
        municipality_id=actor.municipality_id,
        token_hash=hash_token(token),
        label=data.label,
        created_by_id=actor.id,
    )
    session.add(obj)
    await flush(session)
    await audit.record(
        session,
        actor,
        "feed_token.create",
        "feed_token",
        obj.id,
        {"municipality_id": str(obj.municipality_id), "label": obj.label},
    )
    return FeedTokenCreated(**FeedTokenPublic.model_validate(obj).model_dump(), url=feed_url(token))


async def list_feed_tokens(session: AsyncSession, actor: Actor) -> list[FeedToken]:
    stmt = (
        select(FeedToken)
        .where(visible(FeedToken, actor), col(FeedToken.revoked_at).is_(None))
        .order_by(col(FeedToken.created_at))
    )
    return list((await session.execute(stmt)).scalars().all())


async def revoke_feed_token(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> None:
    obj = await get_visible(session, FeedToken, token_id, actor)
    if actor.role not in (Role.municipal_user, Role.admin, Role.oaaa_staff):
        raise Forbidden("Su perfil no permite revocar enlaces")
    if obj.revoked_at is None:
        obj.revoked_at = datetime.now(UTC)
        await flush(session)
        await audit.record(
            session,
            actor,
            "feed_token.revoke",
            "feed_token",
            obj.id,
            {"revoked_at": obj.revoked_at.isoformat()},
        )


async def feed_actor(session: AsyncSession, token: str) -> Actor:
    """The municipality behind a private feed token, as an actor; unknown or revoked: 404."""
    stmt = select(FeedToken).where(
        col(FeedToken.token_hash) == hash_token(token), col(FeedToken.revoked_at).is_(None)
    )
    obj = (await session.execute(stmt)).scalars().first()
    if obj is None:
        raise NotFound("El enlace del calendario no existe o ha sido revocado")
    obj.last_used_at = datetime.now(UTC)
    await session.flush()
    from app.models.audit import ActorType

    return Actor(
        kind=ActorType.system,
        role=Role.municipal_user,
        label="calendario privado",
        municipality_id=obj.municipality_id,
    )


# ---- Grant-call reminders --------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderScan:
    processed: int
    emitted: list[outbox.Emitted]


async def grant_call_reminders(
    session: AsyncSession, now: datetime | None = None, batch: int = 200
) -> ReminderScan:
    """Records one `grant_call.closing` notification per published grant call and reminder
    (N working days before its closing date), once: the dedupe key holds call, N and date."""
    now = now or datetime.now(UTC)
    today = now.astimezone(MADRID).date()
    stmt = (
        select(CalendarEntry)
        .where(
            col(CalendarEntry.kind) == EntryKind.grant_call,
            col(CalendarEntry.status) == EntryStatus.published,
            col(CalendarEntry.application_closes_on).is_not(None),
            col(CalendarEntry.application_closes_on) >= today,
            func.cardinality(col(CalendarEntry.reminder_working_days)) > 0,
        )
        .order_by(col(CalendarEntry.application_closes_on), col(CalendarEntry.id))
    )
    calls = list((await session.execute(stmt)).scalars().all())
    if not calls:
        return ReminderScan(0, [])
    last = max(c.application_closes_on for c in calls if c.application_closes_on)
    cal = await load_calendar(session, None, range(today.year - 1, last.year + 1))
    emitted: list[outbox.Emitted] = []
    cache = outbox.FanoutCache()
    for call in calls:
        closes_on = call.application_closes_on
        assert closes_on is not None
        for n in sorted(call.reminder_working_days, reverse=True):
            if today < working_days_before(cal, closes_on, n):
                continue
            spec = outbox.EventSpec(
                kind=NotificationKind.grant_call_closing,
                dedupe_key=f"grant_call:{call.id}:closing:{n}:{closes_on.isoformat()}",
                entity_type=ENTITY,
                entity_id=str(call.id),
                title=f"La convocatoria «{call.title[:200]}» cierra el "
                f"{closes_on.strftime('%d/%m/%Y')}",
                body=(
                    f"Quedan {n} día{'s' if n != 1 else ''} hábil{'es' if n != 1 else ''} "
                    f"para presentar solicitudes a «{call.title[:200]}»."
                ),
                occurred_at=now,
                area_id=call.area_id,
                link=f"/punto-informativo/{call.id}",
                payload={
                    "closes_on": closes_on.isoformat(),
                    "working_days_before": n,
                    "bulletin_url": call.bulletin_url,
                },
                # Office and área; addressed municipalities see it in their calendar and feed.
                audience=outbox.Audience(office=True, area=True, municipality=False),
            )
            result = await outbox.emit(session, spec, now=now, cache=cache)
            if result is not None:
                emitted.append(result)
            # And once for each addressed municipality that has people to tell.
            for municipality_id in await _addressed_with_users(session, call):
                local = dataclasses.replace(
                    spec,
                    dedupe_key=f"{spec.dedupe_key}:{municipality_id}",
                    municipality_id=municipality_id,
                    audience=outbox.Audience(office=False, area=False, municipality=True),
                )
                result = await outbox.emit(session, local, now=now, cache=cache)
                if result is not None:
                    emitted.append(result)
            if len(emitted) >= batch:
                return ReminderScan(len(emitted), emitted)
    return ReminderScan(len(emitted), emitted)


async def _addressed_with_users(session: AsyncSession, entry: CalendarEntry) -> list[uuid.UUID]:
    """Municipalities an entry is addressed to that have active municipal users."""
    stmt = (
        select(col(User.municipality_id))
        .where(
            col(User.role) == Role.municipal_user,
            col(User.is_active).is_(True),
            col(User.municipality_id).is_not(None),
        )
        .distinct()
    )
    if entry.audience == AudienceKind.comarca:
        stmt = stmt.where(
            col(User.municipality_id).in_(
                select(col(Municipality.id)).where(col(Municipality.comarca_id) == entry.comarca_id)
            )
        )
    elif entry.audience == AudienceKind.municipalities:
        stmt = stmt.where(
            col(User.municipality_id).in_(
                select(col(CalendarEntryMunicipality.municipality_id)).where(
                    col(CalendarEntryMunicipality.entry_id) == entry.id
                )
            )
        )
    return [m for m in (await session.execute(stmt)).scalars().all() if m is not None]
