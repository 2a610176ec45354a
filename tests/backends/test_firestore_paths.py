"""Firestore: a path name is the native subcollection; other names Firestore would refuse as
collection ids are stored escaped, and read back as given."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql.backends.firestore.group import FirestoreGroupReader
from tests.backends.test_firestore import refuse_for_want_of_an_index, store

__all__ = ["store"]


async def native_ids(reference: Any) -> list[str]:
    return sorted([snapshot.id async for snapshot in reference.stream()])


async def test_a_path_name_is_the_native_subcollection(store: Any) -> None:
    await store.collection("users").insert_one({"_id": "u1", "name": "Ada"})
    await store.collection("users/u1/orders").insert_one({"_id": "o1", "total": 5})
    native = store.client.collection("users").document("u1").collection("orders")
    assert await native_ids(native) == ["o1"]
    assert sorted(await store.list_collections()) == ["users", "users/u1/orders"]


async def test_a_subcollection_under_a_missing_parent_is_listed(store: Any) -> None:
    await store.collection("users/ghost/orders/o1/items").insert_one({"_id": "i1"})
    native = store.client.collection("users/ghost/orders/o1/items")
    assert await native_ids(native) == ["i1"]
    assert await store.list_collections() == ["users/ghost/orders/o1/items"]


async def test_names_firestore_refuses_are_stored_escaped(store: Any) -> None:
    for name in ("a/b", "__reserved__", "~tilde"):
        await store.collection(name).insert_one({"_id": "d"})
    top_level = sorted([reference.id async for reference in store.client.collections()])
    assert top_level == ["~__reserved__", "~a%2Fb", "~~tilde"]
    assert await store.list_collections() == ["__reserved__", "a/b", "~tilde"]


async def test_a_group_is_one_native_collection_group_query(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.collection("orders").insert_one({"_id": "t1", "total": 3})
    await store.collection("users/u1/orders").insert_one({"_id": "a1", "total": 8})
    groups: list[str] = []
    native = store.client.collection_group

    def spy(collection_id: str) -> Any:
        groups.append(collection_id)
        return native(collection_id)

    def no_listing() -> Any:
        raise AssertionError("a native group query lists no collections")

    monkeypatch.setattr(store.client, "collection_group", spy)
    monkeypatch.setattr(store.client, "collections", no_listing)
    group = store.collection_group("orders")
    assert [d["_id"] async for d in group.find({"total": {"$gt": 1}}, sort=[("total", 1)])] == [
        "t1",
        "a1",
    ]
    assert await group.count_documents({"total": {"$gt": 5}}) == 1
    assert groups == ["orders"]


async def test_a_group_escapes_its_id_as_collections_do(store: Any) -> None:
    await store.collection("users/u1/__x__").insert_one({"_id": "d"})
    await store.collection("__x__").insert_one({"_id": "e"})
    found = store.collection_group("__x__", path_field="_path").find()
    assert sorted([d["_path"] async for d in found]) == ["__x__/e", "users/u1/__x__/d"]


async def test_a_group_query_missing_its_index_reads_the_whole_group_exactly(
    store: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Production Firestore refuses a filtered collection-group query until the group has an
    index on the field; the emulator never does, so the refusal is simulated."""
    await store.collection("orders").insert_many([{"_id": "t1", "n": 1}, {"_id": "t2", "n": 7}])
    await store.collection("users/u1/orders").insert_one({"_id": "a1", "n": 9})
    refuse_for_want_of_an_index(monkeypatch, FirestoreGroupReader, bool)
    group = store.collection_group("orders")
    with caplog.at_level("WARNING", logger="lexigram_nosql"):
        found = [d["_id"] async for d in group.find({"n": {"$gt": 5}})]
        assert await group.count_documents({"n": {"$gt": 5}}) == 2
    assert sorted(found) == ["a1", "t2"]
    assert "index" in caplog.text


async def test_a_group_read_in_a_transaction_sees_its_own_writes(store: Any) -> None:
    await store.collection("users/u1/orders").insert_one({"_id": "a1", "n": 1})
    group = store.collection_group("orders")
    async with store.transaction():
        await store.collection("users/u2/orders").insert_one({"_id": "b1", "n": 2})
        await store.collection("users/u1/orders").delete_one({"_id": "a1"})
        assert [d["_id"] async for d in group.find()] == ["b1"]
    assert [d["_id"] async for d in group.find()] == ["b1"]


async def test_no_collection_name_reaches_the_packages_own_collections(store: Any) -> None:
    users = store.collection("users")
    await users.create_index("email", unique=True)
    await users.insert_one({"_id": "u1", "email": "a@x"})
    await store.collection("__lx_unique").insert_one({"_id": "mine"})
    await store.collection("users/__lx_unique/__lx_indexes").insert_one({"_id": "deep"})
    native = store.client.collection("users").document("__lx_unique").collection("~__lx_indexes")
    assert await native_ids(native) == ["deep"]
    assert await native_ids(store.client.collection("~__lx_unique")) == ["mine"]
    assert await store.list_collections() == [
        "__lx_unique",
        "users",
        "users/__lx_unique/__lx_indexes",
    ]
