"""A legal term fixed for one consultation (`sla_override`): set and cleared through the
consultation's PATCH, counted by the same clock as policies, kept on calendar and policy
changes. Every expected date is computed by hand from Ley 39/2015 art. 30."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.audit import ActorType
from app.models.base import Role
from app.schemas.holidays import HolidayCreate
from app.services.sla import holidays
from tests import factories as f
from tests.factories import assert_problem

URL = "/api/v1/consultations"
BASIS = "Art. 21.3 Ley 39/2015"


def madrid(*args: int) -> datetime:
    return datetime(*args, tzinfo=MADRID)  # type: ignore[misc,arg-type]


def day_of(instant: str | None) -> date:
    assert instant is not None
    return datetime.fromisoformat(instant).astimezone(MADRID).date()


async def _world(client: Any, session: Any) -> dict[str, Any]:
    alm = await f.municipality(session, "06011")
    mer = await f.municipality(session, "06083")
    staff = await f.user(session, Role.oaaa_staff)
    return {
        "alm": alm,
        "staff_user": staff,
        "staff": await f.auth_headers(client, staff),
        "mayor": await f.auth_headers(
            client, await f.user(session, Role.municipal_user, municipality_id=alm.id)
        ),
        "other_mayor": await f.auth_headers(
            client, await f.user(session, Role.municipal_user, municipality_id=mer.id)
        ),
    }


async def _record(client: Any, w: dict[str, Any], received: datetime) -> dict[str, Any]:
    """A phone call to the office from Almendralejo received at `received` (Madrid)."""
    r = await client.post(
        URL,
        json={
            "subject": "Plazo para resolver",
            "body": "¿Cuándo vence?",
            "municipality_id": str(w["alm"].id),
            "channel": "phone",
            "received_at": received.isoformat(),
        },
        headers=w["staff"],
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _patch(client: Any, w: dict[str, Any], c: dict[str, Any], body: dict[str, Any]) -> Any:
    etag = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).headers["etag"]
    return await client.patch(
        f"{URL}/{c['id']}", json=body, headers=w["staff"] | {"If-Match": etag}
    )


def _override(term: int, unit: str, **extra: Any) -> dict[str, Any]:
    return {"sla_override": {"unit": unit, "resolution_target": term, "basis": BASIS, **extra}}


async def test_ten_natural_days_ending_on_a_sunday_move_to_monday(client, session):
    w = await _world(client, session)
    # Thursday 5 November 2026: days 1..10 are 6..15 November; Sunday 15 is not working
    # (art. 30.5), so the term ends on Monday 16.
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    r = await _patch(client, w, c, _override(10, "natural_days"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert day_of(body["resolution_due_at"]) == date(2026, 11, 16)
    assert body["resolution_due_at"].endswith("Z") or "+" in body["resolution_due_at"]
    assert datetime.fromisoformat(body["resolution_due_at"]).astimezone(
        MADRID
    ).time().isoformat() == ("23:59:59")
    assert body["sla_override"] == {
        "unit": "natural_days",
        "resolution_target": 10,
        "first_response_target": None,
        "basis": BASIS,
    }
    assert body["version"] == c["version"] + 1
    # The policy's first response (2 working days: Fri 6, Mon 9) still applies.
    assert day_of(body["first_response_due_at"]) == date(2026, 11, 9)
    # The detail and the list show it too.
    detail = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).json()
    assert detail["sla_override"]["basis"] == BASIS
    items = (await client.get(URL, headers=w["mayor"])).json()["items"]
    assert [i["sla_override"]["unit"] for i in items if i["id"] == c["id"]] == ["natural_days"]
    # A listed consultation is rendered from plain rows: field for field what its detail shows.
    assert [i for i in items if i["id"] == c["id"]] == [detail]


async def test_a_term_in_months_from_the_31st_ends_on_the_last_day_of_a_shorter_month(
    client, session
):
    w = await _world(client, session)
    # Friday 31 January 2025 + 1 month: 31 February does not exist, so the last day of
    # February, Friday 28 (art. 30.4), a working day.
    jan = await _record(client, w, madrid(2025, 1, 31, 10, 0))
    r = await _patch(client, w, jan, _override(1, "months"))
    assert r.status_code == 200, r.text
    assert day_of(r.json()["resolution_due_at"]) == date(2025, 2, 28)
    # Wednesday 31 December 2025 + 2 months, across New Year: 31 February 2026 does not exist,
    # Saturday 28 is the last day and is not working, so Monday 2 March (art. 30.5).
    dec = await _record(client, w, madrid(2025, 12, 31, 10, 0))
    r = await _patch(client, w, dec, _override(2, "months", first_response_target=1))
    assert r.status_code == 200, r.text
    assert day_of(r.json()["resolution_due_at"]) == date(2026, 3, 2)
    # The first-response term in the same unit: 31 January 2026 is a Saturday, so Monday 2
    # February.
    assert day_of(r.json()["first_response_due_at"]) == date(2026, 2, 2)


async def test_clearing_the_override_restores_the_policys_dates_and_both_are_in_the_history(
    client, session
):
    w = await _world(client, session)
    # Wednesday 25 November 2026, general policy: 2 and 10 working days (Dec 7 and 8 are
    # holidays): first response Friday 27 November, resolution Friday 11 December.
    c = await _record(client, w, madrid(2026, 11, 25, 10, 0))
    assert day_of(c["resolution_due_at"]) == date(2026, 12, 11)
    r = await _patch(client, w, c, _override(5, "working_days", first_response_target=1))
    assert r.status_code == 200, r.text
    # Thu 26, Fri 27, Mon 30, Tue 1, Wed 2.
    assert day_of(r.json()["resolution_due_at"]) == date(2026, 12, 2)
    assert day_of(r.json()["first_response_due_at"]) == date(2026, 11, 26)
    r = await _patch(client, w, c, {"sla_override": None})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sla_override"] is None
    assert day_of(body["resolution_due_at"]) == date(2026, 12, 11)
    assert day_of(body["first_response_due_at"]) == date(2026, 11, 27)
    history = (await client.get(f"{URL}/{c['id']}/history", headers=w["mayor"])).json()["items"]
    reasons = [
        e["data"]["reason"]
        for e in history
        if e["kind"] in ("deadline_override_set", "deadline_override_cleared")
    ]
    assert reasons == [
        "plazo fijado para esta consulta: 5 días hábiles (primera respuesta: 1 días hábiles);"
        f" fundamento: {BASIS}",
        "plazo de la política restablecido",
    ]
    audit = (
        await session.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'consultation.update'"
                " AND entity_id = :c"
            ),
            {"c": c["id"]},
        )
    ).scalar_one()
    assert audit == 2


async def test_a_holiday_added_after_setting_the_override_moves_its_date(client, session):
    w = await _world(client, session)
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    r = await _patch(client, w, c, _override(10, "natural_days"))
    assert day_of(r.json()["resolution_due_at"]) == date(2026, 11, 16)
    actor = Actor(kind=ActorType.user, id=w["staff_user"].id, role=Role.oaaa_staff, label="oficina")
    _, moved = await holidays.create(
        session,
        actor,
        HolidayCreate(municipality_id=w["alm"].id, day=date(2026, 11, 16), name="Fiesta local"),
    )
    assert moved == 1
    body = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).json()
    # Monday 16 is now a local holiday: the term ends on Tuesday 17, still the override's.
    assert day_of(body["resolution_due_at"]) == date(2026, 11, 17)
    assert body["sla_override"]["unit"] == "natural_days"


async def test_a_policy_change_keeps_the_override(client, session):
    w = await _world(client, session)
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    await _patch(client, w, c, _override(10, "natural_days"))
    r = await client.patch(
        f"/api/v1/sla-policies/{c['sla_policy_id']}",
        json={"resolution_target": 15},
        headers=await f.admin_headers(client, session),
    )
    assert r.status_code == 200, r.text
    body = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).json()
    assert day_of(body["resolution_due_at"]) == date(2026, 11, 16)


async def test_municipal_users_cannot_set_it(client, session):
    w = await _world(client, session)
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    own = await client.patch(
        f"{URL}/{c['id']}",
        json=_override(10, "natural_days"),
        headers=w["mayor"] | {"If-Match": f'"{c["version"]}"'},
    )
    assert_problem(own, 403)
    other = await client.patch(
        f"{URL}/{c['id']}",
        json=_override(10, "natural_days"),
        headers=w["other_mayor"] | {"If-Match": f'"{c["version"]}"'},
    )
    assert_problem(other, 404)
    body = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).json()
    assert body["sla_override"] is None
    assert body["resolution_due_at"] == c["resolution_due_at"]
    assert body["version"] == c["version"]


@pytest.mark.parametrize(
    ("override", "pointer"),
    [
        ({"unit": "weeks", "resolution_target": 3, "basis": BASIS}, "/sla_override/unit"),
        ({"unit": "natural_days", "resolution_target": 10}, "/sla_override/basis"),
        ({"unit": "natural_days", "resolution_target": 10, "basis": "  "}, "/sla_override/basis"),
        (
            {"unit": "natural_days", "resolution_target": 10, "basis": "x" * 201},
            "/sla_override/basis",
        ),
        (
            {"unit": "months", "resolution_target": 37, "basis": BASIS},
            "/sla_override/resolution_target",
        ),
        (
            {"unit": "natural_days", "resolution_target": 0, "basis": BASIS},
            "/sla_override/resolution_target",
        ),
        (
            {
                "unit": "working_days",
                "resolution_target": 5,
                "first_response_target": 6,
                "basis": BASIS,
            },
            "/sla_override/first_response_target",
        ),
        ({"unit": "natural_days", "basis": BASIS}, "/sla_override/resolution_target"),
    ],
    ids=[
        "bad-unit",
        "missing-basis",
        "blank-basis",
        "long-basis",
        "months-beyond-limit",
        "zero-term",
        "first-after-resolution",
        "missing-term",
    ],
)
async def test_an_invalid_override_is_a_422_naming_the_field_and_changes_nothing(
    client, session, override, pointer
):
    w = await _world(client, session)
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    r = await _patch(client, w, c, {"sla_override": override})
    body = assert_problem(r, 422)
    assert pointer in {e["pointer"] for e in body["errors"]}, body
    after = (await client.get(f"{URL}/{c['id']}", headers=w["staff"])).json()
    assert after["sla_override"] is None
    assert after["version"] == c["version"]


async def test_area_staff_set_it_on_what_is_forwarded_to_them_and_no_other_area_sees_it(
    client, session
):
    w = await _world(client, session)
    fomento = await f.area(session, "fomento")
    cultura = await f.area(session, "cultura")
    mine = await f.auth_headers(client, await f.user(session, Role.area_staff, area_id=fomento.id))
    other = await f.auth_headers(client, await f.user(session, Role.area_staff, area_id=cultura.id))
    c = await _record(client, w, madrid(2026, 11, 5, 10, 0))
    r = await client.post(
        f"{URL}/{c['id']}/transitions",
        json={"to": "forwarded", "area_id": str(fomento.id)},
        headers=w["staff"],
    )
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    denied = await client.patch(
        f"{URL}/{c['id']}", json=_override(10, "natural_days"), headers=other | {"If-Match": etag}
    )
    assert_problem(denied, 404)
    ok = await client.patch(
        f"{URL}/{c['id']}", json=_override(10, "natural_days"), headers=mine | {"If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert day_of(ok.json()["resolution_due_at"]) == date(2026, 11, 16)
