"""The notification outbox: record an event once, fan it out to people and integrations in
the same transaction; its deliveries and live-stream messages leave after the commit.

A producer (the SLA scan, later stalled expedientes and closing grant calls) calls `emit()`
inside the transaction that marks its item as notified. The event's `dedupe_key` (item, kind,
due instant) is unique, so a repeated scan, an overlapping worker or a restart records
nothing twice. Deliveries (in-app rows, e-mails, webhooks) are rows too: whatever happens to
Redis or a worker, the database still holds every pending delivery.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, Row, String, Table, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import queries, queue
from app.core.redis import key
from app.models.base import Role, new_id
from app.models.notification import (
    DeliveryStatus,
    EmailDelivery,
    Notification,
    NotificationEvent,
    NotificationKind,
    WebhookDelivery,
)

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


# The people of the municipality concerned, and no one else.
MUNICIPALITY = Audience(office=False, area=False, municipality=True)


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


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the fan-out reads of a person (plain rows: no ORM objects on the hot path)."""

    id: uuid.UUID
    role: str
    area_id: uuid.UUID | None
    municipality_id: uuid.UUID | None
    email: str
    email_digest: bool


@dataclass(frozen=True, slots=True)
class Preference:
    """A person's channels for one kind (`NotificationPreference`)."""

    in_app: bool
    email: bool


@dataclass(frozen=True, slots=True)
class Subscription:
    """What the fan-out reads of an active webhook subscription."""

    id: uuid.UUID
    area_id: uuid.UUID | None
    event_types: list[str]


@dataclass
class FanoutCache:
    """Lookups shared by the events of one batch (one transaction): the same recipients,
    preferences and subscriptions are read once instead of once per event."""

    recipients: dict[tuple[Any, ...], list[Recipient]] = field(default_factory=dict)
    preferences: dict[tuple[Any, ...], dict[uuid.UUID, Preference]] = field(default_factory=dict)
    subscriptions: list[Subscription] | None = None


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


_PERSON = (
    "SELECT u.id, u.role, u.area_id, u.municipality_id, u.email, u.email_digest FROM user_account u"
)
# The audience's conditions, joined with OR (`_recipients`); values are bound.
_AUDIENCE_SQL = {
    "office": "u.role = 'oaaa_staff'",
    "area": "(u.role = 'area_staff' AND u.area_id = :area_id)",
    "municipality": "(u.role = 'municipal_user' AND u.municipality_id = :municipality_id)",
    # Named people only within the event's scope: staff, or the municipality concerned.
    "users": "(u.id = ANY(:users) AND (u.role IN ('admin', 'oaaa_staff', 'area_staff')"
    " OR (u.role = 'municipal_user' AND u.municipality_id = :municipality_id)))",
}


# The active subscriptions as one JSON array: `[[id, area_id, event_types], …]`.
_SUBSCRIPTIONS_JSON = (
    "SELECT coalesce(json_agg(json_build_array(w.id, w.area_id, w.event_types)), '[]') AS subs"
    " FROM webhook_subscription w WHERE w.is_active"
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@functools.cache
def _recipients_sql(parts: tuple[str, ...], subscriptions: bool) -> str:
    """The audience's people with their preferences, after the id the event's insert (the CTE
    `ev`) returned; with `subscriptions`, the active subscriptions too, at the end of every row.
    There is one row, its person columns null, when nobody is in the audience, and none when
    the event was recorded before."""
    where = " OR ".join(_AUDIENCE_SQL[p] for p in parts)
    sql = (
        f"SELECT r.*, p.in_app AS pref_in_app, p.email AS pref_email FROM ({_PERSON}"  # noqa: S608 (fixed fragments)
        f" WHERE u.is_active AND ({where})) r LEFT JOIN notification_preference p"
        " ON p.user_id = r.id AND p.kind = :kind"
    )
    if subscriptions:
        sql = f"SELECT x.*, s.subs FROM ({_SUBSCRIPTIONS_JSON}) s LEFT JOIN ({sql}) x ON true"  # noqa: S608 (fixed fragments)
    return f"SELECT ev.id, q.* FROM ev LEFT JOIN ({sql}) q ON true"  # noqa: S608 (fixed fragments)


def _recipient(row: Any) -> Recipient:
    return Recipient(row[0], row[1], row[2], row[3], row[4], row[5])


async def _record_reading_recipients(
    session: AsyncSession, spec: EventSpec, now: datetime, cache: FanoutCache
) -> tuple[int, list[Recipient], dict[uuid.UUID, Preference]] | None:
    """Records the event and reads the people its audience names, with their preferences for
    its kind, in one statement (which also fills `cache.subscriptions` when they were not read
    yet): the event's id, the people and their preferences; None when the event was recorded
    before."""
    a = spec.audience
    parts = tuple(
        name
        for name, wanted in (
            ("office", a.office),
            ("area", a.area and spec.area_id is not None),
            ("municipality", a.municipality and spec.municipality_id is not None),
            ("users", bool(a.users)),
        )
        if wanted
    )
    if not parts:
        inserted = await _insert_events(session, [spec], now, ("id",))
        return (inserted[0][0], [], {}) if inserted else None
    read_subscriptions = cache.subscriptions is None
    insert, params = queries.insert_statement(
        _EVENTS,
        _event_columns([spec]),
        same={"created_at": now},
        on_conflict=_ONCE,
        returning=("id",),
        prefix="e",
    )
    sql = f"WITH ev AS ({insert}) {_recipients_sql(parts, read_subscriptions)}"
    values = {
        "kind": spec.kind,
        "area_id": spec.area_id,
        "municipality_id": spec.municipality_id,
        "users": list(a.users),
    }
    params |= {k: v for k, v in values.items() if f":{k}" in sql}
    rows = (await queries.run_sql(session, sql, params)).all()
    if not rows:
        return None
    event_id: int = rows[0][0]
    if read_subscriptions:
        cache.subscriptions = [
            Subscription(uuid.UUID(i), uuid.UUID(area) if area else None, list(kinds or ()))
            for i, area, kinds in _json(rows[0][9])
        ]
    people = [row[1:] for row in rows if row[1] is not None]
    prefs = {row[0]: Preference(row[6], row[7]) for row in people if row[6] is not None}
    return event_id, [_recipient(row) for row in people], prefs


_PREFERENCES = text(
    "SELECT user_id, kind, in_app, email FROM notification_preference"
    " WHERE user_id = ANY(:users) AND kind = ANY(:kinds)"
).bindparams(bindparam("users", type_=ARRAY(Uuid)), bindparam("kinds", type_=ARRAY(String)))


async def _preferences(
    session: AsyncSession, users: Iterable[Recipient], kinds: Iterable[str]
) -> dict[str, dict[uuid.UUID, Preference]]:
    """{kind: {user id: preference}} of `users` for `kinds`."""
    ids = [u.id for u in users]
    if not ids:
        return {}
    out: dict[str, dict[uuid.UUID, Preference]] = {}
    rows = await session.execute(_PREFERENCES, {"users": ids, "kinds": list(kinds)})
    for user_id, kind, in_app, email in rows:
        out.setdefault(kind, {})[user_id] = Preference(in_app, email)
    return out


_SUBSCRIPTIONS = text("SELECT id, area_id, event_types FROM webhook_subscription WHERE is_active")


async def _subscriptions(session: AsyncSession) -> list[Subscription]:
    rows = await queries.run_text(session, _SUBSCRIPTIONS, {})
    return [Subscription(r[0], r[1], list(r[2] or ())) for r in rows]


_EVENTS: Table = NotificationEvent.__table__  # type: ignore[attr-defined]
_ONCE = "ON CONFLICT (dedupe_key) DO NOTHING"


# The columns of an event taken from its `EventSpec` (its `created_at` is the moment it is
# recorded, the same for every event recorded together).
_EVENT_FIELDS = (
    "kind",
    "dedupe_key",
    "entity_type",
    "entity_id",
    "municipality_id",
    "area_id",
    "title",
    "body",
    "link",
    "payload",
    "occurred_at",
)


def _event_columns(specs: Sequence[EventSpec]) -> dict[str, list[Any]]:
    return {name: list(map(operator.attrgetter(name), specs)) for name in _EVENT_FIELDS}


async def _insert_events(
    session: AsyncSession, specs: Iterable[EventSpec], now: datetime, returning: tuple[str, ...]
) -> Sequence[Row[Any]]:
    """Records the events of `specs` not recorded before; returns `returning` of those."""
    return await queries.insert_columns(
        session,
        _EVENTS,
        _event_columns(list(specs)),
        same={"created_at": now},
        on_conflict=_ONCE,
        returning=returning,
    )


async def emit(
    session: AsyncSession,
    spec: EventSpec,
    now: datetime | None = None,
    cache: FanoutCache | None = None,
) -> Emitted | None:
    """Records the event and its deliveries, unless it was recorded before (then None)."""
    now = now or datetime.now(UTC)
    cache = cache or FanoutCache()
    who = (spec.audience, spec.area_id, spec.municipality_id)
    pref_key = (*who, spec.kind)
    event_id: int
    if who in cache.recipients:
        inserted = await _insert_events(session, [spec], now, ("id",))
        if not inserted:
            return None
        event_id = inserted[0][0]
    else:
        # The event and who it reaches in one round trip.
        recorded = await _record_reading_recipients(session, spec, now, cache)
        if recorded is None:
            return None
        event_id, cache.recipients[who], cache.preferences[pref_key] = recorded
    users = [u for u in cache.recipients[who] if u.id != spec.author_id]
    if pref_key not in cache.preferences:
        found = await _preferences(session, users, (spec.kind,))
        cache.preferences[pref_key] = found.get(spec.kind, {})
    prefs = cache.preferences[pref_key]
    if cache.subscriptions is None:
        cache.subscriptions = await _subscriptions(session)
    deliveries = _Deliveries(now)
    item = deliveries.add(event_id, spec, users, prefs, cache.subscriptions)
    await deliveries.record(session)
    return item


# Everyone an event of a batch may reach: staff, and the people of its municipalities.
_CANDIDATES = text(
    f"{_PERSON} WHERE u.is_active AND (u.role IN ('admin', 'oaaa_staff', 'area_staff')"
    " OR (u.role = 'municipal_user' AND u.municipality_id = ANY(:municipalities)))"
)


def _is_recipient(user: Recipient, spec: EventSpec) -> bool:
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
    inserted = await _insert_events(session, unique.values(), now, ("id", "dedupe_key"))
    recorded: dict[str, int] = {row.dedupe_key: row.id for row in inserted}
    fresh = [(recorded[s.dedupe_key], s) for s in unique.values() if s.dedupe_key in recorded]
    if not fresh:
        return []

    municipalities = [s.municipality_id for _, s in fresh if s.municipality_id is not None]
    rows = await queries.run_text(
        session, _CANDIDATES, {"municipalities": list(set(municipalities))}
    )
    candidates = [_recipient(row) for row in rows]
    prefs = await _preferences(session, candidates, {s.kind for _, s in fresh})
    subscriptions = await _subscriptions(session)

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
        # The columns every delivery row starts with (merged into a new dict per row).
        self.pending = {
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
        }
        self.stamps = {"created_at": now, "updated_at": now}
        self.notifications: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.emitted: list[Emitted] = []

    def add(
        self,
        event_id: int,
        spec: EventSpec,
        users: Iterable[Recipient],
        prefs: Mapping[uuid.UUID, Preference],
        subscriptions: Iterable[Subscription],
    ) -> Emitted:
        now, pending, stamps = self.now, self.pending, self.stamps
        item = Emitted(event_id, [], [], [])
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
        # The three tables in one statement (one round trip; a table with no rows is left out).
        await queries.insert_rows_together(
            session,
            [
                (Notification.__table__, self.notifications),  # type: ignore[attr-defined]
                (EmailDelivery.__table__, self.emails),  # type: ignore[attr-defined]
                (WebhookDelivery.__table__, self.hooks),  # type: ignore[attr-defined]
            ],
        )
        for item in self.emitted:
            if item.user_ids:
                message = json.dumps({"event_id": item.event_id})
                for user_id in item.user_ids:
                    queue.publish(session, user_channel(user_id), message)
            for delivery_id in item.email_delivery_ids:
                enqueue_email(session, delivery_id, 0)
        if self.hooks:
            wake_webhooks(session)
