"""Serialises the committed contract, `openapi.json`, from the application."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi.json"


def current_openapi() -> dict[str, Any]:
    from app.main import create_app

    schema: dict[str, Any] = create_app().openapi()
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def export(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(render(current_openapi()), encoding="utf-8")
    return path
