"""Loads the official list of Badajoz municipalities (INE 2024) into `municipality`.

Idempotent: existing INE codes are left as they are, so administrators' edits survive.
"""

from __future__ import annotations

import csv
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CSV_PATH = Path(__file__).resolve().parent.parent / "app" / "data" / "municipalities_badajoz.csv"


def municipality_rows() -> list[dict[str, object]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as fh:
        return [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"ine:municipio:{row['ine_code']}"),
                "kind": "municipality",
                "ine_code": row["ine_code"],
                "name": row["name"],
                "name_ine": row["name_ine"],
                "control_digit": row["control_digit"],
                "population": int(row["population"]),
                "population_date": date.fromisoformat(row["population_date"]),
                "latitude": float(row["latitude"]),
                "longitude": float(row["longitude"]),
            }
            for row in csv.DictReader(fh)
        ]


def load_municipalities(bind: Connection) -> int:
    rows = municipality_rows()
    stmt = sa.text(
        "INSERT INTO municipality (id, kind, ine_code, name, name_ine, control_digit, population,"
        " population_date, latitude, longitude, is_active, created_at, updated_at)"
        " VALUES (:id, :kind, :ine_code, :name, :name_ine, :control_digit, :population,"
        " :population_date, :latitude, :longitude, true, now(), now())"
        " ON CONFLICT (ine_code) DO NOTHING"
    )
    bind.execute(stmt, rows)
    return len(rows)
