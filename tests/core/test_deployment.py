"""Deployment details: the public base URL, trusted proxies and the root URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings, get_settings
from app.main import create_app
from tests.factories import assert_problem

TRACK = "/api/v1/public/consultations/OAAA-2026-000001"
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def test_public_base_url_follows_the_port_when_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAAA_PUBLIC_BASE_URL", raising=False)
    assert Settings(port=9123).public_base_url == "http://127.0.0.1:9123"
    wildcard = "0.0.0.0"  # noqa: S104 - a setting, nothing binds here
    assert Settings(host=wildcard, port=8080).public_base_url == "http://127.0.0.1:8080"
    assert Settings(host="oaaa.local", port=80).public_base_url == "http://oaaa.local:80"
    assert Settings(host="::1", port=8001).public_base_url == "http://[::1]:8001"


def test_an_explicit_public_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAAA_PUBLIC_BASE_URL", "https://oaaa.dip-badajoz.es/")
    assert Settings(port=9123).public_base_url == "https://oaaa.dip-badajoz.es"


def test_feed_links_use_the_derived_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services.calendar import feeds

    monkeypatch.delenv("OAAA_PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("OAAA_PORT", "8765")
    get_settings.cache_clear()
    try:
        assert feeds.feed_url("abc").startswith("http://127.0.0.1:8765/api/v1/calendar/abc.ics")
    finally:
        monkeypatch.delenv("OAAA_PORT")
        get_settings.cache_clear()


def test_trusted_proxies_accept_addresses_networks_and_the_plain_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1, 192.168.0.0/16,::1")
    assert Settings().trusted_proxies == ["10.0.0.1", "192.168.0.0/16", "::1"]
    with pytest.raises(ValidationError, match="FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips="proxy.example")


@pytest.fixture
def app_client(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> ClientFactory:
    """Clients of an app built with the given trusted proxies, connecting from `peer`."""
    from app.core import queue
    from app.core.db import get_session

    settings = get_settings()
    monkeypatch.setattr(settings, "public_tracking_max_per_ip", 3)

    @asynccontextmanager
    async def make(trusted: str, peer: str) -> AsyncIterator[httpx.AsyncClient]:
        monkeypatch.setattr(settings, "forwarded_allow_ips", trusted)
        app = create_app()

        async def request_session() -> AsyncIterator[AsyncSession]:
            async with queue.unit_of_work(sessions) as session:
                yield session

        app.dependency_overrides[get_session] = request_session
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return make


async def _budget_left(c: httpx.AsyncClient, forwarded_for: str) -> bool:
    r = await c.get(
        TRACK, params={"code": "ABCDEFGHJK"}, headers={"X-Forwarded-For": forwarded_for}
    )
    if r.status_code == 429:
        assert_problem(r, 429)
        return False
    assert_problem(r, 404)
    return True


async def test_behind_a_trusted_proxy_each_real_client_has_its_own_budget(app_client):
    async with app_client("10.0.0.0/8", "10.0.0.7") as c:
        for _ in range(3):
            assert await _budget_left(c, "203.0.113.7")
        assert not await _budget_left(c, "203.0.113.7")
        # A client the proxy names differently is another client, whatever came before it.
        assert await _budget_left(c, "198.51.100.1, 203.0.113.8")


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(app_client):
    async with app_client("10.0.0.1", "192.0.2.50") as c:
        for i in range(3):
            assert await _budget_left(c, f"203.0.113.{i}")
        assert not await _budget_left(c, "203.0.113.99")


async def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(app_client):
    async with app_client("", "127.0.0.1") as c:
        for i in range(3):
            assert await _budget_left(c, f"203.0.113.{i}")
        assert not await _budget_left(c, "203.0.113.99")


async def test_root_points_to_the_docs_without_a_built_web_application(client):
    for method in ("GET", "HEAD"):
        r = await client.request(method, "/")
        assert r.status_code == 307
        assert r.headers["location"] == "/docs"
    docs = await client.get("/", follow_redirects=True)
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
