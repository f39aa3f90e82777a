"""Log-in, refresh rotation, log-out, /me, brute-force protection, client credentials."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from app.models.base import Role
from tests import factories as f
from tests.factories import PASSWORD, assert_problem

TOKEN = "/api/v1/auth/token"


async def test_password_login_returns_short_lived_access_and_refresh_token(client, session):
    u = await f.user(session, Role.oaaa_staff)
    response = await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert len(body["refresh_token"]) > 40
    assert response.headers["cache-control"] == "no-store"


async def test_login_is_case_insensitive_on_email(client, session):
    u = await f.user(session, Role.oaaa_staff, email="Mixed.Case@example.org".lower())
    response = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": "MIXED.case@example.org", "password": PASSWORD},
    )
    assert response.status_code == 200, u.email


async def test_wrong_password_and_unknown_user_get_the_same_generic_error(client, session):
    u = await f.user(session, Role.oaaa_staff)
    wrong = await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": "nobody@example.org", "password": "x" * 12},
    )
    a, b = assert_problem(wrong, 400), assert_problem(unknown, 400)
    assert a["detail"] == b["detail"] == "Usuario o contraseña incorrectos"
    assert a["error"] == b["error"] == "invalid_grant"
    assert a["error_description"] == "Usuario o contraseña incorrectos"


async def test_disabled_user_cannot_log_in(client, session):
    u = await f.user(session, Role.oaaa_staff, is_active=False)
    response = await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": PASSWORD}
    )
    assert assert_problem(response, 400)["error"] == "invalid_grant"


async def test_brute_force_on_one_account_is_blocked_even_with_the_right_password(client, session):
    u = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06083")).id
    )
    for _ in range(5):
        r = await client.post(
            TOKEN, data={"grant_type": "password", "username": u.email, "password": "bad-" * 4}
        )
        assert r.status_code == 400
    blocked = await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": PASSWORD}
    )
    body = assert_problem(blocked, 429, "temporarily-unavailable")
    assert int(blocked.headers["retry-after"]) > 0
    assert "intentos" in body["detail"]
    assert body["error"] == "temporarily_unavailable"


async def test_brute_force_from_one_address_is_blocked_across_accounts(client, session):
    for i in range(20):
        r = await client.post(
            TOKEN,
            data={"grant_type": "password", "username": f"u{i}@example.org", "password": "x" * 12},
        )
        assert r.status_code == 400
    u = await f.user(session, Role.oaaa_staff)
    blocked = await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": PASSWORD}
    )
    assert_problem(blocked, 429)


async def test_successful_login_resets_the_account_counter(client, session):
    u = await f.user(session, Role.oaaa_staff)
    for _ in range(4):
        await client.post(
            TOKEN, data={"grant_type": "password", "username": u.email, "password": "bad" * 5}
        )
    await f.login(client, u.email)
    for _ in range(4):
        r = await client.post(
            TOKEN, data={"grant_type": "password", "username": u.email, "password": "bad" * 5}
        )
        assert r.status_code == 400
    await f.login(client, u.email)


async def test_password_is_never_logged(client, session, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    u = await f.user(session, Role.oaaa_staff)
    await client.post(
        TOKEN, data={"grant_type": "password", "username": u.email, "password": "Secret-Value-123"}
    )
    tokens = await f.login(client, u.email)
    assert "Secret-Value-123" not in caplog.text
    assert PASSWORD not in caplog.text
    assert tokens["refresh_token"] not in caplog.text


async def test_missing_grant_fields_are_a_clear_400(client):
    r = await client.post(TOKEN, data={"grant_type": "password", "username": "a@example.org"})
    body = assert_problem(r, 400, "invalid-request")
    assert "password" in body["detail"]
    assert body["error"] == "invalid_request"


async def test_unknown_grant_type_is_unsupported_grant_type_naming_the_field(client):
    r = await client.post(TOKEN, data={"grant_type": "implicit"})
    body = assert_problem(r, 400, "unsupported-grant-type")
    assert body["error"] == "unsupported_grant_type"
    assert body["errors"][0]["loc"] == ["body", "grant_type"]


async def test_me_describes_the_municipal_user(client, session):
    merida = await f.municipality(session, "06083")
    u = await f.user(session, Role.municipal_user, municipality_id=merida.id)
    r = await client.get("/api/v1/auth/me", headers=await f.auth_headers(client, u))
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "municipal_user"
    assert body["municipality"] == {"id": str(merida.id), "name": "Mérida", "code": "06083"}


async def test_me_requires_a_token(client):
    r = await client.get("/api/v1/auth/me")
    assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "Bearer"])
async def test_tampered_token_is_401(client, token):
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401)


async def test_token_with_flipped_payload_is_401(client, session):
    u = await f.user(
        session, Role.municipal_user, municipality_id=(await f.municipality(session, "06011")).id
    )
    token = (await f.login(client, u.email))["access_token"]
    header, payload, sig = token.split(".")
    tampered = f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{sig}"
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(r, 401)


async def test_disabled_users_still_valid_token_is_rejected(client, session):
    u = await f.user(session, Role.oaaa_staff)
    headers = await f.auth_headers(client, u)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    await session.execute(
        text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": u.id}
    )
    await session.commit()
    assert_problem(await client.get("/api/v1/auth/me", headers=headers), 401)


async def test_refresh_rotates_and_the_old_token_stops_working(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reuse = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": first["refresh_token"]},
        headers={"User-Agent": "otro-navegador/1.0"},
    )
    assert_problem(reuse, 401)
    # The legitimate holder's newer token is revoked too.
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert_problem(after, 401)
    revoked = (
        await session.execute(
            text("SELECT count(*) FROM refresh_token WHERE user_id = :u AND revoked_at IS NULL"),
            {"u": u.id},
        )
    ).scalar_one()
    assert revoked == 0


async def test_other_sessions_survive_a_reuse_in_another_family(client, session):
    u = await f.user(session, Role.oaaa_staff)
    laptop = await f.login(client, u.email)
    phone = await f.login(client, u.email)
    await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    ok = await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert ok.status_code == 200


async def test_unknown_refresh_token_is_401(client):
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 64})
    assert_problem(r, 401)


async def test_refresh_token_can_live_in_an_httponly_cookie(client, session):
    u = await f.user(session, Role.oaaa_staff)
    r = await client.post(
        TOKEN + "?refresh_transport=cookie",
        data={"grant_type": "password", "username": u.email, "password": PASSWORD},
    )
    assert r.status_code == 200
    assert "refresh_token" not in r.json()
    cookie = r.headers["set-cookie"]
    assert "oaaa_refresh=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/api/v1/auth" in cookie
    raw = r.cookies["oaaa_refresh"]
    client.cookies.set("oaaa_refresh", raw, path="/api/v1/auth")
    refreshed = await client.post("/api/v1/auth/refresh")
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] is None
    assert refreshed.cookies["oaaa_refresh"] != raw


async def test_logout_revokes_refresh_family_and_access_token(client, session):
    u = await f.user(session, Role.oaaa_staff)
    tokens = await f.login(client, u.email)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers
    )
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/auth/me", headers=headers), 401)
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(again, 401)


async def test_client_credentials_grant_for_integrations(client, session):
    a = await f.area(session)
    c = await f.integration_client(session, a.id, secret="integration-secret-xyz-123")
    r = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": "integration-secret-xyz-123",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert "refresh_token" not in body
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["kind"] == "integration"
    assert me.json()["area"]["id"] == str(a.id)
    assert me.json()["scopes"] == ["expedientes:read"]


async def test_client_credentials_by_http_basic(client, session):
    a = await f.area(session)
    c = await f.integration_client(session, a.id, secret="basic-secret-abc-123456")
    r = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        auth=(c.client_id, "basic-secret-abc-123456"),
    )
    assert r.status_code == 200


async def test_wrong_client_secret_is_401_invalid_client(client, session):
    a = await f.area(session)
    c = await f.integration_client(session, a.id)
    r = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": "no"},
    )
    body = assert_problem(r, 401, "invalid-client")
    assert body["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic ")


async def test_disabled_client_token_is_rejected(client, session):
    a = await f.area(session)
    c = await f.integration_client(session, a.id, secret="integration-secret-xyz-123")
    body = (
        await client.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": "integration-secret-xyz-123",
            },
        )
    ).json()
    await session.execute(
        text("UPDATE integration_client SET is_active = false WHERE id = :id"), {"id": c.id}
    )
    await session.commit()
    r = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert_problem(r, 401)


async def test_login_is_recorded_in_the_audit_log(client, session):
    u = await f.user(session, Role.oaaa_staff)
    await f.login(client, u.email)
    row = (
        await session.execute(
            text("SELECT actor_id, action FROM audit_log WHERE action = 'auth.login'")
        )
    ).one()
    assert row == (u.id, "auth.login")


async def test_a_rotation_whose_answer_was_lost_gets_a_new_pair(client, session):
    """A reload in the middle of a refresh: the browser never saw the successor and sends the
    old cookie again at once, from the same user agent."""
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    lost = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert lost.status_code == 200
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert again.status_code == 200, again.text
    third = again.json()
    assert third["refresh_token"] not in (first["refresh_token"], lost.json()["refresh_token"])
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {third['access_token']}"}
    )
    assert me.status_code == 200
    live = (
        await session.execute(
            text("SELECT count(*) FROM refresh_token WHERE user_id = :u AND revoked_at IS NULL"),
            {"u": u.id},
        )
    ).scalar_one()
    assert live == 2  # the original (used) and the new one; the lost successor is dead


async def test_an_old_token_after_its_successor_was_used_is_a_theft(client, session):
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    third = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert third.status_code == 200
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert_problem(reuse, 401)
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": third.json()["refresh_token"]}
    )
    assert_problem(after, 401)


async def test_without_a_grace_period_any_reuse_revokes_the_family(client, session, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "refresh_reuse_grace_seconds", 0)
    u = await f.user(session, Role.oaaa_staff)
    first = await f.login(client, u.email)
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert_problem(reuse, 401)
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert_problem(after, 401)


async def test_a_legacy_argon2_client_secret_logs_in_and_is_rewritten_as_a_keyed_digest(
    client, session
):
    from sqlmodel import col, select

    from app.core.security import hash_password
    from app.models.integration import IntegrationClient

    a = await f.area(session)
    c = await f.integration_client(session, a.id)
    c.secret_hash = hash_password("legacy-secret-abcdef-123456")
    await session.commit()
    cid = c.id
    form = {"grant_type": "client_credentials", "client_id": c.client_id}
    wrong = await client.post(TOKEN, data=form | {"client_secret": "legacy-secret-abcdef-12345"})
    assert_problem(wrong, 401)
    r = await client.post(TOKEN, data=form | {"client_secret": "legacy-secret-abcdef-123456"})
    assert r.status_code == 200, r.text
    session.expire_all()
    stored = await session.scalar(
        select(col(IntegrationClient.secret_hash)).where(IntegrationClient.id == cid)
    )
    assert stored is not None
    assert stored.startswith("hmac-sha256$")
    again = await client.post(TOKEN, data=form | {"client_secret": "legacy-secret-abcdef-123456"})
    assert again.status_code == 200
