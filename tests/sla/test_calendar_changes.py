# mypy: disable-error-code="arg-type"
"""Calendar changes after intake (arts. 30.6 and 31.2.b): a holiday added on the day of reception
moves the deemed start as well as the due dates, a holiday of the organ's seat moves the terms of
every municipality, and each consultation records why its plazo changed."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from app.core.time import MADRID
from app.models.consultation import ConsultationEvent
from app.models.sla import SlaPolicy
from app.schemas.consultations import TransitionRequest
from app.schemas.holidays import HolidayCreate
from app.services.consultations import lifecycle
from app.services.sla import holidays
from app.services.sla.scan import CALENDAR_CHANGE
from tests import factories as f
from tests.consultations.test_sla import _intake, _office, local_day, madrid


async def _events(session, consultation_id) -> list[ConsultationEvent]:
    stmt = (
        select(ConsultationEvent)
        .where(col(ConsultationEvent.consultation_id) == consultation_id)
        .where(col(ConsultationEvent.kind) == "deadline_recomputed")
    )
    return list((await session.execute(stmt)).scalars().all())


async def test_a_holiday_added_after_intake_moves_the_deemed_start_and_the_due_dates(session):
    actor = await _office(session)
    # Monday 16 Nov 2026 10:00, general policy (2 and 10 working days): first response Wed 18,
    # resolution Mon 30 November.
    c = await _intake(session, actor, madrid(2026, 11, 16, 10, 0))
    assert c.sla_started_at == madrid(2026, 11, 16, 10, 0)
    assert local_day(c.first_response_due_at) == date(2026, 11, 18)
    assert local_day(c.resolution_due_at) == date(2026, 11, 30)
    # Monday 16 becomes a local holiday of the municipality: the filing is deemed made on
    # Tuesday 17 at 00:00 (art. 31.2.b) and counting starts on Wednesday 18.
    _, recomputed = await holidays.create(
        session,
        actor,
        HolidayCreate(municipality_id=c.municipality_id, day=date(2026, 11, 16), name="Local"),
    )
    await session.commit()
    assert recomputed == 1
    await session.refresh(c)
    assert c.sla_started_at.astimezone(MADRID) == madrid(2026, 11, 17, 0, 0)
    assert local_day(c.first_response_due_at) == date(2026, 11, 19)
    assert local_day(c.resolution_due_at) == date(2026, 12, 1)
    [event] = await _events(session, c.id)
    assert event.data["reason"] == CALENDAR_CHANGE == "plazo recalculado por cambio de calendario"
    assert event.data["before"]["resolution_due_at"].startswith("2026-11-30T22:59:59")
    assert event.data["after"]["resolution_due_at"].startswith("2026-12-01T22:59:59")
    assert event.actor_id == actor.id
    # Removing it again puts everything back, and says so too.
    rows = await holidays.effective_calendar(session, 2026, c.municipality_id)
    holiday_id = next(h.id for h in rows if h.day == date(2026, 11, 16))
    await holidays.delete(session, actor, holiday_id)
    await session.commit()
    await session.refresh(c)
    assert c.sla_started_at == madrid(2026, 11, 16, 10, 0)
    assert local_day(c.resolution_due_at) == date(2026, 11, 30)
    assert len(await _events(session, c.id)) == 2


async def test_a_holiday_of_the_seat_moves_the_terms_of_every_municipality(session):
    actor = await _office(session)
    badajoz = await f.municipality(session, "06015")
    # Wednesday 25 Nov 10:00 in Mérida: first response Friday 27.
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), "06083")
    assert local_day(c.first_response_due_at) == date(2026, 11, 27)
    _, recomputed = await holidays.create(
        session,
        actor,
        HolidayCreate(municipality_id=badajoz.id, day=date(2026, 11, 26), name="Sede"),
    )
    await session.commit()
    assert recomputed == 1
    await session.refresh(c)
    assert local_day(c.first_response_due_at) == date(2026, 11, 30)
    assert len(await _events(session, c.id)) == 1


async def test_an_area_seated_elsewhere_counts_its_own_seat(session):
    actor = await _office(session)
    merida = await f.municipality(session, "06083")
    area = await f.area(session, seat_municipality_id=merida.id)
    await holidays.create(
        session,
        actor,
        HolidayCreate(municipality_id=merida.id, day=date(2026, 11, 26), name="Sede del área"),
    )
    await session.commit()
    # Almendralejo: first response Friday 27 at the office; forwarded to an área seated in
    # Mérida, Thursday 26 is non-working too and it moves to Monday 30.
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0), "06011")
    assert local_day(c.first_response_due_at) == date(2026, 11, 27)
    await lifecycle.transition(
        session,
        actor,
        c.id,
        TransitionRequest(to="forwarded", area_id=area.id),
        None,
        now=madrid(2026, 11, 25, 11, 0),
    )
    await session.commit()
    await session.refresh(c)
    assert local_day(c.first_response_due_at) == date(2026, 11, 30)


async def test_policies_in_months_and_natural_days(session):
    actor = await _office(session)
    policy = (
        (await session.execute(select(SlaPolicy).where(col(SlaPolicy.is_default).is_(True))))
        .scalars()
        .one()
    )
    policy.unit, policy.first_response_target, policy.resolution_target = "natural_days", 4, 10
    await session.commit()
    # Wednesday 25 Nov + 4 natural days = Sunday 29 → Monday 30; + 10 = Saturday 5 Dec → Monday
    # 7 is a holiday (moved Constitución), 8 Inmaculada: Wednesday 9 December.
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    assert local_day(c.first_response_due_at) == date(2026, 11, 30)
    assert local_day(c.resolution_due_at) == date(2026, 12, 9)
    policy.unit, policy.first_response_target, policy.resolution_target = "months", 1, 2
    await session.commit()
    # 30 Sep + 1 month = Friday 30 Oct; + 2 months = Monday 30 November.
    m = await _intake(session, actor, madrid(2026, 9, 30, 9, 0))
    assert local_day(m.first_response_due_at) == date(2026, 10, 30)
    assert local_day(m.resolution_due_at) == date(2026, 11, 30)
