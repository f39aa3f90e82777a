"""Operational reports and exports: exact figures, scoping by caller, safe CSV."""

from __future__ import annotations

import csv
import io

import pytest

from app.models.base import Role
from app.services.reports import csvfmt
from tests import factories as f
from tests.factories import assert_problem
from tests.indicators.dataset import YEAR, build

URL = "/api/v1/reports"


async def _headers(client, session, role: Role, **kwargs):
    return await f.auth_headers(client, await f.user(session, role, **kwargs))


async def test_sla_report_per_area_for_the_office_and_for_an_area(client, session):
    d = await build(session)
    office = await _headers(client, session, Role.oaaa_staff)
    r = await client.get(f"{URL}/sla", params={"period": str(YEAR)}, headers=office)
    assert r.status_code == 200, r.text
    body = r.json()
    total, *groups = body["rows"]
    assert total["group"] is None
    assert total["received"] == 10
    assert total["breached"] == 1
    assert sum(g["received"] for g in groups) == 10
    by_label = {g["label"]: g for g in groups}
    assert by_label[d.area1.name]["received"] == 3
    assert by_label["Oficina (sin derivar)"]["received"] == 6
    # Working days after reception: 10 Jan 2025 (Fri) to 12 Jan (Sun): 0; 10 Feb (Mon) to 14
    # Feb (Fri): 4, median 2; 10 Jul (Thu) to 20 Jul (Sun): 11 Jul and 14-18 Jul = 6.
    assert by_label[d.area1.name]["median_first_response_days"] == 2
    assert by_label[d.area2.name]["median_resolution_days"] == 6

    area_staff = await _headers(client, session, Role.area_staff, area_id=d.area1.id)
    r = await client.get(f"{URL}/sla", params={"period": str(YEAR)}, headers=area_staff)
    assert r.status_code == 200
    assert r.json()["rows"][0]["received"] == 3
    assert r.json()["scope"] == "Área propia"

    r = await client.get(
        f"{URL}/sla", params={"period": str(YEAR), "group_by": "channel"}, headers=office
    )
    assert {g["label"]: g["received"] for g in r.json()["rows"][1:]} == {
        "Correo electrónico": 1,
        "Presencial": 1,
        "Teléfono": 3,
        "Web": 5,
    }
    r = await client.get(
        f"{URL}/sla", params={"period": str(YEAR), "group_by": "month"}, headers=office
    )
    assert [g["group"] for g in r.json()["rows"][1:]][:2] == [f"{YEAR}-01", f"{YEAR}-02"]


@pytest.mark.parametrize("role", ["anonymous", "municipal"])
async def test_reports_are_not_public_nor_municipal(client, session, role):
    headers = {}
    if role == "municipal":
        m = await f.municipality(session, "06015")
        headers = await _headers(client, session, Role.municipal_user, municipality_id=m.id)
    for path in ("/sla", "/operations", "/exports/consultations.csv", "/exports/indicators.csv"):
        r = await client.get(URL + path, headers=headers)
        assert_problem(r, 401 if role == "anonymous" else 403)


async def test_operations_report(client, session):
    await build(session)
    office = await _headers(client, session, Role.oaaa_staff)
    r = await client.get(f"{URL}/operations", params={"period": str(YEAR)}, headers=office)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received_by_channel"] == {"web": 5, "phone": 3, "email": 1, "in_person": 1}
    assert sum(body["forwarded_by_area"].values()) == 4
    # Open (not answered nor closed): 11 consultations - 3 answered = 8, all older than 90 days.
    assert sum(b["open"] for b in body["backlog_by_age"]) == 8
    attention = body["satisfaction"][0]
    assert attention["responses"] == 3
    assert attention["mean"] == 4
    assert attention["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}


async def test_consultations_export_is_spanish_madrid_scoped_and_injection_safe(client, session):
    d = await build(session)
    office = await _headers(client, session, Role.oaaa_staff)
    r = await client.get(
        f"{URL}/exports/consultations.csv",
        params={"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10
    assert list(rows[0])[:3] == ["Referencia", "Entidad local", "Código INE"]
    # 10 January 10:00 UTC is 11:00 in Madrid.
    assert rows[0]["Recibida"] == f"{YEAR}-01-10 11:00:00"
    assert '\'=HYPERLINK("x")' in [row["Asunto"] for row in rows]

    area_staff = await _headers(client, session, Role.area_staff, area_id=d.area1.id)
    r = await client.get(f"{URL}/exports/consultations.csv", headers=area_staff)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3
    assert {row["Área"] for row in rows} == {d.area1.name}

    r = await client.get(
        f"{URL}/exports/consultations.csv", params={"channel": "phone"}, headers=office
    )
    assert len(list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))) == 3


@pytest.mark.parametrize("dataset", ["attendance", "surveys", "registrations", "expedientes"])
async def test_other_exports(client, session, dataset):
    await build(session)
    office = await _headers(client, session, Role.oaaa_staff)
    r = await client.get(f"{URL}/exports/{dataset}.csv", headers=office)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    expected = {"attendance": 8, "surveys": 3, "registrations": 0, "expedientes": 0}[dataset]
    assert len(rows) == expected


async def test_indicators_export(client, session):
    await build(session)
    office = await _headers(client, session, Role.oaaa_staff)
    r = await client.get(
        f"{URL}/exports/indicators.csv", params={"period": str(YEAR)}, headers=office
    )
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    [consultas] = [
        row
        for row in rows
        if row["Indicador"] == "oaaa-16-7-consultas" and row["Desagregación"] == "Total"
    ]
    assert consultas["Valor"] == "10"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/exports/consultations.csv", {"from": "2025-02-01", "to": "2025-01-01"}),
        ("/exports/consultations.csv", {"period": "2025"}),
        ("/exports/attendance.csv", {"channel": "web"}),
        ("/exports/unknown.csv", {}),
        ("/exports/indicators.csv", {"status": "closed"}),
        ("/sla", {"group_by": "mood"}),
        ("/sla", {"period": "2025-00"}),
    ],
    ids=["reversed", "period", "filter", "dataset", "indicator-filter", "group", "month"],
)
async def test_bad_report_input(client, session, path, params):
    office = await _headers(client, session, Role.oaaa_staff)
    assert_problem(await client.get(URL + path, params=params, headers=office), 422)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+34 600", "'+34 600"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("normal", "normal"),
        (-3, "-3"),
        (None, ""),
        (True, "sí"),
    ],
    ids=["eq", "plus", "minus", "at", "tab", "plain", "number", "none", "bool"],
)
def test_csv_cells_are_safe(value, expected):
    assert csvfmt.safe(value) == expected
