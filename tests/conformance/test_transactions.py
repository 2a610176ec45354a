"""Transactions: ambient (every operation of the store inside the block joins), committed on
exit, rolled back on exception, isolated, and safe under concurrency."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from lexigram_nosql import ConcurrencyError, DuplicateKeyError, TransactionError
from tests.conformance.support import REFUSED, TRANSACTIONS, attempt, collect, seeded


class Boom(Exception):
    pass


async def in_transaction(store: Any, body: Any) -> Any:
    """Run ``body`` inside ``store.transaction()``; REFUSED when the backend has none."""

    async def run() -> Any:
        async with store.transaction():
            return await body()

    return await attempt(store, [TRANSACTIONS], run)


async def test_commit_makes_every_write_visible(store: Any) -> None:
    accounts = await seeded(store, [{"_id": "a", "balance": 100}, {"_id": "b", "balance": 0}])
    log = store.collection("tx_log")

    async def transfer() -> None:
        await accounts.update_one({"_id": "a"}, {"$inc": {"balance": -30}})
        await accounts.update_one({"_id": "b"}, {"$inc": {"balance": 30}})
        await log.insert_one({"_id": "t1", "amount": 30})

    if await in_transaction(store, transfer) is REFUSED:
        return
    assert await accounts.find_one({"_id": "a"}) == {"_id": "a", "balance": 70}
    assert await accounts.find_one({"_id": "b"}) == {"_id": "b", "balance": 30}
    assert await log.find_one({"_id": "t1"}) == {"_id": "t1", "amount": 30}


async def test_exception_rolls_everything_back(store: Any) -> None:
    accounts = await seeded(store, [{"_id": "a", "balance": 100}, {"_id": "b", "balance": 0}])
    if not store.capabilities.transactions:
        await in_transaction(store, lambda: asyncio.sleep(0))
        return
    with pytest.raises(Boom):
        async with store.transaction():
            await accounts.update_one({"_id": "a"}, {"$inc": {"balance": -30}})
            await accounts.insert_one({"_id": "c", "balance": 5})
            await accounts.delete_one({"_id": "b"})
            await accounts.replace_one({"_id": "a"}, {"balance": 1})
            raise Boom
    assert sorted((d["_id"], d["balance"]) for d in await collect(accounts.find())) == [
        ("a", 100),
        ("b", 0),
    ]


async def test_reads_inside_see_own_writes(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1}])

    async def body() -> Any:
        await collection.update_one({"_id": "a"}, {"$set": {"n": 2}})
        await collection.insert_one({"_id": "b", "n": 3})
        return (await collection.find_one({"_id": "a"}), await collection.count_documents({}))

    seen = await in_transaction(store, body)
    if seen is not REFUSED:
        assert seen == ({"_id": "a", "n": 2}, 2)


async def test_uncommitted_writes_are_invisible_outside(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1}])
    if not store.capabilities.transactions:
        await in_transaction(store, lambda: asyncio.sleep(0))
        return
    written = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with store.transaction():
            await collection.update_one({"_id": "a"}, {"$set": {"n": 2}})
            written.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await written.wait()
    # Outside the transaction: either the committed value now, or (on stores that serialize)
    # a read that waits for the commit. Never the uncommitted 2 before the commit.
    read = asyncio.create_task(collection.find_one({"_id": "a"}))
    await asyncio.sleep(0.05)
    if read.done():
        assert read.result() == {"_id": "a", "n": 1}
    release.set()
    await task
    if not read.done():
        assert await read == {"_id": "a", "n": 2}
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 2}


async def test_duplicate_inside_a_transaction_rolls_back_earlier_writes(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    if not store.capabilities.transactions:
        await in_transaction(store, lambda: asyncio.sleep(0))
        return
    with pytest.raises(DuplicateKeyError):
        async with store.transaction():
            await collection.insert_one({"_id": "b"})
            await collection.insert_one({"_id": "a"})
    assert [d["_id"] async for d in collection.find()] == ["a"]


async def test_nested_block_joins_the_outer_transaction(store: Any) -> None:
    collection = await seeded(store, [])
    if not store.capabilities.transactions:
        await in_transaction(store, lambda: asyncio.sleep(0))
        return
    with pytest.raises(Boom):
        async with store.transaction():
            async with store.transaction():
                await collection.insert_one({"_id": "inner"})
            raise Boom
    assert await collection.count_documents({}) == 0


async def test_concurrent_transactions_do_not_lose_writes(store: Any) -> None:
    counters = await seeded(store, [{"_id": "c", "n": 0}])
    if not store.capabilities.transactions:
        await in_transaction(store, lambda: asyncio.sleep(0))
        return

    async def increment(seed: int) -> None:
        # Read-modify-write: only safe if transactions are isolated from each other.
        backoff = random.Random(seed)
        for _ in range(100):
            try:
                async with store.transaction():
                    current = await counters.find_one({"_id": "c"})
                    assert current is not None
                    await asyncio.sleep(0)
                    await counters.update_one({"_id": "c"}, {"$set": {"n": current["n"] + 1}})
                return
            except (ConcurrencyError, TransactionError):
                # A conflict (optimistic stores): retry with jittered backoff, as callers must.
                await asyncio.sleep(backoff.uniform(0.001, 0.05))
        raise AssertionError("transaction kept conflicting")

    await asyncio.gather(*(increment(seed) for seed in range(10)))
    assert await counters.find_one({"_id": "c"}) == {"_id": "c", "n": 10}


async def test_concurrent_atomic_increments_are_exact(store: Any) -> None:
    counters = await seeded(store, [{"_id": "c", "n": 0}])
    await asyncio.gather(
        *(counters.find_one_and_update({"_id": "c"}, {"$inc": {"n": 1}}) for _ in range(50))
    )
    assert await counters.find_one({"_id": "c"}) == {"_id": "c", "n": 50}
