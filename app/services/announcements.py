"""Announcements (comunicados): drafts, publication with in-app notifications to the addressed
municipalities, per-municipality read acknowledgement and unread counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, not_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, crud
from app.core.errors import Conflict, Forbidden, UnprocessableEntity
from app.core.pagination import PageParams, paginate
from app.core.scoping import Actor, get_visible, visible
from app.models.announcement import Announcement, AnnouncementRead
from app.models.area import Area
from app.models.base import Role
from app.models.calendar import AudienceKind, EntryStatus
from app.models.municipality import Comarca, Municipality
from app.models.notification import NotificationKind
from app.models.user import User
from app.schemas.announcements import (
    AnnouncementCreate,
    AnnouncementPublic,
    AnnouncementUpdate,
    ReadReceipt,
    ReadReport,
    ReadReportRow,
    UnreadCount,
    _check_audience,
)
from app.services.notifications import outbox


@dataclass(frozen=True)
class ListFilters:
    status: EntryStatus | None = None
    area_id: uuid.UUID | None = None
    unread_only: bool = False
    q: str | None = None


async def _validate_references(
    session: AsyncSession,
    area_id: uuid.UUID | None,
    comarca_id: uuid.UUID | None,
    municipality_ids: list[uuid.UUID],
) -> None:
    if area_id is not None and await session.get(Area, area_id) is None:
        raise UnprocessableEntity("El área indicada no existe")
    if comarca_id is not None and await session.get(Comarca, comarca_id) is None:
        raise UnprocessableEntity("La comarca indicada no existe")
    wanted = set(municipality_ids)
    if wanted:
        stmt = select(col(Municipality.id)).where(col(Municipality.id).in_(wanted))
        found = set((await session.execute(stmt)).scalars().all())
        missing = sorted(str(m) for m in wanted - found)
        if missing:
            raise UnprocessableEntity(f"No existen las entidades: {', '.join(missing[:5])}")


async def create(session: AsyncSession, actor: Actor, data: AnnouncementCreate) -> Announcement:
    area_id = data.area_id
    if actor.role == Role.area_staff and area_id is None:
        area_id = actor.area_id
    if not actor.can_manage_area(area_id):
        raise Forbidden("Solo la oficina o el personal del área pueden redactar comunicados")
    ids = list(dict.fromkeys(data.municipality_ids))
    await _validate_references(session, area_id, data.comarca_id, ids)
    a = Announcement(
        title=data.title,
        body=data.body,
        area_id=area_id,
        audience=data.audience,
        comarca_id=data.comarca_id if data.audience == AudienceKind.comarca else None,
        municipality_ids=ids if data.audience == AudienceKind.municipalities else [],
        is_public=data.is_public,
        created_by_id=actor.id if actor.kind == "user" else None,
    )
    return await crud.create(session, actor, a, "announcement")


async def get(session: AsyncSession, actor: Actor, announcement_id: uuid.UUID) -> Announcement:
    return await get_visible(session, Announcement, announcement_id, actor)


async def _get_managed(
    session: AsyncSession, actor: Actor, announcement_id: uuid.UUID, *, lock: bool = False
) -> Announcement:
    a = await get_visible(session, Announcement, announcement_id, actor)
    if not actor.can_manage_area(a.area_id):
        raise Forbidden("Solo la oficina o el área que lo emite pueden gestionar este comunicado")
    if lock:
        await session.refresh(a, with_for_update=True)
    return a


async def update(
    session: AsyncSession, actor: Actor, announcement_id: uuid.UUID, data: AnnouncementUpdate
) -> Announcement:
    a = await _get_managed(session, actor, announcement_id, lock=True)
    patch: dict[str, Any] = data.model_dump(exclude_unset=True)
    audience_fields = {"audience", "comarca_id", "municipality_ids"}
    if a.status != EntryStatus.draft and audience_fields & patch.keys():
        raise Conflict("La audiencia de un comunicado publicado no puede cambiarse")
    if None in (patch.get("title", ""), patch.get("body", ""), patch.get("is_public", False)):
        raise UnprocessableEntity("title, body e is_public no admiten null")
    audience = patch.get("audience") or a.audience
    comarca_id = patch.get("comarca_id", a.comarca_id)
    ids = patch.get("municipality_ids")
    ids = list(dict.fromkeys(ids)) if ids is not None else a.municipality_ids
    try:
        _check_audience(audience, comarca_id, ids)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from exc
    if audience_fields & patch.keys():
        await _validate_references(session, None, comarca_id, ids)
        patch["comarca_id"] = comarca_id if audience == AudienceKind.comarca else None
        patch["municipality_ids"] = ids if audience == AudienceKind.municipalities else []
    return await crud.update(session, actor, a, patch, "announcement")


async def addressed_municipality_ids(session: AsyncSession, a: Announcement) -> list[uuid.UUID]:
    """The municipalities (and ELMs) an announcement is addressed to."""
    stmt = select(col(Municipality.id))
    if a.audience == AudienceKind.comarca:
        stmt = stmt.where(col(Municipality.comarca_id) == a.comarca_id)
    elif a.audience == AudienceKind.municipalities:
        stmt = stmt.where(col(Municipality.id).in_(a.municipality_ids))
    return list((await session.execute(stmt)).scalars().all())


def publication_event(a: Announcement, municipality_id: uuid.UUID) -> outbox.EventSpec:
    return outbox.EventSpec(
        kind=NotificationKind.announcement_published,
        dedupe_key=f"announcement:{a.id}:published:{municipality_id}",
        entity_type="announcement",
        entity_id=str(a.id),
        title=f"Nuevo comunicado: {a.title}"[:300],
        body=a.body[:2000],
        occurred_at=a.published_at or datetime.now(UTC),
        municipality_id=municipality_id,
        area_id=a.area_id,
        link=f"/comunicados/{a.id}",
        payload={"announcement_id": str(a.id), "title": a.title},
        audience=outbox.Audience(office=False, area=False, municipality=True),
    )


async def publish(
    session: AsyncSession, actor: Actor, announcement_id: uuid.UUID
) -> tuple[Announcement, list[outbox.Emitted]]:
    """Publishes a draft and records one notification event per addressed municipality that
    has active users, in the same transaction. Publishing twice is a conflict."""
    a = await _get_managed(session, actor, announcement_id, lock=True)
    if a.status != EntryStatus.draft:
        raise Conflict(
            "El comunicado ya está publicado o anulado", allowed=[EntryStatus.draft.value]
        )
    now = datetime.now(UTC)
    await crud.update(
        session, actor, a, {"status": EntryStatus.published, "published_at": now}, "announcement"
    )
    addressed = await addressed_municipality_ids(session, a)
    with_users = (
        select(col(User.municipality_id))
        .where(
            col(User.role) == Role.municipal_user,
            col(User.is_active).is_(True),
            col(User.municipality_id).in_(addressed),
        )
        .distinct()
    )
    targets = [m for m in (await session.execute(with_users)).scalars().all() if m is not None]
    cache = outbox.FanoutCache()
    emitted: list[outbox.Emitted] = []
    for municipality_id in sorted(targets):
        item = await outbox.emit(session, publication_event(a, municipality_id), now, cache)
        if item is not None:
            emitted.append(item)
    return a, emitted


def _read_by(municipality_id: uuid.UUID) -> Any:
    return exists().where(
        col(AnnouncementRead.announcement_id) == col(Announcement.id),
        col(AnnouncementRead.municipality_id) == municipality_id,
    )


async def list_announcements(
    session: AsyncSession, actor: Actor, page: PageParams, filters: ListFilters
) -> tuple[list[Announcement], str | None]:
    stmt = select(Announcement).where(visible(Announcement, actor))
    if filters.status is not None:
        stmt = stmt.where(col(Announcement.status) == filters.status)
    if filters.area_id is not None:
        stmt = stmt.where(col(Announcement.area_id) == filters.area_id)
    if filters.q:
        pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        stmt = stmt.where(col(Announcement.title).ilike(pattern + "%", escape="\\"))
    if filters.unread_only:
        mid = actor.own_municipality_id
        if mid is None:
            raise UnprocessableEntity("unread_only solo se aplica a usuarios municipales")
        stmt = stmt.where(not_(_read_by(mid)))
    return await paginate(
        session,
        stmt,
        page,
        keys=[Announcement.created_at, Announcement.id],  # type: ignore[list-item]
        descending=True,
    )


async def read_times(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When the caller's municipality read each of `ids` (municipal users only)."""
    if not actor.is_municipal or not ids:
        return {}
    stmt = select(AnnouncementRead).where(
        col(AnnouncementRead.announcement_id).in_(ids),
        col(AnnouncementRead.municipality_id) == actor.municipality_id,
    )
    return {r.announcement_id: r.read_at for r in (await session.execute(stmt)).scalars().all()}


async def render(
    session: AsyncSession, actor: Actor, rows: list[Announcement]
) -> list[AnnouncementPublic]:
    reads = await read_times(session, actor, [a.id for a in rows])
    return [AnnouncementPublic.model_validate(a, update={"read_at": reads.get(a.id)}) for a in rows]


async def mark_read(session: AsyncSession, actor: Actor, announcement_id: uuid.UUID) -> ReadReceipt:
    """The caller's municipality acknowledges the announcement (idempotent)."""
    mid = actor.own_municipality_id
    if mid is None:
        raise Forbidden("Solo los usuarios municipales confirman la lectura de un comunicado")
    a = await get_visible(session, Announcement, announcement_id, actor)
    stmt = (
        insert(AnnouncementRead)
        .values(
            announcement_id=a.id,
            municipality_id=mid,
            user_id=actor.id,
            read_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(col(AnnouncementRead.read_at))
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is not None:
        await audit.record(
            session,
            actor,
            "announcement.read",
            "announcement",
            a.id,
            {"municipality_id": str(mid)},
        )
        return ReadReceipt(announcement_id=a.id, municipality_id=mid, read_at=inserted)
    existing = await session.get(AnnouncementRead, (a.id, mid))
    assert existing is not None
    return ReadReceipt(announcement_id=a.id, municipality_id=mid, read_at=existing.read_at)


async def read_report(
    session: AsyncSession, actor: Actor, announcement_id: uuid.UUID
) -> ReadReport:
    a = await _get_managed(session, actor, announcement_id)
    addressed = await addressed_municipality_ids(session, a)
    stmt = (
        select(
            col(Municipality.id),
            col(Municipality.name),
            col(Municipality.ine_code),
            col(AnnouncementRead.read_at),
        )
        .outerjoin(
            AnnouncementRead,
            (col(AnnouncementRead.municipality_id) == col(Municipality.id))
            & (col(AnnouncementRead.announcement_id) == a.id),
        )
        .where(col(Municipality.id).in_(addressed))
        .order_by(col(Municipality.name), col(Municipality.id))
    )
    rows = [
        ReadReportRow(municipality_id=mid, name=name, ine_code=ine, read_at=read_at)
        for mid, name, ine, read_at in (await session.execute(stmt)).all()
    ]
    return ReadReport(
        announcement_id=a.id,
        addressed=len(rows),
        read=sum(1 for r in rows if r.read_at is not None),
        items=rows,
    )


async def unread_count(session: AsyncSession, actor: Actor) -> UnreadCount:
    mid = actor.own_municipality_id
    if mid is None:
        raise Forbidden("El recuento de no leídos es para usuarios municipales")
    stmt = (
        select(func.count())
        .select_from(Announcement)
        .where(visible(Announcement, actor), not_(_read_by(mid)))
    )
    return UnreadCount(unread=int((await session.execute(stmt)).scalar_one()))


async def list_public(
    session: AsyncSession, page: PageParams
) -> tuple[list[Announcement], str | None]:
    stmt = select(Announcement).where(visible(Announcement, Actor.anonymous()))
    return await paginate(
        session,
        stmt,
        page,
        keys=[Announcement.created_at, Announcement.id],  # type: ignore[list-item]
        descending=True,
    )
