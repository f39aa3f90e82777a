"""Response shapes of the indicators, operational reports and open data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from app.schemas.base import StrictInput

ReportingStatus = Literal["complete", "inprogress", "notstarted"]


class IndicatorSeries(SQLModel):
    id: str
    name: str
    unit: str
    total_only: bool = Field(description="Sólo se da para el total, sin desagregar")


class IndicatorMeta(SQLModel):
    id: str
    name: str
    definition: str
    aligned_with: str = Field(description="Meta a la que se alinea (no es el indicador oficial)")
    framework: Literal["ODS", "AUE"]
    unit: str
    counting_rule: str
    numerator: str | None
    denominator: str | None
    source: str
    periodicity: str
    reporting_status: ReportingStatus
    published: bool
    last_update: datetime = Field(
        description="Hasta cuándo llegan los datos de los periodos de meses completos"
    )
    freshness: str
    series: list[IndicatorSeries]
    disaggregations: list[str] = Field(description="Desagregaciones disponibles para quien llama")
    default_disaggregation: str | None
    disclosure_rule: str | None
    method_note: str | None
    query: str = Field(
        description="La sentencia SQL que define el total sobre los datos en vivo (intervalos)"
    )
    aggregate_query: str | None = Field(
        description="La sentencia que da el mismo total desde los agregados mensuales"
    )


class IndicatorCatalogue(SQLModel):
    items: list[IndicatorMeta]


class IndicatorPeriod(SQLModel):
    kind: Literal["year", "quarter", "month", "range"]
    label: str
    from_day: date
    to_day: date


class IndicatorDataRow(SQLModel):
    series: str
    series_name: str
    unit: str
    dimension: str | None = Field(description="Desagregación de la fila; null = total")
    key: str | None = Field(description="Identificador del valor de la desagregación")
    label: str | None = Field(description="Nombre del valor de la desagregación")
    geo_code: str = Field(description="Código INE (06 = provincia de Badajoz)")
    value: int | float | None
    suppressed: bool = False


class IndicatorData(SQLModel):
    indicator: str
    name: str
    period: IndicatorPeriod
    disaggregations: list[str]
    view: Literal["public", "staff"]
    disclosure_rule: str | None
    generated_at: datetime
    rows: list[IndicatorDataRow]


class PublicationUpdate(StrictInput):
    published: bool
    reporting_status: ReportingStatus = "complete"


# ---- operational reports ----------------------------------------------------------------


class SlaReportRow(SQLModel):
    group: str | None = Field(description="Valor del agrupamiento (null = total)")
    label: str | None
    received: int
    met: int = Field(description="Resueltas dentro de plazo")
    at_risk: int = Field(description="Abiertas en aviso (cerca del plazo)")
    breached: int = Field(description="Fuera de plazo")
    compliance_pct: float | None = Field(description="Dentro de plazo / (dentro + fuera)")
    median_first_response_days: float | None
    p90_first_response_days: float | None
    median_resolution_days: float | None
    p90_resolution_days: float | None


class SlaReport(SQLModel):
    group_by: str
    period: IndicatorPeriod
    scope: str
    days: str = Field(description="Cómo se cuentan los días de las medianas")
    rows: list[SlaReportRow]


class BacklogRow(SQLModel):
    age: str
    open: int


class SatisfactionRow(SQLModel):
    dimension: str
    responses: int
    mean: float | None
    distribution: dict[str, int]


class OperationsReport(SQLModel):
    period: IndicatorPeriod
    scope: str
    received_by_channel: dict[str, int]
    forwarded_by_area: dict[str, int]
    backlog_by_age: list[BacklogRow]
    assistant_queries: int
    assistant_answered: int
    assistant_deflection_pct: float | None
    satisfaction: list[SatisfactionRow]
