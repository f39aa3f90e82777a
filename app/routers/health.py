"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import SessionDep, get_engine
from app.core.errors import ServiceUnavailable, problem_responses
from app.core.observability import authorize_metrics, metrics_response
from app.core.redis import get_redis
from app.schemas.health import Health, Readiness
from app.services import metrics as metrics_service
from app.worker.runner import WorkerState, worker_state

router = APIRouter(tags=["health"])


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def root() -> RedirectResponse:
    """Without a built web application (which then answers `/` itself), the API's docs."""
    return RedirectResponse("/docs", status_code=307)


@router.get("/healthz", operation_id="health_live", summary="Proceso vivo", response_model=Health)
async def healthz() -> Health:
    """Answers while the process runs."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="health_ready",
    summary="Listo para atender",
    response_model=Readiness,
    responses=problem_responses(503),
)
async def readyz() -> Readiness:
    """200 when PostgreSQL and Redis answer; 503 problem otherwise. Also reports the worker:
    without one the API still serves (`status: degraded`), while webhooks, e-mail and SLA
    warnings wait in the database until a worker runs."""
    failing = []
    try:
        async with get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        failing.append("base de datos")
    worker: WorkerState = "absent"
    try:
        await get_redis().ping()
        worker = await worker_state(get_redis())
    except (RedisError, OSError, TimeoutError):
        failing.append("Redis")
    if failing:
        raise ServiceUnavailable("No responde: " + ", ".join(failing))
    status: Literal["ok", "degraded"] = "ok" if worker == "ok" else "degraded"
    return Readiness(status=status, database="ok", redis="ok", worker=worker)


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Métricas Prometheus",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Formato de exposición"},
        **problem_responses(401, 403),
    },
)
async def metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus text exposition: this process's HTTP metrics, then deliveries, queue, SLA
    scan, consultations by SLA state and worker heartbeats (shared by every process). Open to
    loopback clients and to the bearer token `OAAA_METRICS_TOKEN`; others get 401 or 403."""
    authorize_metrics(request)
    return metrics_response(await metrics_service.collect(session, get_redis()))
