"""Visits to the Punto de Información: the cookie-less beacon under garbage, in-person visits."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.models.base import Role
from app.services import visits
from tests import factories as f
from tests.factories import assert_problem

BEACON = "/api/v1/public/visits"


async def _counts(session):
    rows = await session.execute(text("SELECT day, page, channel, count FROM visit_daily"))
    return sorted(tuple(r) for r in rows.all())


async def test_beacon_counts_per_day_and_page_and_stores_no_address(client, session):
    for _ in range(3):
        r = await client.post(BEACON, json={"page": "calendario"})
        assert r.status_code == 204, r.text
        assert "set-cookie" not in r.headers
    # navigator.sendBeacon with a string body sends text/plain.
    r = await client.post(
        BEACON, content=b'{"page": "formacion/2026"}', headers={"content-type": "text/plain"}
    )
    assert r.status_code == 204
    today = visits.today()
    assert await _counts(session) == [
        (today, "calendario", "web", 3),
        (today, "formacion/2026", "web", 1),
    ]
    columns = (
        await session.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'visit_daily' ORDER BY column_name"
            )
        )
    ).scalars()
    assert list(columns) == ["channel", "count", "day", "page"]
    audit = (await session.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()
    assert audit == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json at all", "application/json"),
        (b"", "application/json"),
        (b"   ", "text/plain"),
        (b"[]", "application/json"),
        (b'"calendario"', "application/json"),
        (b'{"page": 12}', "application/json"),
        (b'{"page": null}', "application/json"),
        (b'{"page": ["a"]}', "application/json"),
        (b'{"page": ""}', "application/json"),
        (b'{"page": "Calendario"}', "application/json"),
        (b'{"page": "../../etc/passwd"}', "application/json"),
        (b'{"page": "<script>"}', "application/json"),
        (b'{"page": "' + b"a" * 101 + b'"}', "application/json"),
        (b'{"page": "' + b"a" * 5000 + b'"}', "application/json"),
        (b'{"page": "x", "ip": "1.2.3.4"}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b'{"page": "x"', "application/json"),
    ],
)
async def test_beacon_garbage_is_a_4xx_problem_and_counts_nothing(
    client, session, content, content_type
):
    r = await client.post(BEACON, content=content, headers={"content-type": content_type})
    try:
        json.loads(content)
        parses = True
    except ValueError:
        parses = False
    if parses or not content.strip() or b"\x00" in content:
        assert_problem(r, 422)
    else:  # text that is not JSON: the shared malformed-body problem
        assert_problem(r, 400, "malformed-json")
    assert await _counts(session) == []


async def test_beacon_wrong_content_type_and_rate_limit(client, session, monkeypatch):
    r = await client.post(BEACON, content=b"<page/>", headers={"content-type": "application/xml"})
    assert_problem(r, 415)
    monkeypatch.setattr(visits, "BEACON_LIMIT", 2)
    for _ in range(2):
        assert (await client.post(BEACON, json={"page": "inicio"})).status_code == 204
    blocked = assert_problem(await client.post(BEACON, json={"page": "inicio"}), 429)
    assert blocked["code"] == "too-many-requests"
    assert await _counts(session) == [(visits.today(), "inicio", "web", 2)]
    # The limiter's key holds a digest, never the address.
    from app.core.redis import get_redis

    keys = [k async for k in get_redis().scan_iter(match="*visit-beacon*")]
    assert keys
    assert all("127.0.0.1" not in k and "testclient" not in k for k in keys)


async def test_in_person_visits_and_report(client, session):
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    area = await f.area(session, "fomento")
    staff = await f.auth_headers(client, await f.user(session, Role.area_staff, area_id=area.id))
    body = {"day": "2026-11-20", "count": 4}
    assert_problem(await client.post("/api/v1/visits/in-person", json=body, headers=staff), 403)
    r = await client.post("/api/v1/visits/in-person", json=body, headers=office)
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/visits/in-person", json=body | {"count": 3}, headers=office)
    assert r.json() == {"day": "2026-11-20", "page": "oficina", "channel": "in_person", "count": 7}
    assert_problem(
        await client.post(
            "/api/v1/visits/in-person", json={"day": "2999-01-01", "count": 1}, headers=office
        ),
        422,
    )
    await client.post(BEACON, json={"page": "calendario"})
    report = await client.get(
        "/api/v1/visits",
        params={"from": "2026-11-01", "to": visits.today().isoformat()},
        headers=office,
    )
    assert report.status_code == 200, report.text
    data = report.json()
    assert data["totals"] == {"web": 1, "in_person": 7, "all": 8}
    only = await client.get(
        "/api/v1/visits",
        params={"from": "2026-11-01", "to": visits.today().isoformat(), "channel": "in_person"},
        headers=office,
    )
    assert [i["count"] for i in only.json()["items"]] == [7]
    assert_problem(await client.get("/api/v1/visits", headers=staff), 403)
    assert_problem(
        await client.get("/api/v1/visits", params={"channel": "fax"}, headers=office), 422
    )
