"""Request and response shapes of the SLA policies API."""

from __future__ import annotations

import uuid

from pydantic import field_validator, model_validator
from sqlmodel import Field

from app.models.sla import SlaPolicyBase, SlaUnit, _check_thresholds, term_limit_error
from app.schemas.base import StrictInput


class SlaPolicyCreate(SlaPolicyBase, StrictInput):
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


class SlaPolicyUpdate(StrictInput):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    unit: SlaUnit | None = None
    first_response_target: int | None = Field(default=None, ge=1, le=2000)
    resolution_target: int | None = Field(default=None, ge=1, le=5000)
    warning_thresholds: list[int] | None = None
    is_default: bool | None = None
    is_active: bool | None = None

    @field_validator("warning_thresholds")
    @classmethod
    def _thresholds(cls, v: list[int] | None) -> list[int] | None:
        return _check_thresholds(v)


class SlaPolicyPublic(SlaPolicyBase):
    id: uuid.UUID
    is_active: bool
