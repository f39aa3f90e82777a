"""The áreas' systems keep their expedientes current: upsert by external reference, stage
events, and batches of both in which each item succeeds or fails on its own."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.errors import AppError, Conflict, Forbidden, NotFound
from app.core.errors import validation_field_errors as field_errors
from app.core.scoping import Actor, visible
from app.models.expediente import Expediente
from app.schemas.expedientes import ExpedienteUpsert, StageEventIn
from app.schemas.integrations import (
    _ITEM_MODELS,
    BatchEventItem,
    BatchItemError,
    BatchItemResult,
    BatchResult,
    BatchUpsertItem,
    ItemStatus,
)
from app.schemas.problems import FieldError
from app.services import expedientes
from app.services.expedientes import UpsertResult
from app.services.integrations_batch import SetBasedBatch, SetBasedUnavailable, item_error

logger = logging.getLogger("app.integrations")


# ---- API shapes -----------------------------------------------------------------------------


ITEM_STATUSES: tuple[ItemStatus, ...] = (
    "created",
    "updated",
    "unchanged",
    "placed",
    "duplicate",
    "error",
)


# ---- Single operations ----------------------------------------------------------------------


def _require_integration(actor: Actor) -> None:
    if not actor.is_integration or actor.area_id is None:
        raise Forbidden("Operación reservada a los sistemas de las áreas")


def _not_found(external_ref: str) -> NotFound:
    return NotFound(f"El expediente {external_ref} no existe")


async def get_by_ref(session: AsyncSession, actor: Actor, external_ref: str) -> Expediente:
    """The integration's expediente with that reference in its own área (read, no lock)."""
    _require_integration(actor)
    exp = (
        (
            await session.execute(
                select(Expediente).where(
                    visible(Expediente, actor),
                    col(Expediente.area_id) == actor.area_id,
                    col(Expediente.external_ref) == external_ref,
                )
            )
        )
        .scalars()
        .first()
    )
    if exp is None:
        raise _not_found(external_ref)
    return exp


async def upsert(
    session: AsyncSession,
    actor: Actor,
    external_ref: str,
    data: ExpedienteUpsert,
    now: datetime | None = None,
) -> UpsertResult:
    """`expedientes.upsert_from_integration` in a SAVEPOINT (a failure undoes only this
    upsert), safe against a simultaneous first upsert of the same reference: the loser's insert
    fails on the unique key once the winner has committed, and is retried as an update (or a
    no-op when the bodies are the same)."""
    _require_integration(actor)
    try:
        async with session.begin_nested():
            return await expedientes.upsert_from_integration(
                session, actor, external_ref, data, now
            )
    except Conflict:
        pass
    async with session.begin_nested():
        return await expedientes.upsert_from_integration(session, actor, external_ref, data, now)


async def record_event(
    session: AsyncSession,
    actor: Actor,
    external_ref: str,
    event: StageEventIn,
    now: datetime | None = None,
) -> tuple[Expediente, bool]:
    """Places the event in the expediente's timeline; the flag says it was a duplicate (same
    event id already recorded), which changes nothing."""
    _require_integration(actor)
    # Locks the row: events for one expediente are applied one at a time.
    exp = await expedientes.find_by_external_ref(session, actor, external_ref)
    if exp is None:
        raise _not_found(external_ref)
    entry = await expedientes.add_stage_event(session, actor, exp, event, now)
    return exp, entry is None


# ---- Batches --------------------------------------------------------------------------------


def _text_field(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _error(index: int, raw: Any, error: BatchItemError) -> BatchItemResult:
    return BatchItemResult(
        index=index,
        op=_text_field(raw, "op"),
        external_ref=_text_field(raw, "external_ref"),
        status="error",
        error=error,
    )


def _validation_error(index: int, errors: list[FieldError]) -> BatchItemError:
    fields = ", ".join(e.pointer for e in errors[:5])
    return BatchItemError(
        status=422,
        code="validation-error",
        detail=f"El elemento {index} contiene datos no válidos: {fields}",
        errors=errors,
    )


def _validate_item(index: int, raw: Any) -> BatchUpsertItem | BatchEventItem | BatchItemError:
    prefix: list[str | int] = ["body", "items", index]
    op = raw.get("op") if isinstance(raw, dict) else None
    model = _ITEM_MODELS.get(op) if isinstance(op, str) else None
    if model is None:
        where = prefix if not isinstance(raw, dict) else [*prefix, "op"]
        message = (
            "El elemento debe ser un objeto JSON"
            if not isinstance(raw, dict)
            else "op debe ser «upsert» o «event»"
        )
        return _validation_error(
            index,
            field_errors(
                [{"loc": where, "msg": message, "type": "union_tag_invalid"}],
            ),
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raw_errors = [{**e, "loc": [*prefix, *e["loc"]]} for e in exc.errors()]
        return _validation_error(index, field_errors(raw_errors))


def _retryable(exc: DBAPIError) -> bool:
    state = getattr(exc.orig, "sqlstate", None) or getattr(
        getattr(exc.orig, "__cause__", None), "sqlstate", None
    )
    return state in ("40001", "40P01")  # serialization failure, deadlock


async def _run_item(
    session: AsyncSession, actor: Actor, index: int, raw: Any, now: datetime | None
) -> BatchItemResult:
    item = _validate_item(index, raw)
    if isinstance(item, BatchItemError):
        return _error(index, raw, item)
    try:
        # One SAVEPOINT per item: a failing item undoes only its own changes (`upsert` opens
        # its own, which it also needs to retry after a simultaneous first insert).
        if isinstance(item, BatchUpsertItem):
            result = await upsert(session, actor, item.external_ref, item.expediente, now)
            exp = result.expediente
            status: ItemStatus = (
                "created" if result.created else "updated" if result.changed else "unchanged"
            )
        else:
            async with session.begin_nested():
                exp, duplicate = await record_event(
                    session, actor, item.external_ref, item.event, now
                )
            status = "duplicate" if duplicate else "placed"
    except AppError as exc:
        return _error(index, raw, item_error(exc))
    except DBAPIError as exc:
        logger.exception("batch item failed", extra={"fields": {"index": index}})
        error = (
            BatchItemError(
                status=409,
                code="conflict",
                detail="El elemento chocó con otra petición simultánea; vuelva a enviarlo",
            )
            if _retryable(exc)
            else BatchItemError(
                status=500,
                code="internal-error",
                detail="Error inesperado al aplicar el elemento; se ha registrado para su revisión",
            )
        )
        return _error(index, raw, error)
    return BatchItemResult(
        index=index,
        op=item.op,
        external_ref=item.external_ref,
        status=status,
        expediente_id=exp.id,
        version=exp.version,
    )


async def _run_items(
    session: AsyncSession, actor: Actor, items: list[Any], now: datetime | None
) -> list[BatchItemResult]:
    """The batch item by item, each in its own SAVEPOINT (about twenty statements each)."""
    return [await _run_item(session, actor, i, raw, now) for i, raw in enumerate(items)]


async def run_batch(
    session: AsyncSession, actor: Actor, items: list[Any], now: datetime | None = None
) -> BatchResult:
    """Applies the items in order, each on its own: one invalid or failing item does not undo
    or stop the others. Every item's outcome is reported, with the reason when it failed.

    The whole batch is first applied set-based (`integrations_batch`: a bounded number of
    statements whatever its size) in one SAVEPOINT; should that meet a database error or a
    simultaneous first insert of one of its references, the SAVEPOINT is undone and the items
    are applied one by one, which settles each of them on its own."""
    _require_integration(actor)
    validated = [_validate_item(i, raw) for i, raw in enumerate(items)]
    try:
        async with session.begin_nested():
            outcomes = await SetBasedBatch(session, actor, now).run(validated)
    except (SetBasedUnavailable, DBAPIError):
        logger.info("batch applied item by item", exc_info=True)
        results = await _run_items(session, actor, items, now)
    else:
        results = []
        for i, (raw, outcome) in enumerate(zip(items, outcomes, strict=True)):
            if isinstance(outcome, BatchItemError):
                results.append(_error(i, raw, outcome))
            else:
                item = validated[i]
                assert not isinstance(item, BatchItemError)
                status, expediente_id, version = outcome
                results.append(
                    BatchItemResult(
                        index=i,
                        op=item.op,
                        external_ref=item.external_ref,
                        status=status,
                        expediente_id=expediente_id,
                        version=version,
                    )
                )
    counts = Counter(r.status for r in results)
    return BatchResult(items=results, counts={s: counts.get(s, 0) for s in ITEM_STATUSES})
