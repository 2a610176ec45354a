"""Firestore's ``$set``/``$unset`` by ``_id`` without a read (``direct.py``): one
commit RPC and nothing else, the same results as the read-modify-write it replaces, and that
read-modify-write wherever only the stored document can say what MongoDB would do."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import bson
import pytest

from lexigram_nosql import (
    DocumentTooLargeError,
    DuplicateKeyError,
    UnsupportedQueryError,
    UpdateOne,
    create_store,
)
from lexigram_nosql.backends.firestore import direct
from tests.support import backend_firestore


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    settings = backend_firestore.settings(f"fd_{uuid.uuid4().hex[:8]}")
    async for instance in backend_firestore.connected_store(settings):
        yield instance


@pytest.fixture
def rpcs(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the RPCs the store sends from now on, in order."""
    return backend_firestore.count_rpcs(store, monkeypatch)


async def seeded(store: Any, *documents: dict[str, Any]) -> Any:
    """A collection holding ``documents``, its index records loaded (once per process)."""
    collection = store.collection("c")
    await collection.insert_many(list(documents))
    return collection


def counts(result: Any) -> tuple[int, int]:
    return result.matched_count, result.modified_count


# -- one commit --------------------------------------------------------------------------


async def test_set_and_unset_by_id_are_one_commit_and_no_read(store: Any, rpcs: list[str]) -> None:
    collection = await seeded(store, {"_id": "a", "x": 1, "email": "a@x"})
    await collection.create_index("email", unique=True)  # on another field: no matter
    calls: list[tuple[Callable[[], Awaitable[Any]], tuple[int, int]]] = [
        (lambda: collection.update_one({"_id": "a"}, {"$set": {"x": 2, "y": [1]}}), (1, 1)),
        (lambda: collection.update_one({"_id": "a"}, {"$set": {"x": 2}}), (1, 0)),
        (lambda: collection.update_one({"_id": "a"}, {"$unset": {"nope": ""}}), (1, 0)),
        (lambda: collection.update_one({"_id": "a"}, {"$unset": {"y": ""}}), (1, 1)),
        (lambda: collection.update_one({"_id": "zz"}, {"$set": {"x": 3}}), (0, 0)),
        (lambda: collection.update_one({"_id": {"$in": ["a"]}}, {"$set": {"x": 4}}), (1, 1)),
        (lambda: collection.update_many({"_id": "a"}, {"$set": {"x": 5}}), (1, 1)),
        (lambda: collection.bulk_write([UpdateOne({"_id": "a"}, {"$set": {"x": 6}})]), (1, 1)),
    ]
    for call, expected in calls:
        rpcs.clear()
        assert counts(await call()) == expected
        assert rpcs == ["commit"]
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 6, "email": "a@x"}


FALLBACKS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("dotted path", {"_id": "a"}, {"$set": {"m.k": 1}}, {}),
    ("another operator", {"_id": "a"}, {"$set": {"x": 2}, "$inc": {"n": 1}}, {}),
    ("$setOnInsert", {"_id": "a"}, {"$setOnInsert": {"x": 2}}, {}),
    ("upsert", {"_id": "a"}, {"$set": {"x": 2}}, {"upsert": True}),
    ("more than the _id in the filter", {"_id": "a", "x": 1}, {"$set": {"x": 2}}, {}),
    ("several ids", {"_id": {"$in": ["a", "b"]}}, {"$set": {"x": 2}}, {}),
    ("a bson.Int64 value", {"_id": "a"}, {"$set": {"n": bson.Int64(1)}}, {}),
    ("a reserved name", {"_id": "a"}, {"$unset": {"__lx:i": ""}}, {}),
    ("sort", {"_id": "a"}, {"$set": {"x": 2}}, {"sort": [("x", 1)]}),
]


@pytest.mark.parametrize(
    ("filter", "update", "options"), [c[1:] for c in FALLBACKS], ids=[c[0] for c in FALLBACKS]
)
async def test_what_needs_the_stored_document_reads_it_first(
    store: Any, rpcs: list[str], filter: Any, update: Any, options: Any
) -> None:
    collection = await seeded(store, {"_id": "a", "x": 1, "n": 1, "m": {}}, {"_id": "b"})
    rpcs.clear()
    await collection.update_one(filter, update, **options)
    assert rpcs[0] in ("batch_get_documents", "run_query"), rpcs


async def test_fields_unique_indexes_read_are_written_with_their_guards(
    store: Any, rpcs: list[str]
) -> None:
    collection = await seeded(store, {"_id": "a", "email": "a@x", "on": True}, {"_id": "b"})
    await collection.create_index("email", unique=True, partialFilterExpression={"on": True})
    for update in ({"$set": {"email": "b@x"}}, {"$unset": {"on": ""}}, {"$set": {"on": True}}):
        rpcs.clear()
        assert counts(await collection.update_one({"_id": "a"}, update)) == (1, 1)
        assert rpcs[0] == "batch_get_documents", rpcs
    await collection.insert_one({"_id": "c", "email": "b@x"})  # outside the filter
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "c"}, {"$set": {"on": True}})


async def test_the_unique_indexes_a_write_keeps_follow_index_changes(
    store: Any, rpcs: list[str]
) -> None:
    """The unique indexes kept per collection are recomputed when an index is created or
    dropped, or the collection dropped: never a stale list letting a duplicate in."""
    collection = await seeded(store, {"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"})
    await collection.create_index("email", unique=True)
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})
    await collection.drop_index("email_1")
    rpcs.clear()
    assert counts(await collection.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})) == (1, 1)
    assert rpcs == ["commit"]  # no guard to move any more: one commit
    await collection.update_one({"_id": "b"}, {"$set": {"email": "b@x"}})
    await collection.create_index("email", unique=True)
    await store.drop_collection("c")
    await collection.insert_many([{"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"}])
    rpcs.clear()
    assert counts(await collection.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})) == (1, 1)
    assert rpcs == ["commit"]  # the dropped collection's index went with it


async def test_the_first_write_of_a_process_reads_the_recorded_unique_indexes(
    store: Any,
) -> None:
    collection = await seeded(store, {"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"})
    await collection.create_index("email", unique=True)
    other = create_store(  # as another process would: nothing loaded yet
        {
            "name": "other",
            "driver": "firestore",
            "firestore": {"project": store.client.project, "emulator_host": store.emulator_host},
        }
    )
    await other.connect()
    try:
        same = other.collection("c")
        with pytest.raises(DuplicateKeyError):
            await same.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})
        assert counts(await same.update_one({"_id": "b"}, {"$set": {"n": 1}})) == (1, 1)
    finally:
        await other.disconnect()


async def test_inside_a_transaction_the_write_is_buffered_after_a_read(
    store: Any, rpcs: list[str]
) -> None:
    collection = await seeded(store, {"_id": "a", "x": 1})
    rpcs.clear()
    async with store.transaction():
        assert counts(await collection.update_one({"_id": "a"}, {"$set": {"x": 2}})) == (1, 1)
        assert "commit" not in rpcs
    assert "batch_get_documents" in rpcs and rpcs[-1] == "commit"
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 2}


async def test_find_one_and_update_reads_to_return_the_document(
    store: Any, rpcs: list[str]
) -> None:
    collection = await seeded(store, {"_id": "a", "x": 1})
    rpcs.clear()
    assert await collection.find_one_and_update({"_id": "a"}, {"$set": {"x": 2}}) == {
        "_id": "a",
        "x": 1,
    }
    assert rpcs[0] == "batch_get_documents"


async def test_non_string_ids_take_the_direct_write(store: Any, rpcs: list[str]) -> None:
    collection = await seeded(store, {"_id": 7, "x": 1}, {"_id": 7.5, "x": 1}, {"_id": 8.0})
    rpcs.clear()
    assert counts(await collection.update_one({"_id": 7.0}, {"$set": {"x": 2}})) == (1, 1)
    assert counts(await collection.update_one({"_id": 7.5}, {"$unset": {"x": ""}})) == (1, 1)
    assert counts(await collection.update_one({"_id": 8}, {"$set": {"y": 1}})) == (1, 1)
    assert rpcs == ["commit"] * 3
    found = [d async for d in collection.find({}, sort=[("_id", 1)])]
    assert found == [{"_id": 7, "x": 2}, {"_id": 7.5}, {"_id": 8.0, "y": 1}]
    assert [type(d["_id"]) for d in found] == [int, float, float]


async def test_unsetting_a_reserved_name_keeps_the_float_id_mark(store: Any) -> None:
    collection = await seeded(store, {"_id": 7.0, "x": 1})
    result = await collection.update_one({"_id": 7.0}, {"$unset": {"__lx:i": ""}})
    assert counts(result) == (1, 0)
    found = await collection.find_one({"_id": 7})
    assert found == {"_id": 7.0, "x": 1} and type(found["_id"]) is float


# -- the same results as the read-modify-write -------------------------------------------

SAME_OR_NOT: list[tuple[str, Any, Any]] = [
    ("same int", 1, 1),
    ("int to float", 1, 1.0),
    ("float to int", 1.0, 1),
    ("bool to int", True, 1),
    ("nan", math.nan, math.nan),
    ("zero to negative zero", 0.0, -0.0),
    ("negative zero to zero", -0.0, 0.0),
    ("map in another key order", {"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ("map with another value type", {"a": 1}, {"a": 1.0}),
    ("same array", [1, "x", {"k": None}], [1, "x", {"k": None}]),
    ("array reordered", [1, 2], [2, 1]),
    (
        "same date",
        datetime(2024, 1, 1, 0, 0, 0, 5000, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 5000, tzinfo=UTC),
    ),
    ("bytes", b"ab", b"ab"),
    ("string to bytes", "ab", b"ab"),
    ("null", None, None),
]


@pytest.mark.parametrize(
    ("stored", "written"), [c[1:] for c in SAME_OR_NOT], ids=[c[0] for c in SAME_OR_NOT]
)
async def test_the_direct_write_counts_and_stores_as_the_read_modify_write(
    store: Any, monkeypatch: pytest.MonkeyPatch, stored: Any, written: Any
) -> None:
    collection = await seeded(store, {"_id": "direct", "v": stored}, {"_id": "read", "v": stored})
    one_commit = await collection.update_one({"_id": "direct"}, {"$set": {"v": written}})

    def read_first(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(direct, "update_by_id", read_first)
    general = await collection.update_one({"_id": "read"}, {"$set": {"v": written}})
    assert counts(one_commit) == counts(general)
    after = {d["_id"]: d["v"] async for d in collection.find({})}
    assert repr(after["direct"]) == repr(after["read"])


# -- refusals ----------------------------------------------------------------------------


async def test_values_firestore_cannot_store_are_refused_before_sending(
    store: Any, rpcs: list[str]
) -> None:
    collection = await seeded(store, {"_id": "a", "x": 1})
    rpcs.clear()
    for filter in ({"_id": "a"}, {"_id": "zz"}):
        with pytest.raises(UnsupportedQueryError) as info:
            await collection.update_one(filter, {"$set": {"ok": 1, "grid": [[1]]}})
        assert info.value.path == "grid.0"
        with pytest.raises(DocumentTooLargeError):
            await collection.update_one(filter, {"$set": {"big": "x" * 1_100_000}})
    assert rpcs == []
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1}


async def test_a_set_that_overflows_the_document_is_too_large_and_changes_nothing(
    store: Any,
) -> None:
    collection = await seeded(store, {"_id": "a", "big": "x" * 900_000})
    with pytest.raises(DocumentTooLargeError) as info:
        await collection.update_one({"_id": "a"}, {"$set": {"more": "y" * 200_000}})
    assert info.value.collection == "c"
    found = await collection.find_one({"_id": "a"})
    assert found is not None and set(found) == {"_id", "big"}
