"""The short memory of callers (`app/core/callers.py`): it saves the caller's row on the
requests that follow, and never keeps a refused or changed account alive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from app.core import callers, queries
from app.core.config import get_settings
from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem

ME = "/api/v1/auth/me"
OFFICE_ONLY = "/api/v1/assistant/unanswered"


@pytest.fixture
def statements(session: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", record)
    yield seen
    event.remove(session.get_bind(), "before_cursor_execute", record)


async def test_a_remembered_caller_is_not_read_again_within_the_time(
    session, monkeypatch, statements
):
    u = await f.user(session, Role.oaaa_staff)
    now = [1000.0]
    monkeypatch.setattr(callers, "_clock", lambda: now[0])
    callers.forget_all()
    seen = statements
    user_id = u.id
    seen.clear()
    first = await callers.get(session, user_id, max_age=2)
    assert first is not None
    assert first.role == Role.oaaa_staff
    assert first.is_active
    reads = [s for s in seen if "user_account" in s]
    assert len(reads) == 1
    now[0] += 1.9
    assert await callers.get(session, user_id, max_age=2) == first
    assert len([s for s in seen if "user_account" in s]) == 1
    now[0] += 0.2  # older than the time: read again
    assert await callers.get(session, user_id, max_age=2) == first
    assert len([s for s in seen if "user_account" in s]) == 2
    # 0: read on every call.
    await callers.get(session, user_id, max_age=0)
    await callers.get(session, user_id, max_age=0)
    assert len([s for s in seen if "user_account" in s]) == 4


async def test_a_user_deactivated_through_the_api_is_refused_at_once(client, session):
    assert get_settings().caller_cache_seconds > 0
    admin = await f.admin_headers(client, session)
    u = await f.user(session, Role.oaaa_staff)
    headers = await f.auth_headers(client, u)
    assert (await client.get(OFFICE_ONLY, headers=headers)).status_code == 200  # remembered
    r = await client.patch(f"/api/v1/users/{u.id}", json={"is_active": False}, headers=admin)
    assert r.status_code == 200, r.text
    assert_problem(await client.get(OFFICE_ONLY, headers=headers), 401)
    assert_problem(await client.get(ME, headers=headers), 401)


async def test_a_role_changed_through_the_api_applies_to_the_next_request(client, session):
    admin = await f.admin_headers(client, session)
    town = await f.municipality(session, "06015")
    u = await f.user(session, Role.oaaa_staff)
    headers = await f.auth_headers(client, u)
    assert (await client.get(OFFICE_ONLY, headers=headers)).status_code == 200  # remembered
    r = await client.patch(
        f"/api/v1/users/{u.id}",
        json={"role": "municipal_user", "municipality_id": str(town.id)},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert_problem(await client.get(OFFICE_ONLY, headers=headers), 403)


async def test_a_user_changed_by_plain_sql_is_forgotten(session):
    u = await f.user(session, Role.oaaa_staff)
    callers.forget_all()
    assert (await callers.get(session, u.id, max_age=60)) is not None
    assert u.id in callers._callers
    await session.execute(
        text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": u.id}
    )
    assert u.id not in callers._callers
    refused = await callers.get(session, u.id, max_age=60)
    assert refused is not None
    assert not refused.is_active
    assert u.id not in callers._callers  # an inactive account is never remembered


async def test_a_user_changed_by_a_statement_sent_straight_to_the_driver_is_forgotten(session):
    u = await f.user(session, Role.oaaa_staff)
    callers.forget_all()
    assert (await callers.get(session, u.id, max_age=60)) is not None
    await queries.run_sql(
        session, "UPDATE user_account SET is_active = false WHERE id = :id", {"id": u.id}
    )
    assert u.id not in callers._callers


def test_only_statements_that_write_user_rows_forget_the_callers():
    writes = [
        "UPDATE user_account SET is_active = false WHERE id = $1",
        'INSERT INTO "user_account" (id) VALUES ($1)',
        "DELETE FROM public.user_account WHERE id = $1",
        "WITH x AS (update user_account set role = 'admin' returning id) SELECT * FROM x",
        "TRUNCATE user_account",
    ]
    reads = [
        "SELECT u.id FROM user_account u WHERE u.id = $1",
        "WITH ev AS (INSERT INTO notification_event (kind) VALUES ($1) RETURNING id)"
        " SELECT ev.id, q.* FROM ev LEFT JOIN (SELECT u.id FROM user_account u) q ON true",
        "UPDATE consultation SET assignee_id = (SELECT id FROM user_account LIMIT 1)",
    ]
    assert all(callers._may_change_users(s) for s in writes)
    assert not any(callers._may_change_users(s) for s in reads)
