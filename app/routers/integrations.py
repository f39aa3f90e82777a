"""Integration API: the áreas' systems keep their expedientes current (upsert by reference,
stage events, batches), with Idempotency-Key on every write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.deps import require_scope
from app.core.errors import problem_responses
from app.core.routing import ApiRoute, ApiRouter
from app.core.scoping import Actor
from app.models.expediente import EXTERNAL_REF_PATTERN
from app.models.integration import IntegrationScope
from app.schemas.expedientes import ExpedienteDetail, ExpedienteUpsert
from app.schemas.integrations import (
    BatchRequest,
    BatchResult,
    IntegrationStageEventIn,
    StageEventResult,
)
from app.services import expedientes, idempotency
from app.services import integrations as service

router = ApiRouter(tags=["integrations"], route_class=ApiRoute)

PREFIX = "/integrations/expedientes"

Reader = Annotated[Actor, Depends(require_scope(IntegrationScope.expedientes_read.value))]
Writer = Annotated[Actor, Depends(require_scope(IntegrationScope.expedientes_write.value))]

# `:path` lets the reference contain "/" (sent as is or as %2F); the pattern still applies.
ExternalRef = Annotated[
    str,
    Path(
        pattern=EXTERNAL_REF_PATTERN,
        max_length=100,
        description="Referencia del expediente en el sistema del área (única en el área); "
        "puede contener «/»",
        examples=["OBR-2026-0042", "2026/SUB/17"],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=idempotency.KEY_PATTERN,
        max_length=200,
        description="Clave única de la operación (p. ej. un UUID): un reintento con la misma clave "
        "y el mismo cuerpo recibe la respuesta guardada; con otro cuerpo, 409. Caduca en 24 h.",
    ),
]

Outcome = tuple[int, Any]


async def _respond(
    request: Request,
    session: SessionDep,
    actor: Actor,
    key: str | None,
    run: Callable[[], Awaitable[Outcome]],
    headers: Callable[[Any], dict[str, str]],
) -> JSONResponse:
    """Runs the write, or replays the answer stored under the Idempotency-Key."""
    if key is None:
        status, body = await run()
        return JSONResponse(body, status_code=status, headers=headers(body))
    assert actor.id is not None
    request_hash = idempotency.fingerprint(request.method, request.url.path, await request.body())
    stored = await idempotency.begin(session, actor.id, key, request_hash)
    if stored is not None:
        return JSONResponse(
            stored.body,
            status_code=stored.status_code,
            headers={**headers(stored.body), idempotency.REPLAYED_HEADER: "true"},
        )
    status, body = await run()
    await idempotency.save(
        session,
        actor.id,
        key,
        method=request.method,
        path=request.url.path,
        request_hash=request_hash,
        status_code=status,
        body=body,
    )
    return JSONResponse(body, status_code=status, headers=headers(body))


def _etag(version: Any) -> dict[str, str]:
    return {"ETag": f'"{version}"'} if isinstance(version, int) else {}


def _detail_headers(body: Any) -> dict[str, str]:
    return _etag(body.get("version")) if isinstance(body, dict) else {}


def _event_headers(body: Any) -> dict[str, str]:
    exp = body.get("expediente") if isinstance(body, dict) else None
    return _detail_headers(exp)


def _no_headers(body: Any) -> dict[str, str]:
    return {}


@router.put(
    PREFIX + "/{external_ref:ref}",
    operation_id="integrations_expedientes_upsert",
    summary="Crear o actualizar un expediente por su referencia externa",
    response_model=ExpedienteDetail,
    responses={
        201: {"model": ExpedienteDetail, "description": "Expediente creado"},
        **problem_responses(401, 403, 409, 413, 415, 422),
    },
)
async def upsert_expediente(
    external_ref: ExternalRef,
    data: ExpedienteUpsert,
    request: Request,
    session: SessionDep,
    actor: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Creates (201) or updates (200) the expediente with this reference in the client's área.
    The same body again changes nothing and records nothing (200)."""

    async def run() -> Outcome:
        result = await service.upsert(session, actor, external_ref, data)
        detail = await expedientes.render_detail(session, result.expediente)
        return (201 if result.created else 200), detail.model_dump(mode="json")

    response = await _respond(request, session, actor, idempotency_key, run, _detail_headers)
    if response.status_code == 201:
        response.headers["Location"] = f"/api/v1{PREFIX}/{quote(external_ref, safe='/')}"
    return response


@router.get(
    PREFIX + "/{external_ref:ref}",
    operation_id="integrations_expedientes_get",
    summary="Consultar un expediente por su referencia externa",
    response_model=ExpedienteDetail,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_expediente(
    external_ref: ExternalRef, session: SessionDep, actor: Reader
) -> JSONResponse:
    """The expediente with its timeline; another área's reference is a 404."""
    exp = await service.get_by_ref(session, actor, external_ref)
    detail = (await expedientes.render_detail(session, exp)).model_dump(mode="json")
    return JSONResponse(detail, headers=_detail_headers(detail))


@router.post(
    PREFIX + "/{external_ref:ref}/events",
    operation_id="integrations_expedientes_events_create",
    summary="Registrar un cambio de fase de un expediente",
    status_code=201,
    response_model=StageEventResult,
    responses={
        200: {"model": StageEventResult, "description": "Evento ya registrado (duplicado)"},
        **problem_responses(401, 403, 404, 409, 413, 415, 422),
    },
)
async def post_stage_event(
    external_ref: ExternalRef,
    event: IntegrationStageEventIn,
    request: Request,
    session: SessionDep,
    actor: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Places the event in the timeline by `occurred_at` (late and out-of-order events fall
    into place): 201. An event id already recorded is ignored: 200 with `duplicate: true`."""

    async def run() -> Outcome:
        exp, duplicate = await service.record_event(session, actor, external_ref, event)
        detail = await expedientes.render_detail(session, exp)
        result = StageEventResult(expediente=detail, duplicate=duplicate)
        return (200 if duplicate else 201), result.model_dump(mode="json")

    return await _respond(request, session, actor, idempotency_key, run, _event_headers)


@router.post(
    "/integrations/batch",
    operation_id="integrations_batch",
    summary="Aplicar un lote de altas, actualizaciones y eventos de expedientes",
    response_model=BatchResult,
    responses=problem_responses(401, 403, 409, 413, 415, 422),
)
async def post_batch(
    batch: BatchRequest,
    request: Request,
    session: SessionDep,
    actor: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Up to 500 upserts and events, applied in order, each on its own: the answer gives every
    item's result (created, updated, unchanged, placed, duplicate or error with its reason)."""

    async def run() -> Outcome:
        result = await service.run_batch(session, actor, batch.items)
        return 200, result.model_dump(mode="json")

    return await _respond(request, session, actor, idempotency_key, run, _no_headers)
