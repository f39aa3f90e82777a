"""The notification outbox: record an event once, fan it out to people and integrations in
the same transaction; its deliveries and live-stream messages leave after the commit.

A producer (the SLA scan, later stalled expedientes and closing grant calls) calls `emit()`
inside the transaction that marks its item as notified. The event's `dedupe_key` (item, kind,
due instant) is unique, so a repeated scan, an overlapping worker or a restart records
nothing twice. Deliveries (in-app rows, e-mails, webhooks) are rows too: whatever happens to
Redis or a worker, the database still holds every pending delivery.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import queries, queue
from app.core.redis import key
from app.models.base import Role
from app.models.notification import (
    EmailDelivery,
    Notification,
    NotificationEvent,
    NotificationKind,
    NotificationPreference,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.user import User

logger = logging.getLogger("app.notifications")

# The delivery engine's arq jobs (`services.notifications.delivery`): webhooks are claimed
# in batches by `deliver_webhooks`, which a commit wakes up; each e-mail is a job of its own.
WEBHOOKS_JOB = "deliver_webhooks"
EMAIL_JOB = "deliver_email"


@dataclass(frozen=True)
class Audience:
    """Who hears of an event: the office, the responsible área, the municipality concerned,
    and named people (e.g. the person a consultation is assigned to)."""

    office: bool = True
    area: bool = True
    municipality: bool = False
    users: tuple[uuid.UUID, ...] = ()


# Kinds that arrive often and matter less by e-mail: in the feed only unless a person asks.
QUIET_BY_EMAIL = frozenset(
    {
        NotificationKind.expediente_stage_changed.value,
        NotificationKind.expediente_documents_added.value,
    }
)


# Payload entries meant for the people told, never for systems: webhooks leave them out.
PERSONAL_PAYLOAD: dict[str, str] = {
    "access_code": "Código de seguimiento",
    "survey_url": "Encuesta de satisfacción",
}


def personal_details(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the personal entries a payload carries, for people's e-mails."""
    return [
        (label, str(payload[key])) for key, label in PERSONAL_PAYLOAD.items() if payload.get(key)
    ]


def system_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as a webhook receiver gets it (without the personal entries)."""
    return {k: v for k, v in payload.items() if k not in PERSONAL_PAYLOAD}


def default_email(kind: str) -> bool:
    """Whether a kind reaches a person by e-mail when they have not said otherwise."""
    return kind not in QUIET_BY_EMAIL


@dataclass
class EventSpec:
    kind: str
    dedupe_key: str
    entity_type: str
    entity_id: str
    title: str
    body: str
    occurred_at: datetime
    municipality_id: uuid.UUID | None = None
    area_id: uuid.UUID | None = None
    link: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    audience: Audience = field(default_factory=Audience)
    # The person who made the change: never told of their own change.
    author_id: uuid.UUID | None = None


@dataclass
class Emitted:
    """What `emit` recorded (its deliveries leave through `core.queue` after the commit)."""

    event_id: int
    user_ids: list[uuid.UUID]
    webhook_delivery_ids: list[uuid.UUID]
    email_delivery_ids: list[uuid.UUID]


@dataclass
class FanoutCache:
    """Lookups shared by the events of one batch (one transaction): the same recipients,
    preferences and subscriptions are read once instead of once per event."""

    recipients: dict[tuple[Any, ...], list[User]] = field(default_factory=dict)
    preferences: dict[tuple[Any, ...], dict[uuid.UUID, NotificationPreference]] = field(
        default_factory=dict
    )
    subscriptions: list[WebhookSubscription] | None = None


def delivery_job_id(kind: str, delivery_id: uuid.UUID | str, attempts: int) -> str:
    """One job id per delivery and attempt: the producer, the retry and the sweeper never
    queue the same attempt twice."""
    return queue.job_id(kind, delivery_id, attempts)


def wake_webhooks(session: AsyncSession) -> None:
    """After the commit, one job (however many deliveries the transaction recorded; its id
    fixed here, so a retried send queues it once) wakes the webhook engine, which claims every
    due delivery in batches."""
    queue.enqueue(
        session, WEBHOOKS_JOB, job_id=queue.job_id("webhooks", uuid.uuid4().hex), once=True
    )


def enqueue_email(session: AsyncSession, delivery_id: uuid.UUID, attempts: int) -> None:
    jid = delivery_job_id("email", delivery_id, attempts)
    queue.enqueue(session, EMAIL_JOB, str(delivery_id), job_id=jid)


def user_channel(user_id: uuid.UUID) -> str:
    return key("notifications", str(user_id))


async def _recipients(session: AsyncSession, spec: EventSpec) -> list[User]:
    conditions = []
    if spec.audience.office:
        conditions.append(col(User.role) == Role.oaaa_staff)
    if spec.audience.area and spec.area_id is not None:
        conditions.append(
            and_(col(User.role) == Role.area_staff, col(User.area_id) == spec.area_id)
        )
    if spec.audience.municipality and spec.municipality_id is not None:
        conditions.append(
            and_(
                col(User.role) == Role.municipal_user,
                col(User.municipality_id) == spec.municipality_id,
            )
        )
    if spec.audience.users:
        # Named people only within the event's scope: staff, or the municipality concerned.
        conditions.append(
            and_(
                col(User.id).in_(spec.audience.users),
                or_(
                    col(User.role).in_((Role.admin, Role.oaaa_staff, Role.area_staff)),
                    and_(
                        col(User.role) == Role.municipal_user,
                        col(User.municipality_id) == spec.municipality_id,
                    ),
                ),
            )
        )
    if not conditions:
        return []
    stmt = select(User).where(col(User.is_active).is_(True), or_(*conditions))
    return list((await session.execute(stmt)).scalars().all())


async def _preferences(
    session: AsyncSession, users: Iterable[User], kind: str
) -> dict[uuid.UUID, NotificationPreference]:
    ids = [u.id for u in users]
    if not ids:
        return {}
    stmt = select(NotificationPreference).where(
        col(NotificationPreference.user_id).in_(ids), col(NotificationPreference.kind) == kind
    )
    return {p.user_id: p for p in (await session.execute(stmt)).scalars().all()}


async def emit(
    session: AsyncSession,
    spec: EventSpec,
    now: datetime | None = None,
    cache: FanoutCache | None = None,
) -> Emitted | None:
    """Records the event and its deliveries, unless it was recorded before (then None)."""
    now = now or datetime.now(UTC)
    cache = cache or FanoutCache()
    stmt = (
        insert(NotificationEvent)
        .values(
            kind=spec.kind,
            dedupe_key=spec.dedupe_key,
            entity_type=spec.entity_type,
            entity_id=spec.entity_id,
            municipality_id=spec.municipality_id,
            area_id=spec.area_id,
            title=spec.title,
            body=spec.body,
            link=spec.link,
            payload=spec.payload,
            occurred_at=spec.occurred_at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[col(NotificationEvent.dedupe_key)])
        .returning(col(NotificationEvent.id))
    )
    event_id = (await session.execute(stmt)).scalar_one_or_none()
    if event_id is None:
        return None

    who = (spec.audience, spec.area_id, spec.municipality_id)
    if who not in cache.recipients:
        cache.recipients[who] = await _recipients(session, spec)
    users = [u for u in cache.recipients[who] if u.id != spec.author_id]
    pref_key = (*who, spec.kind)
    if pref_key not in cache.preferences:
        cache.preferences[pref_key] = await _preferences(session, users, spec.kind)
    prefs = cache.preferences[pref_key]
    in_app: list[uuid.UUID] = []
    emails: list[EmailDelivery] = []
    for user in users:
        pref = prefs.get(user.id)
        if pref is None or pref.in_app:
            in_app.append(user.id)
            session.add(Notification(event_id=event_id, user_id=user.id, created_at=now))
        wants_email = pref.email if pref is not None else default_email(spec.kind)
        # Digest readers get the day's notifications in one e-mail (`digest`), not each one.
        if wants_email and not user.email_digest:
            email = EmailDelivery(
                event_id=event_id, user_id=user.id, to_address=user.email, next_attempt_at=now
            )
            emails.append(email)
            session.add(email)

    if cache.subscriptions is None:
        subs_stmt = select(WebhookSubscription).where(col(WebhookSubscription.is_active).is_(True))
        cache.subscriptions = list((await session.execute(subs_stmt)).scalars().all())
    hooks: list[WebhookDelivery] = []
    for sub in cache.subscriptions:
        if sub.area_id is not None and sub.area_id != spec.area_id:
            continue
        if sub.event_types and spec.kind not in sub.event_types:
            continue
        delivery = WebhookDelivery(subscription_id=sub.id, event_id=event_id, next_attempt_at=now)
        hooks.append(delivery)
        session.add(delivery)
    await session.flush()
    message = json.dumps({"event_id": event_id})
    for user_id in in_app:
        queue.publish(session, user_channel(user_id), message)
    if hooks:
        wake_webhooks(session)
    for email in emails:
        enqueue_email(session, email.id, 0)
    return Emitted(
        event_id=event_id,
        user_ids=in_app,
        webhook_delivery_ids=[h.id for h in hooks],
        email_delivery_ids=[e.id for e in emails],
    )


def _is_recipient(user: User, spec: EventSpec) -> bool:
    """`_recipients`'s conditions for one (active) user, in Python."""
    a = spec.audience
    if a.office and user.role == Role.oaaa_staff:
        return True
    if (
        a.area
        and spec.area_id is not None
        and user.role == Role.area_staff
        and user.area_id == spec.area_id
    ):
        return True
    in_municipality = (
        spec.municipality_id is not None
        and user.role == Role.municipal_user
        and user.municipality_id == spec.municipality_id
    )
    if a.municipality and in_municipality:
        return True
    return user.id in a.users and (
        user.role in (Role.admin, Role.oaaa_staff, Role.area_staff) or in_municipality
    )


async def emit_many(
    session: AsyncSession, specs: list[EventSpec], now: datetime | None = None
) -> list[Emitted]:
    """`emit` for the events of one batch with a bounded number of statements: one insert of
    the events (those recorded before, or repeated in `specs`, are skipped), one read each of
    the possible recipients, their preferences and the subscriptions, and one flush of the
    deliveries."""
    now = now or datetime.now(UTC)
    unique: dict[str, EventSpec] = {}
    for spec in specs:
        unique.setdefault(spec.dedupe_key, spec)
    if not unique:
        return []
    rows = [
        {
            "kind": s.kind,
            "dedupe_key": s.dedupe_key,
            "entity_type": s.entity_type,
            "entity_id": s.entity_id,
            "municipality_id": s.municipality_id,
            "area_id": s.area_id,
            "title": s.title,
            "body": s.body,
            "link": s.link,
            "payload": s.payload,
            "occurred_at": s.occurred_at,
            "created_at": now,
        }
        for s in unique.values()
    ]
    inserted = await queries.insert_rows(
        session,
        NotificationEvent.__table__,  # type: ignore[attr-defined]
        rows,
        on_conflict="ON CONFLICT (dedupe_key) DO NOTHING",
        returning=("id", "dedupe_key"),
    )
    recorded: dict[str, int] = {row.dedupe_key: row.id for row in inserted}
    fresh = [(recorded[s.dedupe_key], s) for s in unique.values() if s.dedupe_key in recorded]
    if not fresh:
        return []

    conditions: list[Any] = [col(User.role).in_((Role.oaaa_staff, Role.admin, Role.area_staff))]
    municipalities = {s.municipality_id for _, s in fresh if s.municipality_id is not None}
    if municipalities:
        conditions.append(
            and_(
                col(User.role) == Role.municipal_user,
                col(User.municipality_id).in_(municipalities),
            )
        )
    candidates = list(
        (await session.execute(select(User).where(col(User.is_active).is_(True), or_(*conditions))))
        .scalars()
        .all()
    )
    kinds = {s.kind for _, s in fresh}
    prefs: dict[tuple[uuid.UUID, str], NotificationPreference] = {}
    if candidates:
        pref_rows = (
            (
                await session.execute(
                    select(NotificationPreference).where(
                        col(NotificationPreference.user_id).in_([u.id for u in candidates]),
                        col(NotificationPreference.kind).in_(kinds),
                    )
                )
            )
            .scalars()
            .all()
        )
        prefs = {(p.user_id, p.kind): p for p in pref_rows}
    subscriptions = list(
        (
            await session.execute(
                select(WebhookSubscription).where(col(WebhookSubscription.is_active).is_(True))
            )
        )
        .scalars()
        .all()
    )

    out: list[Emitted] = []
    for event_id, spec in fresh:
        in_app: list[uuid.UUID] = []
        emails: list[EmailDelivery] = []
        for user in candidates:
            if user.id == spec.author_id or not _is_recipient(user, spec):
                continue
            pref = prefs.get((user.id, spec.kind))
            if pref is None or pref.in_app:
                in_app.append(user.id)
                session.add(Notification(event_id=event_id, user_id=user.id, created_at=now))
            wants_email = pref.email if pref is not None else default_email(spec.kind)
            if wants_email and not user.email_digest:
                email = EmailDelivery(
                    event_id=event_id, user_id=user.id, to_address=user.email, next_attempt_at=now
                )
                emails.append(email)
                session.add(email)
        hooks: list[WebhookDelivery] = []
        for sub in subscriptions:
            if sub.area_id is not None and sub.area_id != spec.area_id:
                continue
            if sub.event_types and spec.kind not in sub.event_types:
                continue
            delivery = WebhookDelivery(
                subscription_id=sub.id, event_id=event_id, next_attempt_at=now
            )
            hooks.append(delivery)
            session.add(delivery)
        out.append(Emitted(event_id, in_app, [h.id for h in hooks], [e.id for e in emails]))
    await session.flush()
    for item in out:
        message = json.dumps({"event_id": item.event_id})
        for user_id in item.user_ids:
            queue.publish(session, user_channel(user_id), message)
        if item.webhook_delivery_ids:
            wake_webhooks(session)
        for delivery_id in item.email_delivery_ids:
            enqueue_email(session, delivery_id, 0)
    return out
