"""A person's notification feed: list, unread count, mark read, preferences, live stream.

The live stream never skips a notification. Ids come from one sequence, but transactions commit
in any order, so "`id` greater than the last one sent" would lose a lower id committed later.
Each stream therefore keeps a *floor* (every id at or below it is settled: sent, or belonging to
another person, or never committed) and the set of ids above the floor it has already sent.
Every read takes everything above the floor that it has not sent yet.

The floor moves by transaction visibility. Before a read the stream notes the sequence's last
value `V` and then takes a fresh transaction id `Y` in a transaction of its own (committed at
once). Every id up to `V` was handed out to a transaction that already held a transaction id
(the outbox inserts the event row before its notifications), so that id is below `Y`. Once a
later snapshot's `xmin` (the oldest transaction still running) reaches `Y`, all those
transactions have committed or rolled back, and the read that follows sees every id up to `V`
that will ever exist: the floor may rise to `V` and the remembered ids below it are forgotten.
With no long transaction open that happens on the very read that noted `V`, so the memory a
stream holds is the person's notifications created during the longest open transaction. The
cost is three tiny statements and one transaction id per read.

Catch-up after a reconnect is read in pages of `STREAM_BATCH` and sent without waiting; each
round reads at most `STREAM_ROUND` rows before the floor is moved, so memory stays bounded
whatever the backlog.

Each event's SSE `id:` is a *resume token*, not the notification's id: the stream's floor and
the ids it has sent above it, at that event (`r{floor}.{step}...`, each id as its distance
from the one before, in hexadecimal; opaque to clients). A client that reconnects with it as
`Last-Event-ID` (or `since`) starts a stream in exactly that state, so a lower id that
committed while it was away is sent once and nothing is sent twice. A plain id is still
accepted as a floor (the client holds everything up to it), e.g. the newest id of the feed's
first page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import BigInteger, all_, bindparam, func, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from app.core import audit
from app.core.errors import Forbidden
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.scoping import Actor, get_visible, visible
from app.models.audit import ActorType
from app.models.notification import (
    Notification,
    NotificationEvent,
    NotificationKind,
    NotificationPreference,
)
from app.schemas.notifications import NotificationPublic, PreferenceItem
from app.services.notifications import outbox
from app.services.notifications.outbox import user_channel

STREAM_BATCH = 100
STREAM_ROUND = 1000
KEEPALIVE_SECONDS = 15.0


def require_person(actor: Actor) -> uuid.UUID:
    if actor.kind != ActorType.user or actor.id is None:
        raise Forbidden("Las notificaciones en la aplicación son para personas")
    return actor.id


def _public(n: Notification, e: NotificationEvent) -> NotificationPublic:
    assert n.id is not None
    assert e.id is not None
    return NotificationPublic(
        id=n.id,
        event_id=e.id,
        kind=e.kind,
        title=e.title,
        body=e.body,
        link=e.link,
        entity_type=e.entity_type,
        entity_id=e.entity_id,
        payload=e.payload,
        occurred_at=e.occurred_at,
        created_at=n.created_at,
        read_at=n.read_at,
    )


async def list_feed(
    session: AsyncSession,
    actor: Actor,
    params: PageParams,
    *,
    unread_only: bool = False,
    kind: NotificationKind | None = None,
) -> tuple[list[NotificationPublic], str | None]:
    """Newest first."""
    require_person(actor)
    stmt = (
        select(Notification, NotificationEvent)
        .join(NotificationEvent, col(NotificationEvent.id) == col(Notification.event_id))
        .where(visible(Notification, actor))
    )
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    if kind:
        stmt = stmt.where(col(NotificationEvent.kind) == kind)
    keys: list[Any] = [Notification.id]
    if params.cursor:
        (after,) = decode_cursor(params.cursor, keys, descending=True)
        stmt = stmt.where(col(Notification.id) < after)
    rows = (
        await session.execute(stmt.order_by(col(Notification.id).desc()).limit(params.limit + 1))
    ).all()
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        next_cursor = encode_cursor([rows[-1][0].id], keys, descending=True)
    return [_public(n, e) for n, e in rows], next_cursor


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    require_person(actor)
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(visible(Notification, actor), col(Notification.read_at).is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_read(
    session: AsyncSession, actor: Actor, notification_id: int
) -> NotificationPublic:
    require_person(actor)
    n = await get_visible(session, Notification, notification_id, actor)
    if n.read_at is None:
        n.read_at = datetime.now(UTC)
        await session.flush()
    event = await session.get(NotificationEvent, n.event_id)
    assert event is not None
    return _public(n, event)


async def mark_all_read(session: AsyncSession, actor: Actor) -> int:
    require_person(actor)
    result = await session.execute(
        update(Notification)
        .where(visible(Notification, actor), col(Notification.read_at).is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def preferences(session: AsyncSession, actor: Actor) -> list[PreferenceItem]:
    user_id = require_person(actor)
    stored = {
        p.kind: p
        for p in (
            await session.execute(
                select(NotificationPreference).where(col(NotificationPreference.user_id) == user_id)
            )
        )
        .scalars()
        .all()
    }
    out = []
    for kind in NotificationKind:
        p = stored.get(kind)
        out.append(
            PreferenceItem(
                kind=kind,
                in_app=p.in_app if p else True,
                email=p.email if p else outbox.default_email(kind),
            )
        )
    return out


async def set_preferences(
    session: AsyncSession, actor: Actor, items: list[PreferenceItem]
) -> list[PreferenceItem]:
    user_id = require_person(actor)
    before = {p.kind: p.model_dump() for p in await preferences(session, actor)}
    for item in items:
        stmt = insert(NotificationPreference).values(
            user_id=user_id, kind=item.kind, in_app=item.in_app, email=item.email,
            updated_at=datetime.now(UTC),
        )  # fmt: skip
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    col(NotificationPreference.user_id),
                    col(NotificationPreference.kind),
                ],
                set_={"in_app": item.in_app, "email": item.email, "updated_at": datetime.now(UTC)},
            )
        )
    after = await preferences(session, actor)
    changes: dict[str, Any] = {
        str(p.kind): {"from": before[p.kind], "to": p.model_dump()}
        for p in after
        if before[p.kind] != p.model_dump()
    }
    if changes:
        await audit.record(
            session, actor, "notification_preference.update", "user", user_id, changes
        )
    return after


def _sse(n: NotificationPublic, token: str) -> str:
    data = json.dumps(n.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {token}\nevent: notification\ndata: {data}\n\n"


MAX_ID = 2**63 - 1  # bigint identity
# Ids above the floor that a resume token lists at most. Only a transaction open for very long
# lets more pile up; the lowest are then left out and would be sent again on a resume
# (sent twice rather than skipped).
RESUME_MAX_IDS = 1000
RESUME_MAX_LENGTH = 20 + 17 * RESUME_MAX_IDS
_TOKEN = re.compile(r"r([0-9a-f]{1,16})((?:\.[0-9a-f]{1,16})*)")
_PLAIN = re.compile(r"[0-9]{1,19}")


def resume_token(floor: int, sent: set[int]) -> str:
    above = sorted(i for i in sent if i > floor)[-RESUME_MAX_IDS:]
    # Each id as its distance from the one before (the first from the floor): short numbers.
    steps = [b - a for a, b in zip([floor, *above], above, strict=False)]
    return f"r{floor:x}" + "".join(f".{step:x}" for step in steps)


def parse_resume(value: str) -> tuple[int, set[int]] | None:
    """The floor and sent ids of a resume token or a plain id; None if it is neither."""
    if len(value) > RESUME_MAX_LENGTH:
        return None
    if _PLAIN.fullmatch(value):
        floor = int(value)
        return (floor, set()) if floor <= MAX_ID else None
    match = _TOKEN.fullmatch(value)
    if match is None:
        return None
    floor = int(match.group(1), 16)
    steps = [int(step, 16) for step in match.group(2).split(".")[1:]]
    if len(steps) > RESUME_MAX_IDS or 0 in steps:
        return None
    sent, current = set(), floor
    for step in steps:
        current += step
        sent.add(current)
    if current > MAX_ID:
        return None
    return floor, sent


_SEQUENCE_LAST = text(
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('notification', 'id')"
    "::regclass), 0)"
)
_NEXT_XID = text("SELECT pg_current_xact_id()::text::bigint")
_XMIN = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


class StreamCursor:
    """What one stream has sent: a settled floor plus the ids sent above it."""

    def __init__(self, floor: int, sent: set[int] | None = None) -> None:
        self.floor = floor
        self.sent: set[int] = {i for i in sent or () if i > floor}
        # (transaction id taken after the sequence value, that value), oldest first
        self.pending: list[tuple[int, int]] = []

    def settle(self, xmin: int) -> int | None:
        """The highest noted sequence value whose transactions have all ended by `xmin`."""
        bound = None
        while self.pending and self.pending[0][0] <= xmin:
            bound = self.pending.pop(0)[1]
        return bound

    def note(self, xid: int, last_value: int) -> None:
        if last_value > self.floor and (not self.pending or last_value > self.pending[-1][1]):
            self.pending.append((xid, last_value))

    def raise_floor(self, floor: int) -> None:
        if floor > self.floor:
            self.floor = floor
            self.sent = {i for i in self.sent if i > floor}

    def token(self) -> str:
        return resume_token(self.floor, self.sent)


async def _round(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID, cursor: StreamCursor
) -> tuple[list[tuple[NotificationPublic, str]], bool]:
    """One read of what is unsent above the floor (up to `STREAM_ROUND` rows), each with the
    resume token of the stream once it is sent; True if more."""
    out: list[tuple[NotificationPublic, str]] = []
    async with sessionmaker() as session:
        last_value = int((await session.execute(_SEQUENCE_LAST)).scalar_one())
        xid = int((await session.execute(_NEXT_XID)).scalar_one())
        await session.commit()
        cursor.note(xid, last_value)
        bound = cursor.settle(int((await session.execute(_XMIN)).scalar_one()))
        after = cursor.floor
        more = False
        while True:
            stmt = (
                select(Notification, NotificationEvent)
                .join(NotificationEvent, col(NotificationEvent.id) == col(Notification.event_id))
                .where(col(Notification.user_id) == user_id, col(Notification.id) > after)
                .order_by(col(Notification.id))
                .limit(STREAM_BATCH)
            )
            if cursor.sent:  # one array parameter, however many ids
                sent = bindparam("sent", sorted(cursor.sent), type_=ARRAY(BigInteger))
                stmt = stmt.where(col(Notification.id) != all_(sent))
            rows = (await session.execute(stmt)).all()
            for n, e in rows:
                assert n.id is not None
                cursor.sent.add(n.id)
                if bound is not None:
                    # Rows come in id order and every id up to `bound` is settled: once this
                    # one is sent, the client holds everything up to it (or up to `bound`).
                    cursor.raise_floor(min(n.id, bound))
                out.append((_public(n, e), cursor.token()))
            if rows:
                after = rows[-1][0].id or after
            if len(rows) < STREAM_BATCH:
                break
            if len(out) >= STREAM_ROUND:
                more = True
                break
    if bound is not None:
        if more and bound > cursor.floor:
            cursor.raise_floor(after)
            cursor.pending.insert(0, (0, bound))  # settled; the next round reads on to it
        else:
            cursor.raise_floor(bound)
    return out, more


async def _subscribe(redis: Redis, channel: str) -> PubSub | None:
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
    except (RedisError, OSError):
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        return None
    return pubsub


async def stream(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    user_id: uuid.UUID,
    resume: tuple[int, set[int]],
    is_disconnected: Any,
    keepalive: float | None = None,
) -> AsyncIterator[str]:
    """Server-Sent Events: what was missed since the resume point (`parse_resume`) first, then
    each new notification as Redis pub/sub announces it (any API process may serve the
    stream); the database is read again on every wake-up, so a lost announcement only delays
    delivery. Without Redis the stream reads the database every `keepalive` seconds and
    subscribes again as soon as Redis answers."""
    wait = KEEPALIVE_SECONDS if keepalive is None else keepalive
    channel = user_channel(user_id)
    cursor = StreamCursor(*resume)
    pubsub = await _subscribe(redis, channel)
    try:
        yield "retry: 3000\n\n"
        while True:
            more = True
            while more:
                batch, more = await _round(sessionmaker, user_id, cursor)
                for n, token in batch:
                    yield _sse(n, token)
            if await is_disconnected():
                return
            message = None
            if pubsub is not None:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                except (RedisError, OSError):
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                    pubsub = None
            else:
                await asyncio.sleep(wait)
                pubsub = await _subscribe(redis, channel)
            if message is None:
                yield ": keep-alive\n\n"
    finally:
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
