"""The daily digest: for people who prefer one message a day, one e-mail each morning with the
notifications of the previous 24 hours that they would have received by e-mail.

`queue_digests`, a cron job at 07:00 in Europe/Madrid, records one `digest_dispatch` row per
person and day (unique, so a second worker or a restart records nothing new) and queues its
job after the commit; `send_digest` sends it once (see `email.send_dispatch`). A day with
nothing to tell sends nothing.
"""

from __future__ import annotations

import html
import uuid
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, queue
from app.core.config import get_settings
from app.core.errors import Forbidden
from app.core.scoping import Actor
from app.core.time import MADRID
from app.models.audit import ActorType
from app.models.notification import (
    DigestDispatch,
    Notification,
    NotificationEvent,
    NotificationPreference,
)
from app.models.user import User
from app.services.notifications import email as email_service
from app.services.notifications.outbox import QUIET_BY_EMAIL, personal_details
from app.services.webhooks import absolute_link

JOB = "send_digest"
HOUR = 7
MAX_ATTEMPTS = 6
RETRY_SECONDS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)


def window(day: date) -> tuple[datetime, datetime]:
    """The 24 hours a day's digest covers: from 07:00 the day before to 07:00 that day."""
    end = datetime.combine(day, time(HOUR), MADRID)
    return end - timedelta(days=1), end


def day_covering(instant: datetime) -> date:
    """The digest that will carry a notification created at `instant`."""
    local = instant.astimezone(MADRID)
    return local.date() + timedelta(days=1) if local.hour >= HOUR else local.date()


def today() -> date:
    return datetime.now(UTC).astimezone(MADRID).date()


# ---- the person's choice ------------------------------------------------------------------


async def _person(session: AsyncSession, actor: Actor) -> User:
    user = await session.get(User, actor.id) if actor.kind == ActorType.user else None
    if user is None:
        raise Forbidden("El resumen diario es una preferencia de las personas usuarias")
    return user


async def get(session: AsyncSession, actor: Actor) -> User:
    return await _person(session, actor)


async def set_enabled(session: AsyncSession, actor: Actor, enabled: bool) -> User:
    user = await _person(session, actor)
    if user.email_digest != enabled:
        user.email_digest = enabled
        await session.flush()
        await audit.record(
            session,
            actor,
            "notification.digest",
            "user",
            user.id,
            {"email_digest": {"from": not enabled, "to": enabled}},
        )
    return user


# ---- the cron and the job ------------------------------------------------------------------


async def queue_digests(ctx: dict[str, Any], day: date | None = None) -> int:
    """Cron: records today's dispatch of every person who reads the digest and queues the
    pending ones. Returns how many dispatches are pending."""
    day = day or today()
    async with queue.unit_of_work(ctx["sessionmaker"], ctx.get("redis")) as session:
        readers = select(col(User.id), col(User.email)).where(
            col(User.email_digest).is_(True), col(User.is_active).is_(True)
        )
        rows = (await session.execute(readers)).all()
        if rows:
            await session.execute(
                insert(DigestDispatch)
                .values(
                    [
                        {
                            "id": uuid.uuid4(),
                            "user_id": uid,
                            "day": day,
                            "to_address": address,
                            "status": "pending",
                            "attempts": 0,
                            "created_at": datetime.now(UTC),
                        }
                        for uid, address in rows
                    ]
                )
                .on_conflict_do_nothing(constraint="uq_digest_dispatch")
            )
        pending = (
            await session.execute(
                select(col(DigestDispatch.id), col(DigestDispatch.attempts)).where(
                    col(DigestDispatch.day) == day, col(DigestDispatch.status) == "pending"
                )
            )
        ).all()
        for dispatch_id, attempts in pending:
            jid = queue.job_id("digest", dispatch_id, attempts)
            queue.enqueue(session, JOB, str(dispatch_id), job_id=jid)
    return len(pending)


async def items(session: AsyncSession, user_id: uuid.UUID, day: date) -> list[NotificationEvent]:
    """The events of the day's window that reach the person by e-mail (per-kind choices)."""
    start, end = window(day)
    stmt = (
        select(NotificationEvent)
        .join(Notification, col(Notification.event_id) == col(NotificationEvent.id))
        .outerjoin(
            NotificationPreference,
            and_(
                col(NotificationPreference.user_id) == user_id,
                col(NotificationPreference.kind) == col(NotificationEvent.kind),
            ),
        )
        .where(
            col(Notification.user_id) == user_id,
            col(Notification.created_at) >= start,
            col(Notification.created_at) < end,
            or_(
                col(NotificationPreference.email).is_(True),
                and_(
                    col(NotificationPreference.kind).is_(None),
                    col(NotificationEvent.kind).not_in(QUIET_BY_EMAIL),
                ),
            ),
        )
        .order_by(col(Notification.id))
    )
    return list((await session.execute(stmt)).scalars().all())


def render(events: list[NotificationEvent], to_address: str, day: date) -> EmailMessage:
    settings = get_settings()
    heading = f"Resumen diario de la OAAA: {len(events)} aviso" + ("s" if len(events) != 1 else "")
    text = [heading, f"Avisos recibidos hasta las {HOUR:02d}:00 del {day:%d/%m/%Y}.", ""]
    parts = []
    for e in events:
        link = absolute_link(e.link)
        personal = [f"{label}: {value}" for label, value in personal_details(e.payload)]
        text += [f"- {e.title}", f"  {e.body}", *(f"  {p}" for p in personal)]
        if link:
            text.append(f"  {link}")
        anchor = f' <a href="{html.escape(link, quote=True)}">Abrir</a>' if link else ""
        extra = "".join(f"<br>{html.escape(p)}" for p in personal)
        parts.append(
            f"<li><strong>{html.escape(e.title)}</strong><br>{html.escape(e.body)}{extra}"
            f"{anchor}</li>"
        )
    text += ["", "--", email_service.FOOTER]
    html_doc = (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title></head><body>"
        f"<h1>{html.escape(heading)}</h1><ul>{''.join(parts)}</ul>"
        f"<hr><p>{html.escape(email_service.FOOTER)}</p></body></html>"
    )
    return email_service.compose_message(
        f"{email_service.SUBJECT_PREFIX} {heading}", to_address, "\n".join(text), html_doc, settings
    )


async def send_digest(ctx: dict[str, Any], dispatch_id: str) -> str:
    """arq job: sends one person's digest of one day (`empty` when there is nothing)."""

    async def compose(session: AsyncSession, user: User, dispatch: Any) -> EmailMessage | None:
        events = await items(session, user.id, dispatch.day)
        return render(events, dispatch.to_address, dispatch.day) if events else None

    return await email_service.send_dispatch(
        ctx,
        DigestDispatch,
        dispatch_id,
        compose,
        max_attempts=MAX_ATTEMPTS,
        retry_seconds=RETRY_SECONDS,
        what="digest",
    )
