"""DynamoDB and Firestore write optimistically: read a document, then write it conditioned on
what was read. Another writer (here a second store on the same data, as another process
would be) changes the document in between; the write is then run again from a fresh read, at
most ``conflict_retries`` times (``backends/retry.py``), and never half-applied."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import ConcurrencyError, ReturnDocument, create_store
from tests.support import backend_dynamodb, backend_firestore
from tests.support.backends import services_required

Factory = Callable[[int], Awaitable[tuple[Any, Any]]]


@pytest.fixture(params=[backend_dynamodb, backend_firestore], ids=lambda m: m.ID)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """``await pair(retries)``: a store with ``conflict_retries=retries`` and a second store
    on the same data (the other writer)."""
    async for factory in _pairs(request.param):
        yield factory


@pytest.fixture
async def backend_dynamodb_pair() -> AsyncIterator[Factory]:
    async for factory in _pairs(backend_dynamodb):
        yield factory


async def _pairs(module: Any) -> AsyncIterator[Factory]:
    reason = module.unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"{module.ID} test server is required but {reason}")
        pytest.skip(f"{module.ID}: {reason}")
    made: list[Any] = []

    async def build(retries: int) -> tuple[Any, Any]:
        settings = {**module.settings(f"race_{uuid.uuid4().hex[:8]}"), "conflict_retries": retries}
        store = create_store(settings)
        other = create_store(store.settings)
        for instance in (store, other):
            await instance.connect()
            made.append(instance)
        return store, other

    yield build
    if made:
        await module.reset(made[0])
    for instance in made:
        await instance.disconnect()


def interfere_once(
    collection: Any, monkeypatch: pytest.MonkeyPatch, action: Callable[[Any], Awaitable[Any]]
) -> list[Any]:
    """Run ``action(_id)`` (the other writer) right after the collection's next read of a
    first match (``_id``: the match's, None when there was none), once; the returned list
    then holds that ``_id``."""
    original = collection._first
    ran: list[Any] = []

    async def read_then_interfere(*args: Any, **kwargs: Any) -> Any:
        found = await original(*args, **kwargs)
        if not ran:
            document = None if found is None else getattr(found, "document", None)
            if found is not None and document is None:
                document = found[1]  # DynamoDB's row: (item, document)
            ran.append(None if document is None else document["_id"])
            await action(ran[0])
        return found

    monkeypatch.setattr(collection, "_first", read_then_interfere)
    return ran


async def jobs_raced(
    pair: Factory, retries: int, monkeypatch: pytest.MonkeyPatch, state: str
) -> tuple[Any, Any, list[Any]]:
    """A store (``conflict_retries=retries``), its collection ``jobs`` (``a`` and ``b``, both
    ``new``) whose next first match gets ``state`` from the other writer right after the
    read, and the list ``interfere_once`` fills."""
    store, other = await pair(retries)
    jobs = store.collection("jobs")
    await jobs.insert_many(
        [{"_id": "a", "state": "new", "n": 0}, {"_id": "b", "state": "new", "n": 0}]
    )

    async def take(taken: Any) -> None:
        await other.collection("jobs").update_one({"_id": taken}, {"$set": {"state": state}})

    return store, jobs, interfere_once(jobs, monkeypatch, take)


async def test_an_update_that_lost_a_race_is_run_again_on_the_fresh_document(
    pair: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, jobs, ran = await jobs_raced(pair, 1, monkeypatch, "seen")
    result = await jobs.update_one({"state": {"$in": ["new", "seen"]}}, {"$inc": {"n": 1}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await jobs.find_one({"_id": ran[0]}) == {"_id": ran[0], "state": "seen", "n": 1}


async def test_with_no_retries_the_first_lost_race_raises_and_writes_nothing(
    pair: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, jobs, ran = await jobs_raced(pair, 0, monkeypatch, "seen")
    with pytest.raises(ConcurrencyError) as info:
        await jobs.update_one({"state": {"$in": ["new", "seen"]}}, {"$inc": {"n": 1}})
    error = info.value
    assert (error.store, error.collection, error.key) == (store.name, "jobs", ran[0])
    assert "lost the race with another writer 1 time (conflict_retries=0)" in str(error)
    assert [d async for d in jobs.find({"n": {"$ne": 0}})] == []


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_delete_whose_match_went_away_deletes_the_next_match(
    pair: Factory, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    """``delete_one`` deletes one document that matches when it runs: the first match was
    taken by the other writer between the read and the delete, so (within the limit) the
    next match goes."""
    _, jobs, ran = await jobs_raced(pair, retries, monkeypatch, "taken")
    if retries == 0:
        with pytest.raises(ConcurrencyError, match="delete_one"):
            await jobs.delete_one({"state": "new"})
        assert await jobs.count_documents({}) == 2
        return
    assert (await jobs.delete_one({"state": "new"})).deleted_count == 1
    assert [d["_id"] async for d in jobs.find()] == ran


async def test_find_one_and_update_after_a_lost_race_returns_the_document_it_changed(
    pair: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, jobs, ran = await jobs_raced(pair, 2, monkeypatch, "taken")
    found = await jobs.find_one_and_update(
        {"state": "new"}, {"$set": {"state": "mine"}}, return_document=ReturnDocument.AFTER
    )
    untouched = "b" if ran[0] == "a" else "a"
    assert found == {"_id": untouched, "state": "mine", "n": 0}


async def test_an_upsert_that_lost_the_insert_updates_the_winner_without_a_retry(
    pair: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another upsert inserted the document between our read (nothing) and our insert: ours
    then updates it, as MongoDB's server would, even with no retries allowed."""
    store, other = await pair(0)
    jobs = store.collection("jobs")
    ran = interfere_once(
        jobs,
        monkeypatch,
        lambda _: other.collection("jobs").insert_one({"_id": "u", "kind": "k", "n": 10}),
    )
    result = await jobs.update_one({"_id": "u", "kind": "k"}, {"$inc": {"n": 1}}, upsert=True)
    assert ran == [None] and (result.matched_count, result.upserted_id) == (1, None)
    assert await jobs.find_one({"_id": "u"}) == {"_id": "u", "kind": "k", "n": 11}


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_guarded_dynamodb_write_that_met_another_transaction_is_sent_again(
    backend_dynamodb_pair: Factory, monkeypatch: pytest.MonkeyPatch, retries: int
) -> None:
    """DynamoDB cancels a transaction that meets another on the same items
    (``TransactionConflict``): the write and its unique-index guards go again, within the
    limit. The conflict is injected once (DynamoDB Local rarely produces one on demand)."""
    from botocore.exceptions import ClientError

    store, _ = await backend_dynamodb_pair(retries)
    users = store.collection("users")
    await users.create_index([("email", 1)], unique=True)
    original = store.client.transact_write_items
    conflicts: list[bool] = []

    async def conflict_once(**kwargs: Any) -> Any:
        if not conflicts:
            conflicts.append(True)
            reasons = [{"Code": "None"} for _ in kwargs["TransactItems"]]
            reasons[-1] = {"Code": "TransactionConflict"}
            response = {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": reasons,
            }
            raise ClientError(response, "TransactWriteItems")
        return await original(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", conflict_once)
    if retries == 0:
        with pytest.raises(ConcurrencyError, match="unique-index guards") as info:
            await users.insert_one({"_id": "u1", "email": "a@x"})
        assert info.value.collection == "users"
        assert await users.count_documents({}) == 0
        return
    await users.insert_one({"_id": "u1", "email": "a@x"})
    assert conflicts and await users.find_one({"_id": "u1"}) == {"_id": "u1", "email": "a@x"}
