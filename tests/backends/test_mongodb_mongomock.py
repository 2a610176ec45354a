"""What CongoDB cannot show, checked in-process on mongomock-motor through the Motor client path:
string and other non-ObjectId ids stored as given, and unique indexes enforced with the index
and key named in ``DuplicateKeyError``. (mongomock-motor mocks Motor only, and has no sessions.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient

from lexigram_nosql.backends.mongodb import MongoDocumentStore, ServerInfo
from lexigram_nosql.config.mongodb import MongoDBStoreSettings
from lexigram_nosql.errors import DuplicateKeyError


class MongomockStore(MongoDocumentStore):
    """mongomock answers neither ``hello`` nor ``buildInfo`` the way a server does."""

    async def _describe_server(self) -> ServerInfo:
        return ServerInfo(version="mongomock", wire_version=0, topology="standalone")


def mongomock_client(uri: str, options: dict[str, Any]) -> Any:
    assert options["tz_aware"] is True  # the options the real clients get are passed along
    return AsyncMongoMockClient(tz_aware=True, uuidRepresentation="standard")


@pytest.fixture
async def store() -> AsyncIterator[MongoDocumentStore]:
    settings = MongoDBStoreSettings(
        name="mock", driver="mongodb", mongodb={"client": "motor", "database": "mock"}
    )
    instance = MongomockStore(settings, client_factory=mongomock_client)
    async with instance:
        yield instance


def raw(store: MongoDocumentStore, collection: str) -> Any:
    return store.client["mock"][collection]


async def test_non_hex_ids_are_stored_and_matched_as_given(store: MongoDocumentStore) -> None:
    coll = store.collection("c")
    result = await coll.insert_many([{"_id": "user-1"}, {"_id": 7}, {"_id": {"k": 1}}])
    assert result.inserted_ids == ["user-1", 7, {"k": 1}]
    stored = [d["_id"] async for d in raw(store, "c").find({})]
    assert stored == ["user-1", 7, {"k": 1}]
    assert await coll.find_one({"_id": "user-1"}) == {"_id": "user-1"}
    assert await coll.find_one({"_id": {"$in": [7, str(ObjectId())]}}) == {"_id": 7}
    assert await coll.count_documents({"_id": {"$nin": ["user-1"]}}) == 2


async def test_generated_and_hex_ids_still_become_object_ids(store: MongoDocumentStore) -> None:
    generated = (await store.collection("c").insert_one({"a": 1})).inserted_id
    hex_id = str(ObjectId())
    await store.collection("c").insert_one({"_id": hex_id})
    stored = {d["_id"] async for d in raw(store, "c").find({})}
    assert stored == {ObjectId(generated), ObjectId(hex_id)}


async def test_a_unique_index_violation_names_the_index_and_key(
    store: MongoDocumentStore,
) -> None:
    coll = store.collection("users")
    await coll.create_index("email", unique=True)
    await coll.insert_one({"_id": "u1", "email": "a@x"})
    with pytest.raises(DuplicateKeyError) as info:
        await coll.insert_one({"_id": "u2", "email": "a@x"})
    assert (info.value.index, info.value.key) == ("email_1", {"email": "a@x"})
    assert (info.value.store, info.value.collection) == ("mock", "users")


async def test_duplicates_in_insert_many_and_update_are_duplicate_key_errors(
    store: MongoDocumentStore,
) -> None:
    coll = store.collection("users")
    await coll.create_index("email", unique=True)
    with pytest.raises(DuplicateKeyError):  # mongomock names no key here; MongoDB does
        await coll.insert_many([{"email": "b@x"}, {"email": "b@x"}])
    assert await coll.count_documents({}) == 1  # ordered: the first one was written
    await coll.insert_one({"_id": "u3", "email": "c@x"})
    with pytest.raises(DuplicateKeyError):
        await coll.update_one({"_id": "u3"}, {"$set": {"email": "b@x"}})


async def test_a_duplicate_string_id_is_a_duplicate_key_error(store: MongoDocumentStore) -> None:
    await store.collection("c").insert_one({"_id": "same"})
    with pytest.raises(DuplicateKeyError) as info:  # mongomock names no key here
        await store.collection("c").insert_one({"_id": "same"})
    assert info.value.code == 11000
