"""Refresh tokens: opaque, stored hashed, rotated on use, grouped in families; and the access
tokens revoked before they expire (the deny-list that Redis serves, kept here so it survives)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import aware_datetime_field, created_at_field, id_field


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_token"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = aware_datetime_field(nullable=False)
    used_at: datetime | None = aware_datetime_field()
    revoked_at: datetime | None = aware_datetime_field()
    user_agent: str | None = Field(default=None, max_length=400)


class RevokedAccessToken(SQLModel, table=True):
    __tablename__ = "revoked_access_token"

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = aware_datetime_field(nullable=False, index=True)
