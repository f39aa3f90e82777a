"""The consultation lists over HTTP: the application against the bare baseline (see
`bench/consultations_list.py`)."""

from __future__ import annotations

import pickle
import uuid
from typing import Any

from bench import common, load
from bench.api import Person, person, server_env

__all__ = ["http_comparison", "print_http", "server_env"]

LIMIT = 50


async def _elm(session: Any, badajoz: uuid.UUID) -> uuid.UUID:
    """An ELM with a few dozen consultations of its own, copied from the province's newest."""
    from sqlalchemy import text

    from app.models.municipality import Municipality

    elm = Municipality(name="ELM de prueba", kind="elm", parent_id=badajoz)
    session.add(elm)
    await session.commit()
    await session.execute(
        text(
            "INSERT INTO consultation (id, reference, access_code_hash, municipality_id, area_id,"
            " channel, priority, status, subject, body, received_at, sla_started_at,"
            " first_response_due_at, resolution_due_at, sla_state, paused_working_days,"
            " paused_working_seconds, version, created_at, updated_at, sla_policy_id)"
            " SELECT gen_random_uuid(), 'OAAA-E-' || lpad(n::text, 9, '0'), access_code_hash,"
            " :elm, area_id, channel, priority, status, subject, body, received_at,"
            " sla_started_at, first_response_due_at, resolution_due_at, sla_state,"
            " paused_working_days, paused_working_seconds, version, created_at, updated_at,"
            " sla_policy_id FROM (SELECT *, row_number() OVER () AS n FROM consultation"
            " ORDER BY received_at DESC LIMIT 60) c"
        ),
        {"elm": elm.id},
    )
    await session.commit()
    await session.execute(text("ANALYZE consultation"))
    await session.commit()
    return elm.id


async def _capture(sessionmaker: Any, who: Person, query: dict[str, Any]) -> list[tuple[str, Any]]:
    """The SQL statements the application sends for this caller and list once it is warm:
    what `search.list_consultations` sends (the caller's row is remembered by `core.callers`
    between requests, so a request reads it only once every `OAAA_CALLER_CACHE_SECONDS`)."""
    from sqlalchemy import event

    from app.core.pagination import PageParams
    from app.core.scoping import Actor
    from app.models.user import User
    from app.services.consultations import search

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, tuple(params or ())))

    async with sessionmaker() as session:
        engine = session.get_bind()
        user = await session.get(User, who.id)
        actor = Actor.for_user(user)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            filters = search.ListFilters(open_only=query.get("open_only") == "true")
            await search.list_consultations(
                session,
                actor,
                PageParams(limit=LIMIT, cursor=None),
                filters,
                query.get("sort", "-received_at"),
            )
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    return captured


async def http_comparison(
    url: str, concurrency: int, seconds: float, rounds: int
) -> dict[str, Any]:
    from sqlalchemy import text

    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.core.db import get_sessionmaker

    sessionmaker = get_sessionmaker()
    async with sessionmaker() as session:
        badajoz = (
            await session.execute(text("SELECT id FROM municipality WHERE ine_code = '06015'"))
        ).scalar_one()
        elm = await _elm(session, badajoz)
        mayor = await person(session, "municipal_user", badajoz)
        elm_user = await person(session, "municipal_user", elm)
        office = await person(session, "oaaa_staff")
    cases: dict[str, tuple[Person, dict[str, str]]] = {
        "municipal_default": (mayor, {}),
        "elm_default": (elm_user, {}),
        "triage_open_only": (office, {"sort": "resolution_due_at", "open_only": "true"}),
        "triage_all": (office, {"sort": "resolution_due_at"}),
    }
    bare_cases: dict[str, Any] = {}
    plans: dict[str, list[str]] = {}
    for name, (who, query) in cases.items():
        statements = await _capture(sessionmaker, who, query)
        bare_cases[name] = (statements, LIMIT)
        sql, params = statements[-1]
        async with sessionmaker() as session:
            conn = await session.connection()
            plans[name] = [
                r[0]
                for r in (
                    await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                ).all()
            ]
    cases_file = common.RESULTS / "bare-cases.pickle"
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    cases_file.write_bytes(pickle.dumps(bare_cases))
    env = server_env(url) | {"OAAA_BENCH_BARE_CASES": str(cases_file)}

    out: dict[str, Any] = {"concurrency": concurrency, "round_seconds": seconds, "rounds": rounds}
    with load.server("api", env) as api_port, load.server("bare", env) as bare_port:
        for name, (who, query) in cases.items():
            qs = "&".join(f"{k}={v}" for k, v in ({"limit": str(LIMIT)} | query).items())
            api_req = load.request_bytes("GET", f"/api/v1/consultations?{qs}", who.headers)
            bare_req = load.request_bytes("GET", f"/bare/list/{name}")
            # Same rows on both sides.
            api_page = await load.get_json(api_port, f"/api/v1/consultations?{qs}", who.headers)
            bare_page = await load.get_json(bare_port, f"/bare/list/{name}")
            same = [i["id"] for i in api_page["items"]] == [
                str(i["id"]) for i in bare_page["items"]
            ]
            assert same, f"{name}: the two servers answered different rows"
            for port, req in ((api_port, api_req), (bare_port, bare_req)):  # warm-up
                await load.run_load(port, lambda _n, r=req: r, concurrency=concurrency, seconds=1)
            api, bare = load.Result(), load.Result()
            for _ in range(rounds):
                api.merge(
                    await load.run_load(
                        api_port, lambda _n, r=api_req: r, concurrency=concurrency, seconds=seconds
                    )
                )
                bare.merge(
                    await load.run_load(
                        bare_port,
                        lambda _n, r=bare_req: r,
                        concurrency=concurrency,
                        seconds=seconds,
                    )
                )
            a, b = api.summary(), bare.summary()
            out[name] = {
                "rows": len(api_page["items"]),
                "sql_statements": len(bare_cases[name][0]),
                "api": a,
                "bare": b,
                "throughput_ratio": round(a["rps"] / b["rps"], 2) if b["rps"] else None,
                "p99_ratio": round(a["p99_ms"] / b["p99_ms"], 2) if b["p99_ms"] else None,
                "explain": plans[name],
                "index_backed": not any("Seq Scan" in line for line in plans[name]),
            }
    cases_file.unlink(missing_ok=True)
    return out


def print_http(r: dict[str, Any], concurrency: int) -> None:
    print(
        f"\nHTTP, first page (limit {LIMIT}), {concurrency} connections, "
        f"{r['rounds']} alternating rounds of {r['round_seconds']} s"
    )
    print(
        f"  {'case':<20} {'rows':>4} {'sql':>3}  {'api req/s':>9} {'bare req/s':>10} "
        f"{'ratio':>5}   {'api p99':>8} {'bare p99':>8} {'ratio':>5}  index"
    )
    for name, c in r.items():
        if not isinstance(c, dict):
            continue
        a, b = c["api"], c["bare"]
        print(
            f"  {name:<20} {c['rows']:>4} {c['sql_statements']:>3}  {a['rps']:>9.1f} "
            f"{b['rps']:>10.1f} {c['throughput_ratio']:>5}   {a['p99_ms']:>6.1f}ms "
            f"{b['p99_ms']:>6.1f}ms {c['p99_ratio']:>5}  {'yes' if c['index_backed'] else 'NO'}"
        )
        if a["errors"] or b["errors"]:
            print(f"    errors: api {a['statuses']} bare {b['statuses']}")
    for name, c in r.items():
        if isinstance(c, dict):
            print(f"\n  EXPLAIN {name}:")
            for line in c["explain"]:
                print("    " + line)
