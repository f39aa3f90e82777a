"""Calendar entries (events, grant calls, participation): create, edit, publish and read,
with their addressing to municipalities and the closing date of grant calls."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit
from app.core.config import get_settings
from app.core.crud import flush
from app.core.errors import (
    Forbidden,
    InvalidTransition,
    UnprocessableEntity,
    invalid_field,
)
from app.core.scoping import Actor, get_visible
from app.core.time import MADRID
from app.models.area import Area
from app.models.base import Role
from app.models.calendar import (
    AudienceKind,
    CalendarEntry,
    CalendarEntryMunicipality,
    EntryKind,
    EntryStatus,
    EventRegistration,
)
from app.models.municipality import Comarca
from app.models.sla import DayTermUnit, term_limit_error
from app.schemas.calendar import (
    EntryCreate,
    EntryDetail,
    EntryFields,
    EntryPublic,
    EntryUpdate,
)
from app.schemas.problems import FieldError
from app.services.calendar import notices
from app.services.calendar.recurrence import (
    parse_rrule,
    unmatched_exdates,
    validate_rrule,
)
from app.services.sla.clock import load_calendar
from app.services.sla.working_days import WorkingCalendar

ENTITY = "calendar_entry"


def web_url(entry_id: uuid.UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/punto-informativo/{entry_id}"


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


def _check_write(actor: Actor, area_id: uuid.UUID | None) -> None:
    if actor.is_office:
        return
    if actor.can_manage_area(area_id):
        return
    raise Forbidden("Solo la oficina o el personal del área de la entrada pueden modificarla")


async def _closing_date(session: AsyncSession, opens_on: date, term: int, unit: str) -> date:
    """Last day of the application window, on the calendar of the organ's seat (a call
    addresses many municipalities, so only the province-wide and seat days apply)."""
    cal = await load_calendar(session, None, range(opens_on.year, opens_on.year + 4))
    return cal.term_end(opens_on, term, unit)


def _normalise_all_day(entry: CalendarEntry) -> None:
    if entry.all_day:
        first = entry.starts_at.astimezone(MADRID).date()
        last = entry.ends_at.astimezone(MADRID).date()
        entry.starts_at = datetime.combine(first, time(0), tzinfo=MADRID)
        entry.ends_at = datetime.combine(last, time(0), tzinfo=MADRID)


def _check_exdates(entry: CalendarEntry) -> None:
    """Every EXDATE must remove an occurrence: one that matches none (a wrong time, a day the
    rule skips, a rule changed since) would be ignored by every calendar, so it is refused with
    the positions that fail. All-day exclusions count by their day."""
    if not entry.exdates:
        return
    if entry.all_day:
        entry.exdates = [
            datetime.combine(d.astimezone(MADRID).date(), time(0), tzinfo=MADRID)
            for d in entry.exdates
        ]
    if not entry.rrule:
        bad = list(range(len(entry.exdates)))
        message = "solo una entrada periódica (con rrule) admite exclusiones"
    else:
        bad = unmatched_exdates(entry.rrule, entry.starts_at, list(entry.exdates))
        message = "no coincide con ninguna repetición de la regla (fecha y hora de comienzo)"
    if bad:
        raise UnprocessableEntity(
            f"exdates: {message}",
            errors=[
                FieldError(
                    loc=["body", "exdates", i],
                    pointer=f"/exdates/{i}",
                    message=message,
                    code="exdate_without_occurrence",
                )
                for i in bad
            ],
        )


async def _check_references(session: AsyncSession, entry: CalendarEntry) -> None:
    """The área and comarca named exist (read without flushing the pending change)."""
    with session.no_autoflush:
        if entry.area_id is not None and await session.get(Area, entry.area_id) is None:
            raise invalid_field("area_id", "el área indicada no existe")
        if entry.comarca_id is not None and await session.get(Comarca, entry.comarca_id) is None:
            raise invalid_field("comarca_id", "la comarca indicada no existe")


async def _validate(session: AsyncSession, entry: CalendarEntry, mun_ids: list[uuid.UUID]) -> None:
    await _check_references(session, entry)
    if entry.ends_at < entry.starts_at:
        raise invalid_field("ends_at", "el final no puede ser anterior al comienzo")
    if entry.audience == AudienceKind.comarca and entry.comarca_id is None:
        raise invalid_field("comarca_id", "indique la comarca destinataria")
    if entry.audience == AudienceKind.municipalities and not mun_ids:
        raise invalid_field("municipality_ids", "indique al menos una entidad destinataria")
    if entry.rrule:
        entry.rrule = validate_rrule(entry.rrule, entry.starts_at)
    _check_exdates(entry)
    if entry.registration_required and entry.kind not in (EntryKind.event, EntryKind.participation):
        raise invalid_field("registration_required", "solo los eventos admiten inscripción")
    if entry.kind == EntryKind.grant_call:
        error = term_limit_error(entry.closing_term_unit, entry.closing_term_working_days)
        if error:
            raise invalid_field("closing_term_working_days", error)
        if entry.closing_term_working_days is not None and entry.application_closes_on is None:
            if entry.application_opens_on is None:
                raise invalid_field(
                    "application_opens_on",
                    "el plazo se cuenta desde la apertura: indíquela",
                )
            entry.application_closes_on = await _closing_date(
                session,
                entry.application_opens_on,
                entry.closing_term_working_days,
                entry.closing_term_unit,
            )
        if (
            entry.application_opens_on
            and entry.application_closes_on
            and entry.application_closes_on < entry.application_opens_on
        ):
            raise invalid_field(
                "application_closes_on", "el cierre no puede ser anterior a la apertura"
            )


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


async def create_entry(session: AsyncSession, actor: Actor, data: EntryCreate) -> CalendarEntry:
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
    return entry


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
) -> CalendarEntry:
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
            raise invalid_field(key, "no puede quedar vacío")
    for key in ("all_day", "is_public", "registration_required"):
        if key in patch and patch[key] is None:
            raise invalid_field(key, "no puede quedar vacío")
    for key in ("attachments", "exdates", "reminder_working_days"):
        if key in patch and patch[key] is None:
            patch[key] = []
    mun_patch = patch.pop("municipality_ids", None)
    current_mun = (await _municipality_ids(session, [entry.id]))[entry.id]
    mun_ids = list(mun_patch) if mun_patch is not None else current_mun
    if "closing_term_unit" in patch and patch["closing_term_unit"] is None:
        patch["closing_term_unit"] = DayTermUnit.working_days
    term_changed = any(
        k in patch
        for k in ("application_opens_on", "closing_term_working_days", "closing_term_unit")
    )
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
        if entry.published_at is not None:
            await notices.registered_event_changed(session, entry, actor, set(changes))
    return entry


async def publish_entry(session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> CalendarEntry:
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
    await notices.grant_call_opened(session, entry, actor)
    return entry


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
