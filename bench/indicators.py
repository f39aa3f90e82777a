"""The whole indicator catalogue for a year at province scale.

Loads a year (2025) of realistic activity with set-based SQL into a database built by the real
migrations — 200,000 consultations spread over the 165 municipalities by population (a third
forwarded to one of seven áreas, with their forwarding events), 20,000 satisfaction answers,
250 training actions with 5,000 attendances by 3,000 people, and about 1,000,000 visits as daily
counts per page and channel — then measures, through the application's own service code, the
whole catalogue for the year disaggregated by municipality (by its default disaggregation where
an indicator has no municipality breakdown), against the same statements sent as one plain SQL
statement in the same run (the ratio of the two is the figure to watch), and against the live
definitions without the worker's monthly aggregates, as one plain SQL statement too.

    ./scripts/bench indicators            # or: python -m bench.indicators [--keep]
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

DB_NAME = "oaaa_bench_indicators"
YEAR = 2025
CONSULTATIONS = 200_000
ATTENDANCES = 5_000
PEOPLE = 3_000
TRAININGS = 250
SURVEYS = 20_000

CONSULTATIONS_SQL = (
    common.ROWS_BY_POPULATION
    + """INSERT INTO consultation (
    id, reference, access_code_hash, municipality_id, area_id, channel, priority, status, subject,
    body, received_at, sla_started_at, first_responded_at, answered_at, sla_state,
    paused_working_days, paused_working_seconds, version, created_at, updated_at
)
SELECT gen_random_uuid(), 'OAAA-I-' || lpad(s.g::text, 9, '0'), 'x', m.id,
       CASE WHEN s.r2 < 0.33 THEN a.ids[1 + (s.r3 * 1000)::int % 7] END,
       (ARRAY['web','phone','email','in_person','video_call','assistant'])[1 + (s.r2 * 600)::int % 6],
       'normal',
       CASE WHEN s.r3 < 0.7 THEN 'answered' WHEN s.r2 < 0.33 THEN 'forwarded' ELSE 'received' END,
       'Consulta ' || s.g, 'Texto',
       ts.received, ts.received,
       CASE WHEN s.r3 < 0.7 THEN ts.received + (s.r * interval '10 days') END,
       CASE WHEN s.r3 < 0.7 THEN ts.received + (s.r * interval '20 days') END,
       CASE WHEN s.r3 < 0.6 THEN 'met' WHEN s.r3 < 0.7 THEN 'breached' ELSE 'on_track' END,
       0, 0, 1, ts.received, ts.received
FROM s
JOIN tot ON true
JOIN m ON s.r * tot.total >= m.lo AND s.r * tot.total < m.hi
CROSS JOIN (SELECT array_agg(id ORDER BY code) AS ids FROM area) a
CROSS JOIN LATERAL (
    SELECT timestamptz '2025-01-01 08:00+01' + ((s.g - 1)::float8 / $3::float8) * interval '364 days'
           + (s.r3 * interval '6 hours') AS received
) ts
"""
)

REST_SQL = [
    # Forwarding events of the forwarded consultations, a day after reception.
    """
    INSERT INTO consultation_event (consultation_id, occurred_at, actor_type, kind, from_status,
                                    to_status, is_public, data)
    SELECT id, received_at + interval '1 day', 'user', 'forwarded', 'in_progress', 'forwarded',
           true, '{}'::jsonb
    FROM consultation WHERE area_id IS NOT NULL
    """,
    f"""
    INSERT INTO satisfaction_survey (id, consultation_id, municipality_id, area_id, attention,
                                     process, resolution, via_link, answered_at)
    SELECT gen_random_uuid(), id, municipality_id, area_id, 1 + (random() * 4)::int,
           1 + (random() * 4)::int, 1 + (random() * 4)::int, false,
           answered_at + interval '1 day'
    FROM consultation WHERE answered_at IS NOT NULL AND answered_at < timestamptz '2025-12-30'
    ORDER BY reference LIMIT {SURVEYS}
    """,
    """
    INSERT INTO integration_client (id, client_id, name, secret_hash, area_id, scopes, is_active,
                                    created_at)
    SELECT gen_random_uuid(), 'bench-' || code, 'Sistema ' || name, 'x', id, '{}', true,
           timestamptz '2024-06-01'
    FROM area ORDER BY code LIMIT 3
    """,
    f"""
    INSERT INTO training_action (id, title, audience, modality, hours, area_id, starts_on,
                                 created_at, updated_at)
    SELECT gen_random_uuid(), 'Formación ' || g, 'Personal municipal',
           (ARRAY['in_person','online','hybrid'])[1 + g % 3], 2, a.ids[1 + g % 7],
           date '2025-01-07' + (g * 350 / {TRAININGS}), now(), now()
    FROM generate_series(1, {TRAININGS}) g CROSS JOIN (SELECT array_agg(id) AS ids FROM area) a
    """,
    """
    INSERT INTO training_session (id, training_id, starts_at, ends_at)
    SELECT gen_random_uuid(), t.id, (t.starts_on + k) + time '09:00', (t.starts_on + k) + time '12:00'
    FROM training_action t CROSS JOIN generate_series(0, 1) k
    """,
    f"""
    WITH t AS (SELECT array_agg(id) AS ids FROM training_action),
         m AS (SELECT array_agg(id ORDER BY ine_code) AS ids FROM municipality)
    INSERT INTO training_attendance (id, training_id, municipality_id, role, attended_hours, name,
                                     created_at)
    SELECT gen_random_uuid(), t.ids[1 + (g * 7919) % {TRAININGS}],
           m.ids[1 + ((g % {PEOPLE}) * 31) % array_length(m.ids, 1)], 'Secretaría', 2,
           'Persona ' || (g % {PEOPLE}), now()
    FROM generate_series(1, {ATTENDANCES}) g CROSS JOIN t CROSS JOIN m
    """,
    # About 1,000,000 visits: 25 web pages and the office counter, every day of the year.
    """
    INSERT INTO visit_daily (day, page, channel, count)
    SELECT d::date, 'pagina-' || p, 'web', 104
    FROM generate_series(date '2025-01-01', date '2025-12-31', interval '1 day') d,
         generate_series(1, 25) p
    """,
    """
    INSERT INTO visit_daily (day, page, channel, count)
    SELECT d::date, 'oficina', 'in_person', 139
    FROM generate_series(date '2025-01-01', date '2025-12-31', interval '1 day') d
    """,
]


async def load(url: str) -> float:
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
        for first in range(1, CONSULTATIONS + 1, chunk):
            last = min(first + chunk - 1, CONSULTATIONS)
            await conn.execute(CONSULTATIONS_SQL, first, last, CONSULTATIONS)
        for sql in REST_SQL:
            await conn.execute(sql)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def main_async(keep: bool, repeat: int) -> None:
    print(f"Loading a year of activity into {DB_NAME} …", flush=True)
    load_seconds = await load(os.environ["OAAA_DATABASE_URL"])

    from sqlalchemy import text

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import dispose_engine, get_sessionmaker
    from app.core.scoping import Actor
    from app.models.audit import ActorType
    from app.models.base import Role
    from app.services.indicators import periods
    from app.services.indicators import service as indicators
    from app.services.indicators.catalogue import CATALOGUE, Dimension
    from app.services.indicators.computation import load_references, query_for, uses_rollup
    from app.services.indicators.refresh import refresh

    office = Actor(kind=ActorType.user, id=uuid.uuid4(), role=Role.oaaa_staff)
    period = periods.year(YEAR)

    def dimension(ind: Any) -> Dimension | None:
        if Dimension.municipality in ind.dimensions:
            return Dimension.municipality
        return ind.default_dimension  # type: ignore[no-any-return]

    def one_statement(rollup: bool) -> Any:
        return text(
            " UNION ALL ".join(
                f"SELECT '{ind.id}' AS indicator, to_jsonb(q) AS row FROM"
                f" ({query_for(ind, dimension(ind), rollup and uses_rollup(ind, period))}) q"
                for ind in CATALOGUE
            )
        )

    live_sql, same_sql = one_statement(False), one_statement(True)
    results: dict[str, Any] = {"year": YEAR, "load_seconds": round(load_seconds, 1)}
    async with get_sessionmaker()() as session:
        counts = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM consultation),"
                    " (SELECT count(*) FROM training_attendance),"
                    " (SELECT sum(count) FROM visit_daily),"
                    " (SELECT count(*) FROM satisfaction_survey),"
                    " (SELECT count(*) FROM consultation_event)"
                )
            )
        ).one()
        results["data"] = dict(
            zip(
                ("consultations", "attendances", "visits", "surveys", "events"),
                (int(c) for c in counts),
                strict=True,
            )
        )
        started = time.perf_counter()
        await refresh(session)
        await session.commit()
        results["refresh_seconds"] = round(time.perf_counter() - started, 2)
        rows_out: dict[str, int] = {}

        async def catalogue() -> None:
            refs = await load_references(session)
            for ind in CATALOGUE:
                dim = dimension(ind)
                body = await indicators.data(
                    session, office, ind, period, [dim] if dim else [], refs
                )
                rows_out[ind.id] = len(body.rows)

        async def same() -> None:
            (await session.execute(same_sql, period.params())).all()

        async def live() -> None:
            (await session.execute(live_sql, period.params())).all()

        service_t = await common.timed(catalogue, repeat=repeat)
        plain_t = await common.timed(same, repeat=repeat)
        live_t = await common.timed(live, repeat=max(3, repeat // 3))
        per_indicator = {}
        for ind in CATALOGUE:
            sql = text(query_for(ind, dimension(ind), uses_rollup(ind, period)))

            async def one(s: Any = sql) -> None:
                (await session.execute(s, period.params())).all()

            per_indicator[ind.id] = (await common.timed(one, repeat=5))["median_ms"]
        results.update(
            service=service_t,
            plain_sql=plain_t,
            live_sql=live_t,
            ratio=round(service_t["median_ms"] / plain_t["median_ms"], 2),
            ratio_to_live=round(service_t["median_ms"] / live_t["median_ms"], 3),
            rows=rows_out,
            per_indicator_median_ms=per_indicator,
        )
    await dispose_engine()
    if not keep:
        await common.drop_database(DB_NAME)

    common.RESULTS.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS / f"indicators-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    d = results["data"]
    print(
        f"\n{d['consultations']:,} consultations, {d['attendances']:,} training attendances,"
        f" {d['visits']:,} visits, {d['surveys']:,} survey answers (load {load_seconds:.1f} s)"
    )
    print(
        f"\nWhole catalogue for {YEAR}, by municipality (7 indicators, {sum(rows_out.values())} rows):"
    )
    print(
        f"  service:    median {service_t['median_ms']:8.2f} ms  p95 {service_t['p95_ms']:8.2f} ms"
    )
    print(
        f"  the same statements as one plain SQL statement:  median {plain_t['median_ms']:8.2f} ms  p95 {plain_t['p95_ms']:8.2f} ms"
    )
    print(f"  ratio service / plain SQL: {results['ratio']}")
    print(
        f"  the live definitions (no aggregates) as one plain SQL statement:  median {live_t['median_ms']:8.2f} ms  p95 {live_t['p95_ms']:8.2f} ms"
    )
    print(f"  ratio service / live SQL: {results['ratio_to_live']}")
    print(f"  refreshing the monthly aggregates: {results['refresh_seconds']} s")
    for name, ms in per_indicator.items():
        print(f"    {name:28s} {ms:8.2f} ms")
    print(f"\nResults: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    url = asyncio.run(common.recreate_database(DB_NAME))
    os.environ["OAAA_DATABASE_URL"] = url
    os.environ.setdefault("OAAA_ENVIRONMENT", "test")
    common.migrate(url)
    asyncio.run(main_async(args.keep, args.repeat))


if __name__ == "__main__":
    main()
