"""Áreas (departments of the Diputación) and their service catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import EmailStr, StringConstraints
from sqlalchemy import ARRAY, ForeignKey, String, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from app.models.base import ScopeSpec, created_at_field, id_field, updated_at_field

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    web = "web"
    in_person = "in_person"
    video_call = "video_call"
    assistant = "assistant"


class AreaBase(SQLModel):
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    seat_municipality_id: uuid.UUID | None = Field(
        default=None,
        description="Municipio sede del área si no está en la sede de la Diputación: sus "
        "fiestas locales son inhábiles para los plazos del área (art. 30.6 Ley 39/2015)",
    )


class Area(AreaBase, table=True):
    __tablename__ = "area"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "El área"

    id: uuid.UUID = id_field()
    code: str = Field(max_length=63, unique=True)
    email: str | None = Field(default=None, max_length=254)
    # Where the área sits when not at the Diputación's seat: its local holidays are non-working
    # for the área's terms (Ley 39/2015 art. 30.6).
    seat_municipality_id: uuid.UUID | None = Field(
        default=None, foreign_key="municipality.id", ondelete="SET NULL"
    )
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CatalogueServiceBase(SQLModel):
    area_id: uuid.UUID
    code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] = Field(max_length=63)
    name: str = Field(min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    channels: list[Channel] = Field(default_factory=list)
    contact_email: EmailStr | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    default_sla_policy_id: uuid.UUID | None = Field(
        default=None, description="Política de plazos (SLA) aplicada por defecto"
    )


class CatalogueService(CatalogueServiceBase, table=True):
    """A service of the catalogue offered to municipalities by one área."""

    __tablename__ = "catalogue_service"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "El servicio"
    __table_args__ = (UniqueConstraint("area_id", "code", name="uq_catalogue_service_area_code"),)

    id: uuid.UUID = id_field()
    area_id: uuid.UUID = Field(foreign_key="area.id", index=True)
    code: str = Field(max_length=63)
    channels: list[str] = Field(default_factory=list, sa_type=ARRAY(String(32)))  # type: ignore[assignment]
    contact_email: str | None = Field(default=None, max_length=254)
    # use_alter: sla_policy also references catalogue_service.
    default_sla_policy_id: uuid.UUID | None = Field(
        default=None,
        sa_type=Uuid,
        sa_column_args=[
            ForeignKey(
                "sla_policy.id",
                ondelete="SET NULL",
                use_alter=True,
                name="fk_catalogue_service_default_sla_policy_id_sla_policy",
            )
        ],
    )
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
