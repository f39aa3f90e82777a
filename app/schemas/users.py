"""Request and response shapes of users and integration clients (administration)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import model_validator
from sqlmodel import Field

from app.models.base import (
    Role,
)
from app.models.integration import IntegrationClient, IntegrationClientBase, IntegrationScope
from app.models.user import User, UserBase, _check_role_scope
from app.schemas.base import Bool, PatchInput, StrictInput


class IntegrationClientCreate(IntegrationClientBase, StrictInput):
    pass


class IntegrationClientUpdate(PatchInput):
    table_model = IntegrationClient

    name: str | None = Field(default=None, min_length=2, max_length=200)
    scopes: list[IntegrationScope] | None = None
    is_active: Bool | None = None


class IntegrationClientPublic(IntegrationClientBase):
    id: uuid.UUID
    client_id: str
    is_active: bool
    last_used_at: datetime | None
    created_at: datetime


class IntegrationClientWithSecret(IntegrationClientPublic):
    client_secret: str = Field(description="Se muestra una sola vez; guárdelo de forma segura")


class UserCreate(UserBase, StrictInput):
    password: str = Field(min_length=12, max_length=128)

    @model_validator(mode="after")
    def _scope(self) -> UserCreate:
        _check_role_scope(self.role, self.municipality_id, self.area_id)
        return self


class UserUpdate(PatchInput):
    table_model = User

    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    municipality_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    is_active: Bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=128)


class UserPublic(UserBase):
    id: uuid.UUID
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime
