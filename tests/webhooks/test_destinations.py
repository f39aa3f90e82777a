"""Webhook destinations through the API: internal addresses and plain http refused on
creation and update, for admins and integrations, with a 422 naming `url`."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.config import get_settings
from tests import factories as f
from tests.factories import assert_problem
from tests.webhooks.test_router import URL, _create, _integration


@pytest.fixture
def nothing_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "")


def _names_url(body):
    (error,) = body["errors"]
    assert error["pointer"] == "/url"
    assert error["loc"] == ["body", "url"]
    assert error["code"] == "destination"
    return error["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/h",
        "http://2130706433/h",
        "http://0x7f000001/h",
        "http://127.1/h",
        "http://[::ffff:127.0.0.1]/h",
        "http://[::1]/h",
        "http://localhost./h",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/h",
        "http://10.1.2.3/h",
        "http://192.168.0.10/h",
        "http://[fd00::1]/h",
        "http://0.0.0.0/h",
        "http://224.0.0.1/h",
    ],
)
async def test_an_admin_cannot_subscribe_an_internal_destination(
    client, session, nothing_allowed, url
):
    admin = await f.admin_headers(client, session)
    body = assert_problem(await client.post(URL, json={"url": url}, headers=admin), 422)
    assert "OAAA_WEBHOOK_ALLOWED_HOSTS" in _names_url(body)
    assert "Destino de webhook no permitido" in body["detail"]
    count = (await session.execute(text("SELECT count(*) FROM webhook_subscription"))).scalar()
    assert count == 0


async def test_an_integration_cannot_subscribe_an_internal_destination(
    client, session, nothing_allowed
):
    area = await f.area(session)
    _, headers = await _integration(client, session, area)
    body = assert_problem(
        await client.post(URL, json={"url": "http://169.254.169.254/"}, headers=headers), 422
    )
    assert "metadatos" in _names_url(body)


async def test_an_update_to_an_internal_destination_is_refused_and_changes_nothing(
    client, session, nothing_allowed
):
    area = await f.area(session)
    _, headers = await _integration(client, session, area)
    sub = await _create(client, headers)
    body = assert_problem(
        await client.patch(
            f"{URL}/{sub['id']}", json={"url": "http://[::ffff:10.0.0.1]/h"}, headers=headers
        ),
        422,
    )
    assert "privada" in _names_url(body)
    got = await client.get(f"{URL}/{sub['id']}", headers=headers)
    assert got.json()["url"] == sub["url"]


async def test_an_allow_listed_internal_receiver_may_be_subscribed(client, session, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "hooks.dip.internal,10.0.0.5")
    admin = await f.admin_headers(client, session)
    for url in ("http://hooks.dip.internal/oaaa", "http://10.0.0.5:8080/oaaa"):
        assert (await client.post(URL, json={"url": url}, headers=admin)).status_code == 201
    body = assert_problem(
        await client.post(URL, json={"url": "http://10.0.0.6/oaaa"}, headers=admin), 422
    )
    _names_url(body)


async def test_plain_http_is_refused_outside_local_and_test(client, session, monkeypatch):
    admin = await f.admin_headers(client, session)
    sub = await _create(client, admin)
    monkeypatch.setattr(get_settings(), "environment", "production")
    body = assert_problem(
        await client.post(URL, json={"url": "http://receptor.example.org/h"}, headers=admin), 422
    )
    assert "https" in _names_url(body)
    body = assert_problem(
        await client.patch(
            f"{URL}/{sub['id']}", json={"url": "http://receptor.example.org/h"}, headers=admin
        ),
        422,
    )
    assert "https" in _names_url(body)
    ok = await client.post(URL, json={"url": "https://receptor.example.org/h"}, headers=admin)
    assert ok.status_code == 201, ok.text
