"""Announcements (comunicados) and their read acknowledgements per municipality."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Index,
    Text,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

from app.models.base import (
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)
from app.models.calendar import AudienceKind, EntryStatus


class Announcement(SQLModel, table=True):
    """A comunicado from the office or an área to an audience of municipalities."""

    __tablename__ = "announcement"
    __label__: ClassVar[str] = "El comunicado"
    __table_args__ = (
        CheckConstraint("audience IN ('all', 'comarca', 'municipalities')", name="audience_values"),
        CheckConstraint("status IN ('draft', 'published', 'cancelled')", name="status_values"),
        Index("ix_announcement_published", text("published_at DESC"), text("id DESC")),
    )

    id: uuid.UUID = id_field()
    title: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id")
    audience: str = Field(default=AudienceKind.all, max_length=16)
    comarca_id: uuid.UUID | None = Field(default=None, foreign_key="comarca.id")
    municipality_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_type=ARRAY(Uuid),
    )
    is_public: bool = False
    status: str = Field(default=EntryStatus.draft, max_length=16)
    published_at: datetime | None = aware_datetime_field()
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @classmethod
    def scope_clause(cls, actor: Any) -> Any:
        """Office: all; área staff: their área's and published ones; municipal users: published
        ones addressed to them; anyone else: published public ones."""
        from sqlalchemy import and_, any_, false, or_, select, true
        from sqlmodel import col

        from app.models.municipality import Municipality

        table = cls.__table__.c  # type: ignore[attr-defined]
        published = table.status == EntryStatus.published
        if actor.is_office:
            return true()
        if actor.is_area_staff:
            return or_(table.area_id == actor.area_id, published)
        if actor.is_municipal:
            comarca = (
                select(col(Municipality.comarca_id))
                .where(col(Municipality.id) == actor.municipality_id)
                .scalar_subquery()
            )
            return and_(
                published,
                or_(
                    table.audience == AudienceKind.all,
                    and_(table.audience == AudienceKind.comarca, table.comarca_id == comarca),
                    and_(
                        table.audience == AudienceKind.municipalities,
                        any_(table.municipality_ids) == actor.municipality_id,
                    ),
                ),
            )
        if actor.role is None:
            return and_(published, table.is_public.is_(True))
        return false()


class AnnouncementRead(SQLModel, table=True):
    __tablename__ = "announcement_read"

    announcement_id: uuid.UUID = Field(
        foreign_key="announcement.id", primary_key=True, ondelete="CASCADE"
    )
    municipality_id: uuid.UUID = Field(
        foreign_key="municipality.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    read_at: datetime = created_at_field()
