"""Request dependencies: who is calling, and may they call this."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import (
    OAuthFlowClientCredentials,
    OAuthFlowPassword,
    OAuthFlows,
)
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis

from app.core import callers, denylist
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.redis import RedisDep, get_redis, key
from app.core.scoping import Actor, ActorRole
from app.core.security import InvalidToken, decode_access_token
from app.models.audit import ActorType
from app.models.integration import IntegrationClient

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret


class _BearerFromTokenEndpoint(OAuth2PasswordBearer):
    """A bearer token from the token endpoint, which grants it to people (`password`) and to
    integrations (`client_credentials`): both flows are declared in the security scheme."""

    def __init__(self) -> None:
        super().__init__(
            tokenUrl=TOKEN_URL,
            auto_error=False,
            scheme_name="OAuth2",
            description=(
                "Token de acceso JWT (contraseña para personas, client_credentials para "
                "integraciones)"
            ),
        )
        self.model = OAuth2Model(
            flows=OAuthFlows(
                password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes={}),
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={}),
            ),
            description=self.model.description,
        )


oauth2_scheme = _BearerFromTokenEndpoint()

_INVALID = "Credenciales de acceso no válidas o caducadas"


async def _actor_from_token(session: SessionDep, token: str | None) -> Actor | None:
    if not token:
        return None
    settings = get_settings()
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken as exc:
        raise Unauthorized(_INVALID) from exc
    if await denylist.is_revoked(session, get_redis(), claims.jti):
        raise Unauthorized(_INVALID)
    if claims.subject_kind == "user":
        user = await callers.get(session, claims.subject_id, settings.caller_cache_seconds)
        if user is None or not user.is_active:
            raise Unauthorized(_INVALID)
        return Actor.for_user(user, token_jti=claims.jti)
    client = await session.get(IntegrationClient, claims.subject_id)
    if client is None or not client.is_active:
        raise Unauthorized(_INVALID)
    return Actor(
        kind=ActorType.integration,
        id=client.id,
        role=ActorRole.integration,
        label=f"integración {client.client_id}",
        area_id=client.area_id,
        # What the token was issued for (OAuth2 `scope` may narrow it), within what the
        # client is granted now.
        scopes=frozenset(client.scopes) & frozenset(claims.scopes),
        token_jti=claims.jti,
    )


async def get_optional_actor(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Actor:
    """The caller if a valid token is presented, an anonymous actor if none; a bad token is 401."""
    actor = await _actor_from_token(session, token)
    return actor or Actor.anonymous()


async def get_actor(
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Actor:
    actor = await _actor_from_token(session, token)
    if actor is None:
        raise Unauthorized("Se requiere autenticación")
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]
OptionalActor = Annotated[Actor, Depends(get_optional_actor)]


def require_roles(*roles: str) -> Callable[[Actor], Awaitable[Actor]]:
    """Dependency allowing only the given roles (admins always pass)."""

    async def _check(actor: CurrentActor) -> Actor:
        if actor.role != "admin" and actor.role not in roles:
            raise Forbidden("Su perfil no permite esta operación")
        return actor

    return _check


def require_scope(scope: str) -> Callable[[Actor], Awaitable[Actor]]:
    """Dependency for integration endpoints: an integration client holding `scope`."""

    async def _check(actor: CurrentActor) -> Actor:
        if actor.kind != ActorType.integration or scope not in actor.scopes:
            raise Forbidden(f"Se requiere una integración con el permiso «{scope}»")
        return actor

    return _check


AdminActor = Annotated[Actor, Depends(require_roles("admin"))]
OfficeActor = Annotated[Actor, Depends(require_roles("oaaa_staff"))]


# ---- the live stream ---------------------------------------------------------------------
# A browser's `EventSource` cannot send an `Authorization` header and a long-lived token must
# never travel in a URL: the page asks for a ticket with its access token, then opens
# `/api/v1/notifications/stream?ticket=…`; the ticket works once and for a few seconds.

STREAM_TICKET_SECONDS = 30
_INVALID_TICKET = "Ticket de conexión no válido, caducado o ya usado"


def _ticket_key(ticket: str) -> str:
    return key("stream-ticket", ticket)


async def issue_stream_ticket(redis: Redis, token: str) -> str:
    """A single-use ticket standing for `token` (an access token already validated)."""
    ticket = secrets.token_urlsafe(32)
    await redis.set(_ticket_key(ticket), token, ex=STREAM_TICKET_SECONDS)
    return ticket


async def get_stream_actor(
    session: SessionDep,
    redis: RedisDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    ticket: Annotated[
        str | None,
        Query(max_length=128, description="Ticket de `POST /notifications/stream-ticket`"),
    ] = None,
) -> Actor:
    """The caller of the stream: a bearer token, or a ticket (consumed on use)."""
    if ticket is not None:
        token = await redis.getdel(_ticket_key(ticket))
        if token is None:
            raise Unauthorized(_INVALID_TICKET)
    actor = await _actor_from_token(session, token)
    if actor is None:
        raise Unauthorized("Se requiere autenticación")
    return actor


StreamActor = Annotated[Actor, Depends(get_stream_actor)]
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]
