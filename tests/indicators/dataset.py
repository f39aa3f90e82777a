"""A small known dataset for the indicators and reports: every figure is counted by hand in
the comments, so each test checks exact values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.area import Area
from app.models.consultation import Consultation, ConsultationEvent
from app.models.municipality import Comarca, Municipality, MunicipalityKind
from app.models.survey import SatisfactionSurvey
from app.models.training import TrainingAction, TrainingAttendance, TrainingSession
from app.models.visit import VisitDaily
from app.services.indicators.refresh import refresh
from tests import factories as f

YEAR = 2025


@dataclass
class Dataset:
    badajoz: Municipality
    merida: Municipality
    almendralejo: Municipality
    olivenza: Municipality
    elm: Municipality
    comarca: Comarca
    area1: Area
    area2: Area
    consultations: list[Consultation]


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(YEAR, month, day, hour, tzinfo=UTC)


def _consultation(
    m: Municipality,
    channel: str,
    received: datetime,
    *,
    area: Area | None = None,
    answered: datetime | None = None,
    subject: str = "Consulta",
    sla_state: str = "on_track",
) -> Consultation:
    status = "answered" if answered else ("forwarded" if area else "received")
    return Consultation(
        reference=f"OAAA-T-{uuid.uuid4().hex[:10]}",
        access_code_hash="x",
        municipality_id=m.id,
        area_id=area.id if area else None,
        channel=channel,
        status=status,
        subject=subject,
        body="Texto",
        received_at=received,
        sla_started_at=received,
        first_responded_at=answered,
        answered_at=answered,
        sla_state=sla_state,
    )


async def build(session: AsyncSession) -> Dataset:
    badajoz = await f.municipality(session, "06015")
    merida = await f.municipality(session, "06083")
    almendralejo = await f.municipality(session, "06011")
    olivenza = await f.municipality(session, "06095")
    comarca = Comarca(name=f"Comarca de prueba {uuid.uuid4().hex[:6]}")
    session.add(comarca)
    await session.flush()
    badajoz.comarca_id = comarca.id
    merida.comarca_id = comarca.id
    elm = Municipality(
        name="Entidad Menor de Prueba",
        kind=MunicipalityKind.elm,
        parent_id=badajoz.id,
        comarca_id=comarca.id,
    )
    session.add(elm)
    area1 = await f.area(session, name="Área de Fomento de prueba")
    area2 = await f.area(session, name="Área de Cultura de prueba")
    await f.integration_client(session, area1.id, created_at=at(1, 1))
    await f.integration_client(session, area2.id, is_active=False, created_at=at(1, 1))

    # Consultations of 2025: Badajoz 6 (web 3, phone 2, email 1), Mérida 2 (web), Almendralejo
    # 1 (phone), ELM 1 (in person) = 10; one of Badajoz in 2024 does not count.
    c = [
        _consultation(badajoz, "web", at(1, 10), area=area1, answered=at(1, 12)),
        _consultation(badajoz, "web", at(2, 10), area=area1, answered=at(2, 14)),
        _consultation(badajoz, "web", at(3, 10), area=area1, subject='=HYPERLINK("x")'),
        _consultation(badajoz, "phone", at(4, 10), sla_state="breached"),
        _consultation(badajoz, "phone", at(5, 10)),
        _consultation(badajoz, "email", at(6, 10)),
        _consultation(merida, "web", at(7, 10), area=area2, answered=at(7, 20)),
        _consultation(merida, "web", at(8, 10)),
        _consultation(almendralejo, "phone", at(9, 10)),
        _consultation(elm, "in_person", at(10, 10)),
        _consultation(badajoz, "web", datetime(2024, 12, 31, 12, tzinfo=UTC)),
    ]
    session.add_all(c)
    await session.flush()
    # Forwarded in 2025: c0, c1, c2 (área 1) and c6 (área 2); resolved c0 (2 days), c1 (4),
    # c6 (10): median 4; área 1 median 3.
    for i in (0, 1, 2, 6):
        session.add(
            ConsultationEvent(
                consultation_id=c[i].id,
                actor_type="user",
                kind="forwarded",
                from_status="in_progress",
                to_status="forwarded",
                occurred_at=c[i].received_at + timedelta(hours=1),
            )
        )

    # Visits: web 100 + 50, in person 7 in 2025 = 157; 999 on 2024-12-31 do not count.
    session.add_all(
        [
            VisitDaily(day=date(YEAR, 3, 1), page="calendario", channel="web", count=100),
            VisitDaily(day=date(YEAR, 3, 2), page="inicio", channel="web", count=50),
            VisitDaily(day=date(YEAR, 3, 1), page="oficina", channel="in_person", count=7),
            VisitDaily(day=date(YEAR - 1, 12, 31), page="inicio", channel="web", count=999),
        ]
    )

    # Training held in 2025: t1 (in person, área 1, session in February) and t2 (online, no
    # sessions, starts 1 June); t3 was held in 2024.
    t1 = TrainingAction(
        title="Sede electrónica",
        audience="Personal municipal",
        modality="in_person",
        hours=Decimal(3),
        area_id=area1.id,
    )
    t2 = TrainingAction(
        title="Plataforma OAAA",
        audience="Alcaldes",
        modality="online",
        hours=Decimal(2),
        starts_on=date(YEAR, 6, 1),
    )
    t3 = TrainingAction(
        title="Catálogo de servicios",
        audience="Áreas",
        modality="online",
        hours=Decimal(1),
    )
    session.add_all([t1, t2, t3])
    await session.flush()
    session.add_all(
        [
            TrainingSession(training_id=t1.id, starts_at=at(2, 10), ends_at=at(2, 10, 13)),
            TrainingSession(training_id=t1.id, starts_at=at(2, 17), ends_at=at(2, 17, 13)),
            TrainingSession(
                training_id=t3.id,
                starts_at=datetime(YEAR - 1, 5, 5, 9, tzinfo=UTC),
                ends_at=datetime(YEAR - 1, 5, 5, 11, tzinfo=UTC),
            ),
        ]
    )

    # People in 2025: Badajoz 1 (the same María three times), Mérida 1, Almendralejo 1 (no
    # name: counted once per attendance), Olivenza 1, no entity 1 = 5. Pedro (2024) is out.
    def attendance(t: TrainingAction, m: Municipality | None, name: str | None) -> None:
        session.add(
            TrainingAttendance(
                training_id=t.id,
                municipality_id=m.id if m else None,
                role="Secretaría",
                attended_hours=Decimal(2),
                name=name,
            )
        )

    attendance(t1, badajoz, "María  López")
    attendance(t1, badajoz, "maria lopez")
    attendance(t2, badajoz, "MARÍA LÓPEZ ")
    attendance(t1, merida, "Juan Pérez")
    attendance(t1, almendralejo, None)
    attendance(t1, olivenza, "Luis Gil")
    attendance(t2, None, "Ana Ruiz")
    attendance(t3, almendralejo, "Pedro Sanz")

    # Surveys of 2025: (5,4,3) and (3,3,3) Badajoz área 1, (4,5,5) Mérida área 2: 3 answers,
    # means 4.0, 4.0, 3.67.
    for cons, scores in ((c[0], (5, 4, 3)), (c[1], (3, 3, 3)), (c[6], (4, 5, 5))):
        session.add(
            SatisfactionSurvey(
                consultation_id=cons.id,
                municipality_id=cons.municipality_id,
                area_id=cons.area_id,
                attention=scores[0],
                process=scores[1],
                resolution=scores[2],
                answered_at=(cons.answered_at or cons.received_at) + timedelta(days=1),
            )
        )
    await session.commit()
    await refresh(session)
    await session.commit()
    return Dataset(badajoz, merida, almendralejo, olivenza, elm, comarca, area1, area2, c)
