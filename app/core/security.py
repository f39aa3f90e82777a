"""Every piece of token and password code lives here.

Access tokens are JWTs signed with one pinned HMAC algorithm; decoding always passes an explicit
allow-list, requires every claim we rely on and checks issuer and audience. Refresh tokens are
opaque random strings, stored only as SHA-256 digests.

Two kinds of stored secret, two hashes. People's passwords are argon2id, deliberately slow; the
hashing and verification run in a worker thread (`hash_password_async`, `verify_password_async`)
so that a log-in never stalls the event loop. Machine-generated high-entropy secrets (tracking
access codes, integration client secrets) need no key stretching: they are stored as a keyed
HMAC-SHA-256 (`digest_secret`, key derived from the application secret) and compared in
constant time (`verify_secret`), microseconds instead of a fifth of a second of CPU. Rows still
holding an argon2 hash of such a secret (written before) verify through argon2 once and the
caller rewrites them (`secret_needs_upgrade`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from jose import jwt
from jose.exceptions import JOSEError

from app.core.config import Settings, get_settings
from app.core.redis import key


def _make_hasher() -> PasswordHasher:
    # The test suite hashes hundreds of passwords; it uses the cheapest argon2id parameters.
    # Every other environment uses the library's recommended ones.
    if get_settings().environment == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


_hasher = _make_hasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so timing does not reveal it (made
    on first use: an argon2 hash costs a fifth of a second at start-up)."""
    return _hasher.hash(secrets.token_urlsafe(16))


REQUIRED_CLAIMS = ("sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "role")

SubjectKind = Literal["user", "integration"]


class InvalidToken(Exception):
    """The token is malformed, forged, expired or otherwise unacceptable."""


@dataclass(frozen=True)
class AccessClaims:
    subject_kind: SubjectKind
    subject_id: uuid.UUID
    role: str
    jti: str
    expires_at: datetime
    municipality_id: uuid.UUID | None
    area_id: uuid.UUID | None
    scopes: tuple[str, ...]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread: argon2 costs tens of milliseconds of CPU."""
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    """`verify_password` in a worker thread (argon2 releases the GIL while it works)."""
    return await anyio.to_thread.run_sync(verify_password, password, password_hash)


# ---- machine-generated secrets: keyed hash ----------------------------------------------

SECRET_DIGEST_PREFIX = "hmac-sha256$"  # noqa: S105 (a format marker)


@functools.lru_cache(maxsize=4)
def _derive_digest_key(app_secret: str) -> bytes:
    # A key of its own, derived from the application secret, so that the digests of stored
    # secrets and the signatures made with the application secret never share a key.
    return hmac.new(app_secret.encode(), b"oaaa:stored-secret-digest:v1", hashlib.sha256).digest()


def _digest_key() -> bytes:
    return _derive_digest_key(get_settings().jwt_secret.get_secret_value())


def digest_secret(secret: str) -> str:
    """The stored form of a machine-generated secret: `hmac-sha256$<hex>`."""
    mac = hmac.new(_digest_key(), secret.encode(), hashlib.sha256).hexdigest()
    return SECRET_DIGEST_PREFIX + mac


_DUMMY_DIGEST = SECRET_DIGEST_PREFIX + "0" * 64


async def verify_secret(secret: str, stored: str | None) -> bool:
    """Whether `secret` matches its stored digest, in constant time; False when nothing is
    stored (compared against a dummy all the same). A legacy argon2 hash is verified in a
    worker thread; the caller then rewrites it with `digest_secret` (`secret_needs_upgrade`)."""
    if stored is not None and not stored.startswith(SECRET_DIGEST_PREFIX):
        return await verify_password_async(secret, stored)
    expected = digest_secret(secret)
    return hmac.compare_digest(expected, stored or _DUMMY_DIGEST) and stored is not None


def secret_needs_upgrade(stored: str) -> bool:
    """True for a secret still stored in an older format (argon2)."""
    return not stored.startswith(SECRET_DIGEST_PREFIX)


def create_access_token(
    settings: Settings,
    *,
    subject_kind: SubjectKind,
    subject_id: uuid.UUID,
    role: str,
    municipality_id: uuid.UUID | None = None,
    area_id: uuid.UUID | None = None,
    scopes: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    issued = now or datetime.now(UTC)
    expires = issued + timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": f"{subject_kind}:{subject_id}",
        "typ": "access",
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
        "mun": str(municipality_id) if municipality_id else None,
        "area": str(area_id) if area_id else None,
        "scope": " ".join(scopes or []),
    }
    token = jwt.encode(
        claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm
    )
    return token, expires


def _optional_uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    return uuid.UUID(str(value))


# Access tokens already verified by this process, until they expire: a client presents the same
# token on every request for its lifetime, and verifying its signature and claims again gives
# the same answer (whether it was revoked, or its account deactivated, is asked per request).
_VERIFIED_MAX = 10_000
_verified: dict[tuple[str, ...], AccessClaims] = {}


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    key = (
        token,
        settings.jwt_secret.get_secret_value(),
        settings.jwt_algorithm,
        settings.jwt_issuer,
        settings.jwt_audience,
    )
    claims = _verified.get(key)
    now = datetime.now(UTC)
    if claims is not None and claims.expires_at > now:
        return claims
    claims = _verify_access_token(settings, token)
    if claims.expires_at > now:
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[key] = claims
    return claims


def _verify_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise InvalidToken("cabecera del token no válida") from exc
    # Pinned algorithm: refuse anything else (including "none") before verifying.
    if header.get("alg") != settings.jwt_algorithm:
        raise InvalidToken("algoritmo de firma no admitido")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "verify_signature": True,
                "verify_aud": True,
                "verify_iss": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "require_exp": True,
                "require_iat": True,
                "require_nbf": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "require_jti": True,
                "leeway": 0,
            },
        )
    except JOSEError as exc:
        raise InvalidToken("token no válido o caducado") from exc
    missing = [c for c in REQUIRED_CLAIMS if claims.get(c) in (None, "")]
    if missing:
        raise InvalidToken("faltan datos obligatorios en el token")
    if claims["typ"] != "access":
        raise InvalidToken("tipo de token no válido")
    kind, _, raw_id = str(claims["sub"]).partition(":")
    if kind not in ("user", "integration"):
        raise InvalidToken("sujeto del token no válido")
    try:
        subject_id = uuid.UUID(raw_id)
        municipality_id = _optional_uuid(claims.get("mun"))
        area_id = _optional_uuid(claims.get("area"))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("identificadores del token no válidos") from exc
    scope = claims.get("scope") or ""
    return AccessClaims(
        subject_kind="user" if kind == "user" else "integration",
        subject_id=subject_id,
        role=str(claims["role"]),
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        municipality_id=municipality_id,
        area_id=area_id,
        scopes=tuple(str(scope).split()) if isinstance(scope, str) else (),
    )


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the digest that is stored."""
    token = secrets.token_urlsafe(48)
    return token, digest_token(token)


@functools.lru_cache(maxsize=4)
def _derive_lookup_key(app_secret: str) -> bytes:
    return hmac.new(app_secret.encode(), b"oaaa:token-lookup-digest:v1", hashlib.sha256).digest()


def digest_token(token: str) -> str:
    """The stored, indexed form of a machine-generated bearer token (refresh tokens, calendar
    feed links): HMAC-SHA-256 with a key derived from the application secret, in hex, so a
    copy of the table alone does not let anyone test guesses."""
    key_ = _derive_lookup_key(get_settings().jwt_secret.get_secret_value())
    return hmac.new(key_, token.encode(), hashlib.sha256).hexdigest()


def token_digests(token: str) -> tuple[str, str]:
    """The digests a stored token may have: the current keyed one, then the plain SHA-256 of
    tokens issued before it (looked up with both; a match on the second is rewritten)."""
    return digest_token(token), hashlib.sha256(token.encode()).hexdigest()


def new_client_secret() -> str:
    return secrets.token_urlsafe(40)


def revoked_jti_key(jti: str) -> str:
    return key("revoked-jti", jti)
