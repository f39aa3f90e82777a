"""SLA scan cost against the size of the backlog.

Loads 10,000 open consultations, of which 100 are due, and times the worker's scan (the real
`refresh_sla_states`: one indexed query, state changes and the notification outbox) over those
100; then grows the backlog to 1,000,000 open consultations, still 100 due, and times it again.
The scan must stay within twice its 10,000-row time.

    ./scripts/bench sla-scan            # or: python -m bench.sla_scan --small 10000 --large 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bench import common
from bench.consultations_list import LOAD_SQL

DB_NAME = "oaaa_bench_sla_scan"
DUE = 100
REPEAT = 7

PREPARE_SQL = """
UPDATE consultation SET
    status = CASE WHEN status IN ('answered', 'closed', 'waiting_on_municipality')
                  THEN 'in_progress' ELSE status END,
    sla_state = 'on_track',
    sla_started_at = now() - interval '1 day',
    first_response_due_at = now() + interval '20 days',
    resolution_due_at = now() + interval '40 days',
    sla_next_check_at = now() + interval '5 days' + (random() * interval '5 days'),
    answered_at = NULL, closed_at = NULL, paused_at = NULL
WHERE reference > $1
"""

MAKE_DUE_SQL = """
WITH due AS (SELECT id FROM consultation ORDER BY reference LIMIT $1)
UPDATE consultation c SET
    sla_state = 'on_track', sla_breached_at = NULL,
    first_response_due_at = now() - interval '1 minute',
    sla_next_check_at = now() - interval '1 minute'
FROM due WHERE c.id = due.id
"""


async def _load(url: str, first: int, last: int, total: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(common.plain(url))
    try:
        chunk = 100_000
        for start in range(first, last + 1, chunk):
            end = min(start + chunk - 1, last)
            await conn.execute(LOAD_SQL, start, end, total)
            print(f"  loaded {end:>9,}", flush=True)
        await conn.execute(PREPARE_SQL, f"OAAA-B-{first - 1:09d}")
        await conn.execute("VACUUM ANALYZE consultation")
    finally:
        await conn.close()


async def _scan_times(url: str) -> dict[str, Any]:
    import asyncpg

    from app.core.db import get_sessionmaker
    from app.services.sla import scan as sla_scan

    samples: list[float] = []
    plan: list[str] = []
    for _ in range(REPEAT):
        conn = await asyncpg.connect(common.plain(url))
        try:
            await conn.execute("TRUNCATE notification_event CASCADE")
            await conn.execute(MAKE_DUE_SQL, DUE)
            if not plan:
                plan = [
                    r[0]
                    for r in await conn.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM consultation"
                        " WHERE sla_next_check_at <= now() ORDER BY sla_next_check_at"
                        " LIMIT 500 FOR UPDATE SKIP LOCKED"
                    )
                ]
        finally:
            await conn.close()
        started = time.perf_counter()
        async with get_sessionmaker()() as session:
            scan = await sla_scan.refresh_sla_states(session)
            await session.commit()
        samples.append((time.perf_counter() - started) * 1000)
        assert scan.processed == DUE, scan.processed
        assert len(scan.emitted) == DUE
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "explain": plan,
    }


async def main_async(url: str, small: int, large: int) -> None:
    from app.core.config import get_settings

    get_settings.cache_clear()
    import asyncpg

    from app.core.db import dispose_engine

    conn = await asyncpg.connect(common.plain(url))
    try:  # the office staff who receive the in-app notifications
        await conn.execute(
            "INSERT INTO user_account (id, email, full_name, role, password_hash, is_active,"
            " created_at, updated_at) SELECT gen_random_uuid(), 'gestor' || g || '@bench.local',"
            " 'Gestor ' || g, 'oaaa_staff', 'x', true, now(), now() FROM generate_series(1, 5) g"
        )
        await conn.execute(
            "INSERT INTO area (id, code, name, is_active, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'area-' || g, 'Área ' || g, true, now(), now()"
            " FROM generate_series(1, 7) g"
        )
    finally:
        await conn.close()
    print(f"Loading {small:,} open consultations …")
    await _load(url, 1, small, large)
    small_result = await _scan_times(url)
    print(f"Growing to {large:,} …")
    await _load(url, small + 1, large, large)
    large_result = await _scan_times(url)
    await dispose_engine()
    await common.drop_database(DB_NAME)

    ratio = round(large_result["median_ms"] / small_result["median_ms"], 2)
    results = {
        "due": DUE,
        f"open_{small}": small_result,
        f"open_{large}": large_result,
        "ratio_large_to_small": ratio,
        "within_twice": ratio <= 2.0,
    }
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"sla_scan-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print()
    print(f"scan of {DUE} due consultations (state change + outbox with in-app notifications)")
    print(f"  {small:>9,} open: median {small_result['median_ms']:8.2f} ms")
    print(f"  {large:>9,} open: median {large_result['median_ms']:8.2f} ms")
    print(f"  ratio {ratio} ({'within' if ratio <= 2 else 'NOT within'} twice)")
    print("  EXPLAIN of the scan query with the large backlog:")
    for line in large_result["explain"]:
        print("    " + line)
    print(f"\nResults: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ["OAAA_DATABASE_URL"] = url
    os.environ.setdefault("OAAA_ENVIRONMENT", "test")
    common.migrate(url)
    asyncio.run(main_async(url, args.small, args.large))


if __name__ == "__main__":
    main()
