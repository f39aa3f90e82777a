"""People who use the platform."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import EmailStr
from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from app.models.base import (
    Role,
    ScopeSpec,
    aware_datetime_field,
    created_at_field,
    id_field,
    updated_at_field,
)


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=254)
    full_name: str = Field(min_length=2, max_length=200)
    role: Role = Field(sa_type=String(32))
    municipality_id: uuid.UUID | None = Field(
        default=None, description="Obligatorio para municipal_user"
    )
    area_id: uuid.UUID | None = Field(default=None, description="Obligatorio para area_staff")
    job_title: str | None = Field(default=None, max_length=200)


def _check_role_scope(role: Role | None, municipality_id: object, area_id: object) -> None:
    if role == Role.municipal_user and (municipality_id is None or area_id is not None):
        raise ValueError("municipal_user requiere municipality_id y no admite area_id")
    if role == Role.area_staff and (area_id is None or municipality_id is not None):
        raise ValueError("area_staff requiere area_id y no admite municipality_id")
    if role in (Role.admin, Role.oaaa_staff) and (
        municipality_id is not None or area_id is not None
    ):
        raise ValueError(f"{role} no admite municipality_id ni area_id")


class User(UserBase, table=True):
    __tablename__ = "user_account"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(municipality="municipality_id", area="area_id")
    __label__: ClassVar[str] = "El usuario"
    __table_args__ = (
        CheckConstraint(
            "(role = 'municipal_user' AND municipality_id IS NOT NULL AND area_id IS NULL)"
            " OR (role = 'area_staff' AND area_id IS NOT NULL AND municipality_id IS NULL)"
            " OR (role IN ('admin', 'oaaa_staff') AND municipality_id IS NULL AND area_id IS NULL)",
            name="role_scope",
        ),
    )

    id: uuid.UUID = id_field()
    email: str = Field(max_length=254, unique=True)
    municipality_id: uuid.UUID | None = Field(
        default=None, foreign_key="municipality.id", index=True
    )
    area_id: uuid.UUID | None = Field(default=None, foreign_key="area.id", index=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    # One e-mail a day with the day's notifications instead of one e-mail per notification.
    email_digest: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    last_login_at: datetime | None = aware_datetime_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
