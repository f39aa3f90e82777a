# mypy: disable-error-code="arg-type"
"""Yearly import of the official calendar: a preview that stores nothing, an apply that is
audited and idempotent, and the open deadlines it moves."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import col, select

from app.models.base import Role
from app.models.sla import Holiday, OfficialCalendarYear
from tests import factories as f
from tests.consultations.test_sla import _intake, _office, local_day, madrid

URL = "/api/v1/holidays/import"
OFFICIAL_2026 = [
    ("2026-01-01", "Año Nuevo"),
    ("2026-01-06", "Epifanía del Señor"),
    ("2026-04-02", "Jueves Santo"),
    ("2026-04-03", "Viernes Santo"),
    ("2026-05-01", "Fiesta del Trabajo"),
    ("2026-08-15", "Asunción de la Virgen"),
    ("2026-09-08", "Día de Extremadura"),
    ("2026-10-12", "Fiesta Nacional de España"),
    ("2026-11-02", "Lunes siguiente a Todos los Santos"),
    ("2026-12-07", "Lunes siguiente a Día de la Constitución Española"),
    ("2026-12-08", "Inmaculada Concepción"),
    ("2026-12-25", "Natividad del Señor"),
]
LOCAL_2026 = [
    ("17/02/2026", "06015", "Martes de Carnaval"),
    ("24/06/2026", "06015", "San Juan"),
    ("21/05/2026", "06083", "Fiesta local"),
    ("10/12/2026", "06083", "Fiesta local"),
]


def _csv(official=OFFICIAL_2026, local=LOCAL_2026) -> str:
    lines = ["date,scope,ine_code,name"]
    lines += [
        f"{d},{'national' if i % 2 else 'regional'},,{n}" for i, (d, n) in enumerate(official)
    ]
    lines += [f"{d},local,{ine},{n}" for d, ine, n in local]
    return "\n".join(lines) + "\n"


def _body(csv: str, year: int = 2026) -> dict[str, Any]:
    return {"year": year, "source": "DOE nº 204, 23/10/2025", "csv": csv}


async def _count(session, table: str) -> int:
    return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_preview_stores_nothing_and_apply_moves_the_open_deadlines_once(client, session):
    actor = await _office(session)
    # Wednesday 9 Dec in Mérida: first response Friday 11 until Mérida's 10 December counts.
    c = await _intake(session, actor, madrid(2026, 12, 9, 10, 0), "06083")
    assert local_day(c.first_response_due_at) == date(2026, 12, 11)
    h = await f.admin_headers(client, session)
    holidays_before = await _count(session, "holiday")

    preview = await client.post(f"{URL}/preview", json=_body(_csv()), headers=h)
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["applied"] is False
    assert report["marks_year_known"] is True
    assert [(ch["action"], ch["day"], ch["municipality_name"]) for ch in report["changes"]] == [
        ("add", "2026-02-17", "Badajoz"),
        ("add", "2026-05-21", "Mérida"),
        ("add", "2026-06-24", "Badajoz"),
        ("add", "2026-12-10", "Mérida"),
    ]
    assert [m["reference"] for m in report["moved_deadlines"]] == [c.reference]
    assert report["municipalities_with_local_days"] == 2
    assert "Almendralejo" in report["municipalities_without_local_days"]
    assert "Mérida" not in report["municipalities_without_local_days"]
    # Nothing stored: no rows, the year is still unknown, the consultation unchanged.
    assert await _count(session, "holiday") == holidays_before
    assert await session.get(OfficialCalendarYear, 2026) is None
    await session.refresh(c)
    assert local_day(c.first_response_due_at) == date(2026, 12, 11)

    applied = await client.post(URL, json=_body(_csv()), headers=h)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    assert applied.json()["changes"] == report["changes"]
    await session.refresh(c)
    assert local_day(c.first_response_due_at) == date(2026, 12, 14)
    known = await session.get(OfficialCalendarYear, 2026)
    assert known is not None
    assert known.source == "DOE nº 204, 23/10/2025"
    audits = await session.execute(
        text("SELECT count(*) FROM audit_log WHERE action = 'holiday.import'")
    )
    assert audits.scalar_one() == 1
    history = await session.execute(
        text("SELECT count(*) FROM consultation_event WHERE kind = 'deadline_recomputed'")
    )
    assert history.scalar_one() == 1

    # The same CSV again: nothing changes, nothing moves.
    again = await client.post(URL, json=_body(_csv()), headers=h)
    assert again.json()["changes"] == []
    assert again.json()["moved_deadlines"] == []
    assert await _count(session, "holiday") == holidays_before + 4


async def test_a_new_import_replaces_the_listed_municipalities_days_and_corrects_official_ones(
    client, session
):
    h = await f.admin_headers(client, session)
    assert (await client.post(URL, json=_body(_csv()), headers=h)).status_code == 200
    # A corrected publication: Mérida's second day is 11 Dec, and 12 Oct is not listed.
    official = [row for row in OFFICIAL_2026 if row[0] != "2026-10-12"]
    local = [*LOCAL_2026[:3], ("11/12/2026", "06083", "Fiesta local")]
    r = await client.post(URL, json=_body(_csv(official, local)), headers=h)
    assert r.status_code == 200, r.text
    changes = [(ch["action"], ch["scope"], ch["day"]) for ch in r.json()["changes"]]
    assert changes == [
        ("remove", "official", "2026-10-12"),
        ("remove", "local", "2026-12-10"),
        ("add", "local", "2026-12-11"),
    ]
    merida = await f.municipality(session, "06083")
    days = (
        await session.execute(
            select(col(Holiday.day)).where(col(Holiday.municipality_id) == merida.id)
        )
    ).scalars()
    assert sorted(days) == [date(2026, 5, 21), date(2026, 12, 11)]
    calendar = await client.get("/api/v1/holidays", params={"year": 2026})
    assert "2026-10-12" not in [d["day"] for d in calendar.json() if d["is_holiday"]]


async def test_a_local_only_import_does_not_mark_the_year_known(client, session):
    h = await f.admin_headers(client, session)
    r = await client.post(URL, json=_body(_csv(official=[])), headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["marks_year_known"] is False
    count = await session.execute(select(func.count()).select_from(OfficialCalendarYear))
    assert count.scalar_one() == 0


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("fecha,ambito\n2026-01-01,national", "cabecera"),
        ("date,scope,ine_code,name\n2026-13-01,national,,Nada", "línea 2"),
        ("date,scope,ine_code,name\n2027-01-01,national,,Año Nuevo", "no es del año 2026"),
        ("date,scope,ine_code,name\n2026-05-21,local,06999,Fiesta", "06999"),
        ("date,scope,ine_code,name\n2026-05-21,local,,Fiesta", "código INE"),
        ("date,scope,ine_code,name\n2026-05-21,comarcal,,Fiesta", "ámbito"),
        ("date,scope,ine_code,name\n2026-05-21,national,,Fiesta,extra", "columnas"),
        (
            "date,scope,ine_code,name\n2026-05-21,local,06083,A1\n2026-05-21,local,06083,A2",
            "línea 3",
        ),
        ("date,scope,ine_code,name\n", "ninguna fecha"),
    ],
    ids=[
        "header", "bad-date", "other-year", "unknown-ine", "local-without-ine", "bad-scope",
        "extra-column", "repeated", "empty",
    ],
)  # fmt: skip
async def test_a_bad_csv_is_a_problem_naming_the_field_and_line(client, session, csv, message):
    h = await f.admin_headers(client, session)
    before = await _count(session, "holiday")
    for url in (f"{URL}/preview", URL):
        body = f.assert_problem(await client.post(url, json=_body(csv), headers=h), 422)
        assert body["errors"][0]["loc"][-1] == "csv"
        assert message in body["errors"][0]["message"]
    assert await _count(session, "holiday") == before


async def test_only_admins_import(client, session):
    staff = await f.user(session, Role.oaaa_staff)
    h = await f.auth_headers(client, staff)
    f.assert_problem(await client.post(f"{URL}/preview", json=_body(_csv()), headers=h), 403)
    f.assert_problem(await client.post(URL, json=_body(_csv()), headers=h), 403)
