"""What people are told about their consultations: one notification event per change, for
the people the change concerns, never for its author.

Each event's `dedupe_key` names the change (the consultation's version after it, which grows
with every change), so a change records its event once. The municipality hears only of its own
consultations and never of internal notes; the área hears of what is forwarded to it; the
person a consultation is assigned to hears of what the municipality does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scoping import Actor
from app.models.area import Area
from app.models.consultation import Consultation
from app.models.notification import NotificationKind as K
from app.services import surveys
from app.services.notifications import outbox


def link(c: Consultation) -> str:
    return f"/consultas/{c.id}"


def handlers(c: Consultation) -> outbox.Audience:
    """Who handles the consultation now: its assignee, else its área, else the office."""
    if c.assignee_id is not None:
        return outbox.Audience(office=False, area=False, users=(c.assignee_id,))
    if c.area_id is not None:
        return outbox.Audience(office=False, area=True)
    return outbox.Audience(office=True, area=False)


async def emit(
    session: AsyncSession,
    c: Consultation,
    actor: Actor,
    kind: K,
    title: str,
    body: str,
    audience: outbox.Audience,
    payload: dict[str, Any] | None = None,
) -> outbox.Emitted | None:
    spec = outbox.EventSpec(
        kind=kind,
        dedupe_key=f"consultation:{c.id}:{kind.value}:v{c.version}",
        entity_type="consultation",
        entity_id=str(c.id),
        title=title[:300],
        body=body[:2000],
        occurred_at=datetime.now(UTC),
        municipality_id=c.municipality_id,
        area_id=c.area_id,
        link=link(c),
        payload={
            "consultation_id": str(c.id),
            "reference": c.reference,
            "subject": c.subject,
            "status": c.status,
            "area_id": str(c.area_id) if c.area_id else None,
            **(payload or {}),
        },
        audience=audience,
        author_id=actor.id,
    )
    return await outbox.emit(session, spec)


async def received(
    session: AsyncSession, c: Consultation, actor: Actor, access_code: str
) -> outbox.Emitted | None:
    """To the municipality's people: the reference and the code to track it (the code travels
    in the payload, which webhooks never carry)."""
    return await emit(
        session,
        c,
        actor,
        K.consultation_received,
        f"Consulta registrada: {c.reference}",
        f"La oficina ha registrado la consulta «{c.subject}» con la referencia {c.reference}. "
        "El código de seguimiento figura en la notificación y permite consultar su estado "
        "sin identificarse.",
        outbox.MUNICIPALITY,
        {"access_code": access_code},
    )


async def replied(session: AsyncSession, c: Consultation, actor: Actor) -> None:
    """A public reply of the office or the área reaches the municipality."""
    await emit(
        session,
        c,
        actor,
        K.consultation_replied,
        f"Nueva respuesta en la consulta {c.reference}",
        f"Hay una nueva respuesta en la consulta «{c.subject}».",
        outbox.MUNICIPALITY,
    )


async def municipality_replied(session: AsyncSession, c: Consultation, actor: Actor) -> None:
    await emit(
        session,
        c,
        actor,
        K.consultation_municipality_replied,
        f"El ayuntamiento ha respondido en la consulta {c.reference}",
        f"El ayuntamiento ha escrito en la consulta «{c.subject}».",
        handlers(c),
    )


async def assigned(session: AsyncSession, c: Consultation, actor: Actor) -> None:
    if c.assignee_id is None:
        return
    await emit(
        session,
        c,
        actor,
        K.consultation_assigned,
        f"Se le ha asignado la consulta {c.reference}",
        f"La consulta «{c.subject}» queda a su cargo.",
        outbox.Audience(office=False, area=False, users=(c.assignee_id,)),
    )


async def transitioned(
    session: AsyncSession, c: Consultation, actor: Actor, previous: str, reopened: bool
) -> None:
    """The notification of a status change, if the new status concerns anyone."""
    status = c.status
    if reopened:
        await emit(
            session,
            c,
            actor,
            K.consultation_reopened,
            f"Consulta reabierta: {c.reference}",
            f"La consulta «{c.subject}» se ha reabierto y vuelve a tramitarse.",
            outbox.Audience(
                office=c.area_id is None and c.assignee_id is None,
                area=c.area_id is not None and c.assignee_id is None,
                municipality=True,
                users=(c.assignee_id,) if c.assignee_id else (),
            ),
        )
    elif status == "forwarded":
        area = await session.get(Area, c.area_id) if c.area_id else None
        name = area.name if area else "un área"
        extra = {"area": name}
        await emit(
            session,
            c,
            actor,
            K.consultation_forwarded,
            f"Consulta {c.reference} remitida a {name}",
            f"La oficina ha remitido la consulta «{c.subject}» a {name}, que la tramitará.",
            outbox.MUNICIPALITY,
            extra,
        )
        await emit(
            session,
            c,
            actor,
            K.consultation_new_for_area,
            f"Nueva consulta para su área: {c.reference}",
            f"La oficina ha remitido a {name} la consulta «{c.subject}».",
            outbox.Audience(office=False, area=True),
            extra,
        )
    elif status == "waiting_on_municipality":
        reason = c.waiting_reason or ""
        await emit(
            session,
            c,
            actor,
            K.consultation_waiting_on_municipality,
            f"La consulta {c.reference} espera a su ayuntamiento",
            f"Para continuar se necesita: {reason}. El plazo queda suspendido hasta que responda.",
            outbox.MUNICIPALITY,
            {"reason": reason, "clock_paused": True},
        )
    elif status == "answered":
        await emit(
            session,
            c,
            actor,
            K.consultation_answered,
            f"Consulta respondida: {c.reference}",
            f"La consulta «{c.subject}» tiene respuesta. Puede cerrarla o reabrirla si lo "
            "necesita.",
            outbox.MUNICIPALITY,
        )
    elif status == "closed" and c.closed_at is not None:
        url = surveys.survey_url(surveys.survey_token(c.id, c.closed_at))
        await emit(
            session,
            c,
            actor,
            K.consultation_closed,
            f"Consulta cerrada: {c.reference}",
            f"La consulta «{c.subject}» se ha cerrado. Su opinión nos ayuda a mejorar: "
            "responda a la encuesta de satisfacción del enlace de esta notificación.",
            outbox.Audience(
                office=False,
                area=False,
                municipality=True,
                users=(c.assignee_id,) if c.assignee_id else (),
            ),
            {"survey_url": url},
        )
