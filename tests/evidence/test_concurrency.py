"""Concurrent read-modify-write through one store never loses an acknowledged update.

Covered elsewhere, on every backend too: versioned repository saves from concurrent writers
(``tests/conformance/test_repository_versioning.py::test_concurrent_writers_lose_no_update``
and ``test_a_stale_save_raises_and_keeps_the_newer_write``) and five migrators started at once
(``tests/conformance/test_migrations_concurrency.py::test_concurrent_migrators_apply_each_
migration_once``; in separate processes in ``test_migrations_processes.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_nosql import ReturnDocument

WRITERS = 200
TIMEOUT_S = 60.0  # a lost wake-up or a retry loop would otherwise hang the suite


async def test_concurrent_increments_through_find_one_and_update_are_exact(store: Any) -> None:
    collection = store.collection("counters")
    counter = await collection.insert_one({"n": 0})
    key = {"_id": counter.inserted_id}

    async def bump(i: int) -> int:
        """The value this writer's increment produced, read from the returned document:
        half of the writers ask for it after the update, half for the one before."""
        after = i % 2 == 0
        returned = await collection.find_one_and_update(
            key,
            {"$inc": {"n": 1}},
            return_document=ReturnDocument.AFTER if after else ReturnDocument.BEFORE,
        )
        assert returned is not None
        return int(returned["n"]) + (0 if after else 1)

    async with asyncio.timeout(TIMEOUT_S):
        produced = await asyncio.gather(*(bump(i) for i in range(WRITERS)))

    final = await collection.find_one(key)
    assert final is not None and final["n"] == WRITERS
    # The returned documents are the ones each write made (or replaced): never a stale read.
    assert sorted(produced) == list(range(1, WRITERS + 1))


@pytest.mark.slow
async def test_concurrent_update_one_increments_are_exact(store: Any) -> None:
    collection = store.collection("counters")
    counter = await collection.insert_one({"n": 0, "tags": []})
    key = {"_id": counter.inserted_id}

    async def bump(i: int) -> None:
        result = await collection.update_one(key, {"$inc": {"n": 1}, "$push": {"tags": i}})
        assert result.modified_count == 1

    async with asyncio.timeout(TIMEOUT_S):
        await asyncio.gather(*(bump(i) for i in range(WRITERS)))

    final = await collection.find_one(key)
    assert final is not None and final["n"] == WRITERS
    assert sorted(final["tags"]) == list(range(WRITERS)), "no $push was lost either"
