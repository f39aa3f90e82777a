"""The baseline: a bare Starlette app on an asyncpg pool that runs the very SQL statements the
application sends for the same request (captured from the application's own code by the
benchmark and handed over in the file named by `OAAA_BENCH_BARE_CASES`), and writes the rows
as JSON with the standard library. No authentication, no validation, no framework layers.

    GET  /bare/list/{case}      the statements of one list case, the last one's rows as a page
    POST /bare/consultations    one INSERT of a consultation row like the application's
    GET  /bare/healthz          {"status": "ok"}
"""

from __future__ import annotations

import json
import os
import pickle
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_state: dict[str, Any] = {}

INSERT = """
INSERT INTO consultation (
    id, reference, access_code_hash, municipality_id, channel, priority, status, subject, body,
    received_at, sla_started_at, first_response_due_at, resolution_due_at, sla_state,
    paused_working_days, paused_working_seconds, version, created_at, updated_at, sla_policy_id
) VALUES ($1, $2, $3, $4, 'web', 'normal', 'received', $5, $6, $7, $7, $8, $9, 'on_track',
          0, 0, 1, $7, $7, $10)
RETURNING id, reference
"""


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    url = os.environ["OAAA_BENCH_BARE_DSN"]
    _state["pool"] = await asyncpg.create_pool(url, min_size=10, max_size=10)
    cases_file = os.environ.get("OAAA_BENCH_BARE_CASES")
    raw = Path(cases_file).read_bytes() if cases_file else None  # noqa: ASYNC240 (start-up)
    # Written by the benchmark that started this process, on this machine.
    _state["cases"] = pickle.loads(raw) if raw else {}  # noqa: S301
    _state["policy"] = os.environ.get("OAAA_BENCH_BARE_POLICY")
    _state["municipality"] = os.environ.get("OAAA_BENCH_BARE_MUNICIPALITY")
    yield
    await _state["pool"].close()


async def list_case(request: Request) -> Response:
    statements, limit = _state["cases"][request.path_params["case"]]
    rows: list[Any] = []
    async with _state["pool"].acquire() as conn:
        for sql, params in statements:
            rows = await conn.fetch(sql, *params)
    items = [dict(r) for r in rows[:limit]]
    page = {"items": items, "next_cursor": None}
    return Response(json.dumps(page, default=_json), media_type="application/json")


async def create(request: Request) -> Response:
    body = json.loads(await request.body())
    now = datetime.now(UTC)
    async with _state["pool"].acquire() as conn:
        row = await conn.fetchrow(
            INSERT,
            uuid.uuid4(),
            "B-" + uuid.uuid4().hex[:16],
            "x",
            uuid.UUID(_state["municipality"]),
            body["subject"],
            body["body"],
            now,
            now + timedelta(days=2),
            now + timedelta(days=14),
            uuid.UUID(_state["policy"]) if _state["policy"] else None,
        )
    assert row is not None
    out = {"id": row["id"], "reference": row["reference"]}
    return Response(json.dumps(out, default=_json), status_code=201, media_type="application/json")


async def healthz(_: Request) -> Response:
    return Response(json.dumps({"status": "ok"}), media_type="application/json")


app = Starlette(
    routes=[
        Route("/bare/list/{case}", list_case),
        Route("/bare/consultations", create, methods=["POST"]),
        Route("/bare/healthz", healthz),
    ],
    lifespan=lifespan,
)
