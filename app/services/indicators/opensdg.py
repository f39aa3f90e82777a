"""Open SDG output: the data CSV, the metadata document and the yearly open-data bundle.

Data CSV (Open SDG data format): `Year` first, then `Period` for sub-year periods, one column
per disaggregation (blank = total), `Series`, `Units`, `GeoCode` (INE code; 06 = the province)
and `Value` last. Suppressed cells are left out of the CSV (the JSON marks them).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from app.core.config import get_settings
from app.schemas.indicators import IndicatorData, IndicatorMeta
from app.services.indicators import disclosure
from app.services.indicators.catalogue import BY_ID, DIMENSION_LABELS, Dimension
from app.services.reports import csvfmt

ORGANISATION = "Diputación de Badajoz – Oficina de Atención a Alcaldes y Alcaldesas"
COVERAGE = "Provincia de Badajoz"
LICENSE = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Reconocimiento 4.0 Internacional",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}


def columns(data: IndicatorData) -> list[str]:
    dims = [DIMENSION_LABELS[Dimension(d)] for d in data.disaggregations]
    period = ["Period"] if data.period.kind != "year" else []
    return ["Year", *period, *dims, "Series", "Units", "GeoCode", "Value"]


def data_csv(data: IndicatorData) -> str:
    dims = data.disaggregations
    year = data.period.from_day.year
    rows = []
    for r in data.rows:
        if r.suppressed or r.value is None:
            continue
        cells: list[object] = [year]
        if data.period.kind != "year":
            cells.append(data.period.label)
        cells += [r.label if r.dimension == d else "" for d in dims]
        cells += [r.series_name, r.unit, r.geo_code, r.value]
        rows.append(cells)
    return csvfmt.render(columns(data), rows)


def metadata(meta: IndicatorMeta) -> dict[str, Any]:
    """The indicator's metadata in Open SDG's vocabulary."""
    ind = BY_ID[meta.id]
    base = get_settings().public_base_url.rstrip("/")
    notes = [meta.aligned_with + "."]
    if meta.disclosure_rule:
        notes.append(disclosure.RULE)
    if meta.method_note:
        notes.append(meta.method_note)
    return {
        "language": "es",
        "indicator_number": meta.id,
        "indicator_name": meta.name,
        "indicator_sort_order": f"{ind.sort_order:02d}",
        "national_indicator_available": meta.name,
        "national_indicator_description": meta.definition,
        "sdg_goal": ind.sdg_goal,
        "target_id": ind.target_id,
        "goal_meta_link_text": meta.aligned_with,
        "reporting_status": meta.reporting_status,
        "published": meta.published,
        "data_non_statistical": False,
        "graph_type": "bar",
        "graph_title": meta.name,
        "computation_units": meta.unit,
        "computation_definitions": meta.definition,
        "computation_calculations": meta.counting_rule,
        "computation_numerator": meta.numerator,
        "computation_denominator": meta.denominator,
        "national_geographical_coverage": COVERAGE,
        "data_show_map": False,
        "data_footnote": " ".join(notes),
        "source_active_1": True,
        "source_organisation_1": ORGANISATION,
        "source_periodicity_1": meta.periodicity,
        "source_geographical_coverage_1": COVERAGE,
        "source_url_1": f"{base}/api/v1/indicators/{meta.id}/data?format=csv",
        "source_url_text_1": "Datos (CSV, formato Open SDG)",
        "source_other_info_1": meta.source,
        "source_release_date_1": meta.last_update.date().isoformat(),
        "computation_query": meta.query,
    }


def metadata_markdown(meta: IndicatorMeta) -> str:
    """The metadata as an Open SDG `meta/<id>.md` file (YAML front matter; JSON scalars are
    valid YAML)."""
    lines = ["---"]
    for key, value in metadata(meta).items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _schema(data: IndicatorData) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    for name in columns(data):
        if name == "Year":
            fields.append({"name": name, "type": "integer", "title": "Año"})
        elif name == "Value":
            fields.append({"name": name, "type": "number", "title": "Valor"})
        else:
            fields.append({"name": name, "type": "string"})
    return {"fields": fields, "missingValues": [""]}


def bundle(year: int, items: list[tuple[IndicatorMeta, IndicatorData]]) -> bytes:
    """A zip with `data/indicator_<id>.csv`, `meta/<id>.md`, `meta/<id>.json` and a Frictionless
    `datapackage.json` describing every file."""
    resources: list[dict[str, Any]] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for meta, data in items:
            csv_path = f"data/indicator_{meta.id}.csv"
            zf.writestr(csv_path, data_csv(data))
            zf.writestr(f"meta/{meta.id}.md", metadata_markdown(meta))
            zf.writestr(
                f"meta/{meta.id}.json", json.dumps(metadata(meta), ensure_ascii=False, indent=2)
            )
            resources.append(
                {
                    "name": meta.id,
                    "path": csv_path,
                    "title": meta.name,
                    "description": meta.definition,
                    "profile": "tabular-data-resource",
                    "format": "csv",
                    "mediatype": "text/csv",
                    "encoding": "utf-8",
                    "schema": _schema(data),
                }
            )
            resources.append(
                {
                    "name": f"{meta.id}-metadata",
                    "path": f"meta/{meta.id}.json",
                    "format": "json",
                    "mediatype": "application/json",
                    "description": f"Metadatos de «{meta.name}» (vocabulario Open SDG)",
                }
            )
        package = {
            "profile": "tabular-data-package",
            "name": f"oaaa-indicadores-{year}",
            "title": f"Indicadores de la Oficina de Atención a Alcaldes y Alcaldesas, {year}",
            "description": (
                "Indicadores públicos de la Oficina alineados con metas de los ODS y de la Agenda"
                " Urbana Española, calculados a partir de su propia actividad. " + disclosure.RULE
            ),
            "version": "1.0.0",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "licenses": [LICENSE],
            "sources": [{"title": ORGANISATION}],
            "keywords": ["ODS", "Agenda Urbana", "Diputación de Badajoz", str(year)],
            "resources": resources,
        }
        zf.writestr("datapackage.json", json.dumps(package, ensure_ascii=False, indent=2))
    return buffer.getvalue()
