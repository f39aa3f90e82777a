"""Notification e-mails: a plain-text and a simple HTML part in Spanish, sent over SMTP.

The SMTP server, credentials and sender come from the settings (`OAAA_SMTP_*`,
`OAAA_EMAIL_FROM`); sending is off unless `OAAA_EMAIL_ENABLED=true`.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiosmtplib
from arq import Retry
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core.config import Settings, get_settings
from app.models.notification import NotificationEvent
from app.models.user import User
from app.services.notifications.outbox import personal_details
from app.services.webhooks import absolute_link

logger = logging.getLogger("app.email")

SUBJECT_PREFIX = "[OAAA]"
EMAIL_DISABLED = "envío de correo desactivado (OAAA_EMAIL_ENABLED=false)"
FOOTER = (
    "Este aviso lo envía automáticamente la Oficina de Atención a Alcaldes y Alcaldesas "
    "de la Diputación de Badajoz. Puede elegir qué avisos recibe y por qué canal en sus "
    "preferencias de notificación."
)


class PermanentEmailError(Exception):
    """The server refused the message for good (5xx): retrying would not help."""


def subject_for(event: NotificationEvent) -> str:
    title = " ".join(event.title.split())  # no header folding tricks through line breaks
    return f"{SUBJECT_PREFIX} {title}"[:250]


def render(event: NotificationEvent, to_address: str, settings: Settings) -> EmailMessage:
    link = absolute_link(event.link)
    personal = personal_details(event.payload)
    text_lines = [event.title, "", event.body]
    text_lines += [f"{label}: {value}" for label, value in personal]
    if link:
        text_lines += ["", f"Consúltelo en: {link}"]
    text_lines += ["", "--", FOOTER]

    html_link = (
        f'<p><a href="{html.escape(link, quote=True)}">Abrir en la plataforma</a></p>'
        if link
        else ""
    )
    personal_html = "".join(
        f"<p>{html.escape(label)}: <strong>{html.escape(value)}</strong></p>"
        for label, value in personal
    )
    body_html = "".join(
        f"<p>{html.escape(paragraph)}</p>"
        for paragraph in event.body.split("\n\n")
        if paragraph.strip()
    )
    html_doc = (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        f"<title>{html.escape(event.title)}</title></head>"
        '<body style="font-family: sans-serif; line-height: 1.4">'
        f'<h1 style="font-size: 1.2em">{html.escape(event.title)}</h1>'
        f"{body_html}{personal_html}{html_link}"
        f'<hr><p style="color: #666; font-size: 0.85em">{html.escape(FOOTER)}</p>'
        "</body></html>"
    )

    return compose_message(
        subject_for(event), to_address, "\n".join(text_lines), html_doc, settings
    )


def compose_message(
    subject: str, to_address: str, text: str, html_doc: str, settings: Settings
) -> EmailMessage:
    """An automatic e-mail of the office: plain text with an HTML alternative."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.email_from
    message["To"] = to_address
    message["Message-ID"] = make_msgid(domain="oaaa.dip-badajoz.es")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html_doc, subtype="html")
    return message


async def send(message: EmailMessage, settings: Settings) -> None:
    """Sends through the configured SMTP server. A 5xx refusal raises `PermanentEmailError`;
    anything else (connection, timeout, 4xx) raises an `aiosmtplib.SMTPException` or `OSError`
    and is worth retrying."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_starttls if not settings.smtp_use_tls else False,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        if exc.recipients and all(r.code >= 500 for r in exc.recipients):
            raise PermanentEmailError(f"destinatario rechazado: {exc}") from exc
        raise
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise PermanentEmailError(f"rechazado por el servidor ({exc.code}): {exc}") from exc
        raise


async def try_send(message: EmailMessage, settings: Settings) -> tuple[str | None, bool]:
    """Sends `message`; returns (None, False) on success, else the error text and whether it
    is permanent (the server refused the message: retrying will not help)."""
    try:
        await send(message, settings)
    except PermanentEmailError as exc:
        return str(exc), True
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}", False
    return None, False


class DispatchRow(Protocol):
    """A row that stands for one e-mail to one person (newsletter, daily digest)."""

    id: uuid.UUID
    user_id: uuid.UUID
    to_address: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


Compose = Callable[[AsyncSession, User, Any], Awaitable[EmailMessage | None]]


async def send_dispatch(
    ctx: dict[str, Any],
    model: type[Any],
    dispatch_id: str,
    compose: Compose,
    *,
    max_attempts: int,
    retry_seconds: Sequence[int],
    what: str,
) -> str:
    """arq job body: sends the e-mail of one pending dispatch row, once. The row is locked
    (`FOR UPDATE SKIP LOCKED`) while it is sent, so two workers never send it twice. Returns
    `sent`, `empty` (nothing to say), `retry` (arq runs it again later), `failed`, `skipped`
    (not pending any more) or `disabled` (e-mail is switched off)."""
    settings = get_settings()
    did = uuid.UUID(str(dispatch_id))
    async with ctx["sessionmaker"]() as session:
        stmt = (
            select(model)
            .where(col(model.id) == did, col(model.status) == "pending")
            .with_for_update(skip_locked=True)
        )
        dispatch = (await session.execute(stmt)).scalars().first()
        if dispatch is None:
            return "skipped"
        if not settings.email_enabled:
            dispatch.last_error = EMAIL_DISABLED
            await session.commit()
            return "disabled"
        user = await session.get(User, dispatch.user_id)
        if user is None or not user.is_active:
            dispatch.status = "failed"
            dispatch.last_error = "usuario inexistente o desactivado"
            await session.commit()
            return "failed"
        message = await compose(session, user, dispatch)
        if message is None:
            dispatch.status = "empty"
            await session.commit()
            return "empty"
        error, permanent = await try_send(message, settings)
        dispatch.attempts += 1
        if error is None:
            dispatch.status = "sent"
            dispatch.sent_at = datetime.now(UTC)
            dispatch.last_error = None
            outcome = "sent"
        else:
            dispatch.last_error = error[:1000]
            if permanent or dispatch.attempts >= max_attempts:
                dispatch.status = "failed"
                outcome = "failed"
            else:
                outcome = "retry"
        attempts = dispatch.attempts
        await session.commit()
    logger.info(
        f"{what} attempt",
        extra={"fields": {"dispatch_id": str(did), "attempt": attempts, "outcome": outcome}},
    )
    if outcome == "retry" and ctx.get("job_try") is not None:
        raise Retry(defer=retry_seconds[min(attempts, len(retry_seconds)) - 1])
    return outcome
