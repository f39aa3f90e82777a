"""Bearer tokens the machine generates (refresh tokens, calendar feed links) are stored as
keyed HMAC-SHA-256 digests; tokens stored before as plain SHA-256 keep working and are
replaced on their next use."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlmodel import col

from app.core import security
from app.models.auth import RefreshToken
from app.models.base import Role
from app.models.calendar import FeedToken
from tests import factories as f

TOKEN = "/api/v1/auth/token"


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def test_token_digest_is_keyed_not_a_plain_hash() -> None:
    raw, stored = security.new_refresh_token()
    assert stored == security.digest_token(raw)
    assert stored != _sha256(raw)
    assert len(stored) == 64
    assert security.token_digests(raw) == (stored, _sha256(raw))


async def test_a_feed_link_stored_as_plain_sha256_works_and_is_rewritten(client, session):
    alm = await f.municipality(session, "06011")
    u = await f.user(session, Role.municipal_user, municipality_id=alm.id)
    h = await f.auth_headers(client, u)
    r = await client.post("/api/v1/calendar/feed-tokens", json={"label": "Outlook"}, headers=h)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    raw = url.rsplit("/", 1)[1].removesuffix(".ics")
    stored = (await session.execute(select(col(FeedToken.token_hash)))).scalar_one()
    assert stored == security.digest_token(raw)
    # As a link issued before keyed digests were stored:
    await session.execute(update(FeedToken).values(token_hash=_sha256(raw)))
    await session.commit()

    r = await client.get(url[url.index("/api/v1/") :])
    assert r.status_code == 200, r.text
    assert "BEGIN:VCALENDAR" in r.text
    session.expire_all()
    assert (
        await session.execute(select(col(FeedToken.token_hash)))
    ).scalar_one() == security.digest_token(raw)
    r = await client.get(url[url.index("/api/v1/") :])
    assert r.status_code == 200


async def test_a_refresh_token_stored_as_plain_sha256_rotates_once(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    raw = first["refresh_token"]
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.token_hash) == security.digest_token(raw))
        .values(token_hash=_sha256(raw))
    )
    await session.commit()

    r = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": raw})
    assert r.status_code == 200, r.text
    successor = r.json()["refresh_token"]
    hashes = set((await session.execute(select(col(RefreshToken.token_hash)))).scalars())
    assert security.digest_token(successor) in hashes
    # The old token was used: presenting it again is reuse, not a second rotation.
    r = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": raw},
        headers={"User-Agent": "otro navegador"},
    )
    assert r.status_code == 400
