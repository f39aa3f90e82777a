"""Demo procedure types and expedientes with their stage timelines (clearly demo content)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.scoping import Actor
from app.models.area import Area
from app.models.expediente import Expediente, ProcedureType, StageDefinition
from app.models.municipality import Municipality
from app.schemas.expedientes import StageEventIn
from app.services import expedientes

ACTOR = Actor.system("datos de demostración")

PROCEDURES: list[dict[str, object]] = [
    {
        "area": "fomento",
        "code": "plan-obras",
        "name": "Obra incluida en el Plan Provincial",
        "legal_term_days": 90,
        "stages": [
            ("solicitud", "Solicitud recibida", 5, False),
            ("subsanacion", "Subsanación de documentación", None, True),
            ("proyecto", "Redacción del proyecto", 30, False),
            ("licitacion", "Licitación", 40, False),
            ("ejecucion", "Ejecución de la obra", None, False),
            ("recepcion", "Recepción y liquidación", 20, False),
        ],
    },
    {
        "area": "desarrollo-local",
        "code": "subvencion-empleo",
        "name": "Subvención del plan de empleo local",
        "legal_term_days": 60,
        "stages": [
            ("solicitud", "Solicitud presentada", 5, False),
            ("revision", "Revisión administrativa", 10, False),
            ("subsanacion", "Requerimiento de subsanación", None, True),
            ("resolucion", "Resolución de concesión", 15, False),
            ("justificacion", "Justificación del gasto", None, True),
        ],
    },
]

# (procedure, municipality INE, reference, title, days since opening, stages with day offsets)
EXPEDIENTES: list[tuple[str, str, str, str, int, list[tuple[str, int]]]] = [
    ("plan-obras", "06011", "FOM-2026-0142", "Pavimentación de la calle Real", 60,
     [("solicitud", 0), ("subsanacion", 3), ("proyecto", 12)]),
    ("plan-obras", "06011", "FOM-2026-0177", "Mejora del alumbrado público", 20,
     [("solicitud", 0)]),
    ("plan-obras", "06083", "FOM-2026-0190", "Acerado de la avenida de la Libertad", 45,
     [("solicitud", 0), ("proyecto", 4), ("licitacion", 30)]),
    ("subvencion-empleo", "06011", "DL-2026-0031", "Plan de empleo social 2026", 35,
     [("solicitud", 0), ("revision", 2), ("resolucion", 20)]),
    ("subvencion-empleo", "06083", "DL-2026-0045", "Contratación de dinamizador deportivo", 8,
     [("solicitud", 0), ("revision", 3)]),
]  # fmt: skip


def _id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oaaa-demo:{kind}:{key}")


async def seed_expedientes(session: AsyncSession, areas: dict[str, Area]) -> list[str]:
    created: list[str] = []
    procedures: dict[str, ProcedureType] = {}
    for spec in PROCEDURES:
        code = str(spec["code"])
        pid = _id("procedure", code)
        p = await session.get(ProcedureType, pid)
        if p is None:
            p = ProcedureType(
                id=pid,
                area_id=areas[str(spec["area"])].id,
                code=code,
                name=str(spec["name"]),
                legal_term_days=int(str(spec["legal_term_days"])),
            )
            session.add(p)
            await session.flush()
            stages = spec["stages"]
            assert isinstance(stages, list)
            for position, (scode, name, days, waits) in enumerate(stages, start=1):
                session.add(
                    StageDefinition(
                        procedure_type_id=p.id,
                        position=position,
                        code=scode,
                        name=name,
                        expected_working_days=days,
                        waits_on_municipality=waits,
                    )
                )
            created.append(f"procedimiento {p.name}")
        procedures[code] = p
    await session.flush()
    now = datetime.now(UTC)
    for procedure, ine, ref, title, age, stages in EXPEDIENTES:
        eid = _id("expediente", ref)
        if await session.get(Expediente, eid) is not None:
            continue
        p = procedures[procedure]
        mun = (
            (await session.execute(select(Municipality).where(col(Municipality.ine_code) == ine)))
            .scalars()
            .one()
        )
        opened = now - timedelta(days=age)
        exp = Expediente(
            id=eid,
            municipality_id=mun.id,
            area_id=p.area_id,
            procedure_type_id=p.id,
            external_ref=ref,
            title=title,
            description="Expediente de demostración.",
            opened_at=opened,
            deadline_date=(opened + timedelta(days=120)).date(),
        )
        session.add(exp)
        await session.flush()
        for stage_code, offset in stages:
            await expedientes.add_stage_event(
                session,
                ACTOR,
                exp,
                StageEventIn(
                    event_id=f"demo-{ref}-{stage_code}-{offset}",
                    stage_code=stage_code,
                    occurred_at=opened + timedelta(days=offset),
                ),
                now,
            )
        created.append(f"expediente {ref}")
    return created
