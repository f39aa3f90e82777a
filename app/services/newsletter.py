"""The quarterly newsletter: a digest of a quarter's announcements, events, participation and
grant calls, as JSON or accessible HTML, and its dispatch by e-mail through the worker.

Dispatch: `queue_quarter` records one `newsletter_dispatch` row per active municipal user
(unique per quarter and user, so repeating the call creates nothing new) and queues, for after
the commit, one `send_newsletter` job per pending row. The job locks its row
(`FOR UPDATE SKIP LOCKED`) while it sends, so two workers never send the same row, marks it
sent, or counts the failure and asks arq to retry later.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import audit, queue
from app.core.config import get_settings
from app.core.errors import UnprocessableEntity
from app.core.scoping import Actor, visible
from app.core.time import MADRID
from app.models.announcement import Announcement
from app.models.base import Role
from app.models.calendar import CalendarEntry, EntryKind, EntryStatus
from app.models.newsletter import NewsletterDispatch
from app.models.user import User
from app.schemas.newsletter import DigestItem, DispatchResult, Newsletter
from app.services.notifications import email as email_service
from app.services.webhooks import absolute_link

logger = logging.getLogger("app.newsletter")

QUARTER_PATTERN = r"^(20[0-9]{2}|2100)-Q[1-4]$"  # the years parse_quarter accepts
_QUARTER_RE = re.compile(r"^([0-9]{4})-Q([1-4])$")
JOB = "send_newsletter"
MAX_ATTEMPTS = 6
RETRY_SECONDS = (60, 5 * 60, 30 * 60, 2 * 60 * 60, 6 * 60 * 60)
MAX_ITEMS = 500


def parse_quarter(quarter: str) -> tuple[date, date]:
    """[first day, first day of the next quarter) of `YYYY-Qn`."""
    match = _QUARTER_RE.fullmatch(quarter)
    if match is None:
        raise UnprocessableEntity("El trimestre debe tener la forma AAAA-Tn, p. ej. 2026-Q4")
    year, q = int(match.group(1)), int(match.group(2))
    if year < 2000 or year > 2100:
        raise UnprocessableEntity("Año fuera de rango")
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


def _instant(d: date) -> datetime:
    return datetime.combine(d, time.min, MADRID)


def _summary(text: str | None, limit: int = 400) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _entry_scope(actor: Actor) -> Any:
    """Published calendar entries the caller may see (the calendar's own scoping: public ones
    for anonymous callers); without it, only public entries for everyone."""
    published = col(CalendarEntry.status) == EntryStatus.published
    if hasattr(CalendarEntry, "scope_clause") or hasattr(CalendarEntry, "__scope__"):
        return and_(published, visible(CalendarEntry, actor))
    return and_(published, col(CalendarEntry.is_public).is_(True))


async def build(session: AsyncSession, actor: Actor, quarter: str) -> Newsletter:
    start, end = parse_quarter(quarter)
    t0, t1 = _instant(start), _instant(end)
    ann_stmt = (
        select(Announcement)
        .where(
            visible(Announcement, actor),
            col(Announcement.status) == EntryStatus.published,
            col(Announcement.published_at) >= t0,
            col(Announcement.published_at) < t1,
        )
        .order_by(col(Announcement.published_at), col(Announcement.id))
        .limit(MAX_ITEMS)
    )
    announcements = [
        DigestItem(
            id=a.id,
            title=a.title,
            summary=_summary(a.body),
            starts_at=a.published_at,
            link=f"/comunicados/{a.id}",
        )
        for a in (await session.execute(ann_stmt)).scalars().all()
    ]
    in_range = and_(col(CalendarEntry.starts_at) >= t0, col(CalendarEntry.starts_at) < t1)
    closes_in_range = and_(
        col(CalendarEntry.application_closes_on) >= start,
        col(CalendarEntry.application_closes_on) < end,
    )
    entry_stmt = (
        select(CalendarEntry)
        .where(
            _entry_scope(actor),
            or_(
                and_(
                    col(CalendarEntry.kind).in_([EntryKind.event, EntryKind.participation]),
                    in_range,
                ),
                and_(
                    col(CalendarEntry.kind) == EntryKind.grant_call,
                    or_(
                        closes_in_range,
                        and_(col(CalendarEntry.application_closes_on).is_(None), in_range),
                    ),
                ),
            ),
        )
        .order_by(col(CalendarEntry.starts_at), col(CalendarEntry.id))
        .limit(MAX_ITEMS)
    )
    events: list[DigestItem] = []
    participation: list[DigestItem] = []
    grant_calls: list[DigestItem] = []
    for e in (await session.execute(entry_stmt)).scalars().all():
        item = DigestItem(
            id=e.id,
            title=e.title,
            summary=_summary(e.description),
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            location=e.location,
            online_url=e.online_url,
            application_opens_on=e.application_opens_on,
            application_closes_on=e.application_closes_on,
            bulletin_url=e.bulletin_url,
            link=f"/calendario/{e.id}",
        )
        {
            EntryKind.event: events,
            EntryKind.participation: participation,
            EntryKind.grant_call: grant_calls,
        }[EntryKind(e.kind)].append(item)
    grant_calls.sort(key=lambda i: (i.application_closes_on or date.max, str(i.id)))
    year, q = quarter.split("-Q")
    last = date.fromordinal(end.toordinal() - 1)
    return Newsletter(
        quarter=quarter,
        title=f"Boletín trimestral de la OAAA — {q}.º trimestre de {year}",
        period_start=start,
        period_end=last,
        announcements=announcements,
        events=events,
        participation=participation,
        grant_calls=grant_calls,
    )


# ---- rendering ------------------------------------------------------------------------------

_SECTIONS = (
    ("announcements", "Comunicados", "No hay comunicados en este trimestre."),
    ("events", "Eventos", "No hay eventos en este trimestre."),
    ("participation", "Participación", "No hay procesos de participación en este trimestre."),
    ("grant_calls", "Convocatorias", "No hay convocatorias que cierren en este trimestre."),
)


def _local(dt: datetime) -> str:
    return dt.astimezone(MADRID).strftime("%d/%m/%Y %H:%M")


def _when(item: DigestItem, section: str) -> str:
    if section == "grant_calls":
        parts = []
        if item.application_opens_on:
            parts.append(f"Solicitudes desde el {item.application_opens_on:%d/%m/%Y}")
        if item.application_closes_on:
            parts.append(f"hasta el {item.application_closes_on:%d/%m/%Y}")
        return " ".join(parts)
    if section == "announcements":
        return f"Publicado el {item.starts_at:%d/%m/%Y}" if item.starts_at else ""
    return _local(item.starts_at) if item.starts_at else ""


def _html_time(item: DigestItem, section: str) -> str:
    text = html.escape(_when(item, section))
    if not text:
        return ""
    machine = (
        item.application_closes_on.isoformat()
        if section == "grant_calls" and item.application_closes_on
        else (item.starts_at.isoformat() if item.starts_at else "")
    )
    if machine:
        return f'<p><time datetime="{html.escape(machine, quote=True)}">{text}</time></p>'
    return f"<p>{text}</p>"


def render_html(n: Newsletter) -> str:
    """An accessible HTML document: language, landmarks, a heading hierarchy, lists, no JS."""
    esc = html.escape
    body: list[str] = []
    for field, heading, empty in _SECTIONS:
        items: list[DigestItem] = getattr(n, field)
        body.append(f'<section aria-labelledby="s-{field}"><h2 id="s-{field}">{esc(heading)}</h2>')
        if not items:
            body.append(f"<p>{esc(empty)}</p></section>")
            continue
        body.append("<ul>")
        for item in items:
            link = esc(absolute_link(item.link) or item.link, quote=True)
            parts = [f'<li><article><h3><a href="{link}">{esc(item.title)}</a></h3>']
            parts.append(_html_time(item, field))
            if item.location:
                parts.append(f"<p>Lugar: {esc(item.location)}</p>")
            if item.online_url:
                parts.append(
                    f'<p><a href="{esc(item.online_url, quote=True)}">Enlace a la sesión en '
                    "línea</a></p>"
                )
            if item.summary:
                parts.append(f"<p>{esc(item.summary)}</p>")
            if item.bulletin_url:
                parts.append(
                    f'<p><a href="{esc(item.bulletin_url, quote=True)}">Publicación en el '
                    "boletín oficial</a></p>"
                )
            parts.append("</article></li>")
            body.append("".join(parts))
        body.append("</ul></section>")
    period = f"Del {n.period_start:%d/%m/%Y} al {n.period_end:%d/%m/%Y}"
    return (
        '<!doctype html>\n<html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(n.title)}</title></head><body>"
        f"<header><h1>{esc(n.title)}</h1><p>{esc(period)}</p></header>"
        f"<main>{''.join(body)}</main>"
        f"<footer><p>{esc(email_service.FOOTER)}</p></footer>"
        "</body></html>\n"
    )


def render_text(n: Newsletter) -> str:
    lines = [n.title, f"Del {n.period_start:%d/%m/%Y} al {n.period_end:%d/%m/%Y}", ""]
    for field, heading, empty in _SECTIONS:
        items: list[DigestItem] = getattr(n, field)
        lines += [heading.upper(), "-" * len(heading)]
        if not items:
            lines.append(empty)
        for item in items:
            when = _when(item, field)
            lines.append(f"* {item.title}" + (f" ({when})" if when else ""))
            if item.summary:
                lines.append(f"  {item.summary}")
            lines.append(f"  {absolute_link(item.link) or item.link}")
        lines.append("")
    lines += ["--", email_service.FOOTER]
    return "\n".join(lines)


def render_email(n: Newsletter, to_address: str) -> EmailMessage:
    settings = get_settings()
    return email_service.compose_message(
        f"{email_service.SUBJECT_PREFIX} {n.title}",
        to_address,
        render_text(n),
        render_html(n),
        settings,
    )


# ---- dispatch -------------------------------------------------------------------------------


async def queue_quarter(session: AsyncSession, actor: Actor, quarter: str) -> DispatchResult:
    """Records a dispatch per active municipal user (never twice per quarter) and queues a job
    per pending dispatch for after the commit."""
    parse_quarter(quarter)
    users = select(col(User.id), col(User.email)).where(
        col(User.role) == Role.municipal_user, col(User.is_active).is_(True)
    )
    rows = (await session.execute(users)).all()
    created = 0
    if rows:
        stmt = (
            insert(NewsletterDispatch)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "quarter": quarter,
                        "user_id": uid,
                        "to_address": addr,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": datetime.now(UTC),
                    }
                    for uid, addr in rows
                ]
            )
            .on_conflict_do_nothing(constraint="uq_newsletter_dispatch")
            .returning(col(NewsletterDispatch.id))
        )
        created = len((await session.execute(stmt)).scalars().all())
    pending_stmt = select(col(NewsletterDispatch.id), col(NewsletterDispatch.attempts)).where(
        col(NewsletterDispatch.quarter) == quarter, col(NewsletterDispatch.status) == "pending"
    )
    pending = (await session.execute(pending_stmt)).all()
    for dispatch_id, attempts in pending:
        # One job per pending dispatch and attempt: calling again re-queues only what is lost.
        queue.enqueue(
            session, JOB, str(dispatch_id), job_id=queue.job_id("newsletter", dispatch_id, attempts)
        )
    await audit.record(
        session,
        actor,
        "newsletter.send",
        "newsletter",
        quarter,
        {"created": created, "pending": len(pending)},
    )
    return DispatchResult(quarter=quarter, created=created, pending=len(pending))


async def send_newsletter(ctx: dict[str, Any], dispatch_id: str) -> str:
    """arq job: sends one quarter's newsletter to one person (see `email.send_dispatch`)."""

    async def compose(session: AsyncSession, user: User, dispatch: Any) -> EmailMessage:
        newsletter = await build(session, Actor.for_user(user), dispatch.quarter)
        return render_email(newsletter, dispatch.to_address)

    return await email_service.send_dispatch(
        ctx,
        NewsletterDispatch,
        dispatch_id,
        compose,
        max_attempts=MAX_ATTEMPTS,
        retry_seconds=RETRY_SECONDS,
        what="newsletter",
    )
