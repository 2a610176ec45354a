"""Writes that lose a race with another writer, on every backend: the store key
``conflict_retries`` bounds how often one is run again before ``ConcurrencyError``
(``backends/retry.py``). The read-then-conditional-write races of DynamoDB and Firestore have
their own cases in ``tests/backends/test_optimistic_writes.py``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import ConcurrencyError, DuplicateKeyError, create_store

Factory = Callable[[int], Awaitable[Any]]


@pytest.fixture
async def stores(backend: Any) -> AsyncIterator[Factory]:
    """Connected stores of the parametrized backend with ``conflict_retries`` as given."""
    made: list[Any] = []
    make = getattr(backend, "create_store", create_store)

    async def build(retries: int) -> Any:
        settings = backend.settings(f"test_{uuid.uuid4().hex[:8]}")
        instance = make({**settings, "conflict_retries": retries, "operation_timeout_s": 300.0})
        await instance.connect()
        made.append(instance)
        await backend.reset(instance)
        return instance

    yield build
    for instance in made:
        await backend.reset(instance)
        await instance.disconnect()


async def queue_losing_its_first_match(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[Any]]:
    """Collection ``queue`` (``a`` first by rank, then ``b``) where another writer takes the
    first match of a sorted update right after it was found (its ``state`` leaves
    ``"new"``), once."""
    collection = store.collection("queue")
    await collection.insert_many(
        [{"_id": "a", "rank": 1, "state": "new"}, {"_id": "b", "rank": 2, "state": "new"}]
    )
    original = collection._find_one
    taken: list[Any] = []

    async def find_then_lose_it(query: Any) -> Any:
        found = await original(query)
        if found is not None and not taken:
            taken.append(found["_id"])
            await collection.update_one({"_id": found["_id"]}, {"$set": {"state": "taken"}})
        return found

    monkeypatch.setattr(collection, "_find_one", find_then_lose_it)
    return collection, taken


async def test_a_sorted_update_that_lost_its_match_updates_the_next_one(
    stores: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await stores(1)
    queue, taken = await queue_losing_its_first_match(store, monkeypatch)
    result = await queue.update_one(
        {"state": "new"}, {"$set": {"state": "mine"}}, sort=[("rank", 1)]
    )
    assert result.matched_count == 1
    states = {d["_id"]: d["state"] async for d in queue.find()}
    if taken:
        assert states == {"a": "taken", "b": "mine"}
    else:  # the server sorts updates itself (MongoDB 8.0): there was no race to lose
        assert states == {"a": "mine", "b": "new"}


async def test_a_sorted_update_fails_at_the_first_lost_race_with_no_retries(
    stores: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await stores(0)
    queue, _ = await queue_losing_its_first_match(store, monkeypatch)
    if store.driver == "mongodb" and queue._takes_sorted_updates():
        pytest.skip("the server sorts updates itself (MongoDB 8.0): no race to lose")
    with pytest.raises(ConcurrencyError) as info:
        await queue.update_one({"state": "new"}, {"$set": {"state": "mine"}}, sort=[("rank", 1)])
    error = info.value
    assert (error.store, error.collection) == (store.name, "queue")
    assert "update_one with sort" in str(error) and "conflict_retries=0" in str(error)
    assert {d["_id"]: d["state"] async for d in queue.find()} == {"a": "taken", "b": "new"}


async def test_the_limit_is_a_store_setting(stores: Factory) -> None:
    assert (await stores(0)).settings.conflict_retries == 0
    assert (await stores(3)).settings.conflict_retries == 3


@pytest.mark.parametrize("retries", [0, 8])
async def test_an_upsert_whose_id_is_taken_by_a_non_matching_document_is_a_duplicate(
    stores: Factory, retries: int
) -> None:
    """MongoDB's E11000, not a race to retry, whatever ``conflict_retries`` says."""
    store = await stores(retries)
    collection = store.collection("jobs")
    await collection.insert_one({"_id": "a", "state": "new"})
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "a", "state": "done"}, {"$set": {"n": 1}}, upsert=True)
    with pytest.raises(DuplicateKeyError):
        await collection.find_one_and_update(
            {"_id": "a", "state": "done"}, {"$set": {"n": 1}}, upsert=True
        )
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "state": "new"}
