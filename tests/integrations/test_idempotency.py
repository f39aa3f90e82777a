"""Idempotency keys: fingerprints, replay and reuse, expiry and purge, and the lock that makes
a simultaneous retry wait for the first request's answer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.core.db import get_sessionmaker
from app.services import idempotency
from app.services.idempotency import IdempotencyKeyReused, StoredResponse

PATH = "/api/v1/integrations/batch"


def test_fingerprint_ignores_json_formatting_but_not_the_request():
    base = idempotency.fingerprint("POST", PATH, b'{"a": 1, "b": [1, 2]}')
    assert base == idempotency.fingerprint("post", PATH, b'{ "b":[1,2],\n "a":1 }')
    assert base != idempotency.fingerprint("PUT", PATH, b'{"a": 1, "b": [1, 2]}')
    assert base != idempotency.fingerprint("POST", PATH + "x", b'{"a": 1, "b": [1, 2]}')
    assert base != idempotency.fingerprint("POST", PATH, b'{"a": 1, "b": [2, 1]}')
    # Not JSON: hashed as sent; and the parts cannot run into each other.
    assert idempotency.fingerprint("POST", PATH, b"{oops") != idempotency.fingerprint(
        "POST", PATH, b"{oops "
    )
    assert idempotency.fingerprint("POST", "/a", b"") != idempotency.fingerprint("POS", "T/a", b"")


async def _save(session, client_id, key, request_hash, body, now=None, status=201):
    await idempotency.save(
        session,
        client_id,
        key,
        method="POST",
        path=PATH,
        request_hash=request_hash,
        status_code=status,
        body=body,
        now=now,
    )


async def _count(session) -> int:
    return int(
        (await session.execute(text("SELECT count(*) FROM idempotency_record"))).scalar_one()
    )


async def test_new_key_then_replay_then_reuse(session):
    client_id = uuid.uuid4()
    h = idempotency.fingerprint("POST", PATH, b'{"items": []}')
    assert await idempotency.begin(session, client_id, "k1", h) is None
    await _save(session, client_id, "k1", h, {"items": [{"status": "created"}]})
    await session.commit()

    stored = await idempotency.begin(session, client_id, "k1", h)
    assert stored == StoredResponse(status_code=201, body={"items": [{"status": "created"}]})
    with pytest.raises(IdempotencyKeyReused) as info:
        await idempotency.begin(session, client_id, "k1", "0" * 64)
    assert info.value.status == 409
    assert info.value.code == "idempotency-key-reused"
    # Keys are per client.
    assert await idempotency.begin(session, uuid.uuid4(), "k1", h) is None
    await session.rollback()


async def test_rolled_back_write_stores_nothing(session):
    client_id = uuid.uuid4()
    assert await idempotency.begin(session, client_id, "k", "h") is None
    await _save(session, client_id, "k", "h", {"ok": True})
    await session.rollback()
    assert await _count(session) == 0
    assert await idempotency.begin(session, client_id, "k", "h") is None
    await session.rollback()


async def test_expired_key_is_new_and_deleted_when_seen(session):
    client_id = uuid.uuid4()
    long_ago = datetime.now(UTC) - idempotency.KEY_TTL - timedelta(seconds=1)
    await _save(session, client_id, "old", "h1", {"v": 1}, now=long_ago)
    await session.commit()
    # Even with another body: the old use no longer counts.
    assert await idempotency.begin(session, client_id, "old", "h2") is None
    assert await _count(session) == 0
    await _save(session, client_id, "old", "h2", {"v": 2})
    await session.commit()
    assert await idempotency.begin(session, client_id, "old", "h2") == StoredResponse(201, {"v": 2})
    await session.rollback()


async def test_purge_deletes_only_expired_keys(session):
    client_id = uuid.uuid4()
    now = datetime.now(UTC)
    for i in range(7):
        await _save(session, client_id, f"old-{i}", "h", None, now=now - timedelta(days=2))
    await _save(session, client_id, "fresh", "h", None, now=now)
    await session.commit()
    assert await idempotency.purge_expired(session, now, batch=5) == 5
    assert await idempotency.purge_expired(session, now, batch=5) == 2
    assert await idempotency.purge_expired(session, now, batch=5) == 0
    await session.commit()
    keys = (await session.execute(text("SELECT key FROM idempotency_record"))).scalars().all()
    assert keys == ["fresh"]


@pytest.mark.committed
async def test_worker_job_purges_every_expired_key(session):
    client_id = uuid.uuid4()
    old = datetime.now(UTC) - timedelta(days=3)
    for i in range(3):
        await _save(session, client_id, f"old-{i}", "h", None, now=old)
    await _save(session, client_id, "fresh", "h", None)
    await session.commit()
    assert await idempotency.purge_expired_keys({"sessionmaker": get_sessionmaker()}) == 3
    assert await _count(session) == 1


@pytest.mark.committed
async def test_a_simultaneous_request_waits_for_the_first_and_replays_it(session):
    client_id = uuid.uuid4()
    h = idempotency.fingerprint("POST", PATH, b"{}")
    async with get_sessionmaker()() as first, get_sessionmaker()() as second:
        assert await idempotency.begin(first, client_id, "k", h) is None
        waiting = asyncio.create_task(idempotency.begin(second, client_id, "k", h))
        done, _ = await asyncio.wait({waiting}, timeout=0.5)
        assert not done, "the second request must wait while the first holds the key"
        await _save(first, client_id, "k", h, {"n": 1})
        await first.commit()
        assert await asyncio.wait_for(waiting, timeout=5) == StoredResponse(201, {"n": 1})
        await second.rollback()


@pytest.mark.committed
async def test_the_key_is_free_again_when_the_first_request_fails(session):
    client_id = uuid.uuid4()
    async with get_sessionmaker()() as first, get_sessionmaker()() as second:
        assert await idempotency.begin(first, client_id, "k", "h") is None
        waiting = asyncio.create_task(idempotency.begin(second, client_id, "k", "h"))
        await asyncio.sleep(0.2)
        await first.rollback()
        assert await asyncio.wait_for(waiting, timeout=5) is None
        await second.rollback()
