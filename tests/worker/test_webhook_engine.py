"""The webhook engine against real PostgreSQL and local receivers: batches claimed in one
statement and never by two workers, outcomes recorded in batches, a dead worker's claims taken
again after their lease, connections reused per destination, the per-destination limit, and
HTTP/2 when the receiver offers it (a local TLS server speaking h2)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import event, text

from app.core import netguard
from app.core.config import get_settings
from app.core.db import get_engine, get_sessionmaker
from app.services.notifications.delivery import WebhookEngine
from app.services.notifications.destinations import Destinations, pool_sizes
from app.services.webhooks import verify
from tests import receivers as r

pytestmark = pytest.mark.committed


async def _deliveries(session, url: str, count: int) -> tuple[str, list[Any]]:
    """A subscription (its secret) and `count` events for it (the new deliveries' ids)."""
    secret = (await r.subscription(session, url)).secret
    ids = []
    for _ in range(count):
        ids.extend((await r.event(session)).webhook_delivery_ids)
    return secret, ids


async def _rows(session, ids):
    session.expire_all()
    result = await session.execute(
        text("SELECT * FROM webhook_delivery WHERE id = ANY(:ids)"), {"ids": list(ids)}
    )
    return {row["id"]: row for row in result.mappings()}


async def _attempt_rows(session, ids):
    result = await session.execute(
        text("SELECT * FROM webhook_attempt WHERE delivery_id = ANY(:ids) ORDER BY id"),
        {"ids": list(ids)},
    )
    return result.mappings().all()


@contextlib.asynccontextmanager
async def _engine(
    per_destination: int = 10, total: int = 20, **kwargs: Any
) -> AsyncIterator[WebhookEngine]:
    destinations = Destinations(per_destination=per_destination, total=total, **kwargs)
    engine = WebhookEngine(get_sessionmaker(), destinations)
    try:
        yield engine
    finally:
        await engine.aclose()


@contextlib.contextmanager
def _statements() -> Any:
    """The SQL statements the application's engine sends meanwhile."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    bind = get_engine().sync_engine
    event.listen(bind, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(bind, "before_cursor_execute", note)


async def test_two_engines_draining_at_once_send_each_delivery_once(session):
    async with r.http_receiver(r.always("delay:0.02")) as receiver:
        _, ids = await _deliveries(session, receiver.url, 60)
        async with _engine() as one, _engine() as two:
            claimed = await asyncio.gather(one.drain(), two.drain(), one.drain())
    # The third call found the first engine draining: it only asked it to look again.
    assert claimed[2] == 0
    assert claimed[0] + claimed[1] == 60
    sent = [q.headers["webhook-id"] for q in receiver.requests]
    assert len(sent) == 60
    assert sorted(sent) == sorted(f"msg_{d.hex}" for d in ids)
    rows = await _rows(session, ids)
    assert {(row["status"], row["attempts"]) for row in rows.values()} == {("succeeded", 1)}


async def test_a_batch_is_claimed_and_recorded_in_a_few_statements(session):
    # Every other delivery is refused (500): both outcomes in the same batches.
    failing: set[str] = set()

    def behaviour(_index: int, request: r.Received) -> r.Action:
        wid = request.headers["webhook-id"]
        if int(wid[-1], 16) % 2:
            failing.add(wid)
            return 500
        return 200

    async with r.http_receiver(behaviour) as receiver:
        secret, ids = await _deliveries(session, receiver.url, 40)
        async with _engine(per_destination=40, total=40) as engine:
            with _statements() as sent:
                assert await engine.drain() == 40
    claims = [s for s in sent if "FOR UPDATE SKIP LOCKED" in s]
    records = [s for s in sent if "UPDATE webhook_delivery AS d" in s]
    # 40 deliveries: one claim of them all, then one that finds nothing left; outcomes in a
    # few batches (whatever finished while the previous batch was being written).
    assert len(claims) == 2
    assert 1 <= len(records) <= 10
    assert len(sent) <= 2 * (len(claims) + len(records)) + 2  # with their BEGIN/COMMITs

    rows = await _rows(session, ids)
    attempts = await _attempt_rows(session, ids)
    assert len(attempts) == 40
    by_delivery = {a["delivery_id"]: a for a in attempts}
    for delivery_id in ids:
        row, attempt = rows[delivery_id], by_delivery[delivery_id]
        assert attempt["attempt"] == 1
        assert attempt["latency_ms"] > 0
        assert row["locked_until"] is None
        if f"msg_{delivery_id.hex}" in failing:
            assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, 500)
            assert row["next_attempt_at"] > dt.datetime.now(dt.UTC)
            assert attempt["status_code"] == 500
            assert attempt["error"].startswith("respuesta HTTP 500")
        else:
            assert (row["status"], row["attempts"], row["last_status_code"]) == (
                "succeeded",
                1,
                200,
            )
            assert row["delivered_at"] is not None
            assert attempt["status_code"] == 200
            assert attempt["error"] is None
    assert 0 < len(failing) < 40
    for request in receiver.requests:
        verify(secret, request.headers, request.body)


async def test_a_dead_workers_claims_are_taken_again_after_their_lease(session):
    async with r.http_receiver() as receiver:
        _, ids = await _deliveries(session, receiver.url, 5)
        async with _engine() as dead, _engine() as alive:
            # A worker claims the batch and dies before sending anything.
            assert len(await dead._claim(None, 10)) == 5
            assert await alive.drain() == 0  # leased: left alone
            assert receiver.requests == []
            await session.execute(
                text("UPDATE webhook_delivery SET locked_until = now() - interval '1 second'")
            )
            await session.commit()
            assert await alive.drain() == 5
    assert len(receiver.requests) == 5
    rows = await _rows(session, ids)
    assert {(row["status"], row["attempts"]) for row in rows.values()} == {("succeeded", 2)}
    attempts = await _attempt_rows(session, ids)
    assert sorted(a["error"] or "" for a in attempts).count("") == 5
    assert sum("interrumpido" in (a["error"] or "") for a in attempts) == 5


async def test_a_recorded_success_is_never_sent_again(session):
    async with r.http_receiver() as receiver:
        _, ids = await _deliveries(session, receiver.url, 3)
        async with _engine() as engine:
            assert await engine.drain() == 3
            # Even with its lease and due time forced open, a succeeded delivery is not claimed.
            await session.execute(
                text("UPDATE webhook_delivery SET next_attempt_at = now(), locked_until = NULL")
            )
            await session.commit()
            assert await engine.drain() == 0
            assert await engine.deliver(ids) == {}
    assert len(receiver.requests) == 3


async def test_connections_are_reused_per_destination(session):
    async with r.http_receiver() as receiver:
        _, ids = await _deliveries(session, receiver.url, 50)
        async with _engine(per_destination=4) as engine:
            assert await engine.drain() == 50
            assert len(engine.destinations) == 1
    assert len(receiver.requests) == 50
    assert receiver.connections <= 4


async def test_the_limit_per_destination_is_honoured(session, monkeypatch):
    async with (
        r.http_receiver(r.always("delay:0.05")) as one,
        r.http_receiver(r.always("delay:0.05")) as two,
    ):
        await r.subscription(session, one.url)
        await _deliveries(session, two.url, 30)  # each event goes to both subscriptions
        async with _engine(per_destination=3, total=20) as engine:
            assert await engine.drain() == 60
            assert len(engine.destinations) == 2
    assert len(one.requests) == len(two.requests) == 30
    # Never more than 3 at once at either, though the worker may send 20 at once.
    assert one.max_busy == 3
    assert two.max_busy == 3


@pytest.mark.parametrize(
    ("limit", "sizes"),
    [(1, [1]), (10, [10]), (11, [6, 5]), (25, [9, 8, 8]), (50, [10, 10, 10, 10, 10])],
)
def test_a_destinations_requests_are_spread_over_pools_of_ten_connections_at_most(limit, sizes):
    assert pool_sizes(limit) == sizes
    assert sum(sizes) == limit


async def test_many_requests_to_one_destination_go_through_small_pools(session):
    async with r.http_receiver(r.always("delay:0.05")) as receiver:
        await _deliveries(session, receiver.url, 60)
        async with _engine(per_destination=25, total=40) as engine:
            assert await engine.drain() == 60
            assert len(engine.destinations.clients_for(receiver.url)) == 3
    assert len(receiver.requests) == 60
    # The destination's limit holds across its pools, and every slot was used.
    assert receiver.max_busy == 25
    assert receiver.connections <= 25


async def test_a_slow_destination_does_not_hold_the_others(session):
    async with (
        r.http_receiver(r.always("delay:0.5")) as slow,
        r.http_receiver() as fast,
    ):
        await r.subscription(session, slow.url)
        await _deliveries(session, fast.url, 10)  # each event goes to both subscriptions
        async with _engine(per_destination=1, total=20) as engine:
            draining = asyncio.create_task(engine.drain())
            await fast.wait_for(10, within=3)  # the slow one needs 5 s for its ten
            assert len(slow.requests) < 10
            assert await draining == 20
    assert len(slow.requests) == 10
    assert slow.max_busy == 1


# ---- HTTP/2 ---------------------------------------------------------------------------------


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class H2Receiver:
    """A TLS server offering h2 and http/1.1 (ALPN) that speaks HTTP/2 (the h2 package):
    answers 200 to each request and notes the protocol of each connection."""

    def __init__(self) -> None:
        self.protocols: list[str | None] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.protocols.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        conn = h2.connection.H2Connection(config=config)
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            while data := await reader.read(65535):
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        headers = {str(k): str(v) for k, v in ev.headers or []}
                        streams[ev.stream_id] = (headers, bytearray())
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1].extend(ev.data)
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, body = streams.pop(ev.stream_id)
                        self.requests.append((headers, bytes(body)))
                        conn.send_headers(
                            ev.stream_id, [(":status", "200"), ("content-length", "2")]
                        )
                        conn.send_data(ev.stream_id, b"ok", end_stream=True)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


async def test_http2_is_used_when_the_receiver_offers_it(session, monkeypatch, tmp_path):
    name = "h2.example.org"
    cert, key = _certificate(name)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server_tls.set_alpn_protocols(["h2", "http/1.1"])
    client_tls = ssl.create_default_context(cadata=cert.decode())

    async def to_loopback(host, port):
        return ["127.0.0.1"]

    monkeypatch.setattr(netguard, "resolve", to_loopback)
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", name)
    receiver = H2Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    try:
        secret, ids = await _deliveries(session, f"https://{name}:{port}/hook", 12)

        def client(limit: int) -> Any:
            return netguard.webhook_client(
                timeout=5, max_connections=limit, http2=True, ssl_context=client_tls
            )

        async with _engine(per_destination=4, factory=client) as engine:
            assert await engine.drain() == 12
    finally:
        server.close()
        await server.wait_closed()
    # Twelve requests multiplexed over one HTTP/2 connection, each signed as usual.
    assert receiver.protocols == ["h2"]
    assert len(receiver.requests) == 12
    for headers, body in receiver.requests:
        assert headers[":authority"] == f"{name}:{port}"
        verify(secret, headers, body)
    rows = await _rows(session, ids)
    assert {row["status"] for row in rows.values()} == {"succeeded"}


async def test_a_delivery_that_cannot_start_within_its_lease_is_released_unsent(
    session, monkeypatch
):
    from app.services.notifications import delivery

    async with r.http_receiver() as receiver:
        _, (delivery_id,) = await _deliveries(session, receiver.url, 1)
        async with _engine() as engine:
            # As if it had waited for its destination until too late to end within the lease.
            monkeypatch.setattr(delivery, "START_MARGIN_SECONDS", 3600.0)
            assert await engine.deliver([delivery_id]) == {delivery_id: "released"}
            assert receiver.requests == []
            row = (await _rows(session, [delivery_id]))[delivery_id]
            assert (row["status"], row["attempts"], row["locked_until"]) == ("pending", 0, None)
            assert await _attempt_rows(session, [delivery_id]) == []

            monkeypatch.setattr(delivery, "START_MARGIN_SECONDS", 2.0)
            assert await engine.deliver([delivery_id]) == {delivery_id: "succeeded"}
    assert len(receiver.requests) == 1
    row = (await _rows(session, [delivery_id]))[delivery_id]
    assert (row["status"], row["attempts"]) == ("succeeded", 1)
    assert len(await _attempt_rows(session, [delivery_id])) == 1
