"""Indexes created and dropped by several processes at once: every store on the same data
ends up with all of them (the backends that record index specs beside the data keep that
record consistent under concurrent changes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lexigram_nosql import create_store
from tests.conformance.support import seeded

FIELDS = ("f0", "f1", "f2")


@asynccontextmanager
async def processes(store: Any, backend: Any, count: int) -> AsyncIterator[list[Any]]:
    """``count`` more stores on ``store``'s data, as other processes would open them."""
    make = getattr(backend, "create_store", create_store)
    others = [make(store.settings) for _ in range(count)]
    try:
        for other in others:
            await other.connect()
        yield others
    finally:
        for other in others:
            await other.disconnect()


async def index_names(store: Any, backend: Any, collection: str) -> set[str]:
    """The index names a newly opened store sees."""
    async with processes(store, backend, 1) as (fresh,):
        again = fresh.collection(collection)
        assert await again.count_documents({}) == 1, "the new store sees the same data"
        return {info.name for info in await again.list_indexes()}


async def test_unique_indexes_created_at_once_by_several_processes_are_all_kept(
    store: Any, backend: Any
) -> None:
    collection = await seeded(store, [{"f0": 0, "f1": 1, "f2": 2}])
    async with processes(store, backend, len(FIELDS)) as others:
        await asyncio.gather(
            *(
                other.collection(collection.name).create_index(field, unique=True)
                for other, field in zip(others, FIELDS, strict=True)
            )
        )
    names = await index_names(store, backend, collection.name)
    assert {f"{field}_1" for field in FIELDS} <= names


async def test_indexes_dropped_at_once_by_several_processes_are_all_gone(
    store: Any, backend: Any
) -> None:
    # Partial indexes: recorded like unique ones, without a DynamoDB secondary index each
    # (DynamoDB Local answers InternalFailure while two of a table's are deleted at once).
    collection = await seeded(store, [{"f0": 0, "f1": 1, "f2": 2}])
    for field in FIELDS:
        await collection.create_index(field, partialFilterExpression={field: {"$gt": 0}})
    async with processes(store, backend, 2) as others:
        await asyncio.gather(
            *(
                other.collection(collection.name).drop_index(f"{field}_1")
                for other, field in zip(others, FIELDS, strict=False)
            )
        )
    names = await index_names(store, backend, collection.name)
    assert {f"{field}_1" for field in FIELDS} & names == {"f2_1"}
