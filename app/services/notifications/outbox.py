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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.core import queries, queue
from app.core.redis import key
from app.models.base import Role, new_id
from app.models.notification import (
    DeliveryStatus,
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

# The delivery engine's arq jobs (`services.notifications.delivery`).
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


async def _recipients(
    session: AsyncSession, spec: EventSpec
) -> tuple[list[User], dict[uuid.UUID, NotificationPreference]]:
    """The people the event's audience names, with their preferences for its kind (one
    statement)."""
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
        return [], {}
    stmt = (
        select(User, NotificationPreference)
        .outerjoin(
            NotificationPreference,
            and_(
                col(NotificationPreference.user_id) == col(User.id),
                col(NotificationPreference.kind) == spec.kind,
            ),
        )
        .where(col(User.is_active).is_(True), or_(*conditions))
    )
    rows = (await session.execute(stmt)).all()
    return [user for user, _ in rows], {p.user_id: p for _, p in rows if p is not None}


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
    pref_key = (*who, spec.kind)
    if who not in cache.recipients:
        cache.recipients[who], cache.preferences[pref_key] = await _recipients(session, spec)
    users = [u for u in cache.recipients[who] if u.id != spec.author_id]
    if pref_key not in cache.preferences:
        cache.preferences[pref_key] = await _preferences(session, users, spec.kind)
    prefs = cache.preferences[pref_key]
    if cache.subscriptions is None:
        subs_stmt = select(WebhookSubscription).where(col(WebhookSubscription.is_active).is_(True))
        cache.subscriptions = list((await session.execute(subs_stmt)).scalars().all())
    deliveries = _Deliveries(now)
    item = deliveries.add(event_id, spec, users, prefs, cache.subscriptions)
    await deliveries.record(session)
    return item


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
    prefs: dict[str, dict[uuid.UUID, NotificationPreference]] = {}
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
        for p in pref_rows:
            prefs.setdefault(p.kind, {})[p.user_id] = p
    subscriptions = list(
        (
            await session.execute(
                select(WebhookSubscription).where(col(WebhookSubscription.is_active).is_(True))
            )
        )
        .scalars()
        .all()
    )

    deliveries = _Deliveries(now)
    out = [
        deliveries.add(
            event_id,
            spec,
            [u for u in candidates if u.id != spec.author_id and _is_recipient(u, spec)],
            prefs.get(spec.kind, {}),
            subscriptions,
        )
        for event_id, spec in fresh
    ]
    await deliveries.record(session)
    return out


class _Deliveries:
    """The fan-out rows of one or more events, written with one set-based insert per table
    (no ORM objects: a notice to ten people is twenty rows), then their after-commit work."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.notifications: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.emitted: list[Emitted] = []

    def add(
        self,
        event_id: int,
        spec: EventSpec,
        users: Iterable[User],
        prefs: Mapping[uuid.UUID, NotificationPreference],
        subscriptions: Iterable[WebhookSubscription],
    ) -> Emitted:
        now = self.now
        item = Emitted(event_id, [], [], [])
        pending = {"status": DeliveryStatus.pending.value, "attempts": 0, "next_attempt_at": now}
        stamps = {"created_at": now, "updated_at": now}
        for user in users:
            pref = prefs.get(user.id)
            if pref is None or pref.in_app:
                item.user_ids.append(user.id)
                self.notifications.append(
                    {"event_id": event_id, "user_id": user.id, "created_at": now}
                )
            wants_email = pref.email if pref is not None else default_email(spec.kind)
            # Digest readers get the day's notifications in one e-mail (`digest`), not each one.
            if wants_email and not user.email_digest:
                email_id = new_id()
                item.email_delivery_ids.append(email_id)
                self.emails.append(
                    {"id": email_id, "event_id": event_id, "user_id": user.id}
                    | {"to_address": user.email}
                    | pending
                    | stamps
                )
        for sub in subscriptions:
            if sub.area_id is not None and sub.area_id != spec.area_id:
                continue
            if sub.event_types and spec.kind not in sub.event_types:
                continue
            hook_id = new_id()
            item.webhook_delivery_ids.append(hook_id)
            self.hooks.append(
                {"id": hook_id, "subscription_id": sub.id, "event_id": event_id} | pending | stamps
            )
        self.emitted.append(item)
        return item

    async def record(self, session: AsyncSession) -> None:
        await queries.insert_rows(session, Notification.__table__, self.notifications)  # type: ignore[attr-defined]
        await queries.insert_rows(session, EmailDelivery.__table__, self.emails)  # type: ignore[attr-defined]
        await queries.insert_rows(session, WebhookDelivery.__table__, self.hooks)  # type: ignore[attr-defined]
        for item in self.emitted:
            message = json.dumps({"event_id": item.event_id})
            for user_id in item.user_ids:
                queue.publish(session, user_channel(user_id), message)
            for delivery_id in item.email_delivery_ids:
                enqueue_email(session, delivery_id, 0)
        if self.hooks:
            wake_webhooks(session)
