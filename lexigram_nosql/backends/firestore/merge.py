"""Several async streams read concurrently, their items yielded as they arrive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, Final

__all__ = ["merge"]


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE: Final = object()


async def merge(streams: list[AsyncGenerator[Any, None]]) -> AsyncGenerator[Any, None]:
    """Items of several streams as they arrive; the streams are read concurrently."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)

    async def pump(stream: AsyncGenerator[Any, None]) -> None:
        try:
            async with contextlib.aclosing(stream) as items:
                async for item in items:
                    await queue.put(item)
        except Exception as exc:
            await queue.put(_Failure(exc))
            return
        await queue.put(_DONE)

    tasks = [asyncio.create_task(pump(stream)) for stream in streams]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, _Failure):
                raise item.error
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
