# mypy: disable-error-code="arg-type"
"""SLA clocks of consultations, with controlled instants: due dates on the municipality's
calendar, pause and resume, recomputation on priority, service, holiday and policy changes,
and the scan that moves states as time passes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.audit import ActorType
from app.models.base import Role
from app.models.sla import SlaPolicy
from app.schemas.consultations import ConsultationCreate, ConsultationUpdate, TransitionRequest
from app.schemas.holidays import HolidayCreate
from app.services.consultations import intake, lifecycle
from app.services.sla import holidays
from app.services.sla import scan as sla_scan
from tests import factories as f


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc]


def local_day(dt: datetime | None) -> date:
    assert dt is not None
    return dt.astimezone(MADRID).date()


async def _office(session) -> Actor:
    u = await f.user(session, Role.oaaa_staff)
    return Actor(kind=ActorType.user, id=u.id, role=Role.oaaa_staff, label=u.email)


async def _intake(session, actor, received: datetime, municipality="06011", **extra):
    mun = await f.municipality(session, municipality)
    data = ConsultationCreate(
        subject="Plazo de justificación",
        body="¿Hasta cuándo?",
        municipality_id=mun.id,
        channel="phone",
        received_at=received,
        **extra,
    )
    c, _ = await intake.create(session, actor, data, now=received + timedelta(minutes=5))
    await session.commit()
    return c


async def test_due_dates_count_working_days_from_the_day_after(session):
    actor = await _office(session)
    # Wednesday 2026-11-25; general policy: 2 and 10 working days.
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    assert local_day(c.first_response_due_at) == date(2026, 11, 27)  # Thu, Fri
    # Thu 26, Fri 27, Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, [Mon 7 and Tue 8 holidays], Wed 9...
    assert local_day(c.resolution_due_at) == date(2026, 12, 11)
    assert c.resolution_due_at.astimezone(MADRID).time().isoformat() == "23:59:59"
    assert c.sla_state == "on_track"


async def test_received_on_a_holiday_counts_from_the_next_working_day(session):
    actor = await _office(session)
    # Sunday 2026-11-01, then Monday 2 is a holiday (lunes siguiente a Todos los Santos).
    c = await _intake(session, actor, madrid(2026, 11, 1, 12, 0))
    assert c.sla_started_at == madrid(2026, 11, 3, 0, 0)
    assert local_day(c.first_response_due_at) == date(2026, 11, 5)


async def test_local_holiday_of_the_municipality_moves_the_deadline(session):
    actor = await _office(session)
    mun = await f.municipality(session, "06011")
    other = await f.municipality(session, "06083")
    await holidays.create(
        session, actor, HolidayCreate(municipality_id=mun.id, day=date(2026, 11, 27), name="Local")
    )
    await session.commit()
    here = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), "06011")
    there = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), "06083")
    assert other.id != mun.id
    assert local_day(here.first_response_due_at) == date(2026, 11, 30)
    assert local_day(there.first_response_due_at) == date(2026, 11, 27)


async def test_adding_a_holiday_recomputes_the_open_consultations_it_affects(session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    unaffected = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), "06083")
    _, recomputed = await holidays.create(
        session,
        actor,
        HolidayCreate(
            municipality_id=c.municipality_id, day=date(2026, 11, 26), name="Fiesta local"
        ),
    )
    await session.commit()
    assert recomputed == 1
    await session.refresh(c)
    await session.refresh(unaffected)
    assert local_day(c.first_response_due_at) == date(2026, 11, 30)
    assert local_day(c.resolution_due_at) == date(2026, 12, 14)
    assert local_day(unaffected.first_response_due_at) == date(2026, 11, 27)


async def test_cancelling_an_official_holiday_province_wide(session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    await holidays.create(
        session,
        actor,
        HolidayCreate(day=date(2026, 12, 7), name="Se trabaja", is_holiday=False),
    )
    await session.commit()
    await session.refresh(c)
    assert local_day(c.resolution_due_at) == date(2026, 12, 10)


async def test_pause_and_resume_extend_due_dates_by_the_working_days_waited(session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    before = c.resolution_due_at
    await lifecycle.transition(
        session,
        actor,
        c.id,
        TransitionRequest(to="waiting_on_municipality", reason="Falta documentación"),
        None,
        now=madrid(2026, 11, 26, 9, 0),  # Thursday
    )
    assert c.sla_state == "paused"
    assert c.sla_next_check_at is None
    # Resumed the next Wednesday: Thu, Fri, Mon, Tue waited = 4 working days.
    await lifecycle.transition(
        session, actor, c.id, TransitionRequest(to="in_progress"), None,
        now=madrid(2026, 12, 2, 11, 0),
    )  # fmt: skip
    await session.commit()
    assert c.paused_working_days == 4
    assert local_day(before) == date(2026, 12, 11)
    # 10 + 4 working days from 25 Nov, skipping 7 and 8 Dec.
    assert local_day(c.resolution_due_at) == date(2026, 12, 17)
    # The first response (2 days) is now due on Thursday 3 Dec: past its 50 % warning.
    assert local_day(c.first_response_due_at) == date(2026, 12, 3)
    assert c.sla_state == "warning"


async def test_pause_and_resume_the_same_day_changes_nothing(session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    due = c.resolution_due_at
    await lifecycle.transition(
        session, actor, c.id,
        TransitionRequest(to="waiting_on_municipality", reason="Una duda"), None,
        now=madrid(2026, 11, 25, 11, 0),
    )  # fmt: skip
    await lifecycle.transition(
        session, actor, c.id, TransitionRequest(to="in_progress"), None,
        now=madrid(2026, 11, 25, 13, 0),
    )  # fmt: skip
    assert c.resolution_due_at == due


async def test_working_hours_policy_counts_office_hours_and_pauses(session):
    actor = await _office(session)
    admin_session_policy = SlaPolicy(
        code="horas",
        name="Urgente en horas",
        priority="urgent",
        unit="working_hours",
        first_response_target=2,
        resolution_target=14,
        warning_thresholds=[50],
    )
    session.add(admin_session_policy)
    await session.commit()
    # Friday 2026-11-27 14:00: one office hour left (08:00-15:00), then Monday.
    c = await _intake(session, actor, madrid(2026, 11, 27, 14, 0), priority="urgent")
    assert c.first_response_due_at == madrid(2026, 11, 30, 9, 0)
    assert c.resolution_due_at == madrid(2026, 12, 1, 14, 0)
    await lifecycle.transition(
        session, actor, c.id,
        TransitionRequest(to="waiting_on_municipality", reason="Plano"), None,
        now=madrid(2026, 11, 30, 10, 0),
    )  # fmt: skip
    await lifecycle.transition(
        session, actor, c.id, TransitionRequest(to="in_progress"), None,
        now=madrid(2026, 11, 30, 12, 30),
    )  # fmt: skip
    assert c.paused_working_seconds == 2.5 * 3600
    # 1 h left on Tuesday (until 15:00), the other 1.5 h from Wednesday's opening.
    assert c.resolution_due_at == madrid(2026, 12, 2, 9, 30)


async def test_changing_priority_recomputes_due_dates(session):
    actor = await _office(session)
    session.add(
        SlaPolicy(
            code="alta", name="Alta", priority="high", first_response_target=1,
            resolution_target=3,
        )
    )  # fmt: skip
    await session.commit()
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    assert local_day(c.resolution_due_at) == date(2026, 12, 11)
    await lifecycle.update(
        session, actor, c.id, ConsultationUpdate(priority="high"), '"1"',
        now=madrid(2026, 11, 25, 12, 0),
    )  # fmt: skip
    assert local_day(c.resolution_due_at) == date(2026, 11, 30)
    assert c.version == 2


async def test_service_default_policy_applies(session):
    actor = await _office(session)
    area = await f.area(session, "fomento")
    from app.models.area import CatalogueService

    policy = SlaPolicy(code="obras", name="Obras", first_response_target=5, resolution_target=20)
    session.add(policy)
    await session.flush()
    svc = CatalogueService(
        area_id=area.id, code="caminos", name="Caminos", default_sla_policy_id=policy.id
    )
    session.add(svc)
    await session.commit()
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), service_id=svc.id)
    assert c.sla_policy_id == policy.id
    assert local_day(c.first_response_due_at) == date(2026, 12, 2)


async def test_scan_moves_states_as_time_passes(session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    first_check = c.sla_next_check_at
    assert first_check is not None
    scan = await sla_scan.refresh_sla_states(session, now=first_check - timedelta(seconds=1))
    assert (scan.processed, scan.changed) == (0, [])
    scan = await sla_scan.refresh_sla_states(session, now=first_check + timedelta(seconds=1))
    assert [(x.id, old, new) for x, old, new in scan.changed] == [(c.id, "on_track", "warning")]
    late = c.first_response_due_at + timedelta(minutes=1)
    scan = await sla_scan.refresh_sla_states(session, now=late)
    assert [(old, new) for _, old, new in scan.changed] == [("warning", "breached")]
    assert c.sla_breached_at == c.first_response_due_at
    # Still scheduled: the resolution clock's own thresholds remain ahead.
    assert c.sla_next_check_at is not None
    await session.commit()
    state = (
        await session.execute(text("SELECT sla_state FROM consultation WHERE id = :i"), {"i": c.id})
    ).scalar_one()
    assert state == "breached"


async def test_answered_late_is_breached_and_in_time_is_met(session):
    actor = await _office(session)
    late = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    await lifecycle.transition(
        session, actor, late.id, TransitionRequest(to="answered"), None,
        now=late.resolution_due_at + timedelta(hours=1),
    )  # fmt: skip
    assert late.sla_state == "breached"
    ok = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    await lifecycle.transition(
        session, actor, ok.id, TransitionRequest(to="answered"), None,
        now=madrid(2026, 11, 26, 10, 0),
    )  # fmt: skip
    assert ok.sla_state == "met"
    assert ok.sla_next_check_at is None


async def test_policy_change_recomputes_open_consultations(client, session):
    actor = await _office(session)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    headers = await f.admin_headers(client, session)
    r = await client.patch(
        f"/api/v1/sla-policies/{c.sla_policy_id}",
        json={"resolution_target": 15},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-recomputed"] == "1"
    await session.refresh(c)
    assert local_day(c.resolution_due_at) == date(2026, 12, 18)


async def test_reference_numbers_follow_the_year_received(session):
    actor = await _office(session)
    old = await _intake(session, actor, madrid(2025, 12, 30, 10, 0))
    assert old.reference == "OAAA-2025-000001"
    new = await _intake(session, actor, madrid(2026, 1, 2, 10, 0))
    assert new.reference == "OAAA-2026-000001"


async def test_received_at_dst_day_is_handled(session):
    actor = await _office(session)
    # Sunday 2026-10-25, the autumn clock change: counts from Monday 26 at 00:00.
    c = await _intake(session, actor, madrid(2026, 10, 25, 2, 30))
    assert c.sla_started_at == madrid(2026, 10, 26, 0, 0)
    assert c.sla_started_at.astimezone(UTC).hour == 23
    assert local_day(c.first_response_due_at) == date(2026, 10, 28)
