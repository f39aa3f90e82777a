"""Concurrent writes serialise: one If-Match wins, one transition from a state wins."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.models.base import Role
from tests import factories as f

URL = "/api/v1/consultations"

# Each request runs in its own transaction on the app's engine, as in production.
pytestmark = pytest.mark.committed


async def _world(client: Any, session: Any) -> tuple[dict[str, Any], list[Any], str]:
    alm = await f.municipality(session, "06011")
    areas = [await f.area(session, code) for code in ("fomento", "cultura", "deportes", "agua")]
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    mayor = await f.auth_headers(
        client, await f.user(session, Role.municipal_user, municipality_id=alm.id)
    )
    r = await client.post(URL, json={"subject": "Camino", "body": "¿Cómo?"}, headers=mayor)
    assert r.status_code == 201, r.text
    return {"office": office, "mayor": mayor}, areas, r.json()["id"]


async def test_one_of_many_writes_with_the_same_etag_wins(client, session):
    h, _, cid = await _world(client, session)
    etag = (await client.get(f"{URL}/{cid}", headers=h["office"])).headers["etag"]
    office = h["office"] | {"If-Match": etag}
    # Every write changes something (the consultation is "normal"): a no-op would not count.
    priorities = ["low", "high", "urgent", "low"] * 5
    codes = await f.concurrently(
        [("PATCH", f"{URL}/{cid}", {"priority": p}, office) for p in priorities]
    )
    assert sorted(codes) == [200] + [412] * 19
    updates = (
        await session.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'consultation.update'"
                " AND entity_id = :c"
            ),
            {"c": cid},
        )
    ).scalar_one()
    assert updates == 1


async def test_one_of_many_transitions_from_a_state_wins(client, session):
    h, _, cid = await _world(client, session)
    codes = await f.concurrently(
        [("POST", f"{URL}/{cid}/transitions", {"to": "in_progress"}, h["office"])] * 10
    )
    assert sorted(codes) == [200] + [409] * 9
    history = (await client.get(f"{URL}/{cid}/history", headers=h["office"])).json()["items"]
    assert [e["to_status"] for e in history if e["kind"] == "status_changed"] == ["in_progress"]


async def test_one_of_many_forwards_wins(client, session):
    h, areas, cid = await _world(client, session)
    codes = await f.concurrently(
        [
            (
                "POST",
                f"{URL}/{cid}/transitions",
                {"to": "forwarded", "area_id": str(a.id)},
                h["office"],
            )
            for a in areas
        ]
    )
    assert sorted(codes) == [200] + [409] * (len(areas) - 1)
    forwards = (
        await session.execute(
            text(
                "SELECT count(*) FROM consultation_event WHERE consultation_id = :c"
                " AND to_status = 'forwarded'"
            ),
            {"c": cid},
        )
    ).scalar_one()
    assert forwards == 1


async def test_with_if_match_concurrent_transitions_wait_and_one_wins(client, session):
    h, _, cid = await _world(client, session)
    etag = (await client.get(f"{URL}/{cid}", headers=h["office"])).headers["etag"]
    office = h["office"] | {"If-Match": etag}
    codes = await f.concurrently(
        [("POST", f"{URL}/{cid}/transitions", {"to": "in_progress"}, office)] * 8
    )
    assert sorted(codes) == [200] + [412] * 7
