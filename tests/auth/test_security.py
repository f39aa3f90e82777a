"""JWT hardening: every way a token can be forged, stale or malformed is refused."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from app.core import security
from app.core.config import Settings
from app.core.security import InvalidToken, decode_access_token

SETTINGS = Settings(environment="test", jwt_secret="k" * 40)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": f"user:{uuid.uuid4()}",
        "typ": "access",
        "role": "admin",
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
        "mun": None,
        "area": None,
        "scope": "",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def _sign(claims: dict[str, Any], key: str = "k" * 40, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_valid_token_round_trips() -> None:
    subject = uuid.uuid4()
    token, _ = security.create_access_token(
        SETTINGS, subject_kind="user", subject_id=subject, role="oaaa_staff"
    )
    claims = decode_access_token(SETTINGS, token)
    assert claims.subject_id == subject
    assert claims.role == "oaaa_staff"
    assert claims.subject_kind == "user"


def test_alg_none_is_rejected() -> None:
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + "."
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, unsigned)


def test_token_signed_with_another_key_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(), key="z" * 40))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_token_signed_with_another_algorithm_is_rejected(alg: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(), alg=alg))


def test_header_claiming_another_algorithm_is_rejected() -> None:
    good = _sign(_claims())
    _, payload, signature = good.split(".")
    forged = _b64({"alg": "RS256", "typ": "JWT"}) + "." + payload + "." + signature
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, forged)


def test_expired_token_is_rejected() -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token = _sign(
        _claims(
            iat=int(past.timestamp()),
            nbf=int(past.timestamp()),
            exp=int((past + timedelta(minutes=5)).timestamp()),
        )
    )
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, token)


def test_not_yet_valid_token_is_rejected() -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    token = _sign(
        _claims(nbf=int(future.timestamp()), exp=int((future + timedelta(hours=1)).timestamp()))
    )
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, token)


def test_wrong_issuer_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(iss="someone-else")))


def test_wrong_audience_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(aud="another-api")))


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "role"])
def test_missing_claim_is_rejected(claim: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(**{claim: ...})))


def test_token_of_another_type_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(typ="refresh")))


# Fixed ids: parallel test workers must collect the same tests.
@pytest.mark.parametrize(
    "sub", ["admin", "user:not-a-uuid", "robot:0b9e4c1e-5b0a-4f7e-9d55-2f1c3a7e8d10"]
)
def test_malformed_subject_is_rejected(sub: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, _sign(_claims(sub=sub)))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "eyJ.eyJ.sig"])
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, garbage)


def test_passwords_are_hashed_with_argon2_and_verified() -> None:
    digest = security.hash_password("una contraseña larga")
    assert digest.startswith("$argon2id$")
    assert security.verify_password("una contraseña larga", digest)
    assert not security.verify_password("otra contraseña", digest)
    assert not security.verify_password("lo que sea", None)


def test_refresh_tokens_are_stored_only_as_digests() -> None:
    raw, digest = security.new_refresh_token()
    assert raw not in digest
    assert security.digest_token(raw) == digest


async def test_password_hashing_runs_off_the_event_loop() -> None:
    import threading

    seen: list[str] = []
    original = security.hash_password

    def spy(password: str) -> str:
        seen.append(threading.current_thread().name)
        return original(password)

    security.hash_password = spy
    try:
        digest = await security.hash_password_async("una contraseña larga")
    finally:
        security.hash_password = original
    assert seen
    assert seen[0] != threading.main_thread().name
    assert digest.startswith("$argon2id$")
    assert await security.verify_password_async("una contraseña larga", digest)
    assert not await security.verify_password_async("otra", digest)
    assert not await security.verify_password_async("otra", None)


async def test_machine_secrets_are_keyed_digests_compared_in_constant_time() -> None:
    stored = security.digest_secret("ABCDEFGH23")
    assert stored.startswith("hmac-sha256$")
    assert len(stored) == len("hmac-sha256$") + 64
    assert "ABCDEFGH23" not in stored
    # Keyed: a plain SHA-256 of the secret is not what is stored.
    import hashlib

    assert hashlib.sha256(b"ABCDEFGH23").hexdigest() not in stored
    assert await security.verify_secret("ABCDEFGH23", stored)
    assert not await security.verify_secret("ABCDEFGH24", stored)
    assert not await security.verify_secret("ABCDEFGH23", None)
    assert not security.secret_needs_upgrade(stored)


async def test_legacy_argon2_secrets_still_verify_and_ask_for_an_upgrade() -> None:
    legacy = security.hash_password("ABCDEFGH23")
    assert await security.verify_secret("ABCDEFGH23", legacy)
    assert not await security.verify_secret("ABCDEFGH24", legacy)
    assert security.secret_needs_upgrade(legacy)
    assert not await security.verify_secret("x", "not a hash at all")
