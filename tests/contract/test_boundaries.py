"""Class-level regression tests for the boundaries of the contract.

Every case list is read from the application's own OpenAPI document, so an operation added
later is covered without touching this file: every paginated list against forged cursors, every
date and date-time filter at both ends of the calendar, every integer of every body beyond its
column, every nullable and non-nullable PATCH field sent as `null`, every body that is not JSON,
HEAD on every GET and the `Allow` header of every path.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from app.core import security
from app.core.config import get_settings
from app.main import app
from app.models.base import Role
from app.models.user import User
from tests import factories as f

SPEC: dict[str, Any] = app.openapi()
METHODS = ("get", "put", "post", "patch", "delete")
SOME_ID = "0b7e1a3c-5d2f-4e6a-8b9c-1d2e3f4a5b6c"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return dict(SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema)
    return [_resolve(s) for s in schema.get("anyOf", [schema])]


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _path_params() -> dict[str, dict[str, Any]]:
    return {
        p["name"]: _branches(p["schema"])[0]
        for _, _, op in _operations()
        for p in op.get("parameters", [])
        if p["in"] == "path"
    }


PATH_PARAMS = _path_params()
PATH_VALUES = {
    name: "1" if schema.get("type") == "integer" else SOME_ID
    for name, schema in PATH_PARAMS.items()
}


def _url(path: str) -> str:
    """The path with every parameter filled with an identifier that exists nowhere."""
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], path)


def _query(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


def _valid_value(schema: dict[str, Any]) -> Any:
    branch = _branches(schema)[0]
    fmt, kind = branch.get("format"), branch.get("type")
    if fmt == "date-time":
        return "2026-03-02T10:00:00+01:00"
    if fmt == "date":
        return "2026-03-02"
    if fmt == "uuid":
        return SOME_ID
    if "enum" in branch:
        return branch["enum"][0]
    if kind == "integer":
        return max(1, branch.get("minimum", 1))
    if kind == "boolean":
        return "false"
    return "x" * max(1, branch.get("minLength", 1))


def _required_query(operation: dict[str, Any], but: str = "") -> dict[str, Any]:
    return {
        p["name"]: _valid_value(p["schema"])
        for p in _query(operation)
        if p.get("required") and p["name"] != but
    }


def _json_body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(content["application/json"]["schema"])


def _streams(operation: dict[str, Any]) -> bool:
    return any("text/event-stream" in r.get("content", {}) for r in operation["responses"].values())


_HASH = security.hash_password("x" * 16)


async def _admin(session: Any) -> dict[str, str]:
    # One password hash for all: hashing one per case would dominate several hundred cases.
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    user = User(email=email, full_name="Administración", role=Role.admin, password_hash=_HASH)
    session.add(user)
    await session.commit()
    token, _ = security.create_access_token(
        get_settings(), subject_kind="user", subject_id=user.id, role=user.role
    )
    return {"Authorization": f"Bearer {token}"}


def _field_pointers(response: httpx.Response) -> set[str]:
    return {e["pointer"] for e in response.json().get("errors") or []}


# ---- forged cursors on every paginated list ------------------------------------------------

LISTS = [
    (path, op)
    for method, path, op in _operations()
    if method == "get" and any(p["name"] == "cursor" for p in _query(op))
]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forged(values: list[Any], signature: bytes = b"\0" * 16) -> str:
    payload = json.dumps({"f": "00000000", "v": values}, ensure_ascii=True).encode()
    return f"{_b64(payload)}.{_b64(signature)}"


FORGED_CURSORS = {
    "nul": _forged(["a\u0000b", SOME_ID]),
    "lone-surrogate": _forged(["\ud800", SOME_ID]),
    "beyond-int64": _forged([2**64, 2**70]),
    "extreme-offset": _forged(["9999-12-31T23:59:59-23:59", SOME_ID]),
    "year-one": _forged(["0001-01-01T00:00:00+23:59", SOME_ID]),
    "unsigned": _b64(json.dumps({"f": "00000000", "v": [1]}).encode()),
    "not-base64": "*%$.!!",
}


def test_every_paginated_list_is_found():
    assert len(LISTS) >= 20
    assert any(path == "/api/v1/public/announcements" for path, _ in LISTS)


@pytest.mark.parametrize("kind", sorted(FORGED_CURSORS))
@pytest.mark.parametrize(("path", "op"), LISTS, ids=[path for path, _ in LISTS])
async def test_a_forged_cursor_is_a_400_naming_the_cursor(client, session, path, op, kind):
    params = _required_query(op) | {"cursor": FORGED_CURSORS[kind]}
    r = await client.get(_url(path), params=params, headers=await _admin(session))
    if "{" in path and r.status_code == 404:
        return  # the parent resource is looked up first, and does not exist
    f.assert_problem(r, 400, "invalid-cursor")
    assert _field_pointers(r) == {"/cursor"}


async def test_a_cursor_with_its_signature_tampered_is_refused(client, session):
    headers = await _admin(session)
    first = await client.get("/api/v1/municipalities", params={"limit": 2}, headers=headers)
    cursor = first.json()["next_cursor"]
    body, _, signature = cursor.partition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    genuine = await client.get("/api/v1/municipalities", params={"cursor": cursor})
    assert genuine.status_code == 200
    r = await client.get("/api/v1/municipalities", params={"cursor": f"{body}.{flipped}"})
    f.assert_problem(r, 400, "invalid-cursor")


@pytest.mark.parametrize(
    "value",
    ["a\u0000b", "\udfff", 2**63, "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"],
    ids=["nul", "surrogate", "int64-overflow", "year-one", "year-9999"],
)
def test_even_a_signed_cursor_is_range_checked(value):
    """The signature keeps forgeries out; the range checks hold even if the key leaked."""
    from app.core import pagination
    from app.core.errors import InvalidCursor
    from app.models.audit import AuditLog
    from app.models.consultation import Consultation

    keys: list[Any] = (
        [AuditLog.id] if isinstance(value, int) else [Consultation.received_at, Consultation.id]
    )
    values = [value] if isinstance(value, int) else [value, SOME_ID]
    payload = json.dumps({"f": pagination._fingerprint(keys, True), "v": values}).encode()
    cursor = f"{_b64(payload)}.{_b64(pagination._signature(payload))}"
    with pytest.raises(InvalidCursor):
        pagination.decode_cursor(cursor, keys, descending=True)


# ---- every date and date-time filter at both ends of the calendar --------------------------

DATE_FILTERS = [
    (path, op, p["name"], _branches(p["schema"])[0]["format"])
    for method, path, op in _operations()
    if method == "get"
    for p in _query(op)
    if _branches(p["schema"])[0].get("format") in ("date", "date-time")
]
OUT_OF_RANGE = {
    "date": ["0001-01-01", "9999-12-31", "0", "1700000000"],
    "date-time": [
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "0",
        "1700000000",
    ],
}
FILTER_IDS = [f"{path}?{name}" for path, _, name, _ in DATE_FILTERS]


def test_every_date_filter_is_found():
    names = {name for _, _, name, _ in DATE_FILTERS}
    assert {"received_from", "since", "from", "to", "deadline_to"} <= names


@pytest.mark.parametrize(("path", "op", "name", "fmt"), DATE_FILTERS, ids=FILTER_IDS)
async def test_a_date_filter_beyond_the_calendar_is_a_422_naming_it(
    client, session, path, op, name, fmt
):
    headers = await _admin(session)
    for value in OUT_OF_RANGE[fmt]:
        params = _required_query(op, but=name) | {name: value}
        r = await client.get(_url(path), params=params, headers=headers)
        f.assert_problem(r, 422)
        assert f"/{name}" in _field_pointers(r) or any(
            e["loc"] == ["query", name] for e in r.json()["errors"]
        ), (value, r.text)


@pytest.mark.parametrize(("path", "op", "name", "fmt"), DATE_FILTERS, ids=FILTER_IDS)
async def test_a_date_filter_at_the_last_accepted_day_is_answered(
    client, session, path, op, name, fmt
):
    """Day arithmetic (`+1 day`, time zones) at the end of the accepted range never fails."""
    value = "2199-12-31" if fmt == "date" else "2199-12-31T23:59:59-23:59"
    params = _required_query(op, but=name) | {name: value}
    r = await client.get(_url(path), params=params, headers=await _admin(session))
    assert r.status_code < 500, r.text


# ---- every integer of every JSON body, beyond its column --------------------------------------


def _integer_fields(schema: dict[str, Any]) -> list[str]:
    return [
        name
        for name, prop in schema.get("properties", {}).items()
        if any(b.get("type") == "integer" for b in _branches(prop))
    ]


INT_FIELDS = [
    (method, path, name)
    for method, path, op in _operations()
    if (body := _json_body(op)) is not None
    for name in _integer_fields(body)
]


def test_integer_fields_of_bodies_are_found():
    assert len(INT_FIELDS) >= 8
    assert ("patch", "/api/v1/municipalities/{municipality_id}", "population") in INT_FIELDS


@pytest.mark.parametrize(
    ("method", "path", "name"), INT_FIELDS, ids=[f"{m} {p} {n}" for m, p, n in INT_FIELDS]
)
async def test_an_integer_beyond_its_column_is_a_422_naming_it(client, session, method, path, name):
    headers = await _admin(session)
    for value in (2**31, -(2**31) - 1, 2**63, True, "7"):
        r = await client.request(method, _url(path), json={name: value}, headers=headers)
        f.assert_problem(r, 422)
        assert f"/{name}" in _field_pointers(r), (value, r.text)


def test_integer_fields_show_their_range_in_the_contract():
    for method, path, name in INT_FIELDS:
        body = _json_body(SPEC["paths"][path][method])
        assert body is not None
        branch = next(b for b in _branches(body["properties"][name]) if b.get("type"))
        assert "minimum" in branch, (path, name)
        assert "maximum" in branch, (path, name)


async def test_a_flag_is_not_a_number(client, session):
    r = await client.put(
        "/api/v1/notifications/preferences",
        json={"preferences": [{"kind": "consultation.received", "in_app": 0, "email": False}]},
        headers=await _admin(session),
    )
    f.assert_problem(r, 422)


# ---- null in PATCH bodies: accepted exactly where the contract says ---------------------------

PATCH_FIELDS = [
    (path, name, any(b.get("type") == "null" for b in _branches(prop)))
    for method, path, op in _operations()
    if method == "patch" and (body := _json_body(op)) is not None
    for name, prop in body.get("properties", {}).items()
]


@pytest.mark.parametrize(
    ("path", "name", "nullable"),
    PATCH_FIELDS,
    ids=[f"{p} {n}" for p, n, _ in PATCH_FIELDS],
)
async def test_null_in_a_patch_is_refused_only_where_the_contract_refuses_it(
    client, session, path, name, nullable
):
    r = await client.patch(_url(path), json={name: None}, headers=await _admin(session))
    named = r.status_code == 422 and f"/{name}" in _field_pointers(r)
    assert named is not nullable, r.text


# ---- bodies that are not JSON ---------------------------------------------------------------

JSON_BODIES = [(method, path) for method, path, op in _operations() if _json_body(op) is not None]
NOT_JSON = {
    "malformed": b'{"a": ',
    "invalid-utf8": b'{"a": "\xff\xfe"}',
    "too-deep": b"[" * 1_000 + b"]" * 1_000,
}


@pytest.mark.parametrize("kind", sorted(NOT_JSON))
@pytest.mark.parametrize(("method", "path"), JSON_BODIES, ids=[f"{m} {p}" for m, p in JSON_BODIES])
async def test_a_body_that_is_not_json_is_one_documented_400(client, session, method, path, kind):
    assert "400" in SPEC["paths"][path][method]["responses"]
    headers = await _admin(session) | {"Content-Type": "application/json"}
    r = await client.request(method, _url(path), content=NOT_JSON[kind], headers=headers)
    body = f.assert_problem(r, 400, "malformed-json")
    assert body["title"] == "JSON mal formado"


# ---- HEAD wherever GET --------------------------------------------------------------------------

# /readyz opens connections of its own (tested in tests/core with the app's engine).
GETS = [
    path
    for method, path, op in _operations()
    if method == "get" and not _streams(op) and path != "/readyz"
]


@pytest.mark.parametrize("path", GETS)
async def test_head_answers_with_the_headers_of_get(client, session, path):
    headers = await _admin(session)
    got = await client.get(_url(path), headers=headers)
    head = await client.head(_url(path), headers=headers)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")
    if got.status_code == 200 and "content-length" in got.headers:
        assert head.headers["content-length"] == got.headers["content-length"]


async def test_health_checks_answer_head(client):
    r = await client.head("/healthz")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == str(len((await client.get("/healthz")).content))


# ---- 405 lists every method of the path ------------------------------------------------------


# Parameters that take the rest of the path, slashes included (an external reference).
REST_OF_PATH = {
    name
    for route in iter_route_contexts(app.router.routes)
    for name in re.findall(r"{(\w+):path}", route.path or "")
}


def _template(path: str) -> re.Pattern[str]:
    def part(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in REST_OF_PATH:
            return ".+"
        if PATH_PARAMS[name].get("type") == "integer":
            return "[0-9]+"
        if PATH_PARAMS[name].get("format") == "uuid":
            return "[0-9a-fA-F-]{32,36}"
        return "[^/]+"

    return re.compile(
        re.sub(r"{(\w+)}", part, re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
    )


def _allowed(path: str) -> list[str]:
    """The methods of every documented path that the concrete URL of `path` matches."""
    url = _url(path)
    methods = {
        m.upper()
        for other, item in SPEC["paths"].items()
        if _template(other).match(url)
        for m in item
        if m in METHODS
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


PATHS = list(SPEC["paths"])


@pytest.mark.parametrize("path", PATHS)
async def test_a_method_the_path_lacks_is_a_405_listing_all_its_methods(client, path):
    allowed = _allowed(path)
    missing = next(m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in allowed)
    r = await client.request(missing, _url(path))
    f.assert_problem(r, 405)
    assert sorted(m.strip() for m in r.headers["allow"].split(",")) == allowed


async def test_a_literal_segment_is_not_taken_for_an_identifier(client):
    r = await client.patch("/api/v1/announcements/unread-count")
    f.assert_problem(r, 405)
    assert r.headers["allow"] == "GET, HEAD"
    f.assert_problem(await client.get(f"/api/v1/areas/{uuid.uuid4().hex}x"), 404)


def test_the_security_scheme_declares_both_grants():
    flows = SPEC["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert flows["clientCredentials"]["tokenUrl"] == "/api/v1/auth/token"


def _takes_an_identifier(op: dict[str, Any]) -> bool:
    return any(
        p["in"] == "path"
        and (
            _branches(p["schema"])[0].get("type") == "integer"
            or _branches(p["schema"])[0].get("format") == "uuid"
        )
        for p in op.get("parameters", [])
    )


ID_PATHS = [(method, path) for method, path, op in _operations() if _takes_an_identifier(op)]


@pytest.mark.parametrize(("method", "path"), ID_PATHS, ids=[f"{m} {p}" for m, p in ID_PATHS])
async def test_a_segment_that_is_not_an_identifier_is_a_documented_404(client, method, path):
    """Identifier segments are typed in the path: anything else matches no route."""
    assert "404" in SPEC["paths"][path][method]["responses"]
    url = re.sub(r"{(\w+)}", "0.5x", path)
    r = await client.request(method.upper(), url)
    assert r.status_code in (404, 405), r.text
