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


async def _hold_row(cid: str, seconds: float, sla_state: str | None = None) -> None:
    """Background work (as the SLA scan does) holding the consultation's row for a moment."""
    import asyncio

    from app.core.db import get_sessionmaker

    async with get_sessionmaker()() as background:
        await background.execute(
            text("SELECT 1 FROM consultation WHERE id = :c FOR UPDATE"), {"c": cid}
        )
        if sla_state is not None:
            await background.execute(
                text("UPDATE consultation SET sla_state = :s WHERE id = :c"),
                {"c": cid, "s": sla_state},
            )
        await asyncio.sleep(seconds)
        await background.commit()


async def test_a_transition_waits_for_background_work_holding_the_row(client, session):
    import asyncio
    import time

    h, _, cid = await _world(client, session)
    holder = asyncio.create_task(_hold_row(cid, 0.6, sla_state="warning"))
    await asyncio.sleep(0.2)  # the row is locked before the person's request arrives
    started = time.monotonic()
    codes = await f.concurrently(
        [("POST", f"{URL}/{cid}/transitions", {"to": "in_progress"}, h["office"])]
    )
    waited = time.monotonic() - started
    await holder
    assert codes == [200]
    assert waited >= 0.3  # it did wait for the row, rather than failing at once
    detail = (await client.get(f"{URL}/{cid}", headers=h["office"])).json()
    assert detail["status"] == "in_progress"


async def test_a_transition_gives_up_with_409_when_the_row_stays_locked(
    client, session, monkeypatch
):
    import asyncio

    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "lock_wait_seconds", 0.3)
    h, _, cid = await _world(client, session)
    holder = asyncio.create_task(_hold_row(cid, 1.5))
    await asyncio.sleep(0.2)
    codes = await f.concurrently(
        [("POST", f"{URL}/{cid}/transitions", {"to": "in_progress"}, h["office"])]
    )
    await holder
    assert codes == [409]
    detail = (await client.get(f"{URL}/{cid}", headers=h["office"])).json()
    assert detail["status"] == "received"  # the rejected write changed nothing


async def test_one_of_many_legal_terms_with_the_same_etag_wins(client, session):
    h, _, cid = await _world(client, session)
    etag = (await client.get(f"{URL}/{cid}", headers=h["office"])).headers["etag"]
    office = h["office"] | {"If-Match": etag}
    bodies = [
        {"sla_override": {"unit": "natural_days", "resolution_target": n, "basis": "Art. 21.3"}}
        for n in range(10, 20)
    ]
    codes = await f.concurrently([("PATCH", f"{URL}/{cid}", b, office) for b in bodies])
    assert sorted(codes) == [200] + [412] * 9
    history = (await client.get(f"{URL}/{cid}/history", headers=h["office"])).json()["items"]
    assert [e["kind"] for e in history].count("deadline_override_set") == 1
