"""Firestore: a path name is the native subcollection; other names Firestore would refuse as
collection ids are stored escaped, and read back as given."""

from __future__ import annotations

from typing import Any

from tests.backends.test_firestore import store

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
