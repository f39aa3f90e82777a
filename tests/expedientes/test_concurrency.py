"""Concurrent writes to one expediente serialise: one If-Match wins."""

from __future__ import annotations

import pytest

from app.models.base import Role
from tests import factories as f

# Each request runs in its own transaction on the app's engine, as in production.
pytestmark = pytest.mark.committed


async def test_one_of_many_expediente_writes_with_the_same_etag_wins(client, session):
    from app.models.expediente import ProcedureType, StageDefinition

    alm = await f.municipality(session, "06011")
    fomento = await f.area(session, "fomento")
    procedure = ProcedureType(area_id=fomento.id, code="obras", name="Obras")
    session.add(procedure)
    await session.flush()
    session.add(
        StageDefinition(procedure_type_id=procedure.id, position=1, code="INI", name="Inicio")
    )
    await session.commit()
    office = await f.auth_headers(client, await f.user(session, Role.oaaa_staff))
    r = await client.post(
        "/api/v1/expedientes",
        json={
            "municipality_id": str(alm.id),
            "area_id": str(fomento.id),
            "procedure_type_id": str(procedure.id),
            "external_ref": "OBR-1",
            "title": "Pavimentación",
        },
        headers=office,
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/expedientes/{r.json()['id']}"
    headers = office | {"If-Match": r.headers["etag"]}
    codes = await f.concurrently(
        [("PATCH", url, {"title": f"Pavimentación {i}"}, headers) for i in range(12)]
    )
    assert sorted(codes) == [200] + [412] * 11
