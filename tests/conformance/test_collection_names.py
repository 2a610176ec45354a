"""Collection names: every name MongoDB accepts works on every backend (short, dotted, dashed,
unicode, long, subcollection paths), is listed back as given, and stays separate from every
other name; the names MongoDB refuses are refused the same way everywhere."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError
from tests.conformance.support import collect

NAMES = [
    "tx",
    "a",
    "a.b",
    "my-orders",
    "with space",
    "日本語",
    "émoji🙂",
    "x--tx",
    "__reserved__",
    "~tilde",
    "per%2Fcent",
    "a/b",
    "/lead",
    "users/u1/orders",
    "users/u1/orders/o1/items",
    "n" * 200,
]


# Documents carry a key of their own (no explicit _id), so the cases run on servers that only
# store ObjectId ids too.
NO_ID = {"_id": 0}


@pytest.mark.parametrize("name", NAMES, ids=[f"name{i}" for i in range(len(NAMES))])
async def test_any_name_mongodb_accepts_round_trips(store: Any, name: str) -> None:
    collection = store.collection(name)
    assert collection.name == name
    await collection.insert_many([{"k": "a", "n": 1}, {"k": "b", "n": 2}])
    assert await collection.count_documents({"n": {"$gte": 1}}) == 2
    assert await collection.find_one({"k": "b"}, projection=NO_ID) == {"k": "b", "n": 2}
    assert (await collection.update_one({"k": "a"}, {"$inc": {"n": 10}})).modified_count == 1
    assert await collect(collection.find(projection=NO_ID, sort=[("k", 1)])) == [
        {"k": "a", "n": 11},
        {"k": "b", "n": 2},
    ]
    assert await store.list_collections() == [name]
    await store.drop_collection(name)
    assert await store.list_collections() == []


async def test_names_that_differ_only_in_encoding_stay_apart(store: Any) -> None:
    # Each pair would collide under a careless encoding (escape markers, separators).
    names = ["tx", "x--tx", "a/b", "a%2Fb", "~a%2Fb", "users/u1/orders", "users"]
    for index, name in enumerate(names):
        await store.collection(name).insert_one({"owner": index})
    assert await store.list_collections() == sorted(names)
    for index, name in enumerate(names):
        found = await collect(store.collection(name).find(projection=NO_ID))
        assert found == [{"owner": index}]


async def test_names_differing_in_case_stay_apart(store: Any) -> None:
    await store.collection("Orders").insert_one({"k": "upper"})
    await store.collection("orders").insert_one({"k": "lower"})
    assert await store.list_collections() == ["Orders", "orders"]
    assert await collect(store.collection("orders").find(projection=NO_ID)) == [{"k": "lower"}]


async def test_a_subcollection_is_independent_of_its_parent(store: Any) -> None:
    users = store.collection("users")
    orders = store.collection("users/u1/orders")
    await users.insert_one({"k": "u1", "name": "Ada"})
    await orders.insert_many([{"k": "o1", "total": 5}, {"k": "o2", "total": 7}])
    assert await users.count_documents({}) == 1
    assert await orders.count_documents({}) == 2
    await users.delete_one({"k": "u1"})
    assert await orders.count_documents({}) == 2  # as on MongoDB: another collection
    await store.drop_collection("users/u1/orders")
    assert await orders.count_documents({}) == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("$cmd", "'$'"),
        ("a$b", "'$'"),
        ("a\x00b", "null"),
        ("system.users", "system."),
        (".", "'.'"),
        ("..", "'.'"),
        (".lead", "'.'"),
        ("trail.", "'.'"),
        ("a..b", "'..'"),
        (7, "string"),
        (None, "string"),
    ],
    ids=[
        "empty",
        "dollar-first",
        "dollar-inside",
        "null-char",
        "system",
        "dot",
        "dots",
        "leading-dot",
        "trailing-dot",
        "double-dot",
        "int",
        "none",
    ],
)
async def test_names_mongodb_refuses_are_refused(store: Any, name: Any, reason: str) -> None:
    with pytest.raises(InvalidQueryError, match=re.escape(reason)) as info:
        store.collection(name)
    assert info.value.store == store.name
    with pytest.raises(InvalidQueryError):
        await store.drop_collection(name)
    assert await store.list_collections() == []
