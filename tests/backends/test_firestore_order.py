"""Firestore's hidden field order (``__lx:o``): what is stored, that users never see it, and
documents stored before it existed (the shared suite checks the order users read back)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql.backends.firestore.codec import ORDER
from lexigram_nosql.backends.firestore.planner import plan_filter
from lexigram_nosql.query.filter import parse_filter
from tests.support import backend_firestore


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    settings = backend_firestore.settings(f"fo_{uuid.uuid4().hex[:8]}")
    async for instance in backend_firestore.connected_store(settings):
        yield instance


@pytest.fixture
def rpcs(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the RPCs the store sends from now on, in order."""
    return backend_firestore.count_rpcs(store, monkeypatch)


async def raw(store: Any, doc_id: str, collection: str = "c") -> dict[str, Any]:
    snapshot = await store.client.collection(collection).document(doc_id).get()
    return dict(snapshot.to_dict())


async def test_the_order_is_stored_only_where_sorting_cannot_recover_it(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one(
        {"_id": "a", "z": {"b": 1, "a": [{"y": 1, "x": 2}]}, "m": {"p": 1, "q": 2}}
    )
    await collection.insert_one({"_id": "e"})
    stored = await raw(store, "a")
    assert stored[ORDER] == ["z", "m"], "always for the document"
    assert stored["z"][ORDER] == ["b", "a"]
    assert stored["z"]["a"][0][ORDER] == ["y", "x"]
    assert ORDER not in stored["m"], "a sorted map reads back in order without one"
    assert await raw(store, "e") == {}, "an empty document has nothing to order"


async def test_the_hidden_order_never_reaches_users(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "y": 1, "x": 2, "n": {"b": 1, "a": 2}})
    await store.collection("u/1/c").insert_one({"_id": "g", "b": 1, "a": 2})
    expected = {"_id": "a", "y": 1, "x": 2, "n": {"b": 1, "a": 2}}
    assert await collection.find_one({"_id": "a"}) == expected
    assert [d async for d in collection.find({})] == [expected]
    assert await collection.find_one({}, projection={"n": 0}) == {"_id": "a", "y": 1, "x": 2}
    assert await collection.find_one({}, projection={ORDER: 1}) == {"_id": "a"}
    assert await collection.find_one({}, projection={f"n.{ORDER}": 1}) == {"_id": "a", "n": {}}
    assert await collection.distinct(ORDER) == []
    assert await collection.distinct(f"n.{ORDER}") == []
    rows = [d async for d in collection.aggregate([{"$project": {"o": f"${ORDER}", "y": 1}}])]
    assert rows == [{"_id": "a", "y": 1}]
    group = [d async for d in store.collection_group("c").find({})]
    assert sorted(map(str, group)) == sorted(map(str, [expected, {"_id": "g", "b": 1, "a": 2}])), (
        "collection-group reads too"
    )
    conditions: list[dict[str, Any]] = [
        {ORDER: {"$exists": True}},
        {ORDER: {"$type": "array"}},
        {ORDER: {"$size": 3}},
        {ORDER: ["y", "x", "n"]},
        {ORDER: "y"},
        {ORDER: {"$elemMatch": {"$eq": "y"}}},
        {ORDER: {"$gte": []}},
        {f"n.{ORDER}": {"$size": 2}},
        {f"n.{ORDER}": "b"},
    ]
    for condition in conditions:
        assert [d async for d in collection.find(condition)] == [], condition
        assert await collection.count_documents(condition) == 0, condition
        assert await collection.count_documents({"$nor": [condition]}) == 1, condition


def test_conditions_on_hidden_names_are_left_to_the_engine() -> None:
    for condition in ({ORDER: {"$size": 0}}, {f"n.{ORDER}": "a"}, {"__lx:i": True}):
        plan = plan_filter(parse_filter(condition))
        assert plan.everything and not plan.sound, condition


def test_embedded_documents_are_pushed_down_in_their_stored_form() -> None:
    plan = plan_filter(parse_filter({"n": {"y": 1, "x": 2}}))
    values = [prim.value for branch in plan.branches for prim in branch]
    assert values == [{"y": 1, "x": 2, ORDER: ["y", "x"]}] * 2  # == and array-contains
    assert not plan.sound, "a pre-filter: the engine decides"
    sorted_plan = plan_filter(parse_filter({"n": {"$in": [{"x": 2, "y": 1}, {"y": 1, "x": 2}]}}))
    first = sorted_plan.branches[0][0]
    assert first.op == "in" and len(first.value) == 2, "two orders are two values"


async def test_set_and_unset_by_id_keep_the_order_in_one_commit(
    store: Any, rpcs: list[str]
) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "b": 1, "a": 2, "c": 3})
    rpcs.clear()
    await collection.update_one({"_id": "a"}, {"$set": {"b": 0, "d": {"z": 1, "y": 2}}})
    await collection.update_one({"_id": "a"}, {"$set": {"e": 1}, "$unset": {"a": ""}})
    assert rpcs == ["commit", "commit"], "no read, one commit each"
    stored = await raw(store, "a")
    assert stored[ORDER] == ["b", "c", "d", "e"] and stored["d"][ORDER] == ["z", "y"]
    assert list(await collection.find_one({"_id": "a"}) or {}) == ["_id", "b", "c", "d", "e"]


async def test_documents_stored_without_an_order_read_back_as_before(store: Any) -> None:
    """Documents written by an earlier version (no order list) read back sorted; a field
    added later is appended after them, and a write that reads the document stores its
    order whole."""
    collection = store.collection("c")
    await (
        store.client.collection("c")
        .document("old")
        .set({"b": 1, "a": {"z": 1, "y": [{"k": 1, "j": 2}]}, "c": 3})
    )
    old = await collection.find_one({"_id": "old"})
    assert old == {"_id": "old", "a": {"y": [{"j": 2, "k": 1}], "z": 1}, "b": 1, "c": 3}
    assert list(old or {}) == ["_id", "a", "b", "c"]
    assert list((old or {})["a"]) == ["y", "z"]
    assert [d["_id"] async for d in collection.find({"a": {"y": [{"j": 2, "k": 1}], "z": 1}})] == [
        "old"
    ]
    await collection.update_one({"_id": "old"}, {"$set": {"new": 1}})  # no read
    assert list(await collection.find_one({"_id": "old"}) or {}) == ["_id", "a", "b", "c", "new"]
    await collection.update_one({"_id": "old"}, {"$push": {"a.y": {"n": 1}}})  # read first
    assert (await raw(store, "old"))[ORDER] == ["a", "b", "c", "new"]
    assert list(await collection.find_one({"_id": "old"}) or {}) == ["_id", "a", "b", "c", "new"]
    await collection.update_one({"_id": "old"}, {"$set": {"a": 0}})
    assert list(await collection.find_one({"_id": "old"}) or {}) == ["_id", "a", "b", "c", "new"]
