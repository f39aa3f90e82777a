"""Shapes of authentication: tokens, refresh requests and the caller's identity (`/auth/me`)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Segundos de validez del token de acceso")
    refresh_token: str | None = Field(
        default=None,
        description="Token de renovación (omitido cuando se entrega en cookie httpOnly)",
    )
    refresh_expires_in: int | None = None
    scope: str | None = Field(
        default=None, description="Ámbitos concedidos, separados por espacios (integraciones)"
    )


class RefreshTransport(StrEnum):
    body = "body"
    cookie = "cookie"


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, min_length=16, max_length=200)


class NamedRef(BaseModel):
    id: uuid.UUID
    name: str
    code: str | None = None


class Me(BaseModel):
    kind: Literal["user", "integration"]
    id: uuid.UUID
    role: str
    email: str | None = None
    full_name: str | None = None
    client_id: str | None = None
    municipality: NamedRef | None = None
    area: NamedRef | None = None
    scopes: list[str] = []
