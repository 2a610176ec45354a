"""Observing every store operation: the one extension point for tracing and metrics.

Every public call on a store or collection passes through one wrapper in the base store
(``lexigram_nosql.backends.guard``), which applies the store's deadline and circuit breaker
and tells the registered observers when the call starts and how it ends. An observer is a
callable taking the :class:`Operation` and returning either None or a callable that is
called exactly once with the error the caller will see (None on success)::

    def log_slow(operation: Operation) -> OperationEnd:
        started = time.perf_counter()

        def end(error: BaseException | None) -> None:
            if time.perf_counter() - started > 0.5:
                logger.info("slow %s on %s.%s", operation.name, operation.store,
                            operation.collection)

        return end

    remove = add_operation_observer(log_slow)

Both calls run in the caller's task and context, so a non-streaming operation may set and
reset context variables (an OpenTelemetry span made current) between them. A streamed read
(``find``, ``aggregate``; ``operation.streaming``) starts when its first batch is requested
and ends when the stream is exhausted, fails or is closed, possibly in another context.
Observers must be fast and must not raise (an exception from one is logged and ignored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lexigram_nosql.reads import ReadReport

__all__ = [
    "Operation",
    "OperationEnd",
    "OperationObserver",
    "add_operation_observer",
    "remove_operation_observer",
]

logger = logging.getLogger("lexigram_nosql")

OperationEnd = Callable[[BaseException | None], None]
"""Called once when an operation ends, with the error its caller sees, or None."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One public call: its method name (``insert_one``, ``find``, ``health_check``...), the
    store (name and driver) and the collection (None for store-level calls).

    ``settings`` are the store's (observers derive its database and server from them);
    ``report`` is filled while the call runs (its plan, items read and returned, see
    ``lexigram_nosql.reads``) and complete when the observer's end is called.
    """

    name: str
    store: str
    driver: str
    collection: str | None = None
    streaming: bool = False
    settings: Any = field(default=None, compare=False, repr=False)
    report: ReadReport | None = field(default=None, compare=False)


class OperationObserver(Protocol):
    """Told about each operation when it starts; returns what to call when it ends."""

    def __call__(self, operation: Operation) -> OperationEnd | None: ...


observing: tuple[OperationObserver, ...] = ()
"""The observers registered now: a tuple, replaced on change, so the per-operation wrapper
reads it without a lock, a copy or a call."""


def add_operation_observer(observer: OperationObserver) -> Callable[[], None]:
    """Observe every operation of every store from now on; returns a function removing it."""
    global observing
    observing = (*observing, observer)
    return lambda: remove_operation_observer(observer)


def remove_operation_observer(observer: OperationObserver) -> None:
    """Stop observing (a no-op when ``observer`` is not registered)."""
    global observing
    observing = tuple(o for o in observing if o is not observer)


def observers() -> tuple[OperationObserver, ...]:
    """The observers registered now."""
    return observing


def start_observing(operation: Operation) -> list[OperationEnd]:
    """Tell each observer that ``operation`` starts; the ends to call when it finishes."""
    ends: list[OperationEnd] = []
    for observer in observing:
        try:
            end = observer(operation)
        except Exception:
            logger.exception("Operation observer %r failed", observer)
            continue
        if end is not None:
            ends.append(end)
    return ends


def finish_observing(ends: list[OperationEnd], error: BaseException | None) -> None:
    """Call each end once (in reverse order, as nested context managers would exit)."""
    for end in reversed(ends):
        try:
            end(error)
        except Exception:
            logger.exception("Operation observer end %r failed", end)
