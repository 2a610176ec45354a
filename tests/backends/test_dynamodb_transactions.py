"""``store.transaction()`` on DynamoDB: buffered writes sent as one TransactWriteItems, with
cancellation reasons mapped to our errors."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql.backends.dynamodb.transactions import TransactionBuffer, cancellation_error
from lexigram_nosql.backends.dynamodb.updates import WriteRequest
from lexigram_nosql.errors import ConcurrencyError, DuplicateKeyError, TransactionError
from tests.support import backend_dynamodb

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture
Factory = Callable[..., Awaitable[Any]]


async def test_writes_commit_together(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    users, audit = store.collection("users"), store.collection("audit")
    await users.insert_one({"_id": "u1", "credits": 10})
    await audit.insert_one({"_id": "seed"})
    calls: list[dict[str, Any]] = []
    original = store.client.transact_write_items

    async def recording(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", recording)
    async with store.transaction():
        await users.update_one({"_id": "u1"}, {"$inc": {"credits": -3}})
        await audit.insert_one({"_id": "a1", "what": "spent 3"})
        # Nothing is sent before the block exits.
        assert calls == []
    assert len(calls) == 1
    assert [next(iter(item)) for item in calls[0]["TransactItems"]] == ["Update", "Put"]
    assert (await users.find_one({"_id": "u1"}))["credits"] == 7
    assert await audit.find_one({"_id": "a1"}) == {"_id": "a1", "what": "spent 3"}


async def test_an_exception_discards_every_write(dynamodb: Factory) -> None:
    store = await dynamodb()
    users = store.collection("users")
    await users.insert_one({"_id": "u1", "n": 1})
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await users.insert_one({"_id": "u2"})
            await users.delete_one({"_id": "u1"})
            raise RuntimeError("boom")
    assert [d["_id"] async for d in users.find({})] == ["u1"]


async def test_more_than_100_writes_is_a_clear_error(dynamodb: Factory) -> None:
    store = await dynamodb()
    users = store.collection("users")
    await users.insert_one({"_id": "seed"})
    with pytest.raises(TransactionError, match="at most 100"):
        async with store.transaction():
            await users.insert_many([{"_id": i} for i in range(101)])
    assert await users.count_documents({}) == 1


async def test_an_existing_id_cancels_with_duplicate_key(dynamodb: Factory) -> None:
    store = await dynamodb()
    users = store.collection("users")
    await users.insert_one({"_id": "u1"})
    with pytest.raises(DuplicateKeyError) as info:
        async with store.transaction():
            await users.insert_one({"_id": "u2"})
            await users.insert_one({"_id": "u1"})
    assert info.value.key == {"_id": "u1"} and info.value.code == 11000
    assert await users.find_one({"_id": "u2"}) is None


async def test_a_document_changed_before_commit_cancels_with_concurrency(
    dynamodb: Factory,
) -> None:
    store = await dynamodb()
    users = store.collection("users")
    await users.insert_one({"_id": "u1", "state": "new", "n": 0})
    with pytest.raises(ConcurrencyError):
        async with store.transaction():
            await users.update_one({"_id": "u1", "state": "new"}, {"$set": {"n": 1}})
            # Another writer (outside this transaction) changes what the update read.
            await store.client.update_item(
                TableName=store.table_name("users"),
                Key={"_id": {"S": "u1"}},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": {"S": "done"}},
            )
    assert await users.find_one({"_id": "u1"}) == {"_id": "u1", "state": "done", "n": 0}


async def test_an_inserted_document_has_no_version_and_its_changes_still_conflict(
    dynamodb: Factory,
) -> None:
    """An insert writes no version attribute (its absence is version 0); the first write of
    another store after the block read the document still cancels the block's commit."""
    store = await dynamodb()
    other = await dynamodb(table_prefix=store.settings.dynamodb.table_prefix)
    users = store.collection("users")
    await users.insert_one({"_id": "u1", "n": 0})
    response = await store.client.get_item(
        TableName=store.table_name("users"), Key={"_id": {"S": "u1"}}
    )
    assert "__lx:v" not in response["Item"]
    with pytest.raises(ConcurrencyError):
        async with store.transaction():
            await users.update_one({"_id": "u1"}, {"$set": {"n": 1}})
            await other.collection("users").update_one({"_id": "u1"}, {"$inc": {"n": 5}})
    assert await users.find_one({"_id": "u1"}) == {"_id": "u1", "n": 5}


async def test_reads_see_the_blocks_own_writes_and_one_action_per_document(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    users = store.collection("users")
    await users.insert_many([{"_id": "u1", "n": 0}, {"_id": "u2", "n": 0}])
    calls: list[dict[str, Any]] = []
    original = store.client.transact_write_items

    async def recording(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", recording)
    async with store.transaction():
        await users.update_one({"_id": "u1"}, {"$set": {"n": 1}})
        await users.update_one({"_id": "u1"}, {"$inc": {"n": 1}})
        await users.insert_one({"_id": "u3", "n": 7})
        await users.delete_one({"_id": "u2"})
        assert await users.find_one({"_id": "u1"}) == {"_id": "u1", "n": 2}
        assert sorted([d["_id"] async for d in users.find({"n": {"$gt": 0}})]) == ["u1", "u3"]
        assert await users.count_documents({}) == 2
        with pytest.raises(DuplicateKeyError):
            await users.insert_one({"_id": "u3"})
    actions = calls[0]["TransactItems"]
    assert [next(iter(a)) for a in actions] == ["Put", "Put", "Delete"]
    assert sorted([(d["_id"], d["n"]) async for d in users.find({})]) == [("u1", 2), ("u3", 7)]


async def test_a_write_lost_to_a_concurrent_transaction_is_a_conflict(
    dynamodb: Factory,
) -> None:
    store = await dynamodb()
    counters = store.collection("counters")
    await counters.insert_one({"_id": "c", "n": 0})
    with pytest.raises(ConcurrencyError):
        async with store.transaction():
            current = await counters.find_one({"_id": "c"})
            assert current is not None
            # Another writer commits first; this block's write was computed from n=0.
            outside = contextvars.Context()  # a task that does not inherit the transaction
            await asyncio.create_task(
                counters.update_one({"_id": "c"}, {"$inc": {"n": 5}}), context=outside
            )
            await counters.update_one({"_id": "c"}, {"$set": {"n": current["n"] + 1}})
    assert (await counters.find_one({"_id": "c"}))["n"] == 5


@pytest.mark.parametrize(
    ("purpose", "code", "expected"),
    [
        ("insert", "ConditionalCheckFailed", DuplicateKeyError),
        ("update", "ConditionalCheckFailed", ConcurrencyError),
        ("delete", "ConditionalCheckFailed", ConcurrencyError),
        ("update", "TransactionConflict", ConcurrencyError),
        ("update", "ThrottlingError", TransactionError),
        ("update", "ValidationError", TransactionError),
    ],
)
def test_cancellation_reasons_map_to_our_errors(
    purpose: Any, code: str, expected: type[Exception]
) -> None:
    buffer = TransactionBuffer("s")
    buffer.add(WriteRequest("Put", {"TableName": "t"}, "insert", "ok", {"_id": {"S": "ok"}}))
    buffer.add(WriteRequest("Update", {"TableName": "t"}, purpose, "k", {"_id": {"S": "k"}}))
    error = cancellation_error(buffer, {"CancellationReasons": [{"Code": "None"}, {"Code": code}]})
    assert type(error) is expected
    assert error.store == "s"


async def test_reading_a_document_changed_since_the_first_read_is_a_conflict(
    dynamodb: Factory,
) -> None:
    store = await dynamodb()
    counters = store.collection("counters")
    await counters.insert_one({"_id": "c", "n": 0})
    with pytest.raises(ConcurrencyError, match="changed after the transaction first read"):
        async with store.transaction():
            await counters.find_one({"_id": "c"})
            outside = contextvars.Context()
            await asyncio.create_task(
                counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}), context=outside
            )
            await counters.find_one({"_id": "c"})
