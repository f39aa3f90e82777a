"""Integration batches against a plain bulk upsert, and listing expedientes at scale.

In a database built by the real migrations, with one área, a five-stage procedure type and an
integration client:

  (a) the integration batch path: 500 expedientes, each upserted and then moved to its second
      stage, sent as two batches of 500 items (upsert, event, upsert, event, …), each batch one
      transaction, through `app.services.integrations.run_batch` called directly with the
      client's integration Actor (the code the HTTP endpoint runs, without HTTP and JSON);
      also a batch of 500 upserts alone. Fresh external references on every run.
  (b) in the same run, interleaved with (a) run by run, the same 500 rows with one plain
      `INSERT … SELECT FROM unnest(…) ON CONFLICT (area_id, external_ref) DO UPDATE` statement
      through asyncpg, each its own transaction; per-item cost of both, the ratio, and the SQL
      statements one batch of (a) sends (counted on the app's engine); the per-item figure of
      the upsert-and-event batches too (an upsert or an event). Once, after the measured
      runs, the upsert-and-event batches are also applied item by item (the path a batch
      falls back to), for contrast.
  (c) 300,000 expedientes spread over the municipalities by population, and the
      `EXPLAIN (ANALYZE, BUFFERS)` of the statement `list_expedientes` sends for one
      municipality's first page (a municipal Actor of Badajoz, the largest, and of
      Almendralejo), which must use an index.

    ./scripts/bench expedientes     # or: python -m bench.expedientes_batch --runs 5 --rows 300000
    ./scripts/bench expedientes --rows 0    # the batches only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common

DB_NAME = "oaaa_bench_expedientes"
BATCH = 500
PAGE = 50
# The largest municipality (about a fifth of the rows) and a middle-sized town.
LISTED = {"Badajoz": "06015", "Almendralejo": "06011"}
OPENED = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
STAGES = [
    ("REG", "Registro", 2),
    ("INF", "Informe técnico", 10),
    ("PRO", "Propuesta de resolución", 5),
    ("RES", "Resolución", 5),
    ("NOT", "Notificación", 3),
]

PLAIN_UPSERT_SQL = """
INSERT INTO expediente (
    id, municipality_id, area_id, procedure_type_id, external_ref, title, status, stalled,
    opened_at, deadline_is_legal, version, created_at, updated_at
)
SELECT gen_random_uuid(), m.id, $1::uuid, $2::uuid, t.ref, t.title, 'open', false,
       t.opened, false, 1, now(), now()
FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS t(ine, ref, title, opened)
JOIN municipality m ON m.ine_code = t.ine
ON CONFLICT (area_id, external_ref) DO UPDATE SET
    municipality_id = EXCLUDED.municipality_id, title = EXCLUDED.title,
    opened_at = EXCLUDED.opened_at, updated_at = now(), version = expediente.version + 1
"""

LOAD_SQL = """
WITH m AS (
    SELECT id,
           sum(population) OVER (ORDER BY ine_code) - population AS lo,
           sum(population) OVER (ORDER BY ine_code) AS hi
    FROM municipality WHERE kind = 'municipality'
), tot AS (SELECT sum(population)::float8 AS total FROM municipality WHERE kind = 'municipality'),
p AS (SELECT array_agg(id ORDER BY code) AS ids, array_agg(area_id ORDER BY code) AS areas
      FROM procedure_type WHERE code LIKE 'load-%'),
s AS (
    SELECT g, random() AS r, random() AS r2, random() AS r3
    FROM generate_series($1::int, $2::int) AS g
)
INSERT INTO expediente (
    id, municipality_id, area_id, procedure_type_id, external_ref, title, description, status,
    current_stage_code, current_stage_entered_at, stalled, opened_at, closed_at, deadline_date,
    deadline_is_legal, version, created_at, updated_at
)
SELECT gen_random_uuid(), m.id, p.areas[k.i], p.ids[k.i], 'L-' || lpad(s.g::text, 8, '0'),
       'Expediente de carga ' || s.g, 'Descripción del expediente ' || s.g,
       st.status, (ARRAY['REG','INF','PRO','RES','NOT'])[1 + (s.r3 * 5)::int % 5],
       ts.opened + interval '3 days', false, ts.opened,
       CASE WHEN st.status <> 'open' THEN ts.opened + interval '60 days' END,
       (ts.opened + interval '90 days')::date, s.r3 < 0.5, 1, ts.opened, ts.opened
FROM s
JOIN tot ON true
JOIN m ON s.r * tot.total >= m.lo AND s.r * tot.total < m.hi
CROSS JOIN p
CROSS JOIN LATERAL (SELECT 1 + (s.r2 * 1000)::int % array_length(p.ids, 1) AS i) k
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.r2 < 0.4 THEN 'open' WHEN s.r2 < 0.9 THEN 'resolved' ELSE 'archived' END
           AS status
) st
CROSS JOIN LATERAL (
    SELECT timestamptz '2023-01-01' + (s.g::float8 / $3::float8) * interval '1000 days'
           + (s.r3 * interval '6 hours') AS opened
) ts
"""


async def _setup(url: str) -> dict[str, Any]:
    """One área with a procedure type of five stages and an integration client; seven more
    áreas with one procedure type each for the bulk load."""
    import asyncpg

    conn = await asyncpg.connect(common.plain(url))
    try:
        area_id = await conn.fetchval(
            "INSERT INTO area (id, code, name, is_active, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'fomento', 'Área de Fomento', true, now(), now())"
            " RETURNING id"
        )
        procedure_id = await conn.fetchval(
            "INSERT INTO procedure_type (id, area_id, code, name, is_active, created_at,"
            " updated_at) VALUES (gen_random_uuid(), $1, 'obras', 'Licencias de obra', true,"
            " now(), now()) RETURNING id",
            area_id,
        )
        await conn.executemany(
            "INSERT INTO stage_definition (id, procedure_type_id, position, code, name,"
            " expected_working_days, waits_on_municipality)"
            " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, false)",
            [(procedure_id, i, c, n, d) for i, (c, n, d) in enumerate(STAGES, start=1)],
        )
        client_id = await conn.fetchval(
            "INSERT INTO integration_client (id, client_id, name, secret_hash, area_id, scopes,"
            " is_active, created_at) VALUES (gen_random_uuid(), 'bench-fomento',"
            " 'Sistema de Fomento', 'x', $1, ARRAY['expedientes:read','expedientes:write'],"
            " true, now()) RETURNING id",
            area_id,
        )
        await conn.execute(
            "WITH a AS (INSERT INTO area (id, code, name, is_active, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'area-' || g, 'Área ' || g, true, now(), now()"
            " FROM generate_series(1, 7) g RETURNING id, code)"
            " INSERT INTO procedure_type (id, area_id, code, name, is_active, created_at,"
            " updated_at) SELECT gen_random_uuid(), a.id, 'load-' || a.code, 'Carga', true,"
            " now(), now() FROM a"
        )
        ine_codes = [
            r["ine_code"]
            for r in await conn.fetch(
                "SELECT ine_code FROM municipality WHERE kind = 'municipality' ORDER BY ine_code"
            )
        ]
    finally:
        await conn.close()
    return {
        "area_id": area_id,
        "procedure_id": procedure_id,
        "client_id": client_id,
        "ine_codes": ine_codes,
    }


def _refs(run: int) -> list[str]:
    return [f"BENCH/{run:03d}/{i:04d}" for i in range(BATCH)]


def _upsert_item(ref: str, ine: str, i: int) -> dict[str, Any]:
    return {
        "op": "upsert",
        "external_ref": ref,
        "expediente": {
            "municipality_ine_code": ine,
            "procedure_code": "obras",
            "title": f"Licencia de obra número {i}",
            "opened_at": (OPENED + timedelta(minutes=i)).isoformat(),
        },
    }


def _event_item(ref: str, i: int) -> dict[str, Any]:
    return {
        "op": "event",
        "external_ref": ref,
        "event": {
            "event_id": f"{ref}:INF",
            "stage_code": "INF",
            "occurred_at": (OPENED + timedelta(days=2, minutes=i)).isoformat(),
        },
    }


def _report_batches(results: dict[str, Any], runs: int) -> Path:
    """Writes the results so far and prints the batch figures."""
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"expedientes_batch-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2, default=str))

    plain = results["plain_insert_on_conflict_per_row"]
    pair = results["integration_upsert_plus_event_per_expediente"]
    ups = results["integration_upsert_only_per_item"]
    print()
    print(f"Batch of {BATCH} through the integration service ({runs} runs, medians):")
    print(
        f"  upsert + stage event, per expediente: {pair['median_ms']:8.3f} ms"
        f"  ({pair['sql_statements_per_batch']} SQL statements per batch of {BATCH} items)"
    )
    print(
        f"  upsert alone, per item:               {ups['median_ms']:8.3f} ms"
        f"  ({ups['sql_statements_per_batch']} SQL statements per batch of {BATCH} items)"
    )
    print(f"  plain INSERT … ON CONFLICT, per row:  {plain['median_ms']:8.4f} ms")
    print(f"  ratio (upsert + event) / plain:       {results['ratio_upsert_plus_event_to_plain']}")
    print(
        f"  the same batches per item (an upsert or an event): {pair['median_ms'] / 2:.3f} ms,"
        f" ratio {results['ratio_per_item_of_upsert_plus_event_batches_to_plain']}"
    )
    print(f"  ratio upsert / plain:                 {results['ratio_upsert_only_to_plain']}")
    item = results["itemwise_upsert_plus_event_per_expediente"]
    print(
        f"  item by item (the fallback, one run), upsert + stage event, per expediente:"
        f" {item['ms']:.3f} ms ({item['sql_statements_per_batch']} SQL statements per batch);"
        f" ratio to plain {results['ratio_itemwise_upsert_plus_event_to_plain']}"
    )
    return out


async def main_async(url: str, runs: int, rows: int, keep: bool) -> None:
    import asyncpg
    from sqlalchemy import event, text

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import dispose_engine, get_engine, get_sessionmaker
    from app.core.pagination import PageParams
    from app.core.scoping import Actor, ActorRole
    from app.models.audit import ActorType
    from app.models.base import Role
    from app.services import expedientes, integrations

    ctx = await _setup(url)
    ines: list[str] = ctx["ine_codes"]
    actor = Actor(
        kind=ActorType.integration,
        id=ctx["client_id"],
        role=ActorRole.integration,
        label="integración bench-fomento",
        area_id=ctx["area_id"],
        scopes=frozenset({"expedientes:read", "expedientes:write"}),
    )
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(get_engine().sync_engine, "before_cursor_execute", count)
    # As the API and the worker do once start-up is over.
    from app.core.runtime import freeze_startup_heap

    freeze_startup_heap()

    async def batch(items: list[Any]) -> dict[str, int]:
        async with get_sessionmaker()() as session:
            result = await integrations.run_batch(session, actor, items)
            await session.commit()
        return result.counts

    async def itemwise(items: list[Any]) -> None:
        """The item-by-item path (what a batch falls back to), for contrast."""
        async with get_sessionmaker()() as session:
            results = await integrations._run_items(session, actor, items, None)
            await session.commit()
        assert all(r.status != "error" for r in results)

    # (a) and (b) interleaved, run by run (the machine is shared): the integration path, then
    # the same rows with one plain INSERT … ON CONFLICT through asyncpg. Run 0 is a warm-up.
    pairs_ms: list[float] = []
    upserts_ms: list[float] = []
    plain_ms: list[float] = []
    statements_per_pair_batch: list[int] = []
    statements_per_upsert_batch: list[int] = []
    conn = await asyncpg.connect(common.plain(url))
    try:
        for run in range(runs + 1):
            refs = _refs(run)
            items: list[Any] = []
            for i, ref in enumerate(refs):
                items += [_upsert_item(ref, ines[i % len(ines)], i), _event_item(ref, i)]
            statements = 0
            started = time.perf_counter()
            first = await batch(items[:BATCH])
            second = await batch(items[BATCH:])
            elapsed = (time.perf_counter() - started) * 1000
            assert first["created"] + second["created"] == BATCH, (first, second)
            assert first["placed"] + second["placed"] == BATCH, (first, second)
            if run:
                pairs_ms.append(elapsed / BATCH)
                statements_per_pair_batch.append(statements // 2)

            upsert_refs = [f"UPS/{run:03d}/{i:04d}" for i in range(BATCH)]
            upsert_items = [
                _upsert_item(r, ines[i % len(ines)], i) for i, r in enumerate(upsert_refs)
            ]
            statements = 0
            started = time.perf_counter()
            counts = await batch(upsert_items)
            elapsed = (time.perf_counter() - started) * 1000
            assert counts["created"] == BATCH, counts
            if run:
                upserts_ms.append(elapsed / BATCH)
                statements_per_upsert_batch.append(statements)

            plain_refs = [f"PLAIN/{run:03d}/{i:04d}" for i in range(BATCH)]
            args = (
                [ines[i % len(ines)] for i in range(BATCH)],
                plain_refs,
                [f"Licencia de obra número {i}" for i in range(BATCH)],
                [OPENED + timedelta(minutes=i) for i in range(BATCH)],
            )
            started = time.perf_counter()
            async with conn.transaction():
                status = await conn.execute(
                    PLAIN_UPSERT_SQL, ctx["area_id"], ctx["procedure_id"], *args
                )
            elapsed = (time.perf_counter() - started) * 1000
            assert status == f"INSERT 0 {BATCH}", status
            if run:
                plain_ms.append(elapsed / BATCH)
            print(f"  run {run}{' (warm-up)' if not run else ''}: done", flush=True)
    finally:
        await conn.close()
    # Once, after the measured runs (its thousands of statements and the vacuum they call
    # for would weigh on the runs that followed it): the same kind of batch item by item.
    item_refs = [f"ITEM/{i:04d}" for i in range(BATCH)]
    item_items: list[Any] = []
    for i, ref in enumerate(item_refs):
        item_items += [_upsert_item(ref, ines[i % len(ines)], i), _event_item(ref, i)]
    statements = 0
    started = time.perf_counter()
    await itemwise(item_items[:BATCH])
    await itemwise(item_items[BATCH:])
    itemwise_ms = (time.perf_counter() - started) * 1000 / BATCH
    itemwise_statements = statements // 2
    event.remove(get_engine().sync_engine, "before_cursor_execute", count)

    def summary(samples: list[float]) -> dict[str, Any]:
        return {
            "median_ms": round(statistics.median(samples), 4),
            "min_ms": round(min(samples), 4),
            "max_ms": round(max(samples), 4),
            "runs_ms": [round(x, 4) for x in samples],
        }

    plain = summary(plain_ms)
    results: dict[str, Any] = {
        "runs": runs,
        "batch_items": BATCH,
        "path": "app.services.integrations.run_batch called directly with an integration Actor"
        " (no HTTP), each batch of 500 items one transaction",
        "integration_upsert_plus_event_per_expediente": summary(pairs_ms)
        | {"sql_statements_per_batch": max(statements_per_pair_batch)},
        "integration_upsert_only_per_item": summary(upserts_ms)
        | {"sql_statements_per_batch": max(statements_per_upsert_batch)},
        "plain_insert_on_conflict_per_row": plain,
        "itemwise_upsert_plus_event_per_expediente": {
            "ms": round(itemwise_ms, 4),
            "sql_statements_per_batch": itemwise_statements,
        },
    }
    results["ratio_itemwise_upsert_plus_event_to_plain"] = round(
        itemwise_ms / plain["median_ms"], 1
    )
    results["ratio_upsert_plus_event_to_plain"] = round(
        statistics.median(pairs_ms) / plain["median_ms"], 1
    )
    results["ratio_per_item_of_upsert_plus_event_batches_to_plain"] = round(
        statistics.median(pairs_ms) / 2 / plain["median_ms"], 1
    )
    results["ratio_upsert_only_to_plain"] = round(
        statistics.median(upserts_ms) / plain["median_ms"], 1
    )

    if rows <= 0:
        await dispose_engine()
        if not keep:
            await common.drop_database(DB_NAME)
        print(f"\nResults: {_report_batches(results, runs)}")
        return

    # (c) 300,000 expedientes and one municipality's list. The rows written above are removed
    # first: all opened on the same day, newer than the load, they would skew the plan.
    print(f"Loading {rows:,} expedientes …", flush=True)
    started = time.perf_counter()
    conn = await asyncpg.connect(common.plain(url))
    try:
        await conn.execute("DELETE FROM expediente")
        chunk = 100_000
        for first_row in range(1, rows + 1, chunk):
            last_row = min(first_row + chunk - 1, rows)
            await conn.execute(LOAD_SQL, first_row, last_row, rows)
            print(f"  loaded {last_row:>9,} / {rows:,}", flush=True)
        await conn.execute("VACUUM ANALYZE expediente")
        total = await conn.fetchval("SELECT count(*) FROM expediente")
    finally:
        await conn.close()
    results["load_seconds"] = round(time.perf_counter() - started, 1)
    results["expedientes_total"] = total

    listings: dict[str, dict[str, Any]] = {}
    async with get_sessionmaker()() as session:
        for name, ine in LISTED.items():
            municipality_id = (
                await session.execute(
                    text("SELECT id FROM municipality WHERE ine_code = :ine"), {"ine": ine}
                )
            ).scalar_one()
            mayor = Actor(
                kind=ActorType.user,
                id=uuid.uuid4(),
                role=Role.municipal_user,
                municipality_id=municipality_id,
            )

            async def page(a: Actor = mayor) -> None:
                await expedientes.list_expedientes(
                    session, a, PageParams(limit=PAGE, cursor=None), expedientes.ListFilters()
                )

            timing = await common.timed(page)
            # EXPLAIN the very statement the service sends.
            captured: list[tuple[str, Any]] = []

            def capture(
                conn: Any, cursor: Any, statement: str, params: Any, *_: Any, sink: Any = captured
            ) -> None:
                sink.append((statement, params))

            sync_engine = session.get_bind()
            event.listen(sync_engine, "before_cursor_execute", capture)
            try:
                await page()
            finally:
                event.remove(sync_engine, "before_cursor_execute", capture)
            statement, params = captured[-1]
            explained = await session.connection()
            plan = [
                r[0]
                for r in (
                    await explained.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
                    )
                ).all()
            ]
            count = (
                await session.execute(
                    text("SELECT count(*) FROM expediente WHERE municipality_id = :m"),
                    {"m": municipality_id},
                )
            ).scalar_one()
            listings[name] = {
                "ine_code": ine,
                "expedientes": count,
                "page_1": timing,
                "uses_index": any("Index" in line for line in plan)
                and not any("Seq Scan on expediente" in line for line in plan),
                "statement": statement,
                "explain": plan,
            }
    results["municipality_listing"] = listings
    await dispose_engine()
    if not keep:
        await common.drop_database(DB_NAME)

    out = _report_batches(results, runs)
    print()
    print(f"{total:,} expedientes (load {results['load_seconds']} s)")
    for name, listing in listings.items():
        lp = listing["page_1"]
        print(
            f"\n  {name} ({listing['expedientes']:,} expedientes), first page of {PAGE} for a"
            f" municipal user: median {lp['median_ms']:.2f} ms, p95 {lp['p95_ms']:.2f} ms;"
            f" uses an index: {listing['uses_index']}"
        )
        for line in listing["explain"]:
            print("    " + line)
    print(f"\nResults: {out}")
    if not all(listing["uses_index"] for listing in listings.values()):
        raise SystemExit("a municipality's listing does not use an index")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs (after a warm-up)")
    parser.add_argument(
        "--rows", type=int, default=300_000, help="expedientes for the listing (0: no listing)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ["OAAA_DATABASE_URL"] = url
    os.environ.setdefault("OAAA_ENVIRONMENT", "test")
    common.migrate(url)  # alembic's env runs its own event loop
    asyncio.run(main_async(url, args.runs, args.rows, args.keep))


if __name__ == "__main__":
    main()
