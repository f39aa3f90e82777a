"""Listing consultations at scale, and through HTTP against the bare database limit.

Loads N consultations (default 1,000,000) spread over the 165 municipalities in proportion to
their population, about a third of them open, into a database built by the real migrations;
then, through the application's own service code, measures page 1 and page 1,000 of

  * a municipality's open consultations (Badajoz, the largest), newest first, and
  * the office's triage queue: open consultations by nearest resolution due date,

with keyset cursors, and prints the `EXPLAIN (ANALYZE, BUFFERS)` of the page-1,000 query to show
the index it uses. OFFSET pagination of the same page is measured alongside for contrast.

Then, over HTTP, the application served by uvicorn (one process) against a bare Starlette +
asyncpg app (`bench/bare.py`, same uvicorn settings) that runs the identical SQL statements —
captured from the application's own code for each case: the page (the caller's row is
remembered between requests, `app/core/callers.py`) — and
writes the rows as JSON. Both answer the first page (limit 50) to the same number of keep-alive
connections (`--concurrency`, default 10), in rounds that alternate subject and baseline so that
other load on the machine weighs on both alike. For every list the web application opens:

  * a municipality's default list (every status, newest first; Badajoz, the largest),
  * an ELM's default list (a few dozen rows among the province's),
  * the triage queue with `open_only` and without it (the office, nearest due date first),

it prints throughput, p50/p99 latency, the ratios (targets: ≥ 0.6× the bare throughput, p99
≤ 2× bare) and the `EXPLAIN (ANALYZE, BUFFERS)` of the page statement.

    ./scripts/bench consultations            # or: python -m bench.consultations_list --rows N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench import common
from bench import http_lists as http_bench
from bench.api import forget_redis_keys
from bench.http_lists import http_comparison, print_http

DB_NAME = "oaaa_bench_consultations"
PAGE = 50

LOAD_SQL = (
    common.ROWS_BY_POPULATION
    + """INSERT INTO consultation (
    id, reference, access_code_hash, municipality_id, area_id, channel, priority, status, subject,
    body,
    received_at, sla_started_at, first_response_due_at, resolution_due_at, sla_state,
    paused_working_days, paused_working_seconds, version, created_at, updated_at, sla_policy_id
)
SELECT gen_random_uuid(),
       'OAAA-B-' || lpad(s.g::text, 9, '0'),
       'x',
       m.id,
       CASE WHEN st.status = 'forwarded' THEN a.ids[1 + (s.r * 1000)::int % array_length(a.ids, 1)]
            END,
       (ARRAY['web','phone','email','in_person','video_call'])[1 + (s.r2 * 5)::int % 5],
       (ARRAY['low','normal','normal','normal','high','urgent'])[1 + (s.r3 * 6)::int % 6],
       st.status,
       'Consulta ' || s.g,
       'Texto de la consulta número ' || s.g,
       ts.received, ts.received,
       ts.received + interval '2 days', ts.received + interval '14 days',
       CASE WHEN s.r2 < 0.33 THEN 'on_track' ELSE 'met' END,
       0, 0, 1, ts.received, ts.received, (SELECT id FROM sla_policy WHERE is_default)
FROM s
JOIN tot ON true
JOIN m ON s.r * tot.total >= m.lo AND s.r * tot.total < m.hi
CROSS JOIN (SELECT array_agg(id) AS ids FROM area) a
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.r2 < 0.33 THEN
        (ARRAY['received','in_progress','forwarded','waiting_on_municipality'])[1 + (s.r3 * 4)::int % 4]
        ELSE (ARRAY['answered','closed','closed'])[1 + (s.r3 * 3)::int % 3] END AS status
) st
CROSS JOIN LATERAL (
    SELECT timestamptz '2024-01-01' + (s.g::float8 / $3::float8) * interval '1060 days'
           + (s.r3 * interval '6 hours') AS received
) ts
"""
)


async def load(url: str, rows: int) -> float:
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(common.plain(url))
    try:
        await conn.execute(
            "INSERT INTO area (id, code, name, is_active, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'area-' || g, 'Área ' || g, true, now(), now()"
            " FROM generate_series(1, 7) g"
        )
        chunk = 100_000
        for first in range(1, rows + 1, chunk):
            last = min(first + chunk - 1, rows)
            await conn.execute(LOAD_SQL, first, last, rows)
            print(f"  loaded {last:>9,} / {rows:,}", flush=True)
        await conn.execute("VACUUM ANALYZE consultation")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def main_async(
    url: str,
    rows: int,
    keep: bool,
    target_page: int,
    concurrency: int = 10,
    seconds: float = 4.0,
    rounds: int = 3,
) -> None:
    print(f"Loading {rows:,} consultations into {DB_NAME} …")
    load_seconds = await load(url, rows)

    from sqlalchemy import event, text

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import dispose_engine, get_sessionmaker
    from app.core.pagination import PageParams
    from app.core.scoping import Actor
    from app.models.audit import ActorType
    from app.models.base import Role
    from app.services.consultations import search

    results: dict[str, Any] = {
        "rows": rows,
        "page_size": PAGE,
        "deep_page": target_page,
        "load_seconds": round(load_seconds, 1),
    }
    async with get_sessionmaker()() as session:
        badajoz = (
            await session.execute(text("SELECT id FROM municipality WHERE ine_code = '06015'"))
        ).scalar_one()
        counts = (
            await session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status <> 'closed'),"
                    " count(*) FILTER (WHERE status <> 'closed' AND municipality_id = :m)"
                    " FROM consultation"
                ),
                {"m": badajoz},
            )
        ).one()
        results["open_total"], results["open_badajoz"] = counts
        mayor = Actor(
            kind=ActorType.user, id=uuid.uuid4(), role=Role.municipal_user, municipality_id=badajoz
        )
        office = Actor(kind=ActorType.user, id=uuid.uuid4(), role=Role.oaaa_staff)
        cases = {
            "municipality_open_newest_first": (
                mayor, search.ListFilters(open_only=True), "-received_at",
            ),
            "office_triage_nearest_due": (
                office, search.ListFilters(open_only=True), "resolution_due_at",
            ),
        }  # fmt: skip
        for name, (actor, filters, sort) in cases.items():
            cursor = None
            for _ in range(target_page - 1):
                _, cursor = await search.list_consultations(
                    session, actor, PageParams(limit=PAGE, cursor=cursor), filters, sort
                )
                assert cursor, "not enough rows for the target page"
            deep_cursor = cursor

            async def page(c: str | None, a: Any = actor, f: Any = filters, s: str = sort) -> None:
                await search.list_consultations(session, a, PageParams(limit=PAGE, cursor=c), f, s)

            first = await common.timed(lambda: page(None))
            thousandth = await common.timed(lambda c=deep_cursor: page(c))
            where = (
                "municipality_id = :m AND status <> 'closed'"
                if actor is mayor
                else "status <> 'closed' AND resolution_due_at IS NOT NULL"
            )
            order = (
                "received_at DESC, id DESC" if sort == "-received_at" else "resolution_due_at, id"
            )
            offset_sql = text(
                f"SELECT * FROM consultation WHERE {where} ORDER BY {order}"
                f" LIMIT {PAGE} OFFSET {(target_page - 1) * PAGE}"
            )

            async def offset_page(sql: Any = offset_sql) -> None:
                await session.execute(sql, {"m": badajoz})

            offset = await common.timed(offset_page, repeat=5)
            # EXPLAIN the very statement the service sends for the deep page.
            captured: list[tuple[str, Any]] = []

            def capture(
                conn: Any, cursor: Any, statement: str, params: Any, *_: Any, sink: Any = captured
            ) -> None:
                sink.append((statement, params))

            sync_engine = session.get_bind()
            event.listen(sync_engine, "before_cursor_execute", capture)
            try:
                await page(deep_cursor)
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
            results[name] = {
                "page_1": first,
                "page_n": thousandth,
                "offset_page_n": offset,
                "ratio_page_n_to_page_1": round(thousandth["median_ms"] / first["median_ms"], 2),
                "explain_page_n": plan,
            }
    await dispose_engine()
    results["http"] = await http_comparison(url, concurrency, seconds, rounds)
    await dispose_engine()
    await forget_redis_keys()
    if not keep:
        await common.drop_database(DB_NAME)

    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"consultations_list-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(f"{rows:,} consultations; open: {results['open_total']:,}; "
          f"open in Badajoz: {results['open_badajoz']:,} (load {results['load_seconds']} s)")  # fmt: skip
    for name in ("municipality_open_newest_first", "office_triage_nearest_due"):
        r = results[name]
        print(f"\n{name}  (limit {PAGE})")
        print(
            f"  keyset page 1:     median {r['page_1']['median_ms']:8.2f} ms  p95 {r['page_1']['p95_ms']:8.2f} ms"
        )
        print(
            f"  keyset page {target_page}:  median {r['page_n']['median_ms']:8.2f} ms  p95 {r['page_n']['p95_ms']:8.2f} ms"
        )
        print(
            f"  OFFSET page {target_page}:  median {r['offset_page_n']['median_ms']:8.2f} ms  (for contrast)"
        )
        print(f"  page {target_page} / page 1: {r['ratio_page_n_to_page_1']}")
        print(f"  EXPLAIN page {target_page}:")
        for line in r["explain_page_n"]:
            print("    " + line)
    print_http(results["http"], concurrency)
    print(f"\nResults: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--page", type=int, default=1000, help="the deep page compared with page 1")
    parser.add_argument("--concurrency", type=int, default=10, help="HTTP connections")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one HTTP round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    args = parser.parse_args()
    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ.update(http_bench.server_env(url))
    common.migrate(url)  # alembic's env runs its own event loop
    asyncio.run(
        main_async(
            url, args.rows, args.keep, args.page, args.concurrency, args.seconds, args.rounds
        )
    )


if __name__ == "__main__":
    main()
