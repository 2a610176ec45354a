"""A DynamoDB table that vanishes under a running store (DynamoDB Local restarted in memory,
or deleted by an operator): with ``create_tables`` it is re-created and the call retried once;
without it the call says "table X is missing" and health fails, until the table is back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import ConfigurationError
from tests.support import backend_dynamodb

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture

Factory = Callable[..., Awaitable[Any]]


async def delete_table_behind_its_back(store: Any, collection: str) -> None:
    table = store.table_name(collection)
    await store.client.delete_table(TableName=table)
    waiter = store.client.get_waiter("table_not_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


async def test_with_create_tables_a_vanished_table_is_recreated_and_the_call_retried(
    dynamodb: Factory,
) -> None:
    store = await dynamodb(create_tables=True)
    coll = store.collection("events")
    await coll.insert_one({"_id": "before", "n": 1})
    await delete_table_behind_its_back(store, "events")

    await coll.insert_one({"_id": "after", "n": 2})  # one call: re-created, then written
    assert [d["_id"] async for d in coll.find({})] == ["after"]
    assert (await store.health_check()).status == "pass"

    await delete_table_behind_its_back(store, "events")
    assert await coll.count_documents({}) == 0  # reads heal too
    assert [d async for d in coll.find({"_id": "after"})] == []
    assert await coll.update_one({"_id": "x"}, {"$set": {"n": 3}}, upsert=True)
    assert await coll.find_one({"_id": "x"}) == {"_id": "x", "n": 3}


async def test_without_create_tables_the_error_and_health_say_the_table_is_missing(
    dynamodb: Factory,
) -> None:
    creator = await dynamodb(create_tables=True)
    prefix = creator.settings.dynamodb.table_prefix
    store = await dynamodb(create_tables=False, table_prefix=prefix)
    await creator.collection("orders").insert_one({"_id": "a"})
    assert await store.collection("orders").find_one({"_id": "a"}) == {"_id": "a"}
    assert (await store.health_check()).status == "pass"
    table = store.table_name("orders")

    await delete_table_behind_its_back(creator, "orders")
    health = await store.health_check()
    assert health.status == "fail"
    assert health.error == f"table {table} is missing"

    with pytest.raises(ConfigurationError, match=f"table {table} is missing") as info:
        await store.collection("orders").insert_one({"_id": "b"})
    assert info.value.store == store.name and info.value.collection == "orders"
    with pytest.raises(ConfigurationError, match=f"table {table} is missing"):
        await store.collection("orders").find_one({"_id": "a"})
    assert store.breaker.is_closed, "a missing table is not an outage of the server"

    await creator.collection("orders").insert_one({"_id": "c"})  # the table is back
    assert (await store.health_check()).status == "pass"
    await store.collection("orders").insert_one({"_id": "d"})
    assert await store.collection("orders").count_documents({}) == 2
