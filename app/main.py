"""Builds the FastAPI application."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core.config import get_settings
from app.core.db import dispose_engine
from app.core.errors import install_error_handlers
from app.core.observability import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from app.core.queue import close_arq
from app.core.redis import close_redis
from app.core.routing import HeadMiddleware
from app.core.runtime import freeze_startup_heap
from app.core.spa import SpaMiddleware
from app.routers import (
    announcements,
    areas,
    audit,
    auth,
    calendar,
    consultations,
    expedientes,
    faq,
    health,
    holidays,
    indicators,
    integrations,
    municipalities,
    notifications,
    plazos,
    reports,
    sla_policies,
    suggestions,
    surveys,
    trainings,
    users,
    visits,
    webhooks,
)
from app.schemas.events import CATALOGUE, WebhookEvent
from app.services.sla import working_days

API_PREFIX = "/api/v1"

DESCRIPTION = """
API de la Oficina de Atención a Alcaldes y Alcaldesas (OAAA) de la Diputación de Badajoz.

* Autenticación OAuth2: `password` para personas, `client_credentials` para integraciones.
* Errores en formato RFC 9457 (`application/problem+json`).
* Listados paginados por cursor: `{items, next_cursor}`.
"""


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # The official holidays (the `holidays` package, over half a second to import) before
    # serving: on the first creation it would stop the event loop for every request.
    working_days.official_holidays(range(date.today().year - 1, date.today().year + 2))
    freeze_startup_heap()
    yield
    await close_redis()
    await close_arq()
    await dispose_engine()


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="OAAA — Diputación de Badajoz",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    if settings.frontend_dist is not None:
        app.add_middleware(SpaMiddleware, dist=settings.frontend_dist)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
        expose_headers=["ETag", "X-Request-Id", "Retry-After"],
    )
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.trusted_proxies:
        # Outermost, so logs, limits and metrics see the client the trusted proxy names.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    # Each module's router straight on the application (not inside one `/api/v1` router): a
    # request is then matched against one level of routers, not two (FastAPI asks every route
    # of every nested router again when it hands the request down).
    app.include_router(auth.token_router, prefix=API_PREFIX)
    for module in (
        auth,
        municipalities,
        areas,
        users,
        audit,
        holidays,
        plazos,
        sla_policies,
        consultations,
        expedientes,
        integrations,
        faq,
        surveys,
        suggestions,
        notifications,
        webhooks,
        calendar,
        announcements,
        trainings,
        visits,
        indicators,
        reports,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    _document_webhooks(app)
    _token_endpoint_has_no_422(app)
    return app


def _token_endpoint_has_no_422(app: FastAPI) -> None:
    """FastAPI documents a 422 for every operation with parameters; the OAuth2 token endpoint
    answers its validation errors as 400 `invalid_request` instead (RFC 6749 §5.2)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema["paths"][f"{API_PREFIX}/auth/token"]["post"]["responses"].pop("422", None)
            text = json.dumps(schema["paths"])
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                if f'/{name}"' not in text and f'/{name}"' not in json.dumps(components):
                    components.pop(name, None)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def _document_webhooks(app: FastAPI) -> None:
    """The event catalogue as the OpenAPI 3.1 `webhooks` section: one operation per event type,
    whose body is what a subscriber receives."""
    for kind, (title, recipients, payload) in CATALOGUE.items():

        async def receive(body: Any) -> None:  # documentation only: never called
            return None

        receive.__annotations__["body"] = WebhookEvent[payload]  # type: ignore[valid-type]
        app.webhooks.add_api_route(
            kind.value,
            receive,
            methods=["POST"],
            operation_id=f"webhook_{kind.value.replace('.', '_')}",
            summary=title,
            description=f"Destinatarios de la notificación: {recipients}.",
            tags=["webhooks"],
            status_code=204,
            responses={
                204: {"description": "Recibido (cualquier respuesta 2xx)"},
                "default": {
                    "description": "Cualquier otra respuesta es un fallo: la entrega se reintenta "
                    "con espera creciente y, tras el último intento, queda como fallida"
                },
            },
        )


app = create_app()
