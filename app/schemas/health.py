"""Request and response shapes of the health and readiness probes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="`degraded`: la API atiende, pero no hay un worker listo"
    )
    database: Literal["ok"]
    redis: Literal["ok"]
    worker: Literal["ok", "stale", "absent"] = Field(
        description=(
            "`ok`: un worker renovó su clave de salud hace unos segundos; `stale`: hubo uno "
            "que dejó de hacerlo (caído, colgado o sin Redis); `absent`: no hay ninguno"
        )
    )
