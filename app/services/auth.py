"""Log-in, token issuance, refresh-token rotation and log-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, denylist, ratelimit, security
from app.core.config import Settings
from app.core.errors import OAuthError, ServiceUnavailable, TooManyRequests
from app.core.scoping import Actor, ActorRole
from app.models.audit import ActorType
from app.models.auth import RefreshToken
from app.models.integration import IntegrationClient
from app.models.user import User

GENERIC_LOGIN_ERROR = "Usuario o contraseña incorrectos"
GENERIC_CLIENT_ERROR = "Credenciales de cliente no válidas"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    scopes: list[str] | None = None


async def _guard_attempts(
    redis: Redis, settings: Settings, account: str, client_ip: str | None
) -> None:
    try:
        per_account = await ratelimit.count(redis, "login-account", account)
        per_ip = await ratelimit.count(redis, "login-ip", client_ip or "unknown")
    except RedisError as exc:
        # Without the limiter we cannot protect accounts: refuse rather than allow brute force.
        raise ServiceUnavailable("El servicio de acceso no está disponible temporalmente") from exc
    if per_account >= settings.login_max_failures_per_account:
        wait = await ratelimit.retry_after(redis, "login-account", account)
    elif per_ip >= settings.login_max_failures_per_ip:
        wait = await ratelimit.retry_after(redis, "login-ip", client_ip or "unknown")
    else:
        return
    raise TooManyRequests(
        f"Demasiados intentos fallidos. Vuelva a intentarlo en {wait} segundos.",
        headers={"Retry-After": str(wait)},
    )


async def _record_failure(
    redis: Redis, settings: Settings, account: str, client_ip: str | None
) -> None:
    window = settings.login_window_seconds
    await ratelimit.hit(redis, "login-account", account, window)
    await ratelimit.hit(redis, "login-ip", client_ip or "unknown", window)


async def _issue_refresh(
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    user_agent: str | None,
) -> tuple[str, datetime]:
    raw, digest = security.new_refresh_token()
    expires = datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=digest,
            expires_at=expires,
            user_agent=(user_agent or "")[:400] or None,
        )
    )
    await session.flush()
    return raw, expires


def _user_access_token(settings: Settings, user: User) -> tuple[str, datetime]:
    return security.create_access_token(
        settings,
        subject_kind="user",
        subject_id=user.id,
        role=user.role,
        municipality_id=user.municipality_id,
        area_id=user.area_id,
    )


async def login_with_password(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    username: str,
    password: str,
    client_ip: str | None,
    user_agent: str | None,
) -> IssuedTokens:
    account = username.strip().lower()
    await _guard_attempts(redis, settings, account, client_ip)
    user = (
        (await session.execute(select(User).where(func.lower(col(User.email)) == account)))
        .scalars()
        .first()
    )
    ok = await security.verify_password_async(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        await _record_failure(redis, settings, account, client_ip)
        raise OAuthError("invalid_grant", GENERIC_LOGIN_ERROR)
    await ratelimit.reset(redis, "login-account", account)
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password_async(password)
    user.last_login_at = datetime.now(UTC)
    access, access_exp = _user_access_token(settings, user)
    refresh, refresh_exp = await _issue_refresh(
        session, settings, user.id, uuid.uuid4(), user_agent
    )
    actor = Actor(kind=ActorType.user, id=user.id, role=user.role, label=user.email)
    await audit.record(session, actor, "auth.login", "user", user.id)
    return IssuedTokens(access, access_exp, refresh, refresh_exp)


async def login_with_client_credentials(
    session: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    client_id: str,
    client_secret: str,
    client_ip: str | None,
    requested_scopes: list[str] | None = None,
) -> IssuedTokens:
    """Tokens for an integration client; `requested_scopes` (OAuth2 `scope`) narrows them to a
    subset of the client's scopes, and asking for any other is `invalid_scope`."""
    account = f"client:{client_id.strip()}"
    await _guard_attempts(redis, settings, account, client_ip)
    client = (
        (
            await session.execute(
                select(IntegrationClient).where(col(IntegrationClient.client_id) == client_id)
            )
        )
        .scalars()
        .first()
    )
    ok = await security.verify_secret(client_secret, client.secret_hash if client else None)
    if client is None or not ok or not client.is_active:
        await _record_failure(redis, settings, account, client_ip)
        raise OAuthError("invalid_client", GENERIC_CLIENT_ERROR)
    if security.secret_needs_upgrade(client.secret_hash):
        client.secret_hash = security.digest_secret(client_secret)
    await ratelimit.reset(redis, "login-account", account)
    scopes = list(client.scopes)
    if requested_scopes:
        unknown = sorted(set(requested_scopes) - set(scopes))
        if unknown:
            detail = f"Ámbitos no concedidos a este cliente: {', '.join(unknown)}"
            raise OAuthError("invalid_scope", detail)
        scopes = [s for s in scopes if s in set(requested_scopes)]
    client.last_used_at = datetime.now(UTC)
    access, access_exp = security.create_access_token(
        settings,
        subject_kind="integration",
        subject_id=client.id,
        role=ActorRole.integration,
        area_id=client.area_id,
        scopes=scopes,
    )
    return IssuedTokens(access, access_exp, scopes=scopes)


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def _lost_answer(
    session: AsyncSession,
    settings: Settings,
    stored: RefreshToken,
    user_agent: str | None,
    now: datetime,
) -> bool:
    """Whether presenting an already rotated token is a lost answer rather than a theft: it was
    rotated less than `refresh_reuse_grace_seconds` ago, by the same user agent, and nothing in
    its family has been used since (its successor never reached the client)."""
    grace = settings.refresh_reuse_grace_seconds
    if stored.used_at is None or stored.revoked_at is not None or grace <= 0:
        return False
    if now - stored.used_at > timedelta(seconds=grace):
        return False
    if (stored.user_agent or None) != ((user_agent or "")[:400] or None):
        return False
    later_use = await session.execute(
        select(RefreshToken.id).where(
            col(RefreshToken.family_id) == stored.family_id,
            col(RefreshToken.id) != stored.id,
            or_(col(RefreshToken.used_at).is_not(None), col(RefreshToken.revoked_at).is_not(None)),
            col(RefreshToken.created_at) >= stored.created_at,
        )
    )
    return later_use.first() is None


async def rotate_refresh_token(
    session: AsyncSession, settings: Settings, raw_token: str, user_agent: str | None
) -> IssuedTokens | None:
    """A new token pair for a valid refresh token, or None when the token is unusable.

    Presenting a token that was already rotated means it leaked: the whole family is revoked
    (the caller must commit that revocation even though it answers 401).
    """
    now = datetime.now(UTC)
    digests = security.token_digests(raw_token)
    stored = (
        (
            await session.execute(
                select(RefreshToken)
                .where(col(RefreshToken.token_hash).in_(digests))
                .with_for_update()
            )
        )
        .scalars()
        .first()
    )
    if stored is None:
        return None
    if await _lost_answer(session, settings, stored, user_agent, now):
        # The browser sent this token, we rotated it, and the answer with its successor never
        # arrived (a reload in the middle): the unused successor dies, a new pair is issued.
        await session.execute(
            update(RefreshToken)
            .where(
                col(RefreshToken.family_id) == stored.family_id,
                col(RefreshToken.id) != stored.id,
                col(RefreshToken.revoked_at).is_(None),
            )
            .values(revoked_at=now)
        )
    elif stored.used_at is not None or stored.revoked_at is not None:
        await _revoke_family(session, stored.family_id)
        user_actor = Actor(kind=ActorType.system, label="detección de reutilización")
        await audit.record(
            session,
            user_actor,
            "auth.refresh_reuse",
            "user",
            stored.user_id,
            {"family_id": str(stored.family_id)},
        )
        return None
    if stored.expires_at <= now:
        return None
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        await _revoke_family(session, stored.family_id)
        return None
    stored.used_at = now
    access, access_exp = _user_access_token(settings, user)
    refresh, refresh_exp = await _issue_refresh(
        session, settings, user.id, stored.family_id, user_agent
    )
    return IssuedTokens(access, access_exp, refresh, refresh_exp)


async def logout(
    session: AsyncSession,
    redis: Redis,
    *,
    actor: Actor | None,
    raw_refresh_token: str | None,
    access_expires_in: int,
) -> None:
    if raw_refresh_token:
        stored = (
            (
                await session.execute(
                    select(RefreshToken).where(
                        col(RefreshToken.token_hash).in_(security.token_digests(raw_refresh_token))
                    )
                )
            )
            .scalars()
            .first()
        )
        if stored is not None:
            await _revoke_family(session, stored.family_id)
    if actor is not None and actor.token_jti:
        try:
            await denylist.revoke(session, redis, actor.token_jti, access_expires_in)
        except RedisError as exc:
            raise ServiceUnavailable("No se pudo cerrar la sesión; inténtelo de nuevo") from exc
    if actor is not None and actor.id is not None:
        await audit.record(session, actor, "auth.logout", "user", actor.id)
