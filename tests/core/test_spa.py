"""The built web application served from the API's origin (`OAAA_FRONTEND_DIST`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.core.config import get_settings
from app.main import create_app
from tests.factories import assert_problem

INDEX = "<!doctype html><title>OAAA</title><div id=root></div>"


@pytest.fixture
async def spa_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-AbC123.js").write_text("console.log(1)")
    (tmp_path / "robots.txt").write_text("User-agent: *")
    (tmp_path.parent / "secret.txt").write_text("not public")
    monkeypatch.setattr(get_settings(), "frontend_dist", tmp_path)
    transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_root_and_client_routes_answer_index_revalidated(spa_client):
    for path in ("/", "/consultas", "/consultas/123e4567-e89b-12d3-a456-426614174000"):
        r = await spa_client.get(path)
        assert r.status_code == 200, path
        assert r.text == INDEX
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_immutable_and_other_files_short_lived(spa_client):
    r = await spa_client.get("/assets/index-AbC123.js")
    assert r.status_code == 200
    assert r.text == "console.log(1)"
    assert "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    robots = await spa_client.get("/robots.txt")
    assert robots.headers["cache-control"] == "public, max-age=3600"


async def test_head_is_served_too(spa_client):
    r = await spa_client.head("/calendario")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.committed  # the metrics scrape reads the database on its own
async def test_api_paths_keep_their_own_answers(spa_client):
    assert_problem(await spa_client.get("/api/v1/no-such-thing"), 404)
    assert_problem(await spa_client.get("/api"), 404)
    assert_problem(await spa_client.get("/openapi.json"), 404)
    assert (await spa_client.get("/api/v1/openapi.json")).json()["openapi"].startswith("3.")
    assert (await spa_client.get("/healthz")).status_code == 200
    assert "swagger" in (await spa_client.get("/docs")).text.lower()
    assert (await spa_client.get("/metrics")).headers["content-type"].startswith("text/plain")


async def test_missing_files_and_traversal_are_not_found(spa_client):
    assert_problem(await spa_client.get("/assets/index-Old999.js"), 404)
    assert_problem(await spa_client.get("/favicon.ico"), 404)
    r = await spa_client.get("/%2e%2e/secret.txt")
    assert "not public" not in r.text


async def test_other_methods_are_not_captured(spa_client):
    r = await spa_client.post("/consultas", json={})
    assert r.status_code in (404, 405)
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_without_a_build_nothing_is_served(client):
    assert get_settings().frontend_dist is None
    assert_problem(await client.get("/consultas"), 404)
