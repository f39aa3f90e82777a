"""How uvicorn serves the application (`python -m app serve`, and the benchmarks).

One thing differs from uvicorn's own: a read (GET, HEAD) starts at once. uvicorn reads a
request while its event loop polls the sockets and makes it a task, whose first step is queued
behind every callback already waiting: under a burst of writes, the steps of their
transactions that the same poll made ready (a statement's answer each). A read that starts at
once (an eager task, as `asyncio.eager_task_factory` makes them from Python 3.12) runs up to
its first wait before them; a health check or a list, which mostly never wait or wait once,
are answered without queueing behind the writes in progress. Writes start as uvicorn starts
them, and every step after a read's first one is queued as any other.

With four clients creating consultations, the wait of a health check for the loop fell by a
quarter to a third against uvicorn's protocol in alternating runs (see the README's
Benchmarks).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

_READS = frozenset({"GET", "HEAD"})


class _Capture:
    """Stands for the loop while a task is built, keeping the first step it schedules."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.step: tuple[Callable[[], None], contextvars.Context] | None = None

    def get_debug(self) -> bool:
        return self.loop.get_debug()

    def call_soon(self, callback: Callable[[], None], *, context: contextvars.Context) -> None:
        self.step = (callback, context)


class _EagerTask(asyncio.tasks._PyTask):  # type: ignore[name-defined,misc]
    """A task whose first step runs while it is created (Python 3.11; 3.12 has `eager_start`).

    asyncio's Python task, built with its first step kept instead of queued, then run: the
    step itself enters the task (`asyncio.current_task()` is the task during it) and sets
    what follows, as any step does. uvicorn creates it while the loop reads a socket, outside
    any task."""

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None = None,
    ) -> None:
        capture = _Capture(loop)
        super().__init__(coro, loop=capture, context=context)
        self._loop = loop
        assert capture.step is not None
        step, step_context = capture.step
        # Created inside another task, that task steps aside while this one runs (as 3.12 does).
        current = asyncio.current_task(loop)
        if current is not None:
            asyncio.tasks._leave_task(loop, current)
        try:
            step_context.run(step)
        finally:
            if current is not None:
                asyncio.tasks._enter_task(loop, current)


def start_eagerly(
    coro: Coroutine[Any, Any, Any],
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context | None = None,
) -> asyncio.Future[Any]:
    """A task for `coro` that has already run up to its first wait (or to its end)."""
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, context=context, eager_start=True)
    task: asyncio.Future[Any] = _EagerTask(coro, loop=loop, context=context)
    return task


class ReadsFirstProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), starting reads eagerly (see the module)."""

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if cycle.scope["method"] not in _READS:
            super()._start_asgi_task(cycle, app)
            return
        # As uvicorn does: a fresh context when asked to, the loop's otherwise.
        fresh = getattr(self.config, "reset_contextvars", False)
        context = contextvars.Context() if fresh else None
        task = start_eagerly(cycle.run_asgi(app), self.loop, context)
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)  # type: ignore[arg-type]


def config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for an ASGI app, with `ReadsFirstProtocol`."""
    return uvicorn.Config(app, http=ReadsFirstProtocol, **options)


def run(app: str, **options: Any) -> None:
    """`uvicorn.run` for the app at an import path (reloading, if asked), with
    `ReadsFirstProtocol`."""
    uvicorn.run(app, http=ReadsFirstProtocol, **options)
