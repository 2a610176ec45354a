"""``memory.emulate``: the memory store enforces the production backend's limits, so a test
suite on memory refuses what production would (issue 11, item 4)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import (
    ConfigurationError,
    DocumentTooLargeError,
    UnsupportedQueryError,
    create_store,
)


@pytest.fixture(params=["mongodb", "dynamodb", "firestore"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    instance = create_store(
        {"name": "emulated", "driver": "memory", "memory": {"emulate": request.param}}
    )
    await instance.connect()
    yield instance
    await instance.disconnect()


def emulating(store: Any) -> str:
    return str(store.settings.memory.emulate)


async def test_default_is_mongodb() -> None:
    store = create_store({"name": "m", "driver": "memory"})
    assert store.settings.memory.emulate == "mongodb"
    assert store.capabilities.refused == frozenset()


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        create_store({"name": "m", "driver": "memory", "memory": {"emulate": "cassandra"}})
    assert info.value.path == "memory.emulate"


async def test_document_size_limit_is_the_emulated_backends(store: Any) -> None:
    collection = store.collection("sizes")
    limits = {"mongodb": 16 * 1024 * 1024, "dynamodb": 400 * 1024, "firestore": 1024 * 1024}
    limit = limits[emulating(store)]
    await collection.insert_one({"_id": "fits", "s": "x" * (limit - 1000)})
    with pytest.raises(DocumentTooLargeError):
        await collection.insert_one({"_id": "over", "s": "x" * (limit + 10)})
    with pytest.raises(DocumentTooLargeError):
        await collection.update_one({"_id": "fits"}, {"$set": {"t": "y" * 2000}})
    assert await collection.count_documents({}) == 1


async def test_nesting_limit_is_the_emulated_backends(store: Any) -> None:
    collection = store.collection("nesting")
    deep: Any = 1
    for _ in range(40):
        deep = {"d": deep}
    if emulating(store) == "mongodb":
        await collection.insert_one({"_id": "deep", "v": deep})
        assert await collection.count_documents({}) == 1
        return
    with pytest.raises(UnsupportedQueryError, match="levels"):
        await collection.insert_one({"_id": "deep", "v": deep})
    assert await collection.count_documents({}) == 0


async def test_value_types_are_the_emulated_backends(store: Any) -> None:
    collection = store.collection("types")
    refuses = "BSON-only values" in store.capabilities.refused
    assert refuses == (emulating(store) != "mongodb")
    if refuses:
        with pytest.raises(UnsupportedQueryError):
            await collection.insert_one({"_id": "u", "u": uuid.UUID(int=1)})
        assert await collection.count_documents({}) == 0
    else:
        await collection.insert_one({"_id": "u", "u": uuid.UUID(int=1)})
    nan_refused = "NaN and infinity" in store.capabilities.refused
    assert nan_refused == (emulating(store) == "dynamodb")
    if nan_refused:
        with pytest.raises(UnsupportedQueryError, match="NaN"):
            await collection.insert_one({"_id": "n", "n": float("nan")})
    nested_refused = "nested arrays" in store.capabilities.refused
    assert nested_refused == (emulating(store) == "firestore")
    if nested_refused:
        with pytest.raises(UnsupportedQueryError, match="inside an array"):
            await collection.insert_one({"_id": "g", "grid": [[1]]})


async def test_id_length_limit_is_the_emulated_backends(store: Any) -> None:
    collection = store.collection("ids")
    long_id = "i" * 2100  # over DynamoDB's 2,048-byte keys and Firestore's 1,500-byte ids
    if emulating(store) == "mongodb":
        await collection.insert_one({"_id": long_id})
        assert await collection.find_one({"_id": long_id}) == {"_id": long_id}
        return
    with pytest.raises(UnsupportedQueryError, match=r"_id|bytes"):
        await collection.insert_one({"_id": long_id})
    assert await collection.count_documents({}) == 0


async def test_upserts_are_held_to_the_same_limits() -> None:
    store = create_store({"name": "f", "driver": "memory", "memory": {"emulate": "firestore"}})
    await store.connect()
    collection = store.collection("upserts")
    with pytest.raises(UnsupportedQueryError, match="inside an array"):
        await collection.update_one({"_id": "u"}, {"$set": {"grid": [[1]]}}, upsert=True)
    assert await collection.count_documents({}) == 0
    await store.disconnect()
