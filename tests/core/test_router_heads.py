"""Routers turn away paths none of their routes can match without asking each route, and
route everything else exactly as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from app.core.routing import ApiRoute, ApiRouter


def _app() -> FastAPI:
    first = ApiRouter(route_class=ApiRoute)
    second = ApiRouter(prefix="/things", route_class=ApiRoute)
    anything = ApiRouter(route_class=ApiRoute)

    @first.get("/consultations")
    async def consultations() -> dict[str, str]:
        return {"at": "consultations"}

    @first.get("/consultations/{item}/messages")
    async def messages(item: str) -> dict[str, str]:
        return {"at": f"messages of {item}"}

    @second.get("/{item}")
    async def thing(item: str) -> dict[str, str]:
        return {"at": f"thing {item}"}

    @anything.get("/{page}/about")
    async def about(page: str) -> dict[str, str]:
        return {"at": f"about {page}"}

    api = APIRouter(prefix="/api/v1")
    for router in (first, second, anything):
        api.include_router(router)
    app = FastAPI()
    app.include_router(api)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_paths_reach_the_same_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/consultations")).json() == {"at": "consultations"}
    r = await client.get("/api/v1/consultations/7/messages")
    assert r.json() == {"at": "messages of 7"}
    assert (await client.get("/api/v1/things/consultations")).json() == {
        "at": "thing consultations"
    }
    # A router whose route begins with a parameter is asked whatever the path.
    assert (await client.get("/api/v1/other/about")).json() == {"at": "about other"}
    assert (await client.get("/api/v1/nothing")).status_code == 404
    r = await client.post("/api/v1/consultations")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"


async def test_routes_of_other_routers_are_not_asked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    original = APIRoute.matches

    def matches(self: APIRoute, scope: dict) -> tuple:  # type: ignore[type-arg]
        asked.append(self.path)
        return original(self, scope)

    monkeypatch.setattr(APIRoute, "matches", matches)
    r = await client.get("/api/v1/other/about")
    assert r.json() == {"at": "about other"}
    # Only the router whose route may match anything was asked.
    assert set(asked) == {"/{page}/about"}
    asked.clear()
    r = await client.get("/api/v1/things/7")
    assert r.json() == {"at": "thing 7"}
    assert "/consultations" not in asked
    assert "/things/{item}" in asked
