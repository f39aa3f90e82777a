# mypy: disable-error-code="arg-type"
"""SLA detection writes its notifications once, in the transaction that moves the state."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.core.db import get_sessionmaker
from app.models.base import Role
from app.services.consultations import intake
from app.services.notifications import outbox
from app.services.sla import scan as sla_scan
from tests import factories as f
from tests.consultations.test_sla import _intake, _office, madrid

# The SLA detector's notifications (intake records its own, to the municipality).
SLA_FEED = (
    "SELECT n.user_id FROM notification n JOIN notification_event e ON e.id = n.event_id"
    " WHERE e.kind LIKE 'consultation.sla_%'"
)


async def _events(session) -> list[tuple[str, str]]:
    rows = await session.execute(
        text(
            "SELECT kind, dedupe_key FROM notification_event e"
            " WHERE e.kind LIKE 'consultation.sla_%' ORDER BY id"
        )
    )
    return [(r[0], r[1]) for r in rows]


async def test_crossing_a_threshold_notifies_the_office_and_the_area_once(session):
    actor = await _office(session)
    staff = await f.user(session, Role.oaaa_staff)
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    at_50 = c.sla_next_check_at
    await sla_scan.refresh_sla_states(session, now=at_50 + timedelta(seconds=1))
    await session.commit()
    for _ in range(3):  # repeated scans, restarts: nothing new
        await sla_scan.refresh_sla_states(session, now=at_50 + timedelta(seconds=2))
        await session.commit()
    events = await _events(session)
    assert [k for k, _ in events] == ["consultation.sla_warning"]
    assert ":first_response:50:" in events[0][1]
    feed = (
        (
            await session.execute(
                text(
                    "SELECT n.user_id FROM notification n"
                    " JOIN notification_event e ON e.id = n.event_id"
                    " WHERE e.kind LIKE 'consultation.sla_%'"
                )
            )
        )
        .scalars()
        .all()
    )
    # Both office people (the actor and `staff`), nobody from the municipality for a warning.
    assert set(feed) == {actor.id, staff.id}


async def test_a_breach_also_tells_the_municipality(session):
    actor = await _office(session)
    mayor = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06011")).id
    )
    other_mayor = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06083")).id
    )
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    await sla_scan.refresh_sla_states(session, now=c.first_response_due_at + timedelta(minutes=1))
    await session.commit()
    kinds = [k for k, _ in await _events(session)]
    assert kinds == ["consultation.sla_breached"]  # the breach, not the warnings it passed
    recipients = set((await session.execute(text(SLA_FEED))).scalars().all())
    assert mayor.id in recipients
    assert other_mayor.id not in recipients


async def test_a_consultation_logged_late_is_notified_at_the_next_scan(session):
    actor = await _office(session)
    from datetime import UTC, datetime

    from app.schemas.consultations import ConsultationCreate

    mun = await f.municipality(session, "06011")
    data = ConsultationCreate(
        subject="Llamada de hace un mes",
        body="Se registra tarde",
        municipality_id=mun.id,
        channel="phone",
        received_at=datetime.now(UTC) - timedelta(days=30),
    )
    c, _ = await intake.create(session, actor, data)
    await session.commit()
    assert c.sla_state == "breached"
    assert c.sla_next_check_at is not None
    assert c.sla_next_check_at <= datetime.now(UTC)
    await sla_scan.refresh_sla_states(session)
    await session.commit()
    kinds = sorted(k for k, _ in await _events(session))
    assert kinds == ["consultation.sla_breached", "consultation.sla_breached"]  # both clocks


@pytest.mark.committed
async def test_two_scans_at_once_record_each_notification_once(session):
    actor = await _office(session)
    made = [await _intake(session, actor, madrid(2026, 11, 25, 10, 0)) for _ in range(12)]
    now = made[0].first_response_due_at + timedelta(minutes=1)

    async def scan() -> int:
        async with get_sessionmaker()() as s:
            result = await sla_scan.refresh_sla_states(s, now=now, batch=5)
            await s.commit()
            return len(result.emitted)

    async def until_done() -> int:
        total = 0
        while True:
            n = await scan()
            total += n
            if n == 0:
                return total

    totals = await asyncio.gather(until_done(), until_done())
    assert sum(totals) == 12
    assert (
        await session.execute(
            text("SELECT count(*) FROM notification_event e WHERE e.kind LIKE 'consultation.sla_%'")
        )
    ).scalar_one() == 12


@pytest.mark.committed
async def test_emitting_the_same_event_concurrently_records_it_once(session):
    await f.user(session, Role.oaaa_staff)
    from datetime import UTC, datetime

    spec = outbox.EventSpec(
        kind="consultation.sla_warning",
        dedupe_key="consultation:x:warning:resolution:80:2026-12-01T00:00:00+00:00",
        entity_type="consultation",
        entity_id="x",
        title="t",
        body="b",
        occurred_at=datetime.now(UTC),
    )

    async def one() -> bool:
        async with get_sessionmaker()() as s:
            item = await outbox.emit(s, spec)
            await s.commit()
            return item is not None

    results = await asyncio.gather(*(one() for _ in range(8)))
    assert results.count(True) == 1
    assert (
        await session.execute(text(f"SELECT count(*) FROM ({SLA_FEED}) AS sla"))
    ).scalar_one() == 1


async def test_preferences_choose_channels(session):
    actor = await _office(session)
    from app.models.notification import NotificationPreference

    session.add(
        NotificationPreference(
            user_id=actor.id, kind="consultation.sla_warning", in_app=False, email=True
        )
    )
    await session.commit()
    c = await _intake(session, actor, madrid(2026, 11, 25, 10, 0))
    await sla_scan.refresh_sla_states(session, now=c.sla_next_check_at + timedelta(seconds=1))
    await session.commit()
    in_app = (await session.execute(text(f"SELECT count(*) FROM ({SLA_FEED}) AS sla"))).scalar_one()
    emails = (
        (
            await session.execute(
                text(
                    "SELECT d.to_address FROM email_delivery d"
                    " JOIN notification_event e ON e.id = d.event_id"
                    " WHERE e.kind LIKE 'consultation.sla_%'"
                )
            )
        )
        .scalars()
        .all()
    )
    assert in_app == 0
    assert emails == [actor.label]
