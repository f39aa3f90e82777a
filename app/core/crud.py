"""Create/update plumbing shared by the admin-managed resources: audit and constraint errors."""

from __future__ import annotations

from typing import Any, TypeVar

from asyncpg.exceptions import (
    CheckViolationError,
    ForeignKeyViolationError,
    NotNullViolationError,
    UniqueViolationError,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.core import audit, queries
from app.core.errors import Conflict, UnprocessableEntity
from app.core.scoping import Actor

M = TypeVar("M", bound=SQLModel)

# Human explanations of the constraints a client can trip over.
CONSTRAINT_MESSAGES: dict[str, str] = {
    "uq_municipality_ine_code": "Ya existe una entidad con ese código INE",
    "uq_comarca_name": "Ya existe una comarca con ese nombre",
    "uq_area_code": "Ya existe un área con ese código",
    "uq_catalogue_service_area_code": "Ya existe un servicio con ese código en el área",
    "uq_user_account_email": "Ya existe un usuario con ese correo electrónico",
    "uq_integration_client_client_id": "Ya existe un cliente con ese identificador",
    "uq_sla_policy_code": "Ya existe una política de plazos con ese código",
    "uq_sla_policy_match": (
        "Ya hay una política activa para ese servicio y prioridad; desactívela o modifíquela"
    ),
    "uq_sla_policy_default": "Ya hay una política general activa",
    "uq_expediente_area_external_ref": "Ya existe un expediente con esa referencia en el área",
    "uq_procedure_type_area_code": "Ya existe un procedimiento con ese código en el área",
    "uq_holiday_municipality_day": "Ese día ya figura en el calendario de esa entidad",
    "ck_municipality_kind_shape": (
        "Un municipio requiere código INE de la provincia (06xxx) y no tiene matriz; "
        "una ELM requiere municipio matriz"
    ),
    "ck_user_account_role_scope": (
        "El perfil no es coherente con el municipio o el área indicados"
    ),
}


def _constraint_of(exc: IntegrityError) -> tuple[str | None, type | None]:
    orig = exc.orig
    cause = getattr(orig, "__cause__", None) or orig
    name = getattr(cause, "constraint_name", None)
    return name, type(cause)


async def flush(session: AsyncSession) -> None:
    """Flushes, turning constraint violations into 409/422 problems that say what was wrong."""
    try:
        await session.flush()
    except IntegrityError as exc:
        name, kind = _constraint_of(exc)
        message = CONSTRAINT_MESSAGES.get(name or "")
        if kind is not None and issubclass(kind, UniqueViolationError):
            raise Conflict(message or "El recurso ya existe") from exc
        if kind is not None and issubclass(kind, ForeignKeyViolationError):
            raise UnprocessableEntity(
                message or "Una de las referencias indicadas no existe"
            ) from exc
        if kind is not None and issubclass(kind, CheckViolationError):
            raise UnprocessableEntity(message or "Los datos no cumplen las reglas") from exc
        if kind is not None and issubclass(kind, NotNullViolationError):
            raise UnprocessableEntity("Falta un dato obligatorio") from exc
        raise


async def create(
    session: AsyncSession,
    actor: Actor,
    obj: M,
    entity_type: str,
    *,
    hidden: set[str] = frozenset(),  # type: ignore[assignment]
) -> M:
    session.add(obj)
    await flush(session)
    after = {k: v for k, v in audit.snapshot(obj).items() if k not in hidden}
    await audit.record(session, actor, f"{entity_type}.create", entity_type, _pk(obj), after)
    return obj


async def update(
    session: AsyncSession, actor: Actor, obj: M, patch: dict[str, Any], entity_type: str
) -> M:
    queries.reject_nulls(type(obj), patch)
    before = audit.snapshot(obj, patch.keys(), for_diff=True)
    for field, value in patch.items():
        setattr(obj, field, value)
    await flush(session)
    changes = audit.diff(before, audit.snapshot(obj, patch.keys(), for_diff=True))
    if changes:
        await audit.record(session, actor, f"{entity_type}.update", entity_type, _pk(obj), changes)
    return obj


def _pk(obj: SQLModel) -> Any:
    return getattr(obj, "id", None)
