"""Firestore's hidden field order (``__lx:o``): what is stored, that users never see it, and
documents stored before it existed (the shared suite checks the order users read back)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import UnsupportedQueryError
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


def o(*names: str) -> str:
    """A stored order: the names joined by NUL."""
    return "\x00".join(names)


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
    assert stored[ORDER] == o("z", "m"), "always for the document"
    assert stored["z"][ORDER] == o("b", "a")
    assert stored["z"]["a"][0][ORDER] == o("y", "x")
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
        {ORDER: {"$type": "string"}},
        {ORDER: o("y", "x", "n")},
        {ORDER: {"$gte": ""}},
        {f"n.{ORDER}": {"$exists": True}},
        {f"n.{ORDER}": o("b", "a")},
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
    assert values == [{"y": 1, "x": 2, ORDER: o("y", "x")}] * 2  # == and array-contains
    assert not plan.sound, "a pre-filter: the engine decides"
    sorted_plan = plan_filter(parse_filter({"n": {"$in": [{"x": 2, "y": 1}, {"y": 1, "x": 2}]}}))
    first = sorted_plan.branches[0][0]
    assert first.op == "in" and len(first.value) == 2, "two orders are two values"


async def test_set_and_unset_by_id_write_no_order_and_stay_one_commit(
    store: Any, rpcs: list[str]
) -> None:
    """A field the order holds keeps its place, a field set since reads back after them
    (sorted among themselves, as MongoDB orders the new fields of one update); the order is
    written again with the next write that reads the document."""
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "b": 1, "a": 2, "c": 3})
    rpcs.clear()
    await collection.update_one({"_id": "a"}, {"$set": {"b": 0, "e": {"z": 1, "y": 2}}})
    await collection.update_one({"_id": "a"}, {"$set": {"d": 1}, "$unset": {"a": ""}})
    assert rpcs == ["commit", "commit"], "no read, one commit each"
    stored = await raw(store, "a")
    assert stored[ORDER] == o("b", "a", "c") and stored["e"][ORDER] == o("z", "y")
    assert list(await collection.find_one({"_id": "a"}) or {}) == ["_id", "b", "c", "d", "e"]
    await collection.update_one({"_id": "a"}, {"$inc": {"f": 1}})  # reads the document
    assert (await raw(store, "a"))[ORDER] == o("b", "c", "d", "e", "f")


async def test_what_a_write_without_a_read_cannot_order(store: Any) -> None:
    """The documented limits of the one-commit ``$set``/``$unset`` by ``_id``: it does not
    write the order, so fields it adds in separate updates read back sorted among
    themselves, and a field it unsets and sets again takes its old place."""
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "m": 1, "x": 2})
    await collection.update_one({"_id": "a"}, {"$set": {"z": 1}})
    await collection.update_one({"_id": "a"}, {"$set": {"c": 1}})
    await collection.update_one({"_id": "a"}, {"$unset": {"m": 1}})
    await collection.update_one({"_id": "a"}, {"$set": {"m": 1}})
    assert list(await collection.find_one({"_id": "a"}) or {}) == ["_id", "m", "x", "c", "z"]
    await collection.update_one({"_id": "a"}, {"$rename": {"x": "y"}})  # read, written whole
    assert list(await collection.find_one({"_id": "a"}) or {}) == ["_id", "m", "c", "z", "y"]


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
    assert (await raw(store, "old"))[ORDER] == o("a", "b", "c", "new")
    assert list(await collection.find_one({"_id": "old"}) or {}) == ["_id", "a", "b", "c", "new"]
    await collection.update_one({"_id": "old"}, {"$set": {"a": 0}})
    assert list(await collection.find_one({"_id": "old"}) or {}) == ["_id", "a", "b", "c", "new"]


async def test_users_cannot_write_or_remove_the_hidden_order(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "y": 1, "x": 2})
    writes: list[Callable[[], Awaitable[Any]]] = [
        lambda: collection.insert_one({"_id": "b", ORDER: "x"}),
        lambda: collection.insert_one({"_id": "b", "n": {ORDER: "x"}}),
        lambda: collection.update_one({"_id": "a"}, {"$set": {ORDER: "x"}}),
        lambda: collection.update_one({"_id": "a"}, {"$set": {f"n.{ORDER}": "x"}}),
        lambda: collection.replace_one({"_id": "a"}, {ORDER: "x"}),
    ]
    for write in writes:
        with pytest.raises(UnsupportedQueryError) as info:
            await write()
        assert ORDER in str(info.value.path)
    for update in ({"$unset": {ORDER: ""}}, {"$rename": {ORDER: "z"}}):
        result = await collection.update_one({"_id": "a"}, update)
        assert (result.matched_count, result.modified_count) == (1, 0)
    assert list(await collection.find_one({"_id": "a"}) or {}) == ["_id", "y", "x"]
    assert (await raw(store, "a"))[ORDER] == o("y", "x")
