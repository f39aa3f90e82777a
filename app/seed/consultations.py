"""Demo consultations in several states (clearly demo content), recorded through the service
so references, SLA clocks and histories are real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.scoping import Actor
from app.models.area import Area
from app.models.audit import ActorType
from app.models.base import Role
from app.models.consultation import Consultation
from app.models.municipality import Municipality
from app.models.user import User
from app.schemas.consultations import ConsultationCreate, MessageCreate, TransitionRequest
from app.services.consultations import intake, lifecycle, thread

DEMO_REQUESTER = "Contenido de demostración"

# (INE, channel, days ago, subject, body, then: list of actions)
CONSULTATIONS: list[tuple[str, str, int, str, str, list[tuple[str, str]]]] = [
    ("06011", "phone", 1, "Plazo de justificación del plan de empleo",
     "La secretaria pregunta hasta cuándo puede justificarse la subvención del plan de empleo.",
     []),
    ("06011", "email", 6, "Arreglo del camino de la Fuente Vieja",
     "El camino municipal está intransitable tras las lluvias; ¿cómo se solicita su arreglo?",
     [("forward", "fomento")]),
    ("06083", "video_call", 12, "Certificado de empleado público caducado",
     "La interventora no puede firmar en la sede electrónica: su certificado ha caducado.",
     [("forward", "transformacion-digital"), ("reply", "Le hemos enviado cita para renovarlo."),
      ("answer", "")]),
    ("06083", "in_person", 20, "Modelo de pliego para contratar la limpieza viaria",
     "Solicitan un modelo de pliego de cláusulas administrativas para un contrato de servicios.",
     [("wait", "Falta el informe de necesidad del contrato")]),
    ("06015", "email", 3, "Participación en el circuito cultural provincial",
     "Gévora quiere acoger una actuación del circuito de artes escénicas en primavera.",
     [("progress", "")]),
]  # fmt: skip


async def demo_office_actor(session: AsyncSession) -> Actor | None:
    """The demo office account, acting as itself, for content recorded through services."""
    staff = (
        (await session.execute(select(User).where(col(User.role) == Role.oaaa_staff)))
        .scalars()
        .first()
    )
    if staff is None:
        return None
    return Actor(kind=ActorType.user, id=staff.id, role=Role.oaaa_staff, label=staff.email)


async def seed_consultations(session: AsyncSession, areas: dict[str, Area]) -> list[str]:
    exists = (
        await session.execute(
            select(col(Consultation.id)).where(col(Consultation.requester_name) == DEMO_REQUESTER)
        )
    ).first()
    if exists is not None:
        return []
    office = await demo_office_actor(session)
    if office is None:
        return []
    now = datetime.now(UTC)
    created: list[str] = []
    for ine, channel, days_ago, subject, body, actions in CONSULTATIONS:
        mun = (
            (await session.execute(select(Municipality).where(col(Municipality.ine_code) == ine)))
            .scalars()
            .one()
        )
        data = ConsultationCreate(
            subject=subject,
            body=body,
            municipality_id=mun.id,
            channel=channel,  # type: ignore[arg-type]
            received_at=now - timedelta(days=days_ago),
            requester_name=DEMO_REQUESTER,
        )
        c, _ = await intake.create(session, office, data, now=now)
        for action, arg in actions:
            if action == "forward":
                req = TransitionRequest(to="forwarded", area_id=areas[arg].id)  # type: ignore[arg-type]
                await lifecycle.transition(session, office, c.id, req, None, now=now)
            elif action == "reply":
                await thread.add_message(session, office, c.id, MessageCreate(body=arg), now)
            elif action == "answer":
                req = TransitionRequest(to="answered")  # type: ignore[arg-type]
                await lifecycle.transition(session, office, c.id, req, None, now=now)
            elif action == "wait":
                req = TransitionRequest(to="waiting_on_municipality", reason=arg)  # type: ignore[arg-type]
                await lifecycle.transition(session, office, c.id, req, None, now=now)
            elif action == "progress":
                req = TransitionRequest(to="in_progress")  # type: ignore[arg-type]
                await lifecycle.transition(session, office, c.id, req, None, now=now)
        created.append(f"consulta {c.reference}")
    return created
