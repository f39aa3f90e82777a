"""Runs the arq worker so that it outlives Redis.

arq's `Worker` stops at the first Redis error of its polling loop. `ResilientWorker` catches
them instead: the jobs already running go on (they need the database, not Redis, and record
their outcome there), the loop waits with exponential backoff and reconnects, and meanwhile
the worker is not ready — its health key (`{prefix}worker-health`, see `check_health`) is no
longer refreshed and expires. `run()` restarts the whole worker with backoff when it cannot
start (Redis unreachable at start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any, Literal

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker, get_kwargs
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError, WatchError

from app.core import observability
from app.core.config import get_settings

logger = logging.getLogger("app.worker")

REDIS_ERRORS = (RedisError, OSError, TimeoutError)
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
# The worker's Redis timeout is never below this: a worker starved of CPU must not take a slow
# answer for an outage (and set its backoff going); it still frees it from a Redis that hangs.
WORKER_REDIS_TIMEOUT_MIN = 10.0


def worker_redis_timeout() -> float:
    return max(get_settings().redis_timeout_seconds, WORKER_REDIS_TIMEOUT_MIN)


def next_backoff(current: float) -> float:
    return min(BACKOFF_MAX, max(BACKOFF_FIRST, current * 2))


class ResilientWorker(Worker):
    """An arq `Worker` whose polling loop rides out Redis outages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redis_ready = True
        self._backoff = 0.0
        self._outage_started = 0.0

    async def main(self) -> None:
        """arq's `main()` on a pool with read timeouts (arq's own has none): a Redis that
        accepts connections and never answers fails the polling loop's commands, which then
        backs off and reconnects, instead of waiting on it forever."""
        if self._pool is None:
            pool = ArqRedis(
                connection_pool=ConnectionPool.from_url(
                    get_settings().redis_url,
                    socket_connect_timeout=worker_redis_timeout(),
                    socket_timeout=worker_redis_timeout(),
                ),
                default_queue_name=self.queue_name,
                job_serializer=self.job_serializer,
                job_deserializer=self.job_deserializer,
                expires_extra_ms=self.expires_extra_ms,
            )
            try:
                await pool.ping()
            except REDIS_ERRORS:
                await pool.aclose(close_connection_pool=True)
                raise
            self._pool = pool
        await super().main()

    async def _poll_iteration(self) -> None:
        self._collect_finished_jobs()
        try:
            await super()._poll_iteration()
        except REDIS_ERRORS as exc:
            await self._redis_failed(exc)
            return
        if not self.redis_ready:
            self.redis_ready = True
            self._backoff = 0.0
            outage = round(time.monotonic() - self._outage_started, 1)
            logger.info(
                "Redis responde de nuevo; el worker vuelve a estar listo",
                extra={"fields": {"outage_seconds": outage}},
            )

    def _collect_finished_jobs(self) -> None:
        """Forgets finished jobs first. arq re-raises, one per poll, the error of a job whose
        end it could not record in Redis; the job's outcome is in the database already."""
        for job_id, task in list(self.tasks.items()):
            if not task.done():
                continue
            del self.tasks[job_id]
            error = None if task.cancelled() else task.exception()
            if isinstance(error, REDIS_ERRORS):
                logger.warning(
                    "arq no pudo registrar en Redis el final de un trabajo",
                    extra={"fields": {"job_id": job_id, "error": f"{type(error).__name__}"}},
                )
            elif error is not None:
                raise error

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's `start_jobs`, which keeps a job slot taken when Redis fails while it checks a
        job: the slot is given back, or a few outages would leave the worker with none."""
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            in_progress_key = in_progress_key_prefix + job_id
            started = False
            try:
                async with self.pool.pipeline(transaction=True) as pipe:
                    await pipe.watch(in_progress_key)
                    ongoing_exists = await pipe.exists(in_progress_key)
                    score = await pipe.zscore(self.queue_name, job_id)
                    if ongoing_exists or not score or score > timestamp_ms():
                        continue
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.psetex(in_progress_key, int(self.in_progress_timeout_s * 1000), b"1")
                    try:
                        await pipe.execute()
                    except (ResponseError, WatchError):
                        continue
                task = self.loop.create_task(self.run_job(job_id, int(score)))
                task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                self.tasks[job_id] = task
                started = True
            finally:
                if not started:
                    self.job_counter -= 1
                    self.sem.release()

    async def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_ready:
            self.redis_ready = False
            self._outage_started = time.monotonic()
            # The health key is written again as soon as Redis answers.
            self._last_health_check = 0
            logger.warning(
                "Redis no responde; el worker sigue con los trabajos en curso y reintenta",
                extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}},
            )
        self._backoff = next_backoff(self._backoff)
        await asyncio.sleep(self._backoff)

    async def close(self) -> None:
        """arq's `close()`, tolerant of an unreachable Redis (the shutdown hook still runs)."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_ERRORS):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(*REDIS_ERRORS):
            await self.pool.aclose(close_connection_pool=True)
        self._pool = None


def run(settings_cls: Any) -> None:
    """Runs the worker until a signal stops it; restarts it with backoff when Redis fails it."""
    backoff = 0.0
    while True:
        worker = ResilientWorker(**get_kwargs(settings_cls))
        try:
            worker.run()
        except REDIS_ERRORS as exc:
            backoff = next_backoff(backoff)
            logger.warning(
                "el worker no pudo arrancar por Redis; se reinicia",
                extra={"fields": {"error": f"{type(exc).__name__}: {exc}", "retry_in": backoff}},
            )
            # arq's signal handlers only act while its loop runs: while waiting, a signal stops
            # the process at once.
            for signum in (signal.SIGINT, signal.SIGTERM):
                worker.loop.remove_signal_handler(signum)
            try:
                time.sleep(backoff)
            except KeyboardInterrupt:
                return
            continue
        return


WorkerState = Literal["ok", "stale", "absent"]


async def worker_state(redis: Redis) -> WorkerState:
    """`ok`: a worker's polling loop refreshed the health key within its expiry (a few
    seconds); `stale`: none did, but a worker that has not stopped cleanly beat within the
    last day (it died, hangs or lost Redis); `absent`: no worker runs or ever ran.
    Raises the Redis error when Redis does not answer."""
    if await redis.exists(health_check_key()):
        return "ok"
    beats = await redis.hlen(observability.heartbeats_key())  # type: ignore[misc]
    return "stale" if beats else "absent"


async def check_state(redis_url: str | None = None) -> WorkerState | None:
    """This deployment's worker state (see `worker_state`); None when Redis does not answer."""
    url = redis_url or get_settings().redis_url
    seconds = get_settings().redis_timeout_seconds
    redis = Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        return await worker_state(redis)
    except REDIS_ERRORS:
        return None
    finally:
        with contextlib.suppress(*REDIS_ERRORS):
            await redis.aclose()


async def check_health(redis_url: str | None = None) -> bool:
    """Whether a worker of this deployment refreshed its health key recently."""
    return await check_state(redis_url) == "ok"


def health_check_key() -> str:
    return get_settings().redis_prefix + "worker-health"
