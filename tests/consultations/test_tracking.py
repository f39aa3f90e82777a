"""Public tracking cannot be locked by a stranger: guessing is slowed per address and
reference, never per reference alone, and unknown references look like wrong codes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from app.core import ratelimit
from app.core.config import get_settings
from app.core.redis import get_redis
from app.models.base import Role
from app.services.consultations import tracking
from app.services.consultations.tracking import guessing_delay
from tests import factories as f
from tests.factories import assert_problem

TRACK = "/api/v1/public/consultations"
STRANGER = "198.51.100.23"
OWNER = "203.0.113.5"
FromAddress = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def from_address(client: httpx.AsyncClient) -> FromAddress:
    """Clients of the app (bound to the test's database by `client`) connecting from an
    address of one's choice."""
    from app.main import app

    @asynccontextmanager
    async def make(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return make


@pytest.fixture
def long_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real growing delays, in minutes rather than seconds, so that a slow machine cannot
    see a delay run out between two requests of a test."""
    monkeypatch.setattr(
        tracking, "guessing_delay", lambda n, free, cap: guessing_delay(n, free, cap) * 300
    )


def _same_shape(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    body.pop("instance")
    body["detail"] = re.sub(r"\d+", "N", body["detail"])
    return body


async def _consultation(client: httpx.AsyncClient, session: Any) -> dict[str, Any]:
    mun = await f.municipality(session, "06011")
    u = await f.user(session, Role.municipal_user, municipality_id=mun.id)
    r = await client.post(
        "/api/v1/consultations",
        json={"subject": "Camino rural", "body": "¿Cómo se pide?"},
        headers=await f.auth_headers(client, u),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _try(c: httpx.AsyncClient, reference: str, code: str) -> httpx.Response:
    return await c.get(f"{TRACK}/{reference}", params={"code": code})


def test_delays_grow_after_the_free_failures_up_to_the_cap() -> None:
    assert [guessing_delay(n, 3, 3600) for n in range(7)] == [0, 0, 0, 2, 4, 8, 16]
    assert guessing_delay(40, 3, 3600) == 3600
    assert guessing_delay(1, 0, 60) == 4


async def test_a_strangers_wrong_codes_never_refuse_the_owners_right_code(
    client, session, from_address, long_delays
):
    created = await _consultation(client, session)
    ref, code = created["reference"], created["access_code"]
    statuses = []
    async with from_address(STRANGER) as stranger:
        for i in range(25):
            statuses.append((await _try(stranger, ref, f"WRONG{i:05d}")).status_code)
        # The guesser is slowed down: past the free failures it is told to wait.
        assert statuses[:3] == [404, 404, 404]
        assert set(statuses[3:]) == {429}
        blocked = await _try(stranger, ref, code)
        body = assert_problem(blocked, 429, "too-many-requests")
        assert int(blocked.headers["retry-after"]) > 0
        assert "segundos" in body["detail"]
    async with from_address(OWNER) as owner:
        r = await _try(owner, ref, code)
        assert r.status_code == 200, r.text
        assert r.json()["reference"] == ref


async def test_the_delay_doubles_with_each_further_failure(client, session, from_address):
    created = await _consultation(client, session)
    ref = created["reference"]
    redis = get_redis()
    pair = f"{STRANGER}|{ref}"
    waits = []
    async with from_address(STRANGER) as stranger:
        for _ in range(3):
            assert (await _try(stranger, ref, "BADCODE123")).status_code == 404
        for _ in range(4):
            r = await _try(stranger, ref, "BADCODE123")
            assert r.status_code == 429
            waits.append(int(r.headers["retry-after"]))
            await ratelimit.reset(redis, "track-wait", pair)  # the wait is over
            assert (await _try(stranger, ref, "BADCODE123")).status_code == 404
    # Read back from Redis a moment after being set: at most a second or so less.
    for wait, expected in zip(waits, [2, 4, 8, 16], strict=True):
        assert expected // 2 <= wait <= expected, waits
    assert waits == sorted(waits)
    assert waits[-1] > 8


async def test_the_owners_own_success_forgets_their_failures(
    client, session, from_address, long_delays
):
    created = await _consultation(client, session)
    ref, code = created["reference"], created["access_code"]
    async with from_address(OWNER) as owner:
        for _ in range(2):
            assert (await _try(owner, ref, "TYPO000000")).status_code == 404
        assert (await _try(owner, ref, code)).status_code == 200
        for _ in range(3):
            assert (await _try(owner, ref, "TYPO000000")).status_code == 404
        assert (await _try(owner, ref, code)).status_code == 429


async def test_unknown_references_and_wrong_codes_are_throttled_alike(
    client, session, from_address, long_delays
):
    created = await _consultation(client, session)
    answers: dict[str, list[tuple[int, dict[str, Any], bool]]] = {}
    async with from_address(STRANGER) as stranger:
        for label, ref in (("real", created["reference"]), ("unknown", "OAAA-1999-000042")):
            seq = []
            for _ in range(5):
                r = await _try(stranger, ref, "ZZZZZZZZZZ")
                seq.append((r.status_code, _same_shape(r.json()), "retry-after" in r.headers))
            answers[label] = seq
    assert answers["real"] == answers["unknown"]
    assert [s for s, _, _ in answers["real"]] == [404, 404, 404, 429, 429]


async def test_ipv6_guessers_are_counted_by_their_64_block(
    client, session, from_address, long_delays
):
    created = await _consultation(client, session)
    ref = created["reference"]
    for i in range(3):
        async with from_address(f"2001:db8:1:2::{i + 1}") as c:
            assert (await _try(c, ref, "BADCODE123")).status_code == 404
    async with from_address("2001:db8:1:2::99") as c:
        assert (await _try(c, ref, "BADCODE123")).status_code == 429
    async with from_address("2001:db8:1:3::1") as other_block:
        assert (await _try(other_block, ref, created["access_code"])).status_code == 200


async def test_the_address_budget_still_caps_look_ups(client, session, from_address):
    assert get_settings().public_tracking_max_per_ip == 30
    async with from_address(STRANGER) as stranger:
        for i in range(30):
            r = await _try(stranger, f"OAAA-2026-{i:06d}", "ABCDEFGHJK")
            assert r.status_code == 404
        assert_problem(await _try(stranger, "OAAA-2026-999999", "ABCDEFGHJK"), 429)
    async with from_address(OWNER) as owner:
        assert (await _try(owner, "OAAA-2026-999999", "ABCDEFGHJK")).status_code == 404
