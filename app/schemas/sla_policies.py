"""Request and response shapes of the SLA policies API."""

from __future__ import annotations

import uuid
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import field_validator, model_validator
from sqlmodel import Field

from app.models.sla import SlaPolicy, SlaPolicyBase, SlaUnit, _check_thresholds, term_limit_error
from app.schemas.base import Bool, Int32, PatchInput, StrictInput


class SlaPolicyCreate(SlaPolicyBase, StrictInput):
    first_response_target: Annotated[Int32, Ge(1), Le(2000)] = Field(
        description="Plazo de primera respuesta"
    )
    resolution_target: Annotated[Int32, Ge(1), Le(5000)] = Field(description="Plazo de resolución")
    warning_thresholds: list[Int32] = Field(
        default_factory=lambda: [50, 80],
        description="Avisos al alcanzar estos porcentajes del plazo",
    )
    is_default: Bool = Field(
        default=False, description="Política general: se aplica cuando ninguna otra encaja"
    )

    @field_validator("warning_thresholds")
    @classmethod
    def _thresholds(cls, v: list[int]) -> list[int]:
        return _check_thresholds(v) or []

    @model_validator(mode="after")
    def _order(self) -> SlaPolicyCreate:
        if self.first_response_target > self.resolution_target:
            raise ValueError("la primera respuesta no puede vencer después de la resolución")
        error = term_limit_error(self.unit, self.first_response_target, self.resolution_target)
        if error:
            raise ValueError(error)
        return self


class SlaPolicyUpdate(PatchInput):
    table_model = SlaPolicy

    name: str | None = Field(default=None, min_length=2, max_length=200)
    unit: SlaUnit | None = None
    first_response_target: Annotated[Int32, Ge(1), Le(2000)] | None = Field(default=None)
    resolution_target: Annotated[Int32, Ge(1), Le(5000)] | None = Field(default=None)
    warning_thresholds: list[Int32] | None = None
    is_default: Bool | None = None
    is_active: Bool | None = None

    @field_validator("warning_thresholds")
    @classmethod
    def _thresholds(cls, v: list[int] | None) -> list[int] | None:
        return _check_thresholds(v)


class SlaPolicyPublic(SlaPolicyBase):
    id: uuid.UUID
    is_active: bool
