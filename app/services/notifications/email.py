"""Notification e-mails: a plain-text and a simple HTML part in Spanish, sent over SMTP.

The SMTP server, credentials and sender come from the settings (`OAAA_SMTP_*`,
`OAAA_EMAIL_FROM`); sending is off unless `OAAA_EMAIL_ENABLED=true`.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from app.core.config import Settings
from app.models.notification import NotificationEvent
from app.services.notifications.outbox import PERSONAL_PAYLOAD
from app.services.webhooks import absolute_link

SUBJECT_PREFIX = "[OAAA]"
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
    personal = [
        (label, str(event.payload[key]))
        for key, label in PERSONAL_PAYLOAD.items()
        if event.payload.get(key)
    ]
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

    message = EmailMessage()
    message["Subject"] = subject_for(event)
    message["From"] = settings.email_from
    message["To"] = to_address
    message["Message-ID"] = make_msgid(domain="oaaa.dip-badajoz.es")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(text_lines))
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
