"""The network guard at delivery time: refused destinations, DNS answers checked before the
connection, redirects never followed, against real local receivers."""

from __future__ import annotations

import socket
from typing import Any

import httpcore
import pytest
from sqlalchemy import text

from app.core import netguard
from app.core.config import get_settings
from app.services.notifications.delivery import deliver_webhook
from tests import receivers as r

# Jobs open their own sessions on the app's engine: these tests commit for real.
pytestmark = pytest.mark.committed


@pytest.fixture
def nothing_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "")


async def _row(session, delivery_id):
    session.expire_all()
    result = await session.execute(
        text("SELECT * FROM webhook_delivery WHERE id = :i"), {"i": delivery_id}
    )
    return result.mappings().one()


async def _attempts(session, delivery_id):
    result = await session.execute(
        text("SELECT * FROM webhook_attempt WHERE delivery_id = :i ORDER BY attempt"),
        {"i": delivery_id},
    )
    return result.mappings().all()


async def _one_delivery(session, url):
    await r.subscription(session, url)
    emitted = await r.event(session)
    (delivery_id,) = emitted.webhook_delivery_ids
    return delivery_id


def _resolving_to(*addresses, calls=None):
    async def resolver(host, port):
        if calls is not None:
            calls.append((host, port))
        return list(addresses)

    return resolver


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records where the guard asks to connect, and connects nowhere."""

    def __init__(self):
        self.targets = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ASYNC109
        self.targets.append((host, port))
        raise httpcore.ConnectError("sin red en la prueba")


# ---- the guard inside the HTTP client -----------------------------------------------------


async def test_a_name_is_resolved_once_and_the_checked_address_is_connected(nothing_allowed):
    calls: list[tuple[str, int]] = []
    inner = RecordingBackend()
    resolver = _resolving_to("93.184.216.34", "2606:2800:220:1::1", calls=calls)
    async with netguard.webhook_client(
        timeout=2, max_connections=2, resolver=resolver, inner=inner
    ) as http:
        with pytest.raises(Exception, match="sin red"):
            await http.post("http://receptor.example.org:8080/h", content=b"{}")
    assert calls == [("receptor.example.org", 8080)]
    # Each checked address in turn, as an address: never the name (which could resolve again).
    assert inner.targets == [("93.184.216.34", 8080), ("2606:2800:220:1::1", 8080)]


async def test_one_internal_address_among_the_answers_refuses_before_connecting(
    nothing_allowed,
):
    inner = RecordingBackend()
    resolver = _resolving_to("93.184.216.34", "10.0.0.7")
    async with netguard.webhook_client(
        timeout=2, max_connections=2, resolver=resolver, inner=inner
    ) as http:
        with pytest.raises(netguard.DestinationRefused, match=r"10\.0\.0\.7"):
            await http.post("https://receptor.example.org/h", content=b"{}")
    assert inner.targets == []


async def test_an_allowed_name_may_resolve_to_an_internal_address(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "hooks.internal")
    inner = RecordingBackend()
    async with netguard.webhook_client(
        timeout=2, max_connections=2, resolver=_resolving_to("10.0.0.7"), inner=inner
    ) as http:
        with pytest.raises(Exception, match="sin red"):
            await http.post("http://hooks.internal/h", content=b"{}")
    assert inner.targets == [("10.0.0.7", 80)]


# ---- deliveries ---------------------------------------------------------------------------


async def test_a_receiver_on_loopback_is_refused_unless_allow_listed(session, nothing_allowed):
    async with r.http_receiver() as receiver:
        delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "dead"
    assert receiver.requests == []
    row = await _row(session, delivery_id)
    assert row["status"] == "dead"
    assert row["attempts"] == 1
    assert "loopback" in row["last_error"]
    (attempt,) = await _attempts(session, delivery_id)
    assert attempt["status_code"] is None
    assert "destino rechazado" in attempt["error"]


async def test_the_same_receiver_is_reached_once_allow_listed(session, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "127.0.0.1")
    async with r.http_receiver() as receiver:
        delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
        assert len(receiver.requests) == 1


async def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(
    session, nothing_allowed, monkeypatch
):
    monkeypatch.setattr(netguard, "resolve", _resolving_to("127.0.0.1"))
    async with r.http_receiver() as receiver:
        url = f"http://rebind.example.org:{receiver.port}/hook"
        assert netguard.url_refusal(url) is None  # fine as written
        delivery_id = await _one_delivery(session, url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "dead"
    assert receiver.requests == []
    row = await _row(session, delivery_id)
    assert "rebind.example.org" in row["last_error"]
    assert "127.0.0.1" in row["last_error"]


async def test_the_connection_goes_to_the_resolved_address_with_the_original_host(
    session, monkeypatch
):
    monkeypatch.setattr(netguard, "resolve", _resolving_to("127.0.0.1"))
    async with r.http_receiver() as receiver:
        url = f"http://receptor.example.org:{receiver.port}/hook"
        delivery_id = await _one_delivery(session, url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "succeeded"
        (received,) = receiver.requests
    assert received.headers["host"] == f"receptor.example.org:{receiver.port}"
    assert received.path == "/hook"


async def test_a_name_that_does_not_resolve_is_retried(session, nothing_allowed, monkeypatch):
    async def failing(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(netguard, "resolve", failing)
    delivery_id = await _one_delivery(session, "https://no-existe.example.org/h")
    async with r.job_ctx() as ctx:
        assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
    row = await _row(session, delivery_id)
    assert row["status"] == "pending"
    assert "no se pudo resolver" in row["last_error"]


async def test_a_redirect_to_an_internal_address_is_a_failed_attempt_not_followed(session):
    async with r.http_receiver() as target:
        redirect = r.always(f"redirect:{target.url}")
        async with r.http_receiver(redirect) as receiver:
            delivery_id = await _one_delivery(session, receiver.url)
            async with r.job_ctx() as ctx:
                assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
            assert len(receiver.requests) == 1
        assert target.requests == []
    (attempt,) = await _attempts(session, delivery_id)
    assert attempt["status_code"] == 302
    assert "redirección" in attempt["error"]
    assert target.url in attempt["error"]
    row = await _row(session, delivery_id)
    assert row["status"] == "pending"
    assert row["last_status_code"] == 302


async def test_a_redirect_to_cloud_metadata_is_not_followed(session):
    metadata = "http://169.254.169.254/latest/meta-data/"
    async with r.http_receiver(r.always(f"redirect:{metadata}")) as receiver:
        delivery_id = await _one_delivery(session, receiver.url)
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "retry"
        assert len(receiver.requests) == 1
    (attempt,) = await _attempts(session, delivery_id)
    assert attempt["status_code"] == 302
    assert metadata in attempt["error"]


async def test_plain_http_is_refused_at_delivery_outside_local_and_test(session, monkeypatch):
    async with r.http_receiver() as receiver:
        delivery_id = await _one_delivery(session, receiver.url)
        monkeypatch.setattr(get_settings(), "environment", "production")
        async with r.job_ctx() as ctx:
            assert await deliver_webhook(ctx, str(delivery_id)) == "dead"
    assert receiver.requests == []
    row = await _row(session, delivery_id)
    assert "https" in row["last_error"]


async def test_the_worker_sends_through_the_guarded_client(nothing_allowed):
    from app.worker import settings as worker

    ctx: dict[str, Any] = {}
    await worker.startup(ctx)
    try:
        async with r.http_receiver() as receiver:
            clients = ctx["webhooks"].destinations.clients_for(receiver.url)
            assert clients
            for http in clients:
                assert http.follow_redirects is False
                with pytest.raises(netguard.DestinationRefused, match="loopback"):
                    await http.post(receiver.url, content=b"{}")
        assert receiver.requests == []
    finally:
        await worker.shutdown(ctx)
