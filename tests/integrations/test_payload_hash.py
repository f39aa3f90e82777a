"""What an integration sends is recognised by its payload hash (`expedientes.source_hash`):
stored rows hold hashes computed long ago, so the same body must keep the same hash; and the
shapes a batch validates refuse unknown fields at every level, as every request body does."""

from __future__ import annotations

from app.schemas.expedientes import ExpedienteUpsert
from app.schemas.integrations import BatchItemError
from app.services.expedientes import payload_hash
from app.services.integrations import _validate_item


def test_payload_hash_of_a_body_never_changes():
    full = {
        "municipality_ine_code": "06015",
        "procedure_code": "obras",
        "title": "Licencia de obra «Ñandú» nº 7",
        "description": "Reforma de fachada",
        "status": "resolved",
        "opened_at": "2026-03-02T09:30:00+01:00",
        "closed_at": "2026-05-10T12:00:00.250000Z",
        "deadline_date": "2026-06-30",
        "deadline_is_legal": True,
        "documents": [
            {
                "title": "Resolución",
                "url": "https://sede.example.es/doc/1?x=ü",
                "verification_code": "ABC-1",
            },
            {"title": "Informe", "url": "https://sede.example.es/doc/2"},
        ],
    }
    least = {
        "municipality_id": "6f1c1f5e-2c1d-4a3b-9a8e-1b2c3d4e5f60",
        "procedure_code": "obras",
        "title": "Obra",
        "opened_at": "2026-09-01T08:00:00Z",
    }
    # Computed by the code that wrote the stored hashes.
    assert payload_hash(ExpedienteUpsert.model_validate(full)) == (
        "e5ab4644ca9faa8e95cbfa09f260951e9b7e4fb1571fe63354efcae19698b5c4"
    )
    assert payload_hash(ExpedienteUpsert.model_validate(least)) == (
        "f066561df775262d19538ab7c2df41b97b6a07b88c7addb3f683d21fb0424fbe"
    )


def test_batch_items_refuse_unknown_fields_at_every_level():
    upsert = {
        "op": "upsert",
        "external_ref": "R-1",
        "expediente": {
            "procedure_code": "obras",
            "title": "Obra",
            "opened_at": "2026-09-01T08:00:00Z",
            "documents": [{"title": "Informe", "url": "https://a.example/1", "pages": 3}],
        },
    }
    placed = {"event_id": "e1", "stage_code": "INF", "occurred_at": "2026-09-01T08:00:00Z"}
    event = {"op": "event", "external_ref": "R-1", "event": placed}
    for index, raw, pointer in (
        (0, upsert, "/items/0/expediente/documents/0/pages"),
        (1, {**event, "event": {**placed, "by": "x"}}, "/items/1/event/by"),
        (2, {**event, "extra": 1}, "/items/2/extra"),
    ):
        error = _validate_item(index, raw)
        assert isinstance(error, BatchItemError)
        assert error.errors is not None
        assert [e.pointer for e in error.errors] == [pointer]
