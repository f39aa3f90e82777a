"""The one place that decides which rows an actor may see.

Every model that holds scoped data declares a `__scope__` naming the column that ties a row to a
municipality and/or an área. Every query for such a model goes through `visible()` (list queries)
or `get_visible()` (single objects); a row outside the caller's scope is indistinguishable from a
row that does not exist (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from app.core.errors import NotFound
from app.models.audit import ActorType
from app.models.base import Role, ScopeSpec

INTEGRATION_ROLE = "integration"


@dataclass(frozen=True)
class Actor:
    """Who is calling: a person, an integration client, the system, or nobody."""

    kind: ActorType
    id: uuid.UUID | None = None
    role: str | None = None
    label: str | None = None
    municipality_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_jti: str | None = None

    @property
    def is_office(self) -> bool:
        return self.role in (Role.admin, Role.oaaa_staff)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @classmethod
    def system(cls, label: str = "sistema") -> Actor:
        return cls(kind=ActorType.system, role=Role.admin, label=label)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(kind=ActorType.anonymous, label="anónimo")


class Scoped(Protocol):
    __scope__: ClassVar[ScopeSpec]


M = TypeVar("M", bound=SQLModel)


def visible(model: type[Any], actor: Actor) -> ColumnElement[bool]:
    """SQL predicate selecting the rows of `model` that `actor` may see."""
    custom = getattr(model, "scope_clause", None)
    if custom is not None:
        clause: ColumnElement[bool] = custom(actor)
        return clause
    spec: ScopeSpec | None = getattr(model, "__scope__", None)
    if spec is None:
        raise TypeError(f"{model.__name__} declares no __scope__")
    if actor.is_office:
        return true()
    if spec.office_only:
        return false()
    if spec.public:
        return true()
    if actor.role == Role.municipal_user and spec.municipality and actor.municipality_id:
        col: ColumnElement[bool] = getattr(model, spec.municipality) == actor.municipality_id
        return col
    if actor.role == Role.area_staff and spec.area and actor.area_id:
        acol: ColumnElement[bool] = getattr(model, spec.area) == actor.area_id
        return acol
    if actor.role == INTEGRATION_ROLE and spec.integration_area and actor.area_id:
        icol: ColumnElement[bool] = getattr(model, spec.integration_area) == actor.area_id
        return icol
    return false()


async def get_visible(session: AsyncSession, model: type[M], obj_id: Any, actor: Actor) -> M:
    """The object with that primary key if the actor may see it; `NotFound` otherwise."""
    pk = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    stmt = select(model).where(pk == obj_id).where(visible(model, actor))
    obj = (await session.execute(stmt)).scalars().first()
    if obj is None:
        label = getattr(model, "__label__", "El recurso")
        raise NotFound(f"{label} {obj_id} no existe")
    return obj
