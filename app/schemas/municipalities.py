"""Request and response shapes of the municipalities API."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import field_validator
from sqlmodel import Field

from app.models.municipality import Comarca, ComarcaBase, Municipality, MunicipalityBase
from app.schemas.base import Bool, Float, Int32, PatchInput, StrictInput


class ComarcaCreate(ComarcaBase, StrictInput):
    pass


class ComarcaUpdate(PatchInput):
    table_model = Comarca

    name: str | None = Field(default=None, min_length=2, max_length=120)
    description: str | None = Field(default=None, max_length=2000)


class ComarcaPublic(ComarcaBase):
    id: uuid.UUID


class MunicipalityCreate(MunicipalityBase, StrictInput):
    population: Annotated[Int32, Ge(0)] | None = None
    latitude: Annotated[Float, Ge(-90), Le(90)] | None = None
    longitude: Annotated[Float, Ge(-180), Le(180)] | None = None

    @field_validator("ine_code")
    @classmethod
    def _digits(cls, v: str | None) -> str | None:
        if v is not None and not v.isdigit():
            raise ValueError("el código INE solo admite dígitos")
        return v


class MunicipalityUpdate(PatchInput):
    table_model = Municipality

    name: str | None = Field(default=None, min_length=2, max_length=160)
    population: Annotated[Int32, Ge(0)] | None = Field(default=None)
    latitude: Float | None = Field(default=None, ge=-90, le=90)
    longitude: Float | None = Field(default=None, ge=-180, le=180)
    comarca_id: uuid.UUID | None = None
    is_active: Bool | None = None


class MunicipalityPublic(MunicipalityBase):
    id: uuid.UUID
    name_ine: str | None
    population_date: date | None
    is_active: bool
