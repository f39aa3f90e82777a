"""The one place that decides which rows an actor may see.

Every model that holds scoped data declares a `__scope__` naming the column that ties a row to a
municipality and/or an área. Every query for such a model goes through `visible()` (list queries)
or `get_visible()` (single objects); a row outside the caller's scope is indistinguishable from a
row that does not exist (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from sqlalchemy import ColumnElement, bindparam, false, text, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from app.core.config import get_settings
from app.core.errors import Conflict, NotFound
from app.models.audit import ActorType
from app.models.base import Role, ScopeSpec


class ActorRole(StrEnum):
    """The roles a caller can hold: the people's roles (`Role`) and the áreas' systems."""

    admin = Role.admin.value
    oaaa_staff = Role.oaaa_staff.value
    area_staff = Role.area_staff.value
    municipal_user = Role.municipal_user.value
    integration = "integration"


@dataclass(frozen=True)
class Actor:
    """Who is calling: a person, an integration client, the system, or nobody. What a caller
    may do is asked of it (`actor.can_manage_area(...)`), never spelt out with role tuples."""

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

    @property
    def is_area_staff(self) -> bool:
        """Staff of one área (with that área in their token)."""
        return self.role == Role.area_staff and self.area_id is not None

    @property
    def is_staff(self) -> bool:
        """The office or an área's staff: those who handle consultations."""
        return self.role in (Role.admin, Role.oaaa_staff, Role.area_staff)

    @property
    def is_municipal(self) -> bool:
        """A person of one municipality or ELM (with it in their token)."""
        return self.own_municipality_id is not None

    @property
    def own_municipality_id(self) -> uuid.UUID | None:
        """The municipality a municipal user acts for; None for every other caller."""
        return self.municipality_id if self.role == Role.municipal_user else None

    @property
    def is_integration(self) -> bool:
        return self.role == ActorRole.integration

    @property
    def can_ask(self) -> bool:
        """May open consultations and answer surveys: the office and municipalities."""
        return self.role in (Role.admin, Role.oaaa_staff, Role.municipal_user)

    def can_manage_area(self, area_id: uuid.UUID | None) -> bool:
        """The office, or the staff of that very área."""
        return self.is_office or (
            self.is_area_staff and area_id is not None and self.area_id == area_id
        )

    def acts_for(self, municipality_id: uuid.UUID | None) -> bool:
        """A person of that very municipality."""
        return self.is_municipal and self.municipality_id == municipality_id

    @classmethod
    def for_user(cls, user: Any, token_jti: str | None = None) -> Actor:
        """A person (a `User` row) as a caller."""
        return cls(
            kind=ActorType.user,
            id=user.id,
            role=user.role,
            label=user.email,
            municipality_id=user.municipality_id,
            area_id=user.area_id,
            token_jti=token_jti,
        )

    @classmethod
    def system(cls, label: str = "sistema") -> Actor:
        return cls(kind=ActorType.system, role=Role.admin, label=label)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(kind=ActorType.anonymous, label="anónimo")


class Scoped(Protocol):
    __scope__: ClassVar[ScopeSpec]


M = TypeVar("M", bound=SQLModel)


def _scope_rule(model: type[Any], actor: Actor) -> tuple[str, str | None, Any]:
    """How `actor` sees the rows of a model with a `__scope__`: ("all" | "none", None, None) or
    ("column", the column's attribute, the value it must hold)."""
    spec: ScopeSpec | None = getattr(model, "__scope__", None)
    if spec is None:
        raise TypeError(f"{model.__name__} declares no __scope__")
    if actor.is_office:
        return "all", None, None
    if spec.office_only:
        return "none", None, None
    if spec.public:
        return "all", None, None
    if actor.role == Role.municipal_user and spec.municipality and actor.municipality_id:
        return "column", spec.municipality, actor.municipality_id
    if actor.role == Role.area_staff and spec.area and actor.area_id:
        return "column", spec.area, actor.area_id
    if actor.is_integration and spec.integration_area and actor.area_id:
        return "column", spec.integration_area, actor.area_id
    return "none", None, None


def visible(model: type[Any], actor: Actor) -> ColumnElement[bool]:
    """SQL predicate selecting the rows of `model` that `actor` may see."""
    custom = getattr(model, "scope_clause", None)
    if custom is not None:
        clause: ColumnElement[bool] = custom(actor)
        return clause
    rule, column, value = _scope_rule(model, actor)
    if rule == "column":
        assert column is not None
        predicate: ColumnElement[bool] = getattr(model, column) == value
        return predicate
    return true() if rule == "all" else false()


SCOPE_PARAM = "_scope"


def visible_shape(model: type[Any], actor: Actor) -> tuple[tuple[str, str | None], Any]:
    """`visible` for a statement built once per shape (`pagination.paginate_shaped`): the
    shape of the predicate and the value of its bind parameter `SCOPE_PARAM` (None if it has
    none). Build the predicate with `visible_predicate(model, shape)`."""
    if getattr(model, "scope_clause", None) is not None:
        raise TypeError(f"{model.__name__} scopes its rows itself: use `visible`")
    rule, column, value = _scope_rule(model, actor)
    return (rule, column), value


def visible_predicate(model: type[Any], shape: tuple[str, str | None]) -> ColumnElement[bool]:
    rule, column = shape
    if rule == "column":
        assert column is not None
        attribute = getattr(model, column)
        predicate: ColumnElement[bool] = attribute == bindparam(SCOPE_PARAM, type_=attribute.type)
        return predicate
    return true() if rule == "all" else false()


Lock = Literal["wait", "brief", "nowait"]
_LOCK_NOT_AVAILABLE = "55P03"


async def get_visible(
    session: AsyncSession, model: type[M], obj_id: Any, actor: Actor, *, lock: Lock | None = None
) -> M:
    """The object with that primary key if the actor may see it; `NotFound` otherwise.

    `lock` takes the row until the transaction ends and reads its current state, so that a
    check and the write that follows are one step. `wait`: concurrent writers queue up and each
    sees what the previous one committed (an `If-Match` then fails with 412). `brief`: waits
    up to `lock_wait_seconds` (background work such as the SLA scan holds rows only for a
    moment), then 409. `nowait`: a writer that finds the row being changed gets a 409 at
    once."""
    pk = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    stmt = select(model).where(pk == obj_id).where(visible(model, actor))
    if lock is not None:
        stmt = stmt.with_for_update(of=model, nowait=lock == "nowait").execution_options(
            populate_existing=True
        )
    label = getattr(model, "__label__", "El recurso")
    try:
        if lock == "brief":
            ms = int(get_settings().lock_wait_seconds * 1000)
            await session.execute(text(f"SET LOCAL lock_timeout = {ms}"))
        obj = (await session.execute(stmt)).scalars().first()
        if lock == "brief":
            await session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise Conflict(
                f"{label} se está modificando en este momento; vuelva a consultarlo"
            ) from exc
        raise
    if obj is None:
        raise NotFound(f"{label} {obj_id} no existe")
    return obj
