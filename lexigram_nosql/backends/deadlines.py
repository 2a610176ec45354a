"""Deadlines of a store's operations in flight, watched by one timer.

``asyncio.timeout`` costs a timer handle and a context manager per call, several
microseconds: too much per document of a streamed read and a noticeable share of an
in-memory call. Here an operation only records its task and due time in a dict; one timer
per store wakes at the earliest due time (about once per timeout while calls are short),
cancels the tasks whose time is up, and re-arms. The operation's exit turns that
cancellation into ``OperationTimeoutError`` (``Deadline.timed_out``), as ``asyncio.timeout``
turns its own into ``TimeoutError``.

Unlike ``asyncio.timeout``, an expired operation that is still running is cancelled again
every ``RECANCEL_S``: a driver can lose one cancellation. PyMongo's connect runs in
``asyncio.wait_for``, which on Python 3.11 returns the inner result, here the refused
connection, in place of a cancellation that arrives as the inner call ends; server selection
then retried to its own 5 s timeout, past a 3 s deadline.
"""

from __future__ import annotations

import asyncio
import math
import time
import types
from asyncio import get_running_loop
from collections.abc import Callable
from typing import Final

__all__ = ["RECANCEL_S", "Deadline", "Deadlines", "current_task"]

RECANCEL_S: Final = 0.1
"""How soon an expired operation that is still running is cancelled again."""


def _current_task_lookup() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[object] | None]:
    """``asyncio.current_task(loop)``, read on every operation. It is C from Python 3.12 on;
    on 3.11 it is a Python function around a lookup in asyncio's dict of running tasks (which
    its C tasks keep), and the lookup alone costs a fraction of the call."""
    running = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(asyncio.current_task, types.FunctionType) and isinstance(running, dict):
        return running.get
    return asyncio.current_task


current_task: Final = _current_task_lookup()


class Deadline:
    """One operation's (or one stream's) due time; ``due`` is ``inf`` while a stream is not
    fetching."""

    __slots__ = ("_cancelling", "_cancels", "due", "expired", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[object] | None = None
        self.due = math.inf
        self.expired = False
        self._cancelling = 0
        self._cancels = 0

    def expire(self, now: float) -> None:
        """Cancel the task, and come back in ``RECANCEL_S`` should it still run."""
        task = self.task
        if not self.expired:
            self.expired = True
            self._cancels = 0
            self._cancelling = 0 if task is None else task.cancelling()
        if task is None or task.done():
            self.due = math.inf
            return
        task.cancel()
        self._cancels += 1
        self.due = now + RECANCEL_S

    def timed_out(self, exc: BaseException | None) -> bool:
        """Called once at the operation's exit: did our cancellation end it? Removes our
        cancel request either way, as ``asyncio.timeout`` does."""
        if not self.expired:
            return False
        self.expired = False
        task = self.task
        if task is None:
            return False
        remaining = task.cancelling()
        for _ in range(self._cancels):
            remaining = task.uncancel()
        only_ours = remaining <= self._cancelling
        return only_ours and isinstance(exc, asyncio.CancelledError)


class Deadlines:
    """The deadlines of one store in flight (``inflight``), watched by one timer.

    An operation starts its deadline inline (``OperationGuard.__aenter__``: a method call
    per operation costs about a thousand instructions, a tenth of the wrapper): on the
    store's ``loop`` (``move`` to the running one first when it is not), it sets its task
    and its due time from ``clock``, enters ``inflight`` and ``arm``s the timer when due
    before ``timer_due``. It leaves ``inflight`` at its exit (``stop``). A stream holds its
    deadline from ``stream`` on and sets it per batch fetch (``fetching``).

    ``operating`` holds the task of each operation in flight, so that a call nested in one
    (in the same task) passes through."""

    __slots__ = ("_timer", "clock", "inflight", "loop", "operating", "ready", "timer_due")

    ready: asyncio.Future[None]
    """A done future of ``loop``, from the first ``move`` on: awaiting it returns at once (an
    operation's plain ``__aenter__`` returns it)."""

    def __init__(self) -> None:
        self.inflight: dict[Deadline, None] = {}
        self.operating: dict[asyncio.Task[object] | None, None] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clock: Callable[[], float] = time.monotonic
        """``loop.time``; ``time.monotonic`` itself (no method call) when that is what it
        reads, as asyncio's own loops do."""
        self.timer_due = math.inf
        """When the timer wakes next: a deadline due before it must ``arm`` it."""
        self._timer: asyncio.TimerHandle | None = None

    def stream(self, deadline: Deadline) -> None:
        """Hold the deadline of a stream, idle until ``fetching``."""
        self.inflight[deadline] = None

    def fetching(self, deadline: Deadline, timeout_s: float) -> None:
        """A stream starts fetching its next batch in the current task."""
        loop = get_running_loop()
        if loop is not self.loop:
            self.move(loop)
        deadline.task = current_task(loop)
        deadline.due = due = self.clock() + timeout_s
        if due < self.timer_due:
            self.arm(loop, due)

    def stop(self, deadline: Deadline) -> None:
        self.inflight.pop(deadline, None)

    def move(self, loop: asyncio.AbstractEventLoop) -> None:
        """The store is used from another event loop (tests do): forget the old one's timer
        and finished tasks."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self.timer_due = None, math.inf
        self.loop = loop
        self.clock = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        self.inflight = {d: None for d in self.inflight if not (d.task and d.task.done())}
        self.operating = {t: None for t in self.operating if t is not None and not t.done()}
        self.ready = loop.create_future()
        self.ready.set_result(None)

    def arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        """Wake at ``due`` (before the timer's current time)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(due, self._wake, loop)
        self.timer_due = due

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self.loop:
            return
        self._timer, self.timer_due = None, math.inf
        now = loop.time()
        earliest = math.inf
        for deadline in list(self.inflight):
            if deadline.due <= now:
                deadline.expire(now)
            if deadline.due < earliest:
                earliest = deadline.due
        if earliest < math.inf:
            self.arm(loop, earliest)
