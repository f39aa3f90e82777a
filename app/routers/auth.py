"""Authentication: OAuth2 password and client-credentials grants, refresh, log-out, me."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Cookie, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError

from app.core.db import SessionDep, SettingsDep, ungated
from app.core.deps import CurrentActor, OptionalActor
from app.core.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    PROBLEM_MEDIA_TYPE,
    AppError,
    OAuthError,
    Unauthorized,
    database_unavailable,
    error_response,
    problem_response,
    problem_responses,
    validation_field_errors,
)
from app.core.redis import RedisDep
from app.core.routing import ApiRoute, ApiRouter
from app.models.area import Area
from app.models.audit import ActorType
from app.models.integration import IntegrationClient
from app.models.municipality import Municipality
from app.models.user import User
from app.schemas.auth import Me, NamedRef, RefreshRequest, RefreshTransport, TokenResponse
from app.schemas.problems import OAuthProblem
from app.services import auth as auth_service
from app.services.auth import IssuedTokens

router = ApiRouter(prefix="/auth", tags=["auth"], route_class=ApiRoute)

REFRESH_COOKIE = "oaaa_refresh"
INVALID_REFRESH = "Token de renovación no válido, caducado o revocado"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def _seconds_until(when: datetime) -> int:
    return max(int((when - datetime.now(UTC)).total_seconds()), 0)


def _token_response(
    response: Response, tokens: IssuedTokens, transport: RefreshTransport, secure: bool
) -> TokenResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    body = TokenResponse(
        access_token=tokens.access_token,
        expires_in=_seconds_until(tokens.access_expires_at),
        scope=" ".join(tokens.scopes) if tokens.scopes is not None else None,
    )
    if tokens.refresh_token and tokens.refresh_expires_at:
        ttl = _seconds_until(tokens.refresh_expires_at)
        body.refresh_expires_in = ttl
        if transport == RefreshTransport.cookie:
            response.set_cookie(
                REFRESH_COOKIE,
                tokens.refresh_token,
                max_age=ttl,
                path=REFRESH_COOKIE_PATH,
                httponly=True,
                secure=secure,
                samesite="strict",
            )
        else:
            body.refresh_token = tokens.refresh_token
    return body


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "Cabecera Authorization Basic mal formada") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Cabecera Authorization Basic mal formada")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_validation_error(exc: RequestValidationError) -> OAuthError:
    errors = validation_field_errors(exc.errors())
    grant = [e for e in errors if e.loc[-1:] == ["grant_type"]]
    if grant and grant[0].code != "missing":
        return OAuthError(
            "unsupported_grant_type",
            "grant_type debe ser password, client_credentials o refresh_token",
            errors=grant,
        )
    fields = ", ".join(e.pointer for e in errors[:5])
    return OAuthError("invalid_request", f"Parámetros no válidos: {fields}", errors=errors)


class TokenRoute(ApiRoute):
    """Every error of the token endpoint is an OAuth2 error (RFC 6749 §5.2), so standard client
    libraries never take a refusal for a token: validation failures become `invalid_request` or
    `unsupported_grant_type` (400), limits and outages `temporarily_unavailable` (429/503 with
    `Retry-After`). The problem document stays the same otherwise."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except OAuthError:
                raise
            except RequestValidationError as exc:
                raise _oauth_validation_error(exc) from exc
            except AppError as exc:
                error = "temporarily_unavailable" if exc.status in (429, 503) else "invalid_request"
                status = exc.status if exc.status in (429, 503) else 400
                raise OAuthError(
                    error, exc.detail, status=status, errors=exc.errors, headers=exc.headers
                ) from exc
            except Exception as exc:
                if not (isinstance(exc, RedisError) or database_unavailable(exc)):
                    raise
                raise OAuthError(
                    "temporarily_unavailable",
                    "El servicio de acceso no está disponible temporalmente",
                    status=503,
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
                ) from exc

        return oauth_errors


# The token endpoint alone, with its own route class (app/main.py includes it beside `router`).
token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=TokenRoute)

TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": OAuthProblem,
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/OAuthProblem"}}},
    }
    for status, description in (
        (
            400,
            "Error OAuth2 (invalid_request, invalid_grant, unsupported_grant_type, invalid_scope)",
        ),
        (401, "Error OAuth2 invalid_client (con WWW-Authenticate: Basic)"),
        (429, "Error OAuth2 temporarily_unavailable: demasiados intentos (Retry-After)"),
        (503, "Error OAuth2 temporarily_unavailable: servicio no disponible (Retry-After)"),
    )
}


@token_router.post(
    "/token",
    operation_id="auth_token",
    summary="Obtener un token de acceso",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=TOKEN_RESPONSES,
)
@ungated
async def token(
    request: Request,
    response: Response,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
    grant_type: Annotated[str, Form(pattern="^(password|client_credentials|refresh_token)$")],
    username: Annotated[str | None, Form(max_length=254)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(min_length=16, max_length=200)] = None,
    scope: Annotated[str, Form(max_length=512)] = "",
    refresh_transport: Annotated[
        RefreshTransport,
        Query(description="`cookie` entrega el token de renovación en una cookie httpOnly"),
    ] = RefreshTransport.body,
) -> TokenResponse | Response:
    """OAuth2 token endpoint (RFC 6749): `password` for people, `client_credentials` for
    integrations (HTTP Basic or form fields; `scope` narrows the client's scopes) and
    `refresh_token` (rotation: the presented token stops working; presenting a rotated one
    again revokes its whole family). Errors carry `error` and `error_description`."""
    client_ip = request.client.host if request.client else None
    if grant_type == "password":
        if not username or not password:
            raise OAuthError("invalid_request", "El grant password requiere username y password")
        tokens = await auth_service.login_with_password(
            session,
            redis,
            settings,
            username=username,
            password=password,
            client_ip=client_ip,
            user_agent=request.headers.get("user-agent"),
        )
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "El grant refresh_token requiere refresh_token")
        tokens_or_none = await auth_service.rotate_refresh_token(
            session, settings, refresh_token, request.headers.get("user-agent")
        )
        if tokens_or_none is None:
            # Returned, not raised: a detected reuse revokes the family and that must be committed.
            return error_response(request, OAuthError("invalid_grant", INVALID_REFRESH))
        tokens = tokens_or_none
    else:
        basic = _basic_credentials(request)
        cid, secret = basic if basic else (client_id, client_secret)
        if not cid or not secret:
            raise OAuthError(
                "invalid_client", "El grant client_credentials requiere client_id y client_secret"
            )
        tokens = await auth_service.login_with_client_credentials(
            session,
            redis,
            settings,
            client_id=cid,
            client_secret=secret,
            client_ip=client_ip,
            requested_scopes=scope.split(),
        )
    return _token_response(response, tokens, refresh_transport, settings.secure_cookies)


@router.post(
    "/refresh",
    operation_id="auth_refresh",
    summary="Renovar el token de acceso",
    response_model=TokenResponse,
    responses=problem_responses(401, 415, 422),
)
async def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    body: RefreshRequest | None = None,
    oaaa_refresh: Annotated[str | None, Cookie(include_in_schema=False)] = None,
) -> TokenResponse | Response:
    """Exchanges a refresh token (body or cookie) for a new pair; the old one stops working.

    Reusing an already rotated token revokes every token of its family.
    """
    raw = (body.refresh_token if body else None) or oaaa_refresh
    if not raw:
        raise Unauthorized("Falta el token de renovación")
    tokens = await auth_service.rotate_refresh_token(
        session, settings, raw, request.headers.get("user-agent")
    )
    if tokens is None:
        # Returned, not raised: a detected reuse revokes the family and that must be committed.
        problem = problem_response(request, status=401, detail=INVALID_REFRESH)
        problem.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
        return problem
    transport = RefreshTransport.cookie if (oaaa_refresh and not body) else RefreshTransport.body
    return _token_response(response, tokens, transport, settings.secure_cookies)


@router.post(
    "/logout",
    operation_id="auth_logout",
    summary="Cerrar la sesión",
    status_code=204,
    responses=problem_responses(401, 415, 422, 503),
)
async def logout(
    response: Response,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
    actor: OptionalActor,
    body: RefreshRequest | None = None,
    oaaa_refresh: Annotated[str | None, Cookie(include_in_schema=False)] = None,
) -> None:
    """Revokes the refresh-token family and the presented access token."""
    await auth_service.logout(
        session,
        redis,
        actor=actor if actor.kind != ActorType.anonymous else None,
        raw_refresh_token=(body.refresh_token if body else None) or oaaa_refresh,
        access_expires_in=settings.access_token_minutes * 60,
    )
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)


@router.get(
    "/me",
    operation_id="auth_me",
    summary="Quién soy",
    response_model=Me,
    responses=problem_responses(401),
)
async def me(actor: CurrentActor, session: SessionDep) -> Me:
    """The authenticated person or integration, with their municipality or área."""
    area = await session.get(Area, actor.area_id) if actor.area_id else None
    area_ref = NamedRef(id=area.id, name=area.name, code=area.code) if area else None
    assert actor.id is not None
    if actor.kind == ActorType.integration:
        client = await session.get(IntegrationClient, actor.id)
        assert client is not None
        return Me(
            kind="integration",
            id=client.id,
            role=actor.role or "",
            client_id=client.client_id,
            full_name=client.name,
            area=area_ref,
            scopes=sorted(actor.scopes),
        )
    user = await session.get(User, actor.id)
    assert user is not None
    mun = await session.get(Municipality, user.municipality_id) if user.municipality_id else None
    return Me(
        kind="user",
        id=user.id,
        role=user.role,
        email=user.email,
        full_name=user.full_name,
        municipality=NamedRef(id=mun.id, name=mun.name, code=mun.ine_code) if mun else None,
        area=area_ref,
    )
