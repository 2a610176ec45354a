"""Every backend's public calls pass through the one per-operation wrapper: observed with
their store, collection and outcome, bounded by ``operation_timeout_s`` (a stream per batch
fetch, not the consumer's time). Stopped servers and the circuit breaker: tests/faults."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import (
    DuplicateKeyError,
    IndexModel,
    InsertOne,
    NoSQLConnectionError,
    Operation,
    OperationTimeoutError,
    UpdateOne,
    add_operation_observer,
    create_store,
)


@pytest.fixture
async def tuned(backend: Any) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Connected stores of the parametrized backend with extra store keys."""
    made: list[Any] = []

    async def make(**keys: Any) -> Any:
        build = getattr(backend, "create_store", create_store)
        store = build({**backend.settings(f"ops_{uuid.uuid4().hex[:8]}"), **keys})
        await store.connect()
        made.append(store)
        return store

    yield make
    for store in made:
        await backend.reset(store)
        await store.disconnect()


async def test_each_public_call_is_observed_once_with_its_outcome(store: Any) -> None:
    seen: list[tuple[str, str | None, bool, str | None]] = []

    def observer(operation: Operation) -> Callable[[BaseException | None], None] | None:
        if operation.store != store.name:
            return None

        def end(error: BaseException | None) -> None:
            outcome = None if error is None else type(error).__name__
            seen.append((operation.name, operation.collection, operation.streaming, outcome))

        return end

    remove = add_operation_observer(observer)
    try:
        coll = store.collection("observed")
        first = await coll.insert_one({"n": 1})
        with pytest.raises(DuplicateKeyError):
            await coll.insert_one({"_id": first.inserted_id})
        await coll.bulk_write([InsertOne({"n": 2}), UpdateOne({"n": 2}, {"$set": {"m": 2}})])
        assert sorted([d["n"] async for d in coll.find({})]) == [1, 2]
        assert await coll.count_documents({"m": 2}) == 1
        await coll.delete_many({})
    finally:
        remove()
    assert seen == [
        ("insert_one", "observed", False, None),
        ("insert_one", "observed", False, "DuplicateKeyError"),
        ("bulk_write", "observed", False, None),
        ("find", "observed", True, None),
        ("count_documents", "observed", False, None),
        ("delete_many", "observed", False, None),
    ]


async def test_a_call_over_operation_timeout_s_raises_naming_store_collection_operation(
    tuned: Callable[..., Awaitable[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2 s: room for the seeding insert (DynamoDB creates the table) on a loaded machine
    store = await tuned(operation_timeout_s=2, circuit_breaker=None)
    coll = store.collection("slow")
    await coll.insert_one({"n": 1})
    real_count = coll._count

    async def server_call_then_stall(query: Any) -> int:
        # the real request is in flight when the deadline cancels it
        count, _ = await asyncio.gather(real_count(query), asyncio.sleep(30))
        return int(count)

    monkeypatch.setattr(coll, "_count", server_call_then_stall)
    started = time.monotonic()
    with pytest.raises(OperationTimeoutError) as info:
        async with asyncio.timeout(10):
            await coll.count_documents({})
    assert time.monotonic() - started < 8
    error = info.value
    assert isinstance(error, NoSQLConnectionError)
    assert (error.store, error.collection, error.operation) == (
        store.name,
        "slow",
        "count_documents",
    )
    assert f"store {store.name!r}" in str(error) and "'slow'" in str(error)
    monkeypatch.undo()
    assert await coll.count_documents({}) == 1  # the store is fine afterwards


async def test_index_and_collection_changes_are_bounded_by_admin_timeout_s(
    tuned: Callable[..., Awaitable[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index build takes as long as the data: operation_timeout_s does not cut it short,
    admin_timeout_s does (and names itself)."""
    # 2 s: room for the seeding insert (DynamoDB creates the table) on a loaded machine
    store = await tuned(operation_timeout_s=2, admin_timeout_s=30, circuit_breaker=None)
    coll = store.collection("built")
    await coll.insert_one({"n": 1})
    real_create = coll._create_index

    async def long_build(spec: Any) -> str:
        await asyncio.sleep(2.5)
        return str(await real_create(spec))

    monkeypatch.setattr(coll, "_create_index", long_build)
    assert await coll.create_index("n") == "n_1"
    assert await coll.create_indexes([IndexModel("m")]) == ["m_1"]  # an index build too

    quick = await tuned(operation_timeout_s=30, admin_timeout_s=0.5, circuit_breaker=None)
    slow = quick.collection("built")
    await slow.insert_one({"n": 1})

    async def stalled_build(spec: Any) -> str:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    monkeypatch.setattr(slow, "_create_index", stalled_build)
    with pytest.raises(OperationTimeoutError) as info:
        async with asyncio.timeout(10):
            await slow.create_index("n")
    assert info.value.operation == "create_index" and "admin_timeout_s=0.5s" in str(info.value)


async def test_a_streamed_find_does_not_count_the_consumers_time(
    tuned: Callable[..., Awaitable[Any]],
) -> None:
    store = await tuned(operation_timeout_s=2)  # room for DynamoDB's table creation
    coll = store.collection("stream")
    await coll.insert_many([{"n": n} for n in range(4)])
    seen = []
    async with asyncio.timeout(20):
        async for document in coll.find({}, batch_size=2):
            seen.append(document["n"])
            await asyncio.sleep(0.6)  # 2.4 s in all, over operation_timeout_s
    assert sorted(seen) == list(range(4))
