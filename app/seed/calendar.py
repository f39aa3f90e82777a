"""Demo Punto Informativo content: calendar entries, an announcement and a training action
(clearly demo content), created through the services so audiences and feeds behave as real."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.time import MADRID
from app.models.announcement import Announcement
from app.models.area import Area
from app.models.calendar import CalendarEntry
from app.schemas.announcements import AnnouncementCreate
from app.schemas.calendar import EntryCreate
from app.schemas.trainings import TrainingCreate
from app.seed.consultations import demo_office_actor
from app.services import announcements, trainings
from app.services.calendar import entries as calendar

DEMO = "Contenido de demostración."


async def seed_calendar(session: AsyncSession, areas: dict[str, Area]) -> list[str]:
    if (await session.execute(select(col(CalendarEntry.id)).limit(1))).first() is not None:
        return []
    office = await demo_office_actor(session)
    if office is None:
        return []
    today = datetime.now(UTC).astimezone(MADRID).date()

    def at(days: int, hour: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(hour), MADRID)

    entries = [
        EntryCreate(
            kind="event",  # type: ignore[arg-type]
            title="Jornada sobre contratación pública para secretarías",
            description=DEMO,
            area_id=areas["asistencia-municipios"].id,
            starts_at=at(9, 10),
            ends_at=at(9, 13),
            modality="hybrid",  # type: ignore[arg-type]
            location="Palacio Provincial, Badajoz",
            online_url="https://reuniones.dip-badajoz.es/contratacion",
            is_public=True,
            registration_required=True,
            capacity=60,
        ),
        EntryCreate(
            kind="event",  # type: ignore[arg-type]
            title="Tutoría semanal de sede electrónica",
            description=DEMO,
            area_id=areas["transformacion-digital"].id,
            starts_at=at(2, 9),
            ends_at=at(2, 10),
            modality="online",  # type: ignore[arg-type]
            online_url="https://reuniones.dip-badajoz.es/sede",
            rrule="FREQ=WEEKLY;COUNT=10",
            is_public=True,
        ),
        EntryCreate(
            kind="grant_call",  # type: ignore[arg-type]
            title="Convocatoria de ayudas para caminos rurales",
            description=DEMO,
            area_id=areas["fomento"].id,
            starts_at=at(1, 9),
            all_day=True,
            application_opens_on=today + timedelta(days=1),
            closing_term_working_days=20,
            bulletin_url="https://www.dip-badajoz.es/bop/demo",
            budget=Decimal("250000.00"),
            beneficiaries="Municipios y ELM de la provincia",
            reminder_working_days=[5, 1],
            is_public=True,
        ),
        EntryCreate(
            kind="participation",  # type: ignore[arg-type]
            title="Presupuestos participativos: sesión de cocreación",
            description=DEMO,
            area_id=areas["desarrollo-local"].id,
            starts_at=at(16, 17),
            ends_at=at(16, 19),
            modality="in_person",  # type: ignore[arg-type]
            location="Centro de Desarrollo Local, Mérida",
        ),
    ]
    created: list[str] = []
    for data in entries:
        entry = await calendar.create_entry(session, office, data)
        await calendar.publish_entry(session, office, entry.id)
        created.append(f"calendario {data.title}")
    if (await session.execute(select(col(Announcement.id)).limit(1))).first() is None:
        note = await announcements.create(
            session,
            office,
            AnnouncementCreate(
                title="Nuevo horario de atención telefónica de la Oficina",
                body="Desde el próximo mes la Oficina atenderá de 8:00 a 15:00. " + DEMO,
                is_public=True,
            ),
        )
        await announcements.publish(session, office, note.id)
        created.append("comunicado de horario")
    await trainings.create(
        session,
        office,
        TrainingCreate(
            title="Formación en la sede electrónica para personal municipal",
            description=DEMO,
            audience="Secretarías e intervenciones municipales",
            modality="online",  # type: ignore[arg-type]
            hours=Decimal("6"),
            area_id=areas["transformacion-digital"].id,
            starts_on=today + timedelta(days=20),
        ),
    )
    created.append("formación en sede electrónica")
    return created
