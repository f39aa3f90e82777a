"""Every figure of every indicator on a known dataset, and every breakdown adds up to its total
(staff view, nothing suppressed)."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.base import Role
from app.services.indicators.catalogue import CATALOGUE, SeriesKind
from tests import factories as f
from tests.indicators.dataset import YEAR, build

URL = "/api/v1/indicators"


async def _staff(client, session) -> dict[str, str]:
    return await f.auth_headers(client, await f.user(session, Role.oaaa_staff))


async def fetch(client, indicator: str, headers=None, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{URL}/{indicator}/data", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def total(body: dict[str, Any], series: str) -> Any:
    [row] = [r for r in body["rows"] if r["series"] == series and r["dimension"] is None]
    return row["value"]


def breakdown(body: dict[str, Any], series: str, dimension: str) -> dict[str, Any]:
    return {
        r["label"]: r["value"]
        for r in body["rows"]
        if r["series"] == series and r["dimension"] == dimension
    }


async def test_consultations_received_by_every_disaggregation(client, session):
    d = await build(session)
    staff = await _staff(client, session)
    body = await fetch(
        client,
        "oaaa-16-7-consultas",
        staff,
        period=str(YEAR),
        disaggregation=["channel", "municipality", "kind", "comarca", "area"],
    )
    assert body["view"] == "staff"
    assert total(body, "consultas") == 10
    assert breakdown(body, "consultas", "channel") == {
        "Correo electrónico": 1,
        "Presencial": 1,
        "Teléfono": 3,
        "Web": 5,
    }
    assert breakdown(body, "consultas", "municipality") == {
        "Almendralejo": 1,
        "Badajoz": 6,
        "Entidad Menor de Prueba": 1,
        "Mérida": 2,
    }
    assert breakdown(body, "consultas", "kind") == {"Entidad local menor": 1, "Municipio": 9}
    assert breakdown(body, "consultas", "comarca") == {d.comarca.name: 9, "Sin comarca": 1}
    assert breakdown(body, "consultas", "area") == {
        d.area1.name: 3,
        d.area2.name: 1,
        "Sin área (Oficina)": 6,
    }
    geo = {r["label"]: r["geo_code"] for r in body["rows"] if r["dimension"] == "municipality"}
    assert geo["Badajoz"] == "06015"
    assert geo["Mérida"] == "06083"
    [total_row] = [r for r in body["rows"] if r["dimension"] is None]
    assert total_row["geo_code"] == "06"


@pytest.mark.parametrize(
    ("period", "expected"),
    [("2025-Q1", 3), ("2025-02", 1), ("2025-Q4", 1), ("2024", 1), ("2024-12", 1)],
)
async def test_consultations_by_month_quarter_and_year(client, session, period, expected):
    await build(session)
    body = await fetch(client, "oaaa-16-7-consultas", period=period)
    assert total(body, "consultas") == expected


async def test_custom_range_counts_days_in_madrid(client, session):
    await build(session)
    # 2024-12-31 12:00 UTC is 13:00 in Madrid on the 31st; 10 January 10:00 UTC is on the 10th.
    body = await fetch(client, "oaaa-16-7-consultas", **{"from": "2024-12-31", "to": "2025-01-10"})
    assert body["period"]["kind"] == "range"
    assert total(body, "consultas") == 2


async def test_visits_web_and_in_person_separately_and_in_total(client, session):
    await build(session)
    body = await fetch(client, "oaaa-16-7-visitas", period=str(YEAR))
    assert body["disaggregations"] == ["channel"]
    assert total(body, "visitas") == 157
    assert breakdown(body, "visitas", "channel") == {"Presencial": 7, "Web": 150}


async def test_training_actions_and_people_not_attendances(client, session):
    d = await build(session)
    staff = await _staff(client, session)
    actions = await fetch(
        client, "oaaa-16-6-formacion", period=str(YEAR), disaggregation=["modality", "area"]
    )
    assert total(actions, "acciones") == 2
    assert breakdown(actions, "acciones", "modality") == {"En línea": 1, "Presencial": 1}
    assert breakdown(actions, "acciones", "area") == {d.area1.name: 1, "Sin área (Oficina)": 1}

    people = await fetch(
        client, "aue-10-4-2", staff, period=str(YEAR), disaggregation=["municipality", "kind"]
    )
    assert total(people, "personas") == 5
    assert breakdown(people, "personas", "municipality") == {
        "Almendralejo": 1,
        "Badajoz": 1,
        "Mérida": 1,
        "Olivenza": 1,
        "Sin entidad local": 1,
    }
    assert breakdown(people, "personas", "kind") == {"Municipio": 4, "Sin entidad local": 1}
    previous = await fetch(client, "aue-10-4-2", staff, period=str(YEAR - 1))
    assert total(previous, "personas") == 1


async def test_entities_that_used_the_office(client, session):
    await build(session)
    body = await fetch(client, "oaaa-17-17-entidades", period=str(YEAR))
    # Badajoz, Mérida, Almendralejo, the ELM (consultations) and Olivenza (training only).
    assert total(body, "entidades") == 5
    assert breakdown(body, "entidades", "kind") == {"Entidad local menor": 1, "Municipio": 4}
    active = body["rows"][1]
    assert active["series"] == "porcentaje"
    assert active["dimension"] is None
    assert 0 < active["value"] < 5
    # Only the consultation of 31 December 2024 (Badajoz) and Pedro's training (Almendralejo).
    assert total(await fetch(client, "oaaa-17-17-entidades", period="2024"), "entidades") == 2


async def test_multilevel_governance_yes_with_its_evidence(client, session):
    d = await build(session)
    body = await fetch(client, "aue-10-2-3", period=str(YEAR), disaggregation=["area"])
    assert total(body, "gobernanza") == 1
    assert total(body, "areas_integradas") == 1  # área 2's client is inactive
    assert total(body, "derivadas") == 4
    assert total(body, "resueltas") == 3
    assert total(body, "mediana_dias") == 4
    assert breakdown(body, "derivadas", "area") == {d.area1.name: 3, d.area2.name: 1}
    assert breakdown(body, "resueltas", "area") == {d.area1.name: 2, d.area2.name: 1}
    assert breakdown(body, "mediana_dias", "area") == {d.area1.name: 3, d.area2.name: 10}
    assert "gobernanza" not in {r["series"] for r in body["rows"] if r["dimension"]}
    # Nothing forwarded in 2024: no.
    before = await fetch(client, "aue-10-2-3", period="2024")
    assert total(before, "gobernanza") == 0
    assert total(before, "derivadas") == 0
    assert total(before, "mediana_dias") is None


async def test_satisfaction_on_the_three_dimensions(client, session):
    d = await build(session)
    staff = await _staff(client, session)
    body = await fetch(
        client, "oaaa-16-6-satisfaccion", staff, period=str(YEAR), disaggregation=["area"]
    )
    assert total(body, "respuestas") == 3
    assert total(body, "atencion") == 4
    assert total(body, "proceso") == 4
    assert total(body, "resolucion") == 3.67
    assert breakdown(body, "respuestas", "area") == {d.area1.name: 2, d.area2.name: 1}
    assert breakdown(body, "atencion", "area") == {d.area1.name: 4, d.area2.name: 4}


@pytest.mark.parametrize("indicator", [i.id for i in CATALOGUE])
async def test_every_breakdown_adds_up_to_its_total(client, session, indicator):
    await build(session)
    staff = await _staff(client, session)
    ind = next(i for i in CATALOGUE if i.id == indicator)
    for dim in ind.dimensions:
        body = await fetch(client, indicator, staff, period=str(YEAR), disaggregation=[dim.value])
        for s in ind.series:
            if s.kind != SeriesKind.number or s.total_only:
                continue
            parts = breakdown(body, s.id, dim.value)
            assert sum(parts.values()) == total(body, s.id), (dim, s.id, parts)
