"""Municipalities and entidades locales menores (ELM) of Badajoz province, and comarcas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import CheckConstraint, String
from sqlmodel import Field, SQLModel

from app.models.base import ScopeSpec, created_at_field, id_field, updated_at_field


class MunicipalityKind(StrEnum):
    municipality = "municipality"
    elm = "elm"


class ComarcaBase(SQLModel):
    name: str = Field(min_length=2, max_length=120)
    description: str | None = Field(default=None, max_length=2000)


class Comarca(ComarcaBase, table=True):
    __tablename__ = "comarca"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "La comarca"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=120, unique=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class MunicipalityBase(SQLModel):
    name: str = Field(min_length=2, max_length=160)
    kind: MunicipalityKind = Field(default=MunicipalityKind.municipality, sa_type=String(16))
    ine_code: str | None = Field(
        default=None,
        max_length=11,
        description="Código INE (5 dígitos para municipios; opcional para ELM)",
    )
    population: int | None = Field(default=None, ge=0, le=2_147_483_647)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    parent_id: uuid.UUID | None = Field(default=None, description="Municipio matriz de una ELM")
    comarca_id: uuid.UUID | None = None


class Municipality(MunicipalityBase, table=True):
    __tablename__ = "municipality"
    __scope__: ClassVar[ScopeSpec] = ScopeSpec(public=True)
    __label__: ClassVar[str] = "La entidad local"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'municipality' AND parent_id IS NULL AND ine_code ~ '^06[0-9]{3}$')"
            " OR (kind = 'elm' AND parent_id IS NOT NULL)",
            name="kind_shape",
        ),
        CheckConstraint("kind IN ('municipality', 'elm')", name="kind_values"),
    )

    id: uuid.UUID = id_field()
    ine_code: str | None = Field(default=None, max_length=11, unique=True)
    name_ine: str | None = Field(default=None, max_length=160)
    control_digit: str | None = Field(default=None, max_length=1)
    population_date: date | None = None
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id", index=True)
    comarca_id: uuid.UUID | None = Field(
        default=None, foreign_key="comarca.id", index=True, ondelete="SET NULL"
    )
    is_active: bool = True
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
