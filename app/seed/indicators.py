"""Demo history for the indicators (clearly demo content): a year of past consultations with
forwarding and satisfaction answers, training actions with their attendance, and visit counts,
so every indicator shows non-trivial figures. Deterministic and idempotent."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.security import hash_password
from app.models.area import Area
from app.models.consultation import Consultation, ConsultationEvent
from app.models.municipality import Municipality
from app.models.survey import SatisfactionSurvey
from app.models.training import TrainingAction, TrainingAttendance, TrainingSession
from app.models.visit import VisitDaily
from app.services.indicators.refresh import refresh

DEMO_PREFIX = "OAAA-H-"
CHANNELS = ("web", "web", "email", "phone", "phone", "in_person", "video_call", "assistant")
SUBJECTS = (
    "Consulta sobre subvenciones del plan provincial (demostración)",
    "Duda sobre la sede electrónica (demostración)",
    "Solicitud de asesoramiento jurídico (demostración)",
    "Información sobre una convocatoria abierta (demostración)",
)
TRAININGS = (
    ("Uso de la plataforma de la Oficina (demostración)", "online", 60),
    ("La sede electrónica para ayuntamientos (demostración)", "in_person", 150),
    ("Catálogo de servicios y ayudas a municipios (demostración)", "hybrid", 240),
)
PEOPLE = (
    "Ana Gómez", "Luis Martín", "Carmen Ruiz", "José Sánchez", "Lucía Torres", "Pedro Romero",
    "Elena Castro", "Juan Moreno", "Rosa Delgado", "Miguel Ortiz", "Isabel Vega", "Antonio Gil",
)  # fmt: skip


async def seed_indicators(session: AsyncSession, areas: dict[str, Area]) -> list[str]:
    exists = await session.execute(
        select(col(Consultation.id)).where(col(Consultation.reference).startswith(DEMO_PREFIX))
    )
    if exists.first() is not None:
        return []
    rng = random.Random(2026)  # noqa: S311 - demo data, reproducible on purpose
    municipalities = list(
        (await session.execute(select(Municipality).order_by(col(Municipality.ine_code))))
        .scalars()
        .all()
    )
    weights = [max(m.population or 300, 300) ** 0.5 for m in municipalities]
    area_list = sorted(areas.values(), key=lambda a: a.code)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    code = hash_password("DEMO-HIST")

    for n in range(1, 241):
        m = rng.choices(municipalities, weights)[0]
        received = now - timedelta(days=rng.randint(20, 360), hours=rng.randint(0, 6))
        area = rng.choice(area_list) if rng.random() < 0.35 else None
        answered = received + timedelta(days=rng.randint(1, 15), hours=rng.randint(0, 6))
        c = Consultation(
            reference=f"{DEMO_PREFIX}{n:06d}",
            access_code_hash=code,
            municipality_id=m.id,
            area_id=area.id if area else None,
            channel=rng.choice(CHANNELS),
            status="closed",
            subject=rng.choice(SUBJECTS),
            body="Consulta histórica de demostración para los indicadores.",
            received_at=received,
            sla_started_at=received,
            first_responded_at=received + timedelta(hours=rng.randint(2, 48)),
            answered_at=answered,
            closed_at=answered + timedelta(days=1),
            sla_state="met" if rng.random() < 0.85 else "breached",
        )
        session.add(c)
        await session.flush()
        if area is not None:
            session.add(
                ConsultationEvent(
                    consultation_id=c.id,
                    occurred_at=received + timedelta(hours=3),
                    actor_type="system",
                    kind="forwarded",
                    from_status="in_progress",
                    to_status="forwarded",
                    is_public=True,
                )
            )
        if rng.random() < 0.4:
            session.add(
                SatisfactionSurvey(
                    consultation_id=c.id,
                    municipality_id=m.id,
                    area_id=c.area_id,
                    attention=rng.choice((3, 4, 4, 5, 5)),
                    process=rng.choice((2, 3, 4, 4, 5)),
                    resolution=rng.choice((3, 4, 4, 5)),
                    answered_at=answered + timedelta(days=1, hours=2),
                )
            )

    for title, modality, days_ago in TRAININGS:
        t = TrainingAction(
            title=title,
            audience="Alcaldes, alcaldesas y personal municipal",
            modality=modality,
            hours=Decimal(3),
            area_id=area_list[0].id if area_list else None,
        )
        session.add(t)
        await session.flush()
        start = now - timedelta(days=days_ago)
        session.add(
            TrainingSession(training_id=t.id, starts_at=start, ends_at=start + timedelta(hours=3))
        )
        for person in rng.sample(PEOPLE, 8):
            m = rng.choices(municipalities, weights)[0]
            session.add(
                TrainingAttendance(
                    training_id=t.id,
                    municipality_id=m.id,
                    role="Personal municipal",
                    attended_hours=Decimal(3),
                    name=f"{person} ({m.name})",
                )
            )

    today = now.date()
    for back in range(1, 366):
        day: date = today - timedelta(days=back)
        for page, base in (("inicio", 40), ("calendario", 25), ("formacion", 8)):
            await session.execute(
                insert(VisitDaily)
                .values(day=day, page=page, channel="web", count=base + rng.randint(0, base))
                .on_conflict_do_nothing()
            )
        if day.weekday() < 5:
            await session.execute(
                insert(VisitDaily)
                .values(day=day, page="oficina", channel="in_person", count=rng.randint(0, 6))
                .on_conflict_do_nothing()
            )
    await session.flush()
    await refresh(session)
    return [
        "240 consultas históricas con derivaciones y encuestas (indicadores)",
        "3 acciones formativas con asistentes (indicadores)",
        "visitas diarias del último año (indicadores)",
    ]
