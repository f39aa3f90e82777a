# mypy: disable-error-code="arg-type"
"""The public plazo calculator, on cases computed by hand from Ley 39/2015 arts. 30 and 31 over
the seeded 2026 calendar (Badajoz: 17 Feb and 24 Jun; Mérida: 21 May and 10 Dec)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.seed.holidays import seed_official_calendar
from tests import factories as f

MERIDA, ALMENDRALEJO, BADAJOZ = "06083", "06011", "06015"


@pytest.fixture
async def calendar_2026(session) -> None:
    await seed_official_calendar(session)
    await session.commit()


async def _plazo(
    client: httpx.AsyncClient, session, start: str, term: int, unit: str, ine: str | None = MERIDA,
    **extra: str,
) -> dict[str, Any]:  # fmt: skip
    params: dict[str, Any] = {"start": start, "term": term, "unit": unit, **extra}
    if ine is not None:
        params["municipality_id"] = str((await f.municipality(session, ine)).id)
    r = await client.get("/api/v1/plazos", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _skipped(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["day"], s["kind"]) for s in body["skipped"]]


async def test_31_january_plus_one_month_ends_on_the_last_day_of_february_moved(
    client, session, calendar_2026
):
    # Art. 30.4: no 31 February, so 28 Feb 2026; a Saturday, so (art. 30.5) Monday 2 March.
    body = await _plazo(client, session, "2026-01-31", 1, "months")
    assert body["due_date"] == "2026-03-02"
    assert body["due_at"].startswith("2026-03-02T23:59:59")
    assert body["due_in_words"] == "lunes, 2 de marzo de 2026, hasta las 23:59"
    assert _skipped(body) == [("2026-02-28", "weekend"), ("2026-03-01", "weekend")]
    assert any(b.startswith("Art. 30.4") for b in body["legal_basis"])
    assert body["calendar_known"] is True
    assert body["warnings"] == []


async def test_a_term_crossing_new_year_skips_both_years_holidays_and_warns_about_2027(
    client, session, calendar_2026
):
    # Monday 21 Dec 2026 + 10 working days: 22, 23, 24, [25], 28, 29, 30, 31, [1 Jan], 4, 5,
    # [6 Jan], 7 January 2027.
    body = await _plazo(client, session, "2026-12-21", 10, "working_days")
    assert body["due_date"] == "2027-01-07"
    holidays = [(d, k) for d, k in _skipped(body) if k != "weekend"]
    assert holidays == [
        ("2026-12-25", "national"),
        ("2027-01-01", "national"),
        ("2027-01-06", "national"),
    ]
    # 2027's regional and local days are not published yet (art. 30.7): said, not silent.
    assert body["calendar_known"] is False
    assert len(body["warnings"]) == 1
    assert "2027" in body["warnings"][0]
    assert "art. 30.7" in body["warnings"][0]


async def test_a_holiday_of_the_seat_only_is_non_working_for_merida(client, session, calendar_2026):
    # Monday 22 June + 3 working days: 23, [24 San Juan in Badajoz, the seat], 25, 26.
    body = await _plazo(client, session, "2026-06-22", 3, "working_days")
    assert body["due_date"] == "2026-06-26"
    assert _skipped(body) == [("2026-06-24", "seat")]
    assert "Badajoz" in body["skipped"][0]["description"]
    assert body["seat"]["ine_code"] == BADAJOZ
    assert any(b.startswith("Art. 30.6") for b in body["legal_basis"])


async def test_a_holiday_of_the_municipality_only(client, session, calendar_2026):
    # Tuesday 19 May + 3 working days in Mérida: 20, [21 local], 22, [23, 24], 25 May.
    merida = await _plazo(client, session, "2026-05-19", 3, "working_days")
    assert merida["due_date"] == "2026-05-25"
    assert _skipped(merida)[0] == ("2026-05-21", "local")
    assert "Mérida" in merida["skipped"][0]["description"]
    # Almendralejo has no local days recorded: 20, 21, 22 May, and a warning says so.
    other = await _plazo(client, session, "2026-05-19", 3, "working_days", ALMENDRALEJO)
    assert other["due_date"] == "2026-05-22"
    assert other["skipped"] == []
    assert other["warnings"] == [
        "No constan las fiestas locales de Almendralejo para 2026: el cálculo no las descuenta."
    ]


async def test_a_saturday_submission_is_deemed_made_on_monday(client, session, calendar_2026):
    # Saturday 14 Feb 10:00 → Monday 16 Feb 00:00 (art. 31.2.b); counting from Tuesday 17 (the
    # seat's Carnival holiday): 18, 19, 20 February.
    body = await _plazo(
        client, session, "2026-02-14T10:00:00+01:00", 3, "working_days", start_kind="submission"
    )
    assert body["deemed_start_moved"] is True
    assert body["deemed_start"].startswith("2026-02-16T00:00:00")
    assert body["due_date"] == "2026-02-20"
    assert _skipped(body) == [
        ("2026-02-14", "weekend"),
        ("2026-02-15", "weekend"),
        ("2026-02-17", "seat"),
    ]
    assert body["legal_basis"][0].startswith("Art. 31.2.b)")
    # The same date as a notification starts counting from the day after: 16, 18, 19.
    notified = await _plazo(client, session, "2026-02-14", 3, "working_days")
    assert notified["deemed_start_moved"] is False
    assert notified["due_date"] == "2026-02-19"


async def test_natural_days_ending_on_a_sunday_move_past_the_national_holiday(
    client, session, calendar_2026
):
    # Friday 2 October + 9 natural days = Sunday 11; Monday 12 is the Fiesta Nacional: Tuesday.
    body = await _plazo(client, session, "2026-10-02", 9, "natural_days")
    assert body["due_date"] == "2026-10-13"
    assert _skipped(body) == [("2026-10-11", "weekend"), ("2026-10-12", "national")]


async def test_months_ending_on_a_regional_holiday(client, session, calendar_2026):
    # 8 July + 2 months = Tuesday 8 September, Día de Extremadura: Wednesday 9.
    body = await _plazo(client, session, "2026-07-08", 2, "months", None)
    assert body["due_date"] == "2026-09-09"
    assert _skipped(body) == [("2026-09-08", "regional")]
    assert body["municipality"] is None


async def test_working_hours_walk_office_hours(client, session, calendar_2026):
    # Friday 16 Oct 14:00 + 3 working hours: 1 h on Friday, 2 h from Monday 08:00 → 10:00.
    body = await _plazo(client, session, "2026-10-16T14:00:00+02:00", 3, "working_hours")
    assert body["due_at"] == "2026-10-19T10:00:00+02:00"
    assert body["due_in_words"] == "lunes, 19 de octubre de 2026, a las 10:00"


async def test_a_year_without_any_known_calendar_warns(client, session):
    body = await _plazo(client, session, "2031-03-02", 5, "working_days")
    assert body["due_date"] == "2031-03-07"
    assert body["calendar_known"] is False
    assert "2031" in body["warnings"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "31/01/2026", "term": "1"}, "start"),
        ({"start": "2026-02-30", "term": "1"}, "start"),
        ({"start": "2097-01-01", "term": "1"}, "start"),
        ({"start": "1999-12-31", "term": "1"}, "start"),
        ({"start": "2026-01-01", "term": "0"}, "term"),
        ({"start": "2026-01-01", "term": "99999999999999999999"}, "term"),
        ({"start": "2026-01-01", "term": "37", "unit": "months"}, "term"),
        ({"start": "2026-01-01", "term": "751"}, "term"),
        ({"start": "2026-01-01", "term": "1", "unit": "years"}, "unit"),
        ({"start": "2026-01-01", "term": "1", "municipality_id": "x"}, "municipality_id"),
        (
            {"start": "2026-01-01", "term": "1",
             "municipality_id": "00000000-0000-0000-0000-000000000000"},
            "municipality_id",
        ),
        ({"start": "2026-01-01", "term": "1", "start_kind": "x"}, "start_kind"),
        ({"term": "1"}, "start"),
    ],
    ids=[
        "start-format", "start-impossible", "start-too-late", "start-too-early", "term-zero",
        "term-huge", "months-too-many", "working-days-too-many", "unit-unknown",
        "municipality-not-uuid", "municipality-unknown", "start-kind-unknown", "start-missing",
    ],
)  # fmt: skip
async def test_bad_input_is_a_problem_naming_the_field(client, params, field):
    r = await client.get("/api/v1/plazos", params=params)
    body = f.assert_problem(r, 422)
    assert any(e["loc"][-1] == field for e in body["errors"]), body


async def test_the_last_admissible_terms_do_not_overflow(client, session):
    for unit, term in (("months", 36), ("natural_days", 1095), ("working_days", 750)):
        body = await _plazo(client, session, "2096-12-31T23:59:59+01:00", term, unit)
        assert "2099-06-01" < body["due_date"] < "2100-12-31"
        # Still inside the years whose national holidays are known: Christmas 2099 skipped.
        assert ("2099-12-25", "national") in _skipped(body) or unit != "working_days"
