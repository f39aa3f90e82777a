"""Builds the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app.config import get_settings
from app.db import dispose_engine
from app.errors import install_error_handlers
from app.observability import BodySizeLimitMiddleware, RequestContextMiddleware, configure_logging
from app.redis import close_redis
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
    integrations,
    municipalities,
    notifications,
    sla_policies,
    suggestions,
    surveys,
    trainings,
    users,
    visits,
    webhooks,
)
from app.spa import SpaMiddleware
from app.stream_tickets import router as stream_tickets_router

API_PREFIX = "/api/v1"

DESCRIPTION = """
API de la Oficina de Atención a Alcaldes y Alcaldesas (OAAA) de la Diputación de Badajoz.

* Autenticación OAuth2: `password` para personas, `client_credentials` para integraciones.
* Errores en formato RFC 9457 (`application/problem+json`).
* Listados paginados por cursor: `{items, next_cursor}`.
"""


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await close_redis()
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
    app.add_middleware(RequestContextMiddleware)

    api = APIRouter(prefix=API_PREFIX)
    for module in (
        auth,
        municipalities,
        areas,
        users,
        audit,
        holidays,
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
    ):
        api.include_router(module.router)
    api.include_router(stream_tickets_router)
    app.include_router(api)
    app.include_router(health.router)
    return app


app = create_app()
