"""The one wrapper every public store and collection operation passes through.

``store.operation(name, collection)`` (an async context manager) and ``store.stream(name,
collection)`` (for ``find``/``aggregate``, per batch fetch) do, in order:

1. the circuit breaker: while it is open the call fails at once (``StoreUnavailableError``);
2. observers (``lexigram_nosql.operations``) are told the operation starts;
3. the deadline: ``operation_timeout_s`` from here, lazy connect and driver retries included
   (``OperationTimeoutError``; a stream bounds each batch fetch);
4. at the exit, driver exceptions are translated (``map_exception``, store and collection
   attached), the breaker is told whether the server was reached, observers are told the end.

Calls nested inside an operation of the same store, in its task (``bulk_write``'s default
runs ``insert_one``...), only translate errors: the outer operation guards them. The store's
``deadlines.operating`` holds the task of each operation in flight: a dict entry per call,
where a context variable's ``set`` and ``reset`` cost several microseconds of a MongoDB call
and made every other context variable read after them (the transaction, the call's options)
look its value up afresh. A task an operation starts is not nested in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from asyncio import get_running_loop
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, NoReturn

from lexigram_nosql import operations, reads
from lexigram_nosql.backends.breaker import is_settled, settle
from lexigram_nosql.backends.deadlines import Deadline, current_task
from lexigram_nosql.errors import NoSQLConnectionError
from lexigram_nosql.operations import Operation, OperationEnd
from lexigram_nosql.reads import ReadReport
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["ADMIN_OPERATIONS", "OperationGuard", "StreamGuard"]

ADMIN_OPERATIONS: Final = frozenset(
    {"create_index", "create_indexes", "drop_index", "drop_indexes", "drop_collection"}
)
"""The calls bounded by ``admin_timeout_s``: their time grows with the data they touch."""

_NOT_OURS = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class _Guarded(Deadline):
    """What both guards share; a guard is its operation's deadline too (one object per
    call). ``_trial``, ``_report`` and ``_ends`` are set at admission."""

    __slots__ = (
        "_collection",
        "_ends",
        "_name",
        "_report",
        "_store",
        "_timeout_s",
        "_trial",
    )

    def __init__(
        self,
        store: BaseDocumentStore[Any],
        name: str,
        collection: str | None,
        timeout_s: float | None = None,
    ) -> None:
        # Deadline's fields: task and due are set when the deadline starts.
        self.expired = False
        self._store = store
        if timeout_s is None:
            settings = store.settings
            timeout_s = (
                settings.admin_timeout_s
                if name in ADMIN_OPERATIONS
                else settings.operation_timeout_s
            )
        self._timeout_s = timeout_s
        self._name = name
        self._collection = collection

    def _admit(self, streaming: bool) -> None:
        """Breaker and observers; raises at once when the breaker is open."""
        store = self._store
        self._trial = False
        self._report: ReadReport | None = None
        self._ends: list[OperationEnd] | None = None
        breaker = store.breaker
        if breaker is not None:
            admitted = breaker.admit()
            if admitted is None:
                error = store.unavailable_error(self._name, self._collection)
                if operations.observing:
                    ends = operations.start_observing(self._operation(streaming))
                    operations.finish_observing(ends, error)
                raise error
            self._trial = admitted
        if operations.observing:
            self._report = ReadReport()
            self._ends = operations.start_observing(self._operation(streaming))

    @property
    def report(self) -> ReadReport | None:
        """What backends note about this operation; None when nobody observes it."""
        return self._report

    def _operation(self, streaming: bool) -> Operation:
        store = self._store
        return Operation(
            self._name,
            store.name,
            store.driver,
            self._collection,
            streaming,
            store.settings,
            self._report,
        )

    def _finish(self, exc: BaseException | None) -> BaseException | None:
        """Settle the operation; returns the error the caller must see (``exc``
        itself, its translation, or a timeout), or None."""
        store = self._store
        store.deadlines.stop(self)
        error: BaseException | None = exc
        if self.expired and self.timed_out(exc):
            error = store.timeout_error(self._name, self._collection, self._timeout_s)
        breaker = store.breaker
        if error is None:  # the usual case
            if breaker is not None:
                breaker.succeeded(self._trial)
            if self._ends:
                operations.finish_observing(self._ends, None)
            return None
        if error is exc:
            error = store.translate(error, collection=self._collection)
        if breaker is not None:
            if isinstance(error, NoSQLConnectionError):
                if not is_settled(error):
                    settle(error)
                    breaker.failed(self._trial, store.cause(error))
                if error.retry_after is None:
                    error.retry_after = breaker.retry_after()
            elif isinstance(error, _NOT_OURS):
                breaker.abandoned(self._trial)
            else:
                breaker.succeeded(self._trial)
        if self._ends:
            operations.finish_observing(self._ends, error)
        return error


class OperationGuard(_Guarded):
    """``async with store.operation("insert_one", "users"):`` around one call.

    The usual call (breaker closed or off, nobody observing, no error, no expiry) takes the
    inline paths of ``__aenter__``/``__aexit__``; anything else goes through ``_admit`` and
    ``_finish``, as a streamed read does."""

    __slots__ = ("_nested", "_report_token")

    # Plain methods returning an awaitable: in the usual case the store's ``deadlines.ready``
    # (a done future), which costs less to await than a coroutine.

    def __aenter__(self) -> Awaitable[None]:
        store = self._store
        deadlines = store.deadlines
        loop = get_running_loop()
        if loop is not deadlines.loop:
            deadlines.move(loop)
        self.task = task = current_task(loop)
        operating = deadlines.operating
        if task in operating:
            self._nested = True  # the outer operation guards it
            return deadlines.ready
        self._nested = False
        breaker = store.breaker
        if operations.observing or (breaker is not None and not breaker.is_closed):
            self._admit(False)
            if self._report is not None:
                self._report_token = reads.reporting(self._report)
        else:  # _admit's outcome, when the breaker is closed and nobody observes
            self._trial = False
            self._report = self._ends = None
        operating[task] = None
        # The deadline starts (inline: see Deadlines).
        self.due = due = deadlines.clock() + self._timeout_s
        deadlines.inflight[self] = None
        if due < deadlines.timer_due:
            deadlines.arm(loop, due)
        if store.is_connected:  # the usual case
            return deadlines.ready
        return self._connect()

    async def _connect(self) -> None:
        """Connect a lazy store, within the operation's deadline."""
        try:
            await self._store.ensure_connected()
        except BaseException as exc:
            self._store.deadlines.operating.pop(self.task, None)
            self._exit(exc)
            raise

    def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> Awaitable[None]:
        store = self._store
        deadlines = store.deadlines
        nested = self._nested
        if not nested:
            deadlines.operating.pop(self.task, None)
        if exc is None and not nested and self._ends is None and not self.expired:
            # _exit's outcome in the usual case: nothing to translate, time out or observe.
            deadlines.inflight.pop(self, None)  # deadlines.stop(self), inline
            breaker = store.breaker
            if breaker is not None and (breaker.consecutive_failures or not breaker.is_closed):
                breaker.succeeded(self._trial)  # else it has nothing to reset
        else:
            self._exit(exc)
        return deadlines.ready

    def _exit(self, exc: BaseException | None) -> None:
        """Settle the operation (it has left ``deadlines.operating`` already) and raise what
        its caller must see, if that is not ``exc`` itself."""
        if self._nested:  # still translated, for the outer operation's own handling
            error = None if exc is None else self._store.translate(exc, collection=self._collection)
        else:
            if self._report is not None:
                reads.done(self._report_token)
            error = self._finish(exc)
        if error is not exc and error is not None:
            raise error from exc


class StreamGuard(_Guarded):
    """The guard of one streamed read: ``documents(open_stream)`` yields the stream's
    documents, each fetch bounded by the deadline, the whole stream one operation."""

    __slots__ = ("_done",)

    async def documents(
        self, open_stream: Callable[[], AsyncIterator[Any]], *, batches: bool = False
    ) -> AsyncGenerator[Document, None]:
        """Admit the stream (and connect a lazy store) within the first fetch's deadline,
        then bound each ``anext`` of the backend's iterator by ``operation_timeout_s``; the
        consumer's own time between documents is not bounded. Per fetch this is a few
        attribute writes: the deadline's task and due time are set in place. With
        ``batches`` the iterator yields lists of documents: one fetch per list."""
        self.task, self.due, self._done = None, math.inf, False
        self._admit(True)
        store = self._store
        deadlines = store.deadlines
        loop = asyncio.get_running_loop()
        timeout_s = self._timeout_s
        deadline: Deadline = self
        deadlines.stream(deadline)
        report = self._report  # None unless observed
        iterator: AsyncIterator[Any] | None = None
        try:
            deadlines.fetching(deadline, timeout_s)
            try:
                await store.ensure_connected()
            except BaseException as exc:
                self._failed(exc)
            if report is not None:
                report.items_returned = 0
            iterator = open_stream()
            fetch = iterator.__anext__
            while True:
                deadline.task = current_task(loop)
                deadline.due = due = loop.time() + timeout_s
                if due < deadlines.timer_due:
                    deadlines.fetching(deadline, timeout_s)
                # The backend notes its plan while it runs: make the report current there.
                token = None if report is None else reads.reporting(report)
                try:
                    document = await fetch()
                except StopAsyncIteration:
                    _fetched(deadline)
                    return
                except BaseException as exc:
                    self._failed(exc)
                finally:
                    if token is not None:
                        reads.done(token)
                deadline.due = math.inf  # arrived: the consumer's time is its own
                if deadline.expired:
                    _fetched(deadline)
                if not batches:
                    if report is not None:
                        report.items_returned = (report.items_returned or 0) + 1
                    yield document
                    continue
                for item in document:
                    if report is not None:
                        report.items_returned = (report.items_returned or 0) + 1
                    yield item
        finally:
            self._settle(None)
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def _settle(self, exc: BaseException | None) -> BaseException | None:
        """``_finish`` once: a failed fetch settles the stream before its ``finally`` does."""
        if self._done:
            return exc
        self._done = True
        return self._finish(exc)

    def _failed(self, exc: BaseException) -> NoReturn:
        """Raise what the caller must see for ``exc`` (translated, or a timeout)."""
        error = self._settle(exc)
        if error is not exc and error is not None:
            raise error from exc
        raise exc


def _fetched(deadline: Deadline) -> None:
    """A fetch completed: stop bounding it; if it expired just as it completed, drop our
    cancel request."""
    deadline.due = math.inf
    if deadline.expired:
        deadline.timed_out(None)
