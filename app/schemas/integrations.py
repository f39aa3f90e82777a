"""Request and response shapes of the integrations API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Discriminator, PlainValidator, StringConstraints
from sqlmodel import Field, SQLModel

from app.models.expediente import EXTERNAL_REF_PATTERN
from app.schemas.base import BulkInput, StrictInput
from app.schemas.expedientes import ExpedienteDetail, ExpedienteUpsert, StageEventIn
from app.schemas.problems import FieldError

MAX_BATCH_ITEMS = 500


def _not_the_events_path(ref: str) -> str:
    # `…/{ref}/events` is where an expediente's events are posted: a reference ending so could
    # never be read back by its path.
    if ref.endswith("/events"):
        raise ValueError("la referencia no puede terminar en «/events»")
    return ref


ExternalRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=EXTERNAL_REF_PATTERN),
    AfterValidator(_not_the_events_path),
]


class IntegrationStageEventIn(StageEventIn):
    """A stage event from an área's system: its own event id is required (retries and
    duplicates are recognised by it)."""

    event_id: str = Field(
        min_length=1,
        max_length=100,
        description="Identificador del evento en el sistema de origen (único por expediente)",
    )


class StageEventResult(SQLModel):
    expediente: ExpedienteDetail
    duplicate: bool = Field(
        description="true si el evento ya constaba (mismo event_id) y no se ha registrado otra vez"
    )


class BatchUpsertItem(BulkInput):
    op: Literal["upsert"]
    external_ref: ExternalRef
    expediente: ExpedienteUpsert


class BatchEventItem(BulkInput):
    op: Literal["event"]
    external_ref: ExternalRef
    event: IntegrationStageEventIn


BatchItem = Annotated[BatchUpsertItem | BatchEventItem, Discriminator("op")]

_ITEM_MODELS: dict[str, type[BatchUpsertItem] | type[BatchEventItem]] = {
    "upsert": BatchUpsertItem,
    "event": BatchEventItem,
}


def _as_received(value: Any) -> Any:
    return value


# Items are accepted as sent and validated one by one in `run_batch`, so a malformed item is
# reported in its own result instead of failing the whole request; the published schema is
# still the discriminated union.
RawBatchItem = Annotated[Any, PlainValidator(_as_received, json_schema_input_type=BatchItem)]

ItemStatus = Literal["created", "updated", "unchanged", "placed", "duplicate", "error"]


class BatchRequest(StrictInput):
    items: list[RawBatchItem] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Hasta 500 operaciones, que se aplican en orden y cada una por separado",
    )


# A batch's results are built by the hundred in one request: plain pydantic models, like its
# items (`BulkInput`), without SQLModel's own `__init__` validating each a second time.


class BatchItemError(BaseModel):
    status: int = Field(description="Código HTTP que habría recibido la operación sola")
    code: str
    detail: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None


class BatchItemResult(BaseModel):
    index: int
    op: str | None
    external_ref: str | None
    status: ItemStatus
    expediente_id: uuid.UUID | None = None
    version: int | None = None
    error: BatchItemError | None = None


class BatchResult(BaseModel):
    items: list[BatchItemResult]
    counts: dict[str, int] = Field(description="Número de elementos por resultado")
