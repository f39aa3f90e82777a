"""Every piece of token and password code lives here.

Access tokens are JWTs signed with one pinned HMAC algorithm; decoding always passes an explicit
allow-list, requires every claim we rely on and checks issuer and audience. Refresh tokens are
opaque random strings, stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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
# Verified against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

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
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


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


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
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


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_client_secret() -> str:
    return secrets.token_urlsafe(40)


def revoked_jti_key(jti: str) -> str:
    return key("revoked-jti", jti)
