"""The one door to arq and to the work that must wait for a commit.

Producers call `enqueue()` (a job for the arq worker) or `publish()` (a message for the live
streams) inside their unit of work. Nothing leaves at once: the items wait in the session and
are sent by `flush()` only after the commit succeeded — the request dependency and the
worker's `unit_of_work()` call it — and a rollback drops them. Sending is best effort: the
database rows are the truth, so a Redis outage only delays work that the sweepers (pending
deliveries) and the streams' catch-up queries (notifications) find again.

A job id is deterministic for the work it stands for (`{prefix}email:{id}:{attempt}`), so the
producer, a retry and the sweeper never queue the same work twice; a wake-up (`once=True`)
leaves once per commit however often it was asked for.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.redis import CircuitBreaker, timeouts

logger = logging.getLogger("app.queue")

_PENDING = "oaaa.after_commit"
_ONCE = "oaaa.after_commit.once"


@dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...]
    job_id: str | None = None
    defer_until: datetime | None = None


@dataclass(frozen=True)
class Message:
    channel: str
    data: str


AfterCommit = Job | Message


def queue_name() -> str:
    """The arq queue (the same as `WorkerSettings.queue_name`)."""
    return get_settings().redis_prefix + "queue"


def job_id(*parts: object) -> str:
    """A deterministic job id under this deployment's Redis prefix."""
    return get_settings().redis_prefix + ":".join(str(p) for p in parts)


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def pending(session: AsyncSession | Session) -> list[AfterCommit]:
    items: list[AfterCommit] = _sync(session).info.setdefault(_PENDING, [])
    return items


def _add(session: AsyncSession, item: AfterCommit) -> None:
    sync = _sync(session)
    if not sync.in_transaction():
        # Work belongs to a transaction: begin one (no I/O yet) so that a rollback drops it.
        sync.begin()
    pending(session).append(item)


def enqueue(
    session: AsyncSession,
    function: str,
    *args: Any,
    job_id: str | None = None,
    defer_until: datetime | None = None,
    once: bool = False,
) -> None:
    """Queues `function(*args)` for the worker once this session's transaction commits.
    `once=True`: a wake-up, queued at most once per commit however often it is asked for."""
    if once:
        asked: set[tuple[str, tuple[Any, ...]]] = _sync(session).info.setdefault(_ONCE, set())
        if (function, args) in asked:
            return
        asked.add((function, args))
    _add(session, Job(function, args, job_id, defer_until))


def publish(session: AsyncSession, channel: str, data: str) -> None:
    """Publishes `data` on a Redis pub/sub channel once this session's transaction commits."""
    _add(session, Message(channel, data))


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: nothing will commit
        session.info.pop(_PENDING, None)
        session.info.pop(_ONCE, None)


class GuardedArqRedis(CircuitBreaker, ArqRedis):  # type: ignore[misc]
    """arq's client with the API's circuit breaker (see `app.core.redis`)."""


_arq: ArqRedis | None = None
_pool: ConnectionPool | None = None


def get_arq() -> ArqRedis:
    """This process's arq client (it connects on first use)."""
    global _arq, _pool
    if _arq is None:
        _pool = ConnectionPool.from_url(get_settings().redis_url, **timeouts())
        _arq = GuardedArqRedis(connection_pool=_pool, default_queue_name=queue_name())
    return _arq


async def close_arq() -> None:
    global _arq, _pool
    if _arq is not None:
        await _arq.aclose()
    if _pool is not None:
        await _pool.aclose()
    _arq = None
    _pool = None


# How many successor ids a sweeper tries past a job that Redis reports as running although
# its work is still unclaimed (see `enqueue_now(claimable=True)`).
MAX_SUCCESSORS = 8


async def enqueue_now(
    redis: ArqRedis,
    function: str,
    *args: Any,
    job_id: str,
    defer_until: datetime | None = None,
    claimable: bool = False,
) -> bool:
    """Queues the job unless that very job is already queued or running; for work whose
    commit is already behind it (sweepers, retries). A job whose id Redis still knows but which
    sits in no queue (its queue entry was lost) is replaced. True when it was queued.

    `claimable=True` says the caller has just read in the database that nobody holds the work
    (its lease is free or expired). A job that arq still marks as in progress under that id
    then belongs to a worker that died before claiming it, and arq would keep the id blocked
    until its in-progress key expires; the job is queued under the first successor id
    (`{job_id}:r1`, `:r2`, …) that is neither queued nor running. The row's claim, not the
    job id, keeps two workers from delivering at once."""
    for n in range(MAX_SUCCESSORS + 1 if claimable else 1):
        candidate = job_id if n == 0 else f"{job_id}:r{n}"
        outcome = await _enqueue_once(redis, function, args, candidate, defer_until)
        if outcome != "running":
            return outcome == "queued"
    return False


async def _enqueue_once(
    redis: ArqRedis,
    function: str,
    args: tuple[Any, ...],
    job_id: str,
    defer_until: datetime | None,
) -> str:
    """`queued`, `waiting` (already queued, not started) or `running`."""
    queue = queue_name()
    job = await redis.enqueue_job(
        function, *args, _job_id=job_id, _queue_name=queue, _defer_until=defer_until
    )
    if job is not None:
        return "queued"
    if await redis.exists(in_progress_key_prefix + job_id):
        return "running"
    if await redis.zscore(queue, job_id) is not None:
        return "waiting"
    await redis.delete(
        job_key_prefix + job_id, result_key_prefix + job_id, retry_key_prefix + job_id
    )
    job = await redis.enqueue_job(
        function, *args, _job_id=job_id, _queue_name=queue, _defer_until=defer_until
    )
    return "queued" if job is not None else "waiting"


# arq's `enqueue_job` in one script: the job is stored and queued unless its id is already
# known (queued, running, or with a result). arq does it with WATCH, EXISTS and MULTI, three
# round trips a job; as a script, a commit's jobs and messages leave in one pipeline.
# KEYS: job key, result key, queue; ARGV: expiry (ms), serialized job, score, job id.
_ENQUEUE_SCRIPT = """
if redis.call('exists', KEYS[1], KEYS[2]) ~= 0 then return 0 end
redis.call('psetex', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


async def send(items: list[AfterCommit], redis: ArqRedis | None = None) -> None:
    """Sends after-commit items, best effort (see the module's docstring), in one pipeline.

    A job whose id Redis already knows goes through `enqueue_now` (already queued, running,
    or its queue entry lost)."""
    if not items:
        return
    client = redis if redis is not None else get_arq()
    if isinstance(client, CircuitBreaker) and client.is_open():
        logger.warning("could not send after-commit work; it is recovered from the database")
        return
    try:
        async with client.pipeline(transaction=False) as pipe:
            for item in items:
                if isinstance(item, Job):
                    _queue_script(client, pipe, item)
                else:
                    pipe.publish(item.channel, item.data)
            results = await pipe.execute()
        known = [
            item
            for item, queued in zip(items, results, strict=True)
            if isinstance(item, Job) and not queued
        ]
        for job in known:
            if job.job_id is not None:
                await enqueue_now(
                    client, job.function, *job.args, job_id=job.job_id, defer_until=job.defer_until
                )
    except (RedisError, OSError, TimeoutError):
        if isinstance(client, CircuitBreaker):
            client.trip()
        logger.warning(
            "could not send after-commit work; it is recovered from the database", exc_info=True
        )


def _queue_script(client: ArqRedis, pipe: Any, job: Job) -> None:
    """Adds `_ENQUEUE_SCRIPT` for `job` to the pipeline (a job without an id gets one under
    the prefix, as every job id)."""
    jid = job.job_id or job_id(job.function, uuid.uuid4().hex)
    enqueued_ms = timestamp_ms()
    score = to_unix_ms(job.defer_until) if job.defer_until is not None else enqueued_ms
    payload = serialize_job(
        job.function, job.args, {}, None, enqueued_ms, serializer=client.job_serializer
    )
    pipe.eval(
        _ENQUEUE_SCRIPT,
        3,
        job_key_prefix + jid,
        result_key_prefix + jid,
        queue_name(),
        score - enqueued_ms + client.expires_extra_ms,
        payload,
        score,
        jid,
    )


async def flush(session: AsyncSession, redis: ArqRedis | None = None) -> None:
    """After a successful commit: sends what the unit of work queued."""
    await send(pending(session).copy(), redis)
    discard(session)


def discard(session: AsyncSession) -> None:
    pending(session).clear()
    _sync(session).info.pop(_ONCE, None)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: ArqRedis | None = None,
    *,
    gate: asyncio.Semaphore | None = None,
) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits at the end of the block, then flushes its
    after-commit work; an exception rolls back and drops it.

    `gate`: a place of it is taken before the transaction begins and given back as soon as
    the transaction ends (committed or rolled back), before the after-commit work is sent."""
    if gate is not None:
        await gate.acquire()
    held = gate
    try:
        async with sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                discard(session)
                raise
            finally:
                if held is not None:
                    held.release()
                    held = None
            await flush(session, redis)
    finally:
        # Still held only when the session could not be opened.
        if held is not None:
            held.release()
