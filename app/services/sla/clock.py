"""Service-level clocks of consultations: which policy applies, when things fall due, and the
SLA state (on track, warning, breached, met, paused) at a given instant.

Day-based targets are counted in días hábiles of the consultation's municipality (its local
holidays included); hour-based targets in office hours of working days. Waiting on the
municipality stops the clock: the paused working time is added to the due dates on resumption.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Uuid, bindparam, or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import queries
from app.core.config import get_settings
from app.core.time import MADRID
from app.models.area import Area, CatalogueService
from app.models.consultation import Consultation, ConsultationStatus, SlaState
from app.models.municipality import Municipality
from app.models.sla import Holiday, SlaPolicy, SlaUnit
from app.services.sla.working_days import OfficeHours, WorkingCalendar

# Years loaded around a consultation: enough for the longest admissible target plus pauses.
_YEARS_BEFORE = 1
_YEARS_AFTER = 4


@dataclass(frozen=True)
class Clock:
    """One running clock: from `start` to `due`, with warning instants at the thresholds."""

    name: str  # first_response | resolution
    start: datetime
    due: datetime
    warnings: tuple[tuple[int, datetime], ...]  # (threshold %, instant), ascending


@dataclass(frozen=True)
class Crossing:
    """The most severe point a running clock has passed: a warning threshold or the due date."""

    clock: str
    due: datetime
    threshold: int | None  # None: the due date itself (a breach)
    at: datetime


def calendar_years(*instants: datetime) -> range:
    years = [i.astimezone(MADRID).year for i in instants]
    return range(min(years) - _YEARS_BEFORE, max(years) + _YEARS_AFTER + 1)


async def seat_municipality(
    session: AsyncSession, area_id: uuid.UUID | None = None
) -> Municipality | None:
    """The seat of the organ handling a term (art. 30.6): the área's own seat if it sits
    elsewhere, else the Diputación's (setting `seat_municipality_ine`, Badajoz by default)."""
    if area_id is not None:
        area = await session.get(Area, area_id)
        if area is not None and area.seat_municipality_id is not None:
            return await session.get(Municipality, area.seat_municipality_id)
    stmt = select(Municipality).where(
        col(Municipality.ine_code) == get_settings().seat_municipality_ine
    )
    return (await session.execute(stmt)).scalars().first()


async def seat_municipality_ids(session: AsyncSession) -> set[uuid.UUID]:
    """Every municipality that is the seat of some organ: its local holidays move the terms of
    consultations from anywhere."""
    seat = await seat_municipality(session)
    rows = await session.execute(
        select(col(Area.seat_municipality_id)).where(col(Area.seat_municipality_id).is_not(None))
    )
    ids = {r for r in rows.scalars().all() if r is not None}
    return ids | ({seat.id} if seat is not None else set())


# ---- Reference data kept in memory ------------------------------------------------------------
#
# Policies and working calendars change rarely and are read by every creation. A caller that
# read the reference data's version in its transaction (`municipality_and_version`, in the
# same statement as the municipality it needs anyway) passes it on, and gets them from memory
# while the version is the one they were cached under: any change to holidays, policies,
# áreas or municipalities changes the version (triggers, migration 0015_refdata), so the next
# read sees it and the cache starts afresh. Without a version everything is read as before.

CALENDARS_KEPT = 1024


@dataclass
class _ReferenceCache:
    version: int = -1
    policies: list[SlaPolicy] | None = None
    calendars: dict[tuple[object, ...], WorkingCalendar] = field(default_factory=dict)


_reference = _ReferenceCache()


def _cached(version: int | None) -> _ReferenceCache | None:
    """The cache of `version`, emptied when the version is newer than the one it holds; None
    for an older version (a transaction that started before the change) or none."""
    global _reference
    if version is None:
        return None
    if version > _reference.version:
        _reference = _ReferenceCache(version)
    return _reference if _reference.version == version else None


def forget_reference_data() -> None:
    """Empties the in-memory reference data (tests)."""
    global _reference
    _reference = _ReferenceCache()


_MUNICIPALITY_AND_VERSION = text(
    "SELECT m.is_active, (SELECT version FROM reference_data_version WHERE id = 1)"
    " FROM municipality m WHERE m.id = :id"
).bindparams(bindparam("id", type_=Uuid))


async def municipality_and_version(
    session: AsyncSession, municipality_id: uuid.UUID
) -> tuple[bool | None, int | None]:
    """Whether the municipality is active (None: there is no such municipality) and the
    version of the reference data, in one statement."""
    found = await queries.run_text(session, _MUNICIPALITY_AND_VERSION, {"id": municipality_id})
    row = found.first()
    return (row[0], row[1]) if row is not None else (None, None)


async def load_calendar(
    session: AsyncSession,
    municipality_id: uuid.UUID | None,
    years: range,
    *,
    area_id: uuid.UUID | None = None,
    version: int | None = None,
) -> WorkingCalendar:
    """National + Extremadura holidays, province-wide corrections, the municipality's own local
    holidays and those of the organ's seat (art. 30.6; the área's seat when it has one).
    `version`: the reference data's, read in this transaction (see `_ReferenceCache`)."""
    cache = _cached(version)
    key = (municipality_id, years.start, years.stop, area_id)
    if cache is not None and key in cache.calendars:
        return cache.calendars[key]
    cal = await _load_calendar(session, municipality_id, years, area_id)
    if cache is not None:
        if len(cache.calendars) >= CALENDARS_KEPT:
            cache.calendars.clear()
        cache.calendars[key] = cal
    return cal


async def _load_calendar(
    session: AsyncSession,
    municipality_id: uuid.UUID | None,
    years: range,
    area_id: uuid.UUID | None,
) -> WorkingCalendar:
    first, last = date(years.start, 1, 1), date(years.stop - 1, 12, 31)
    seat = await seat_municipality(session, area_id)
    places = [m for m in (municipality_id, seat.id if seat else None) if m is not None]
    stmt = select(Holiday).where(
        col(Holiday.day) >= first,
        col(Holiday.day) <= last,
        or_(
            col(Holiday.municipality_id).is_(None),
            col(Holiday.municipality_id).in_(places),
        ),
    )
    rows = (await session.execute(stmt)).scalars().all()
    local_name = None
    if municipality_id is not None:
        local = await session.get(Municipality, municipality_id)
        local_name = local.name if local is not None else None
    return WorkingCalendar.build(
        years,
        local={
            h.day: h.name
            for h in rows
            if h.is_holiday
            and h.municipality_id is not None
            and h.municipality_id == municipality_id
        },
        seat={
            h.day: h.name
            for h in rows
            if h.is_holiday and seat is not None and h.municipality_id == seat.id
        },
        added={h.day: h.name for h in rows if h.is_holiday and h.municipality_id is None},
        # A correction cancels an official date everywhere; a municipality's own cancellation
        # only its own calendar.
        removed=[
            h.day for h in rows if not h.is_holiday and h.municipality_id in (None, municipality_id)
        ],
        office_hours=OfficeHours.parse(get_settings().office_hours),
        local_name=local_name,
        seat_name=seat.name if seat is not None else None,
    )


async def _active_policies(session: AsyncSession, version: int | None) -> Sequence[SlaPolicy]:
    cache = _cached(version)
    if cache is not None and cache.policies is not None:
        return cache.policies
    stmt = select(SlaPolicy).where(col(SlaPolicy.is_active).is_(True))
    policies = list((await session.execute(stmt)).scalars().all())
    if cache is not None:
        # Out of the session: the cached rows belong to no transaction and are only read.
        for policy in policies:
            session.expunge(policy)
        cache.policies = policies
    return policies


async def select_policy(
    session: AsyncSession, service_id: uuid.UUID | None, priority: str, version: int | None = None
) -> SlaPolicy | None:
    """The most specific active policy: service+priority, the service's default, service,
    priority, then the general one. `version`: as for `load_calendar`."""
    policies = await _active_policies(session, version)

    def find(service: uuid.UUID | None, prio: str | None) -> SlaPolicy | None:
        return next((p for p in policies if p.service_id == service and p.priority == prio), None)

    if service_id is not None:
        exact = find(service_id, priority)
        if exact:
            return exact
        service = await session.get(CatalogueService, service_id)
        if service and service.default_sla_policy_id:
            default = next((p for p in policies if p.id == service.default_sla_policy_id), None)
            if default:
                return default
        by_service = find(service_id, None)
        if by_service:
            return by_service
    return find(None, priority) or next((p for p in policies if p.is_default), None)


def _due(
    cal: WorkingCalendar,
    unit: str,
    start: datetime,
    target: int,
    paused_days: int,
    paused_seconds: float,
) -> datetime:
    # Stored in UTC: arithmetic on datetimes sharing a ZoneInfo is wall-clock arithmetic, which
    # is an hour off across a daylight-saving change.
    if unit == SlaUnit.working_hours:
        return cal.add_working_seconds(start, target * 3600 + paused_seconds).astimezone(UTC)
    return cal.due_instant(start, target, unit, extra_days=paused_days).astimezone(UTC)


def compute_due_dates(
    cal: WorkingCalendar, policy: SlaPolicy | None, c: Consultation
) -> tuple[datetime | None, datetime | None]:
    """First-response and resolution due instants, extended by the time spent paused.

    A legal term set on the consultation replaces the policy's resolution target (and its
    first-response target when it has one); a first response never falls due after the
    resolution."""

    def due(unit: str, target: int) -> datetime:
        return _due(
            cal, unit, c.sla_started_at, target, c.paused_working_days, c.paused_working_seconds
        )

    first: datetime | None = None
    resolution: datetime | None = None
    if policy is not None:
        first = due(policy.unit, policy.first_response_target)
        resolution = due(policy.unit, policy.resolution_target)
    if c.sla_override_unit is not None and c.sla_override_resolution_target is not None:
        resolution = due(c.sla_override_unit, c.sla_override_resolution_target)
        if c.sla_override_first_response_target is not None:
            first = due(c.sla_override_unit, c.sla_override_first_response_target)
        if first is not None:
            first = min(first, resolution)
    return first, resolution


def _clocks(c: Consultation, thresholds: Sequence[int]) -> list[Clock]:
    clocks: list[Clock] = []
    for name, due, running in (
        ("first_response", c.first_response_due_at, c.first_responded_at is None),
        ("resolution", c.resolution_due_at, True),
    ):
        if due is None or not running:
            continue
        start, due = c.sla_started_at.astimezone(UTC), due.astimezone(UTC)
        span = due - start
        warnings = tuple((t, start + span * (t / 100)) for t in sorted(thresholds))
        clocks.append(Clock(name=name, start=start, due=due, warnings=warnings))
    return clocks


def crossings(c: Consultation, thresholds: Sequence[int], now: datetime) -> list[Crossing]:
    """For each running clock of an open, unpaused consultation, the most severe point passed
    by `now` (the breach if the due date has passed, else the highest warning threshold)."""
    if c.status in (ConsultationStatus.answered, ConsultationStatus.closed) or c.paused_at:
        return []
    out: list[Crossing] = []
    for clock in _clocks(c, thresholds):
        if now > clock.due:
            out.append(Crossing(clock.name, clock.due, None, clock.due))
            continue
        passed = [(t, at) for t, at in clock.warnings if now >= at]
        if passed:
            t, at = passed[-1]
            out.append(Crossing(clock.name, clock.due, t, at))
    return out


def evaluate(
    c: Consultation, thresholds: Sequence[int], now: datetime
) -> tuple[SlaState, datetime | None]:
    """The SLA state at `now` and the next instant at which it may change (None: never)."""
    if c.status in (ConsultationStatus.answered, ConsultationStatus.closed):
        done = c.answered_at or c.closed_at or now
        late = c.resolution_due_at is not None and done > c.resolution_due_at
        late = late or (c.sla_breached_at is not None and c.sla_breached_at <= done)
        return (SlaState.breached if late else SlaState.met), None
    if c.paused_at is not None:
        return SlaState.paused, None
    clocks = _clocks(c, thresholds)
    instants = [i for clock in clocks for i in (*(at for _, at in clock.warnings), clock.due)]
    upcoming = sorted(i for i in instants if i > now)
    next_check = upcoming[0] if upcoming else None
    if c.sla_breached_at is not None or any(now > clock.due for clock in clocks):
        return SlaState.breached, next_check
    if any(clock.warnings and now >= clock.warnings[0][1] for clock in clocks):
        return SlaState.warning, next_check
    return SlaState.on_track, next_check


def apply_state(
    c: Consultation, thresholds: Sequence[int], now: datetime, *, from_scan: bool = False
) -> bool:
    """Stores the state at `now` on the consultation; True when the state changed.

    Outside the scan, a consultation already at warning or breach (logged late, resumed,
    recomputed) is scheduled for the scan right away, so its notification goes out now."""
    state, next_check = evaluate(c, thresholds, now)
    if not from_scan and state in (SlaState.warning, SlaState.breached):
        next_check = now
    changed = state != c.sla_state
    if (
        state == SlaState.breached
        and c.sla_breached_at is None
        and c.status
        not in (
            ConsultationStatus.answered,
            ConsultationStatus.closed,
        )
    ):
        clocks = _clocks(c, thresholds)
        passed = [clock.due for clock in clocks if now > clock.due]
        c.sla_breached_at = min(passed) if passed else now
    c.sla_state = state
    c.sla_next_check_at = next_check
    return changed


async def recompute(
    session: AsyncSession,
    c: Consultation,
    now: datetime,
    *,
    reselect_policy: bool = True,
    calendar: WorkingCalendar | None = None,
    version: int | None = None,
) -> SlaPolicy | None:
    """Re-selects the policy (priority or service changed), recomputes the due dates on the
    municipality's calendar (holidays changed), honouring a legal term set on the consultation,
    and the state. `calendar`: the municipality's,
    already loaded by the caller, used when it covers the years needed. `version`: the
    reference data's, read in this transaction (see `_ReferenceCache`)."""
    policy = (
        await select_policy(session, c.service_id, c.priority, version)
        if reselect_policy or c.sla_policy_id is None
        else await session.get(SlaPolicy, c.sla_policy_id)
    )
    years = calendar_years(c.received_at, now)
    cal = calendar
    if cal is None or not set(years) <= cal.years:
        cal = await load_calendar(
            session, c.municipality_id, years, area_id=c.area_id, version=version
        )
    # The deemed start depends on the calendar too (art. 31.2.b): a holiday added or removed
    # on the day of reception moves it.
    c.sla_started_at = cal.effective_start(c.received_at).astimezone(UTC)
    c.sla_policy_id = policy.id if policy is not None else None
    c.first_response_due_at, c.resolution_due_at = compute_due_dates(cal, policy, c)
    if c.resolution_due_at is None:
        c.sla_state, c.sla_next_check_at = SlaState.on_track, None
        return None
    # A breach already recorded stays a breach only if it still is one under the new dates.
    c.sla_breached_at = None
    apply_state(c, policy.warning_thresholds if policy is not None else [], now)
    return policy


async def start_clock(
    session: AsyncSession, c: Consultation, now: datetime, version: int | None = None
) -> None:
    """Sets when the clock starts (received on a non-working day: next working day) and when
    it falls due. `version`: as for `recompute`."""
    await recompute(session, c, now, version=version)


async def pause(c: Consultation, now: datetime) -> None:
    c.paused_at = now
    c.sla_state, c.sla_next_check_at = SlaState.paused, None


async def resume(session: AsyncSession, c: Consultation, now: datetime) -> None:
    """Adds the working time spent waiting on the municipality to the due dates."""
    if c.paused_at is None:
        return
    cal = await load_calendar(
        session, c.municipality_id, calendar_years(c.paused_at, now), area_id=c.area_id
    )
    c.paused_working_days += cal.paused_working_days(c.paused_at, now)
    c.paused_working_seconds += cal.working_seconds_between(c.paused_at, now)
    c.paused_at = None
    await recompute(session, c, now, reselect_policy=False, calendar=cal)


async def thresholds_for(session: AsyncSession, c: Consultation) -> list[int]:
    if c.sla_policy_id is None:
        return []
    policy = await session.get(SlaPolicy, c.sla_policy_id)
    return list(policy.warning_thresholds) if policy else []


def affected_window(day: date) -> tuple[datetime, datetime]:
    """Instants bounding the consultations a change to `day`'s holiday status can affect."""
    start = datetime.combine(day, datetime.min.time(), MADRID)
    return start, start + timedelta(days=1)


_VERSION = text("SELECT version FROM reference_data_version WHERE id = 1")


async def reference_version(session: AsyncSession) -> int | None:
    """The version of the reference data, read in this transaction (see `_ReferenceCache`)."""
    version: int | None = (await queries.run_text(session, _VERSION, {})).scalar()
    return version


async def load_calendars(
    session: AsyncSession,
    municipality_ids: Sequence[uuid.UUID],
    years: range,
    *,
    area_id: uuid.UUID | None = None,
    version: int | None = None,
) -> dict[uuid.UUID, WorkingCalendar]:
    """`load_calendar` for several municipalities with one holiday query (a batch of writes):
    each with its own local days and those of the organ's seat (the área's when it has one).
    `version`: the reference data's, read in this transaction; the calendars of that version
    are then kept in memory, so that the next batches read none of them again. They name no
    municipality in their explanations, so they are kept apart from `load_calendar`'s."""
    cache = _cached(version)
    found: dict[uuid.UUID, WorkingCalendar] = {}
    missing: list[uuid.UUID] = []
    for mid in set(municipality_ids):
        kept = (
            cache.calendars.get(("set", mid, years.start, years.stop, area_id)) if cache else None
        )
        if kept is None:
            missing.append(mid)
        else:
            found[mid] = kept
    if missing:
        built = await _load_calendars(session, missing, years, area_id)
        if cache is not None:
            if len(cache.calendars) + len(built) > CALENDARS_KEPT:
                cache.calendars.clear()
            for mid, cal in built.items():
                cache.calendars["set", mid, years.start, years.stop, area_id] = cal
        found.update(built)
    return found


async def _load_calendars(
    session: AsyncSession,
    municipality_ids: Sequence[uuid.UUID],
    years: range,
    area_id: uuid.UUID | None,
) -> dict[uuid.UUID, WorkingCalendar]:
    if not municipality_ids:
        return {}
    first, last = date(years.start, 1, 1), date(years.stop - 1, 12, 31)
    seat = await seat_municipality(session, area_id)
    seat_id = seat.id if seat is not None else None
    places = set(municipality_ids) | ({seat_id} if seat_id is not None else set())
    stmt = select(Holiday).where(
        col(Holiday.day) >= first,
        col(Holiday.day) <= last,
        or_(col(Holiday.municipality_id).is_(None), col(Holiday.municipality_id).in_(places)),
    )
    rows = (await session.execute(stmt)).scalars().all()
    office_hours = OfficeHours.parse(get_settings().office_hours)
    seat_days = {
        h.day: h.name
        for h in rows
        if h.is_holiday and seat_id is not None and h.municipality_id == seat_id
    }
    added = {h.day: h.name for h in rows if h.is_holiday and h.municipality_id is None}

    # The days of each place, grouped once (not every row read again for every municipality).
    by_place: dict[uuid.UUID | None, list[Holiday]] = {}
    for h in rows:
        by_place.setdefault(h.municipality_id, []).append(h)
    removed_everywhere = [h.day for h in by_place.get(None, ()) if not h.is_holiday]

    def build(mid: uuid.UUID | None) -> WorkingCalendar:
        own = by_place.get(mid, []) if mid is not None else []
        return WorkingCalendar.build(
            years,
            local={h.day: h.name for h in own if h.is_holiday},
            seat=seat_days,
            added=added,
            removed=removed_everywhere + [h.day for h in own if not h.is_holiday],
            office_hours=office_hours,
            seat_name=seat.name if seat is not None else None,
        )

    # Built once for every municipality without days of its own; the others get their own.
    shared = build(None)
    return {mid: build(mid) if mid in by_place else shared for mid in set(municipality_ids)}
