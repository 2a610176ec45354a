"""A table that vanished under a running store (DynamoDB Local restarted in memory, or an
operator deleted it) heals instead of failing every call forever.

A primitive decorated here that meets ``ResourceNotFoundException`` makes the store forget the
table's cached description; with ``create_tables`` the table is re-created and the call
retried once, without it the call fails with "table X is missing" and the store's health
reports it (``DynamoDocumentStore.heal``). A stream is retried only when it failed before its
first document, so nothing is yielded twice.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from lexigram_nosql.backends.dynamodb.collection import DynamoCollection

__all__ = ["heals", "heals_stream"]

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C", bound="DynamoCollection")


def heals(
    method: Callable[Concatenate[C, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[C, P], Coroutine[Any, Any, T]]:
    """Retry ``method`` once after its table was re-created."""

    @functools.wraps(method)
    async def healing(self: C, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(self, *args, **kwargs)
        except Exception as exc:
            if not await self.store.heal(self.name, exc):
                raise
        return await method(self, *args, **kwargs)

    return healing


def heals_stream(
    method: Callable[Concatenate[C, P], AsyncIterator[Any]],
) -> Callable[Concatenate[C, P], AsyncIterator[Any]]:
    """The same for a stream that failed before its first document."""

    @functools.wraps(method)
    async def healing(self: C, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Any]:
        # Each stream is closed here when this one is (a stream left to the garbage collector
        # is closed by a task the event loop schedules: a wake-up of the loop per read).
        produced = False
        try:
            async with _closing(method(self, *args, **kwargs)) as items:
                async for item in items:
                    produced = True
                    yield item
            return
        except Exception as exc:
            if produced or not await self.store.heal(self.name, exc):
                raise
        async with _closing(method(self, *args, **kwargs)) as items:
            async for item in items:
                yield item

    return healing


def _closing(stream: AsyncIterator[Any]) -> contextlib.aclosing[AsyncGenerator[Any, None]]:
    return contextlib.aclosing(stream)  # type: ignore[arg-type]
