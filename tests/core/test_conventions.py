"""API conventions shared by every router: problem documents, limits, health, metrics."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.field_messages import field_message
from app.models.base import Role
from tests import factories as f
from tests.factories import assert_problem


async def test_unknown_route_is_a_404_problem(client):
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_a_405_problem(client):
    assert_problem(await client.delete("/api/v1/municipalities"), 405, "method-not-allowed")


async def test_oversized_declared_body_is_413(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        content=b'{"code": "' + b"a" * 2_000_000 + b'"}',
        headers={**headers, "content-type": "application/json"},
    )
    assert_problem(r, 413, "payload-too-large")


async def test_oversized_streamed_body_is_413(client, session):
    headers = await f.admin_headers(client, session)

    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = await client.post(
        "/api/v1/areas",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert_problem(r, 413)


async def test_wrong_content_type_is_415(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        content=b"<area><code>x</code></area>",
        headers={**headers, "content-type": "application/xml"},
    )
    body = assert_problem(r, 415, "unsupported-media-type")
    assert "application/xml" in body["detail"]


async def test_json_to_the_form_endpoint_is_415(client):
    r = await client.post("/api/v1/auth/logout", data={"refresh_token": "x" * 20})
    assert_problem(r, 415)


async def test_json_to_the_token_endpoint_is_an_oauth2_invalid_request(client):
    r = await client.post("/api/v1/auth/token", json={"grant_type": "password"})
    body = assert_problem(r, 400, "invalid-request")
    assert body["error"] == "invalid_request"
    assert "formulario" in body["error_description"]


async def test_malformed_json_is_a_400(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        content=b'{"code": "x", ',
        headers={**headers, "content-type": "application/json"},
    )
    assert_problem(r, 400, "malformed-json")


async def test_wrong_types_list_each_field_path(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas", json={"code": 12, "name": ["x"], "email": "not-an-email"}, headers=headers
    )
    body = assert_problem(r, 422, "validation-error")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/code", "/name", "/email"} <= pointers


async def test_field_errors_speak_spanish_and_keep_pydantics_codes(client, session):
    """The web application shows each field error's message next to its field."""
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        json={"code": 12, "name": ["x"], "email": "not-an-email", "is_admin": True},
        headers=headers,
    )
    body = assert_problem(r, 422, "validation-error")
    coded = {e["pointer"]: (e["code"], e["message"]) for e in body["errors"]}
    assert coded["/code"] == ("string_type", "Debe ser un texto")
    assert coded["/name"] == ("string_type", "Debe ser un texto")
    assert coded["/email"] == ("value_error", "Debe ser una dirección de correo electrónico válida")
    assert coded["/is_admin"] == ("extra_forbidden", "Campo no admitido")

    r = await client.post("/api/v1/areas", json={}, headers=headers)
    body = assert_problem(r, 422, "validation-error")
    assert {e["message"] for e in body["errors"]} == {"Campo obligatorio"}

    r = await client.get("/api/v1/consultations?limit=0&status=nope", headers=headers)
    said = {e["pointer"]: e["message"] for e in assert_problem(r, 422)["errors"]}
    assert said["/query/limit"] == "Debe ser 1 o más"
    assert said["/query/status/0"].startswith("Debe ser uno de estos valores: 'received', ")
    assert said["/query/status/0"].endswith(" o 'closed'")

    # A validator of ours words its own message; it is kept, capitalised.
    r = await client.post(
        "/api/v1/consultations",
        json={"subject": "x", "body": "Texto", "received_at": "ayer", "municipality_id": "1"},
        headers=headers,
    )
    said = {e["pointer"]: e["message"] for e in assert_problem(r, 422)["errors"]}
    assert said["/subject"] == "Debe tener al menos 3 caracteres"
    assert said["/received_at"].startswith("Debe ser una fecha y hora ISO 8601")
    assert said["/municipality_id"] == "Debe ser un identificador válido (UUID)"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"type": "string_too_short", "ctx": {"min_length": 1}}, "No puede estar vacío"),
        (
            {"type": "string_too_long", "ctx": {"max_length": 1}},
            "Debe tener como máximo 1 carácter",
        ),
        ({"type": "too_long", "ctx": {"max_length": 500}}, "Admite como máximo 500 elementos"),
        (
            {"type": "literal_error", "ctx": {"expected": "'a' or 'b'"}},
            "Debe ser uno de estos valores: 'a' o 'b'",
        ),
        (
            {"type": "value_error", "ctx": {"error": ValueError("la hora no existe")}},
            "La hora no existe",
        ),
        ({"type": "value_error", "ctx": {}}, "Valor no válido"),
        ({"type": "some_future_type", "msg": "Input is wrong"}, "Valor no válido"),
    ],
)
def test_field_messages_from_type_and_context(error, message):
    assert field_message(error) == message


async def test_unknown_fields_are_rejected(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        json={"code": "obras", "name": "Obras", "is_admin": True},
        headers=headers,
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == "/is_admin"
    assert body["errors"][0]["code"] == "extra_forbidden"
    count = (await session.execute(text("SELECT count(*) FROM area"))).scalar_one()
    assert count == 0


async def test_a_segment_that_is_not_an_id_is_no_resource(client):
    """`{id}` routes match identifiers only: anything else is a path that does not exist."""
    body = assert_problem(await client.get("/api/v1/municipalities/not-a-uuid"), 404)
    assert body["instance"] == "/api/v1/municipalities/not-a-uuid"


@pytest.mark.parametrize("cursor", ["garbage!!", "eyJmIjoiYmFkIn0", "e30", "W10", "x" * 300])
async def test_invalid_cursor_is_a_400(client, cursor):
    r = await client.get("/api/v1/municipalities", params={"cursor": cursor})
    assert_problem(r, 400, "invalid-cursor")


async def test_cursor_from_another_listing_is_refused(client):
    first = (await client.get("/api/v1/municipalities", params={"limit": 1})).json()
    r = await client.get("/api/v1/comarcas", params={"cursor": first["next_cursor"]})
    assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize("limit", [0, -1, 201, "many"])
async def test_limit_is_bounded(client, limit):
    assert_problem(await client.get("/api/v1/municipalities", params={"limit": limit}), 422)


async def test_sql_and_html_metacharacters_are_stored_and_returned_verbatim(client, session):
    headers = await f.admin_headers(client, session)
    nasty = 'Obras\'); DROP TABLE area;-- <script>alert(1)</script> & "x"'
    r = await client.post(
        "/api/v1/areas",
        json={"code": "obras", "name": nasty, "description": nasty},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    got = await client.get(f"/api/v1/areas/{r.json()['id']}")
    assert got.json()["name"] == nasty
    assert got.json()["description"] == nasty
    search = await client.get("/api/v1/municipalities", params={"q": "'; DROP TABLE x; --"})
    assert search.status_code == 200
    assert search.json()["items"] == []


async def test_like_wildcards_in_search_are_literal(client):
    r = await client.get("/api/v1/municipalities", params={"q": "%"})
    assert r.json()["items"] == []


async def test_unexpected_errors_are_a_500_problem_without_internals(client, monkeypatch):
    from app.services import reference

    async def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(reference, "list_areas", boom)
    r = await client.get("/api/v1/areas")
    body = assert_problem(r, 500, "internal-error")
    assert "secret internal detail" not in r.text
    assert "Traceback" not in r.text
    assert "RuntimeError" not in body.get("detail", "")


async def test_every_response_carries_a_request_id(client):
    r = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces\n"})
    assert r.headers["x-request-id"] != "bad id with spaces\n"
    assert len(r.headers["x-request-id"]) == 32


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.json() == {"status": "ok"}


@pytest.mark.committed
async def test_readyz_when_database_and_redis_answer(client):
    r = await client.get("/readyz")
    assert r.status_code == 200
    # No worker runs in this test: the API is ready, and says it is degraded without one.
    assert r.json() == {"status": "degraded", "database": "ok", "redis": "ok", "worker": "absent"}


@pytest.mark.committed
async def test_readyz_is_503_when_redis_is_unreachable(client, monkeypatch):
    from redis.asyncio import Redis

    from app.routers import health

    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    monkeypatch.setattr(health, "get_redis", lambda: unreachable)
    r = await client.get("/readyz")
    body = assert_problem(r, 503, "service-unavailable")
    assert "Redis" in body["detail"]
    await unreachable.aclose()


async def test_readyz_is_503_when_database_is_unreachable(client, monkeypatch):
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.routers import health

    dead = create_async_engine(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none", connect_args={"timeout": 1}
    )
    monkeypatch.setattr(health, "get_engine", lambda: dead)
    body = assert_problem(await client.get("/readyz"), 503)
    assert "base de datos" in body["detail"]
    await dead.dispose()


async def test_metrics_are_exposed_for_prometheus(client):
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'oaaa_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text


async def test_cors_allows_the_spa_origin_only(client):
    ok = await client.options(
        "/api/v1/areas",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"},
    )
    assert ok.headers["access-control-allow-origin"] == "http://localhost:5173"
    bad = await client.options(
        "/api/v1/areas",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in bad.headers


async def test_municipal_user_cannot_call_admin_endpoints(client, session):
    u = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06011")).id
    )
    headers = await f.auth_headers(client, u)
    r = await client.post("/api/v1/areas", json={"code": "x1", "name": "Área X"}, headers=headers)
    assert_problem(r, 403, "forbidden")
    assert_problem(await client.get("/api/v1/audit-log", headers=headers), 403)
    assert_problem(await client.get("/api/v1/integration-clients", headers=headers), 403)


async def test_public_endpoints_with_a_bad_token_are_401_not_anonymous(client):
    r = await client.get("/api/v1/areas", headers={"Authorization": "Bearer nonsense"})
    assert_problem(r, 401)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/areas", {"code": "NO VÁLIDO", "name": "Área"}, "/code"),
        (
            "/api/v1/sla-policies",
            {"code": "Mal Código", "name": "P", "first_response_target": 1, "resolution_target": 2},
            "/code",
        ),
    ],
)
async def test_code_patterns_are_enforced(client, session, path, body, field):
    headers = await f.admin_headers(client, session)
    problem = assert_problem(await client.post(path, json=body, headers=headers), 422)
    assert field in [e["pointer"] for e in problem["errors"]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/assistant/ask", {"json": {"question": "hola\u0000mundo"}}),
        ("get", "/api/v1/municipalities", {"params": {"q": "Mérida\x00"}}),
    ],
)
async def test_nul_characters_are_a_422_anywhere(client, method, path, kwargs):
    r = await getattr(client, method)(path, **kwargs)
    body = assert_problem(r, 422)
    assert "U+0000" in body["detail"]


async def test_nul_characters_at_the_token_endpoint_are_an_oauth2_invalid_request(client):
    data = {"grant_type": "password", "username": "a\x00b", "password": "x"}
    body = assert_problem(await client.post("/api/v1/auth/token", data=data), 400)
    assert body["error"] == "invalid_request"
    assert "U+0000" in body["detail"]


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(client, session):
    headers = await f.admin_headers(client, session)
    r = await client.post(
        "/api/v1/areas",
        content=rb'{"code": "texto", "name": "Barra \\u0000 literal"}',
        headers=headers | {"content-type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Barra \\u0000 literal"


@pytest.mark.parametrize("field", ["name", "is_active"])
async def test_null_for_a_required_field_is_a_422_and_changes_nothing(client, session, field):
    headers = await f.admin_headers(client, session)
    area = await f.area(session, "obras", name="Obras")
    r = await client.patch(f"/api/v1/areas/{area.id}", json={field: None}, headers=headers)
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == f"/{field}"
    await session.refresh(area)
    assert area.name == "Obras"
    assert area.is_active is True


@pytest.mark.parametrize(
    "received_at", ["0001-01-01T00:00:00+00:00", "1900-01-01T10:00:00+01:00", "2026-01-01T10:00:00"]
)
async def test_out_of_range_or_naive_instants_are_a_422(client, session, received_at):
    staff = await f.user(session, Role.oaaa_staff)
    mun = await f.municipality(session, "06083")
    r = await client.post(
        "/api/v1/consultations",
        json={
            "subject": "Llamada",
            "body": "Texto",
            "municipality_id": str(mun.id),
            "channel": "phone",
            "received_at": received_at,
        },
        headers=await f.auth_headers(client, staff),
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["pointer"] == "/received_at"


async def test_second_review_inputs_are_422_not_500(client, session):
    admin = await f.admin_headers(client, session)
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    start = "2026-12-01T10:00:00+01:00"
    event = {"kind": "event", "title": "Sesión", "starts_at": start, "ends_at": start}
    for rule in ("FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=HOURLY;COUNT=5"):
        r = await client.post("/api/v1/events", json=event | {"rrule": rule}, headers=staff)
        assert assert_problem(r, 422)["errors"][0]["pointer"] == "/rrule"
    for exdates in (["2030-01-01T10:00:00"], ["0001-01-01T00:00:00+01:00"]):
        r = await client.post(
            "/api/v1/events",
            json=event | {"rrule": "FREQ=WEEKLY;COUNT=3", "exdates": exdates},
            headers=staff,
        )
        assert_problem(r, 422)
    policy = (await client.get("/api/v1/sla-policies", headers=admin)).json()["items"][0]
    r = await client.patch(
        f"/api/v1/sla-policies/{policy['id']}", json={"first_response_target": None}, headers=admin
    )
    assert_problem(r, 422)
    assert_problem(
        await client.get("/api/v1/visits", params={"to": "0001-01-05"}, headers=staff), 422
    )
    for body in (
        {"day": "0001-01-01", "count": 3},
        {"day": "2026-11-20", "count": 3, "page": "Bad Page!"},
    ):
        assert_problem(await client.post("/api/v1/visits/in-person", json=body, headers=staff), 422)
    for big in (2**63, 10**22):
        assert_problem(await client.post(f"/api/v1/notifications/{big}/read", headers=staff), 422)
    assert_problem(
        await client.get(
            "/api/v1/notifications/stream", headers=staff | {"Last-Event-ID": str(2**63)}
        ),
        422,
    )


async def test_daily_rule_with_huge_count_stays_bounded(client, session):
    staff = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    start = "2026-12-01T10:00:00+01:00"
    r = await client.post(
        "/api/v1/events",
        json={
            "kind": "event",
            "title": "Guardia diaria",
            "starts_at": start,
            "ends_at": "2026-12-01T11:00:00+01:00",
            "rrule": "FREQ=DAILY;COUNT=100000",
        },
        headers=staff,
    )
    assert r.status_code == 201, r.text
    detail = await client.get(f"/api/v1/events/{r.json()['id']}", headers=staff)
    assert detail.status_code == 200
    listed = await client.get(
        "/api/v1/events",
        params={"from": "2026-12-01T00:00:00+01:00", "to": "2027-12-01T00:00:00+01:00"},
        headers=staff,
    )
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 365
