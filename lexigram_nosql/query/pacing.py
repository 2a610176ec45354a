"""Sharing the event loop during long engine work.

The engine is synchronous Python running on the caller's event loop: a scan, a sort or a
``$group`` over many documents would otherwise hold the loop for as long as it runs, and every
other request of the process would wait. Long loops ask a ``Pacer`` after each item whether
their time slice is spent, and yield to the loop when it is, so no step holds it much longer
than ``SLICE_S`` plus the cost of one item (one regex is bounded by its own budget).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Callable, Iterable
from time import perf_counter
from typing import Any, Final, TypeVar

__all__ = ["SLICE_S", "Pacer", "paced", "paced_sort"]

T = TypeVar("T")

SLICE_S: Final = 0.005
"""How long engine work runs before it lets the event loop serve others."""

_SORT_CHUNK: Final = 1024
"""Items sorted in one go (a few milliseconds even with descending keys, compared in Python);
the sorted chunks are then merged lazily."""


class Pacer:
    """Tells a loop when its time slice is spent; ``pause`` yields to the event loop."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until = perf_counter() + SLICE_S

    def due(self) -> bool:
        return perf_counter() >= self._until

    async def pause(self) -> None:
        await asyncio.sleep(0)
        self._until = perf_counter() + SLICE_S

    async def tick(self) -> None:
        """Yield if the slice is spent (for loops that are not hot enough to inline ``due``)."""
        if perf_counter() >= self._until:
            await self.pause()


async def paced(stream: AsyncIterator[T], pacer: Pacer) -> AsyncIterator[T]:
    """``stream`` as is, yielding to the event loop between items when the slice is spent
    (async generators chained together never leave the loop on their own)."""
    try:
        async for item in stream:
            if pacer.due():
                await pacer.pause()
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def paced_sort(items: Iterable[T], key: Callable[[T], Any], pacer: Pacer) -> list[T]:
    """``sorted(items, key=key)`` (stable), in slices: keys are computed item by item,
    chunks sorted one at a time, and the chunks merged, yielding between them."""
    ranked: list[tuple[Any, int, T]] = []
    for position, item in enumerate(items):
        if pacer.due():
            await pacer.pause()
        ranked.append((key(item), position, item))  # the position breaks ties: stable
    chunks: list[list[tuple[Any, int, T]]] = []
    for start in range(0, len(ranked), _SORT_CHUNK):
        chunk = ranked[start : start + _SORT_CHUNK]
        chunk.sort(key=_rank)
        chunks.append(chunk)
        await pacer.tick()
    if len(chunks) == 1:
        return [entry[2] for entry in chunks[0]]
    ordered: list[T] = []
    for entry in heapq.merge(*chunks, key=_rank):
        if pacer.due():
            await pacer.pause()
        ordered.append(entry[2])
    return ordered


def _rank(entry: tuple[Any, int, Any]) -> tuple[Any, int]:
    return entry[0], entry[1]
