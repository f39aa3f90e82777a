"""Request and response shapes of the áreas and the service catalogue."""

from __future__ import annotations

import uuid

from pydantic import EmailStr
from sqlmodel import Field

from app.models.area import Area, AreaBase, CatalogueService, CatalogueServiceBase, Channel
from app.schemas.base import Bool, PatchInput, StrictInput


class AreaCreate(AreaBase, StrictInput):
    pass


class AreaUpdate(PatchInput):
    table_model = Area

    name: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    seat_municipality_id: uuid.UUID | None = Field(
        default=None, description="Municipio sede del área (vacío: la sede de la Diputación)"
    )
    is_active: Bool | None = None


class AreaPublic(AreaBase):
    id: uuid.UUID
    is_active: bool


class CatalogueServiceCreate(CatalogueServiceBase, StrictInput):
    pass


class CatalogueServiceUpdate(PatchInput):
    table_model = CatalogueService

    name: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    channels: list[Channel] | None = None
    contact_email: EmailStr | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    default_sla_policy_id: uuid.UUID | None = None
    is_active: Bool | None = None


class CatalogueServicePublic(CatalogueServiceBase):
    id: uuid.UUID
    is_active: bool
