"""Who sees what: published indicators for everyone, unpublished ones and unsuppressed small
cells for the office only; Open SDG CSV and metadata; bad input as problem documents."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest

from app.models.base import Role
from app.services.indicators import disclosure
from app.services.indicators.catalogue import CATALOGUE
from tests import factories as f
from tests.factories import assert_problem
from tests.indicators.dataset import YEAR, build
from tests.indicators.test_figures import breakdown, fetch, total

URL = "/api/v1/indicators"


async def test_catalogue_metadata_is_public_spanish_and_never_claims_the_un_indicator(client):
    r = await client.get(URL)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [i.id for i in CATALOGUE]
    for item in items:
        assert item["published"] is True
        assert item["reporting_status"] == "complete"
        assert item["counting_rule"]
        assert item["definition"]
        assert item["source"]
        assert item["query"].startswith("SELECT")
        assert "oficial" not in item["aligned_with"].lower()
        if item["framework"] == "ODS":
            assert item["aligned_with"].startswith("Alineado con la meta")
    by_id = {i["id"]: i for i in items}
    assert "16.6.2" in by_id["oaaa-16-6-satisfaccion"]["method_note"]
    assert by_id["oaaa-16-7-consultas"]["disclosure_rule"] == disclosure.RULE
    # People trained by municipality is for the office only.
    assert "municipality" not in by_id["aue-10-4-2"]["disaggregations"]
    one = await client.get(f"{URL}/aue-10-2-3")
    assert one.status_code == 200
    assert one.json()["name"] == "Mecanismos efectivos de gobernanza multinivel"


async def test_public_view_suppresses_small_cells_and_their_complements(client, session):
    await build(session)
    body = await fetch(client, "oaaa-16-7-consultas", period=str(YEAR), disaggregation=["kind"])
    assert body["view"] == "public"
    assert body["disclosure_rule"] == disclosure.RULE
    # ELM 1 (small) and, as its complement, municipalities 9: both hidden; the total stays.
    assert total(body, "consultas") == 10
    assert breakdown(body, "consultas", "kind") == {"Entidad local menor": None, "Municipio": None}
    assert all(r["suppressed"] for r in body["rows"] if r["dimension"])

    # Channels web 5, phone 3, email 1, in person 1: hide 3, 1, 1 (sum 5); web 5 stays.
    body = await fetch(client, "oaaa-16-7-consultas", period=str(YEAR), disaggregation=["channel"])
    shown = breakdown(body, "consultas", "channel")
    assert shown == {"Correo electrónico": None, "Presencial": None, "Teléfono": None, "Web": 5}
    # Visits are not about people: nothing is suppressed.
    visits = await fetch(client, "oaaa-16-7-visitas", period=str(YEAR))
    assert breakdown(visits, "visitas", "channel") == {"Presencial": 7, "Web": 150}

    # Municipal users get the public view too.
    m = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06015")).id
    )
    body = await fetch(
        client,
        "oaaa-16-7-consultas",
        await f.auth_headers(client, m),
        period=str(YEAR),
        disaggregation=["channel"],
    )
    assert body["view"] == "public"
    assert breakdown(body, "consultas", "channel")["Teléfono"] is None


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ({"a": 10, "b": 7}, set()),
        ({"a": 10, "b": 0, "c": 7}, set()),
        ({"a": 10, "b": 3}, {"a", "b"}),
        ({"a": 10, "b": 3, "c": 6}, {"b", "c"}),
        ({"a": 2, "b": 3, "c": 9}, {"a", "b"}),
        ({"a": 1, "b": 1, "c": 9, "d": 20}, {"a", "b", "c"}),
        ({"a": 4}, {"a"}),
    ],
    ids=["none", "zero-shown", "complement", "smallest-complement", "two-small", "sum", "single"],
)
def test_suppression_rule(counts, hidden):
    result = disclosure.suppress(counts)
    assert result == hidden
    if result:
        assert len(result) >= 2 or result == set(counts)
        assert sum(counts[k] for k in result) >= disclosure.THRESHOLD or result == set(counts)


async def test_unpublished_indicators_are_for_the_office_only(client, session):
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    area = await f.area(session)
    area_staff = await f.auth_headers(
        client, await f.user(session, Role.area_staff, area_id=area.id)
    )
    r = await client.put(
        f"{URL}/aue-10-2-3/publication",
        json={"published": False, "reporting_status": "inprogress"},
        headers=staff,
    )
    assert r.status_code == 200, r.text
    assert r.json()["published"] is False
    assert_problem(await client.get(f"{URL}/aue-10-2-3"), 404)
    assert_problem(await client.get(f"{URL}/aue-10-2-3/data"), 404)
    assert_problem(await client.get(f"{URL}/aue-10-2-3", headers=area_staff), 404)
    public_ids = [i["id"] for i in (await client.get(URL)).json()["items"]]
    assert "aue-10-2-3" not in public_ids
    staff_items = (await client.get(URL, headers=staff)).json()["items"]
    [hidden] = [i for i in staff_items if i["id"] == "aue-10-2-3"]
    assert hidden["published"] is False
    assert hidden["reporting_status"] == "inprogress"
    assert (await client.get(f"{URL}/aue-10-2-3/data", headers=staff)).status_code == 200
    # Only the office publishes; an unknown id or a bad body changes nothing.
    r = await client.put(
        f"{URL}/aue-10-2-3/publication", json={"published": True}, headers=area_staff
    )
    assert_problem(r, 403)
    assert_problem(await client.put(f"{URL}/aue-10-2-3/publication", json={"published": True}), 401)
    assert_problem(
        await client.put(f"{URL}/nope/publication", json={"published": True}, headers=staff), 404
    )
    assert_problem(
        await client.put(
            f"{URL}/aue-10-2-3/publication",
            json={"published": True, "reporting_status": "done"},
            headers=staff,
        ),
        422,
    )
    assert_problem(await client.get(f"{URL}/aue-10-2-3"), 404)
    r = await client.put(f"{URL}/aue-10-2-3/publication", json={"published": True}, headers=staff)
    assert r.status_code == 200
    assert (await client.get(f"{URL}/aue-10-2-3")).status_code == 200


async def test_staff_only_disaggregation(client, session):
    await build(session)
    r = await client.get(f"{URL}/aue-10-4-2/data", params={"disaggregation": "municipality"})
    assert_problem(r, 403)
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    r = await client.get(
        f"{URL}/aue-10-4-2/data",
        params={"disaggregation": "municipality", "period": str(YEAR)},
        headers=staff,
    )
    assert r.status_code == 200
    assert r.json()["view"] == "staff"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025-13"}, "period"),
        ({"period": "2025-Q5"}, "period"),
        ({"period": "25"}, "period"),
        ({"period": "1999"}, "period"),
        ({"period": "2999"}, "period"),
        ({"period": "2025", "from": "2025-01-01", "to": "2025-01-31"}, "period"),
        ({"from": "2025-01-01"}, "to"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "from"),
        ({"from": "2022-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "1900-01-01", "to": "1900-02-01"}, "from"),
        ({"from": "not-a-date", "to": "2025-01-01"}, "from"),
        ({"disaggregation": "province"}, "disaggregation"),
        ({"disaggregation": "modality"}, "disaggregation"),
        ({"format": "xml"}, "format"),
        ({"period": "2025-01-01x"}, "period"),
    ],
    ids=[
        "month-13",
        "quarter-5",
        "short",
        "too-early",
        "too-late",
        "both",
        "half-range",
        "reversed",
        "too-long",
        "old-range",
        "bad-date",
        "unknown-dimension",
        "wrong-dimension",
        "bad-format",
        "too-long-text",
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(client, params, field):
    r = await client.get(f"{URL}/oaaa-16-7-consultas/data", params=params)
    body = assert_problem(r, 422)
    assert field in json.dumps(body)


async def test_unknown_indicator_is_404(client):
    for path in ("/nope", "/nope/data", "/nope/metadata", "/" + "x" * 65):
        r = await client.get(URL + path)
        assert r.status_code in (404, 422), path
        assert_problem(r, r.status_code)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_open_sdg_csv(client, session):
    d = await build(session)
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    r = await client.get(
        f"{URL}/oaaa-16-7-consultas/data",
        params={
            "period": str(YEAR),
            "disaggregation": ["channel", "municipality"],
            "format": "csv",
        },
        headers=staff,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    header = r.text.splitlines()[0].split(",")
    assert header == ["Year", "Canal", "Entidad local", "Series", "Units", "GeoCode", "Value"]
    rows = _csv(r.text)
    totals = [row for row in rows if not row["Canal"] and not row["Entidad local"]]
    assert totals == [
        {
            "Year": str(YEAR),
            "Canal": "",
            "Entidad local": "",
            "Series": "Consultas recibidas",
            "Units": "consultas",
            "GeoCode": "06",
            "Value": "10",
        }
    ]
    by_municipality = {row["GeoCode"]: row["Value"] for row in rows if row["Entidad local"]}
    assert by_municipality["06015"] == "6"
    assert by_municipality["06083"] == "2"
    assert sum(int(row["Value"]) for row in rows if row["Canal"]) == 10
    # Whole numbers print as such, live or from the aggregates.
    for params in ({"period": str(YEAR)}, {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}):
        r = await client.get(
            f"{URL}/aue-10-2-3/data", params={**params, "format": "csv"}, headers=staff
        )
        assert _csv(r.text)[-1]["Value"] == "4"
    # Sub-year periods carry the period; suppressed cells are left out in public.
    r = await client.get(
        f"{URL}/oaaa-16-7-consultas/data",
        params={"period": f"{YEAR}-Q1", "disaggregation": "channel", "format": "csv"},
    )
    rows = _csv(r.text)
    assert r.text.splitlines()[0] == "Year,Period,Canal,Series,Units,GeoCode,Value"
    assert rows[0]["Period"] == f"{YEAR}-Q1"
    assert rows[0]["Value"] == "3"
    assert len(rows) == 1  # web 3 is suppressed
    assert d.comarca.name  # the dataset was built


async def test_open_sdg_metadata(client):
    r = await client.get(f"{URL}/oaaa-16-7-visitas/metadata")
    assert r.status_code == 200
    meta: dict[str, Any] = r.json()
    assert meta["indicator_number"] == "oaaa-16-7-visitas"
    assert meta["target_id"] == "16.7"
    assert meta["sdg_goal"] == "16"
    assert meta["reporting_status"] == "complete"
    assert meta["published"] is True
    assert meta["computation_units"] == "visitas"
    assert meta["source_url_1"].endswith("/api/v1/indicators/oaaa-16-7-visitas/data?format=csv")
    assert "Alineado con la meta 16.7" in meta["data_footnote"]


async def test_open_data_bundle(client, session):
    await build(session)
    r = await client.get(f"{URL}/open-data/{YEAR}.zip")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    package = json.loads(zf.read("datapackage.json"))
    assert package["profile"] == "tabular-data-package"
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    names = set(zf.namelist())
    for resource in package["resources"]:
        assert resource["path"] in names
    csv_resources = [res for res in package["resources"] if res.get("format") == "csv"]
    assert len(csv_resources) == len(CATALOGUE)
    consultas = zf.read("data/indicator_oaaa-16-7-consultas.csv").decode()
    fields = [fld["name"] for fld in csv_resources[2]["schema"]["fields"]]
    assert consultas.splitlines()[0].split(",") == fields
    assert fields[0] == "Year"
    assert fields[-1] == "Value"
    rows = _csv(consultas)
    assert [row["Value"] for row in rows if row["Canal"] == "Web"] == ["5"]
    # Public bundle: no small cells.
    assert all(int(row["Value"]) >= 5 for row in rows if row["Entidad local"])
    assert zf.read("meta/oaaa-16-7-consultas.md").decode().startswith("---\n")
    assert_problem(await client.get(f"{URL}/open-data/1990.zip"), 422)
    assert_problem(await client.get(f"{URL}/open-data/abc.zip"), 404)  # not a year: no such path


async def test_demo_data_gives_every_indicator_a_figure(client, session):
    from datetime import timedelta

    from app.seed.demo import seed
    from app.services.indicators.periods import today

    await seed(session)
    await session.commit()
    last = today()
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    for ind in CATALOGUE:
        body = await fetch(
            client,
            ind.id,
            staff,
            **{"from": (last - timedelta(days=364)).isoformat(), "to": last.isoformat()},
        )
        assert total(body, ind.series[0].id), ind.id
