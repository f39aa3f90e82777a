"""The token endpoint speaks RFC 6749: §5.2 errors and the refresh_token grant, checked with a
standard OAuth2 client library (authlib) as well as by their exact shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from app.models.base import Role
from tests import factories as f
from tests.factories import PASSWORD, assert_problem

TOKEN = "/api/v1/auth/token"
SECRET = "integration-secret-" + "z" * 20


def assert_oauth_error(r: httpx.Response, status: int, error: str) -> dict[str, Any]:
    body = assert_problem(r, status, error.replace("_", "-"))
    assert body["error"] == error
    assert body["error_description"] == body["detail"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    return body


@pytest.fixture
async def oauth(client: httpx.AsyncClient) -> AsyncIterator[AsyncOAuth2Client]:
    """authlib's OAuth2 client on the app (the `client` fixture binds the test's database)."""
    from app.main import app

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncOAuth2Client(
        transport=transport, base_url="http://testserver", token_endpoint_auth_method="none"
    ) as c:
        yield c


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})


async def test_refresh_token_grant_rotates_the_token(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    r = await _refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] != first["refresh_token"]
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["email"] == u.email
    assert r.headers["cache-control"] == "no-store"


async def test_reusing_a_rotated_token_at_the_token_endpoint_revokes_its_family(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    second = (await _refresh(client, first["refresh_token"])).json()
    theft = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"User-Agent": "otro-cliente/1.0"},
    )
    assert_oauth_error(theft, 400, "invalid_grant")
    # The reuse was committed although the answer is an error: the newer token is dead too.
    assert_oauth_error(await _refresh(client, second["refresh_token"]), 400, "invalid_grant")


async def test_refresh_token_grant_without_the_token_is_invalid_request(client):
    r = await client.post(TOKEN, data={"grant_type": "refresh_token"})
    body = assert_oauth_error(r, 400, "invalid_request")
    assert "refresh_token" in body["detail"]


async def test_unknown_refresh_token_is_invalid_grant(client):
    assert_oauth_error(await _refresh(client, "x" * 40), 400, "invalid_grant")


async def test_missing_grant_type_is_invalid_request_naming_it(client):
    body = assert_oauth_error(await client.post(TOKEN, data={}), 400, "invalid_request")
    assert [e["loc"] for e in body["errors"]] == [["body", "grant_type"]]


async def test_client_credentials_without_credentials_is_invalid_client(client):
    r = await client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert_oauth_error(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith('Basic realm="oaaa"')


async def test_malformed_basic_header_is_invalid_client(client):
    r = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic %%%"},
    )
    assert_oauth_error(r, 401, "invalid_client")


async def test_scope_narrows_the_client_scopes_and_unknown_scope_is_invalid_scope(client, session):
    a = await f.area(session)
    c = await f.integration_client(
        session, a.id, secret=SECRET, scopes=["expedientes:read", "expedientes:write"]
    )
    form = {"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": SECRET}
    full = await client.post(TOKEN, data=form)
    assert full.json()["scope"] == "expedientes:read expedientes:write"
    narrow = await client.post(TOKEN, data={**form, "scope": "expedientes:read"})
    assert narrow.json()["scope"] == "expedientes:read"
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {narrow.json()['access_token']}"}
    )
    assert me.json()["scopes"] == ["expedientes:read"]
    body = assert_oauth_error(
        await client.post(TOKEN, data={**form, "scope": "expedientes:read users:admin"}),
        400,
        "invalid_scope",
    )
    assert "users:admin" in body["detail"]


async def test_the_cookie_refresh_of_the_web_application_keeps_working(client, session):
    u = await f.user(session, Role.oaaa_staff)
    login = await client.post(
        TOKEN,
        params={"refresh_transport": "cookie"},
        data={"grant_type": "password", "username": u.email, "password": PASSWORD},
    )
    assert "refresh_token" not in login.json()
    assert "oaaa_refresh" in login.cookies
    refreshed = await client.post("/api/v1/auth/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"]


async def test_a_standard_client_gets_tokens_and_refreshes_on_its_own(oauth, session):
    u = await f.user(session, Role.oaaa_staff)
    token = await oauth.fetch_token(TOKEN, username=u.email, password=PASSWORD)
    assert token["access_token"]
    assert token["refresh_token"]
    me = await oauth.get("/api/v1/auth/me")
    assert me.json()["email"] == u.email
    renewed = await oauth.refresh_token(TOKEN, refresh_token=token["refresh_token"])
    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] != token["refresh_token"]


async def test_a_standard_client_sees_a_failed_login_as_an_error(oauth, session):
    u = await f.user(session, Role.oaaa_staff)
    with pytest.raises(OAuthError) as failed:
        await oauth.fetch_token(TOKEN, username=u.email, password="not-the-password")
    assert failed.value.error == "invalid_grant"
    assert failed.value.description == "Usuario o contraseña incorrectos"
    with pytest.raises(OAuthError) as stale:
        await oauth.refresh_token(TOKEN, refresh_token="y" * 40)
    assert stale.value.error == "invalid_grant"


async def test_a_standard_client_with_a_wrong_secret_sees_invalid_client(client, session):
    from app.main import app

    a = await f.area(session)
    c = await f.integration_client(session, a.id, secret=SECRET)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncOAuth2Client(
        client_id=c.client_id,
        client_secret="wrong-secret",
        transport=transport,
        base_url="http://testserver",
    ) as wrong:
        with pytest.raises(OAuthError) as failed:
            await wrong.fetch_token(TOKEN, grant_type="client_credentials")
        assert failed.value.error == "invalid_client"
    async with AsyncOAuth2Client(
        client_id=c.client_id, client_secret=SECRET, transport=transport, base_url="http://t"
    ) as right:
        token = await right.fetch_token(TOKEN, grant_type="client_credentials")
        assert token["scope"] == "expedientes:read"
