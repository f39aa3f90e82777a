"""Worker jobs called with a real sessionmaker in a fake arq context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.db import get_sessionmaker
from app.services.notifications.scan import scan_sla
from tests import factories as f

# Worker jobs open their own sessions and commit for real.
pytestmark = pytest.mark.committed


async def test_scan_sla_marks_overdue_consultations_breached(session):
    mun = await f.municipality(session, "06011")
    due = await f.consultation(session, mun.id)
    fine = await f.consultation(session, mun.id)
    past = datetime.now(UTC) - timedelta(days=1)
    await session.execute(
        text(
            "UPDATE consultation SET first_response_due_at = :p, resolution_due_at = :p,"
            " sla_started_at = :s, sla_next_check_at = :p, sla_policy_id ="
            " (SELECT id FROM sla_policy WHERE is_default) WHERE id = :i"
        ),
        {"p": past, "s": past - timedelta(days=5), "i": due.id},
    )
    await session.commit()
    emitted = await scan_sla({"sessionmaker": get_sessionmaker()})
    assert emitted == 2  # first response and resolution both overdue
    states = dict((await session.execute(text("SELECT id, sla_state FROM consultation"))).all())
    assert states == {due.id: "breached", fine.id: "on_track"}
    kinds = (await session.execute(text("SELECT kind FROM notification_event"))).scalars().all()
    assert kinds == ["consultation.sla_breached", "consultation.sla_breached"]
    assert await scan_sla({"sessionmaker": get_sessionmaker()}) == 0
