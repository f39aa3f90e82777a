"""`openapi.json` is the committed contract: the code may not drift from it."""

from __future__ import annotations

import json

from app.openapi_export import OPENAPI_PATH, current_openapi, render

METHODS = {"get", "post", "put", "patch", "delete"}


def test_committed_openapi_matches_the_code() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == render(current_openapi()), (
        "openapi.json is out of date: run `python -m app export-openapi` and commit it"
    )


def test_every_operation_has_id_summary_tags_and_documented_errors() -> None:
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    ids = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert op.get("operationId"), where
            assert op.get("summary"), where
            assert op.get("tags"), where
            ids.append(op["operationId"])
            if path.startswith("/api/v1"):
                errors = [code for code in op["responses"] if code.startswith(("4", "5"))]
                assert errors, f"{where} documents no error responses"
                # Any operation answers 503 while the database or Redis is unreachable.
                assert "503" in op["responses"], f"{where} does not document 503"
                for code in errors:
                    content = op["responses"][code].get("content", {})
                    assert "application/problem+json" in content, f"{where} {code}"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_problem_schema_is_published() -> None:
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status"} <= set(problem["properties"])
