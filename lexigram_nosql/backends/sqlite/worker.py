"""One thread that runs a connection's jobs in order, each awaited with one hop of the loop.

``loop.run_in_executor`` costs a ``concurrent.futures.Future`` chained to an asyncio future
(callbacks, a lock, a state copy) and lets any thread of a pool pick the job, so one
connection's jobs may run on different threads. A connection here owns its thread: a job is
a plain queue entry, its result goes back with one ``call_soon_threadsafe``, and jobs of one
connection never overlap, even when the task awaiting one was cancelled while it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Worker"]

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class Worker:
    """A thread started on the first job and ended by ``stop`` (jobs queued before it run)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, function: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``function``; the future resolves on the loop with its result or error. A
        job whose future is cancelled before the thread reaches it does not run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        # In the caller's context, as asyncio.to_thread runs it (the engine reads the
        # variables a call binds, ``let``, from a context variable).
        self._jobs.put((loop, future, functools.partial(contextvars.copy_context().run, function)))
        return future

    def submit(self, function: Callable[[], Any]) -> None:
        """Queue ``function`` without waiting for it (its errors are dropped)."""
        if self._thread is not None:
            self._jobs.put((_NO_LOOP, _NO_FUTURE, function))

    def stop(self) -> None:
        """End the thread once the jobs already queued have run."""
        if self._thread is not None:
            self._jobs.put(None)

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            loop, future, function = job
            del job
            if future is _NO_FUTURE:
                with contextlib.suppress(Exception):  # nobody waits: cleanup is best effort
                    function()
                continue
            if future.cancelled():
                continue
            try:
                result = function()
            except BaseException as exc:
                _deliver(loop, _set_exception, future, exc)
            else:
                _deliver(loop, _set_result, future, result)
            del loop, future, function


def _deliver(
    loop: asyncio.AbstractEventLoop,
    setter: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed while the job ran
        loop.call_soon_threadsafe(setter, future, value)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        if isinstance(exc, StopIteration):  # a future cannot hold it (asyncio's own rule)
            error = RuntimeError(f"StopIteration raised by a job: {exc!r}")
            error.__cause__ = exc
            exc = error
        future.set_exception(exc)


_NO_LOOP: Any = None
_NO_FUTURE: Any = object()
