"""Inserting and reading documents: ids, value types, isolation, upserts, find_one_and_*,
bulk writes, count and distinct."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lexigram_nosql import (
    DeleteMany,
    DeleteOne,
    DuplicateKeyError,
    InsertOne,
    ReplaceOne,
    ReturnDocument,
    UpdateMany,
    UpdateOne,
)
from tests.conformance.support import (
    NESTED_ARRAYS,
    REFUSED,
    attempt,
    by_id,
    collect,
    operators_in,
    seeded,
    utc,
)

# -- ids and value types ---------------------------------------------------------------------


async def test_generated_ids_are_24_hex_strings(store: Any) -> None:
    collection = store.collection("generated")
    first = await collection.insert_one({"n": 1})
    many = await collection.insert_many([{"n": 2}, {"n": 3}])
    generated = [first.inserted_id, *many.inserted_ids]
    for identifier in generated:
        assert isinstance(identifier, str)
        assert re.fullmatch(r"[0-9a-f]{24}", identifier), identifier
    assert len(set(generated)) == 3
    stored = await collection.find_one({"_id": first.inserted_id})
    assert stored == {"_id": first.inserted_id, "n": 1}


async def test_explicit_ids_are_kept(store: Any) -> None:
    collection = store.collection("explicit")
    result = await collection.insert_one({"_id": "user-1", "n": 1})
    assert result.inserted_id == "user-1"
    many = await collection.insert_many([{"_id": "b"}, {"_id": "a"}])
    assert many.inserted_ids == ["b", "a"]
    assert await collection.find_one({"_id": "a"}) == {"_id": "a"}


async def test_insert_does_not_change_the_callers_document(store: Any) -> None:
    collection = store.collection("caller")
    document: dict[str, Any] = {"n": 1, "tags": ["a"]}
    await collection.insert_one(document)
    assert document == {"n": 1, "tags": ["a"]}


async def test_no_insert_path_changes_or_keeps_the_callers_documents(store: Any) -> None:
    """insert_many (ordered, unordered past a duplicate) and bulk_write hand the backend the
    caller's own dicts when nothing needs normalising: none may add an ``_id`` to them, and
    changing them afterwards changes nothing stored."""
    collection = await seeded(store, [{"_id": "taken"}], "caller_many")
    documents: list[dict[str, Any]] = [{"n": 1, "tags": ["a"]}, {"_id": "x", "n": 2}]
    await collection.insert_many(documents)
    with pytest.raises(DuplicateKeyError):
        await collection.insert_many([documents[0], {"_id": "taken"}, {"n": 3}], ordered=False)
    await collection.bulk_write([InsertOne(documents[0]), InsertOne({"_id": "y", "n": 4})])
    assert documents == [{"n": 1, "tags": ["a"]}, {"_id": "x", "n": 2}]
    documents[0]["tags"].append("changed")
    documents[1]["n"] = 99
    stored = await collect(collection.find({}, projection={"_id": 0}, sort=[("n", 1)]))
    assert stored == [
        {},
        {"n": 1, "tags": ["a"]},
        {"n": 1, "tags": ["a"]},
        {"n": 1, "tags": ["a"]},
        {"n": 2},
        {"n": 3},
        {"n": 4},
    ]


VALUES: list[tuple[str, Any]] = [
    ("string", "héllo wörld ✓"),
    ("empty-string", ""),
    ("int", 42),
    ("negative-int", -7),
    ("big-int", 2**53),
    ("float", 3.25),
    ("negative-float", -0.5),
    ("true", True),
    ("false", False),
    ("null", None),
    ("datetime-utc-ms", utc(2024, 5, 17, 8, 30, 15, 123000)),
    ("bytes", b"\x00\x01binary\xff"),
    ("empty-list", []),
    ("list", [1, "two", 3.5, None, True]),
    ("empty-document", {}),
    ("nested-document", {"a": {"b": {"c": [1, {"d": "e"}]}}}),
    ("list-of-documents", [{"k": 1}, {"k": 2}]),
]


@pytest.mark.parametrize("value", [v for _, v in VALUES], ids=[name for name, _ in VALUES])
async def test_values_round_trip_exactly(store: Any, value: Any) -> None:
    collection = store.collection("values")
    await collection.insert_one({"_id": "v", "value": value})
    stored = await collection.find_one({"_id": "v"})
    assert stored == {"_id": "v", "value": value}
    assert type(stored["value"]) is type(value)


async def test_arrays_inside_arrays_round_trip(store: Any) -> None:
    """The one test with arrays directly inside arrays (some backends need to encode them;
    one that cannot store them refuses before writing anything)."""
    collection = store.collection("nested_arrays")
    value = [[1, 2], [], [["deep"]]]
    inserted = await attempt(
        store, [NESTED_ARRAYS], lambda: collection.insert_one({"_id": "n", "grid": value})
    )
    if inserted is REFUSED:
        assert await collection.count_documents({}) == 0
        return
    assert await collection.find_one({"_id": "n"}) == {"_id": "n", "grid": value}


async def test_field_names_with_spaces_and_unicode(store: Any) -> None:
    collection = store.collection("names")
    document = {"_id": "u", "first name": "Zoë", "名前": "花子", "émoji 🎉": 1}
    await collection.insert_one(document)
    assert await collection.find_one({"名前": "花子"}) == document
    assert await collection.find_one({"first name": "Zoë"}) == document


async def test_datetimes_compare_in_filters_after_the_round_trip(store: Any) -> None:
    collection = store.collection("dates")
    when = utc(2023, 12, 31, 23, 59, 59, 999000)
    await collection.insert_one({"_id": "d", "at": when})
    assert await collection.count_documents({"at": when}) == 1
    assert await collection.count_documents({"at": {"$gte": when}}) == 1
    assert await collection.count_documents({"at": {"$gt": when}}) == 0


async def test_returned_documents_are_copies(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "tags": ["x"], "d": {"n": 1}}])
    found = await collection.find_one({"_id": "a"})
    assert found is not None
    found["tags"].append("y")
    found["d"]["n"] = 99
    [streamed] = await collect(collection.find({"_id": "a"}))
    streamed["tags"].clear()
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "tags": ["x"], "d": {"n": 1}}


async def test_duplicate_id_is_refused_and_nothing_changes(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1}])
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "a", "n": 2})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1}


async def test_insert_many_stops_at_a_duplicate_like_mongodb_ordered_inserts(store: Any) -> None:
    collection = await seeded(store, [{"_id": "b"}])
    with pytest.raises(DuplicateKeyError):
        await collection.insert_many([{"_id": "a"}, {"_id": "b"}, {"_id": "c"}])
    assert [d["_id"] async for d in collection.find(sort=[("_id", 1)])] == ["a", "b"]


# -- upserts ---------------------------------------------------------------------------------


async def test_upsert_inserts_from_filter_equalities_and_update(store: Any) -> None:
    collection = store.collection("upserts")
    result = await collection.update_one(
        {"email": "a@x", "age": {"$gt": 5}},
        {"$set": {"name": "A"}, "$setOnInsert": {"created": True}},
        upsert=True,
    )
    assert result.matched_count == 0 and result.modified_count == 0
    assert isinstance(result.upserted_id, str)
    stored = await collection.find_one({"_id": result.upserted_id})
    assert stored == {"_id": result.upserted_id, "email": "a@x", "name": "A", "created": True}


async def test_upsert_with_id_in_filter_uses_it(store: Any) -> None:
    collection = store.collection("upsert_id")
    result = await collection.update_one({"_id": "k1"}, {"$inc": {"n": 1}}, upsert=True)
    assert result.upserted_id == "k1"
    result = await collection.update_one({"_id": "k1"}, {"$inc": {"n": 1}}, upsert=True)
    assert (result.matched_count, result.modified_count, result.upserted_id) == (1, 1, None)
    assert await collection.find_one({"_id": "k1"}) == {"_id": "k1", "n": 2}


async def test_upsert_many(store: Any) -> None:
    collection = store.collection("upsert_many")
    result = await collection.update_many({"g": "x"}, {"$set": {"v": 1}}, upsert=True)
    assert result.upserted_id is not None
    assert await collection.count_documents({"g": "x", "v": 1}) == 1


async def test_replace_one_upsert(store: Any) -> None:
    collection = store.collection("replace_upsert")
    result = await collection.replace_one({"_id": "r"}, {"x": 1}, upsert=True)
    assert result.upserted_id == "r"
    assert await collection.find_one({"_id": "r"}) == {"_id": "r", "x": 1}


async def test_set_on_insert_applies_only_when_inserting(store: Any) -> None:
    collection = store.collection("soi")
    update = {"$setOnInsert": {"created": 1}, "$inc": {"hits": 1}}
    await collection.update_one({"_id": "p"}, update, upsert=True)
    await collection.update_one(
        {"_id": "p"}, {**update, "$setOnInsert": {"created": 2}}, upsert=True
    )
    assert await collection.find_one({"_id": "p"}) == {"_id": "p", "created": 1, "hits": 2}


# -- find_one_and_* --------------------------------------------------------------------------

QUEUE = [
    {"_id": "j1", "state": "new", "priority": 2},
    {"_id": "j2", "state": "new", "priority": 5},
    {"_id": "j3", "state": "done", "priority": 9},
]


async def test_find_one_and_update_returns_before_by_default(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    before = await collection.find_one_and_update({"_id": "j1"}, {"$set": {"state": "run"}})
    assert before == QUEUE[0]
    assert (await collection.find_one({"_id": "j1"}) or {})["state"] == "run"


async def test_find_one_and_update_after_with_sort_and_projection(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    after = await collection.find_one_and_update(
        {"state": "new"},
        {"$set": {"state": "run"}},
        sort=[("priority", -1)],
        projection={"state": 1, "_id": 1},
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": "j2", "state": "run"}
    assert (await collection.find_one({"_id": "j1"}) or {})["state"] == "new"


async def test_find_one_and_update_no_match(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    assert await collection.find_one_and_update({"state": "zzz"}, {"$set": {"x": 1}}) is None
    assert await collection.count_documents({"x": 1}) == 0


async def test_find_one_and_update_upsert(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    before = await collection.find_one_and_update(
        {"_id": "j9"}, {"$set": {"state": "new"}}, upsert=True
    )
    assert before is None
    after = await collection.find_one_and_update(
        {"_id": "j8"},
        {"$set": {"state": "new"}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": "j8", "state": "new"}
    assert await collection.count_documents({}) == 5


async def test_find_one_and_replace(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    before = await collection.find_one_and_replace({"_id": "j3"}, {"state": "archived"})
    assert before == QUEUE[2]
    after = await collection.find_one_and_replace(
        {"_id": "j3"}, {"state": "gone"}, return_document=ReturnDocument.AFTER
    )
    assert after == {"_id": "j3", "state": "gone"}


async def test_find_one_and_delete_takes_the_first_in_sort_order(store: Any) -> None:
    collection = await seeded(store, QUEUE)
    deleted = await collection.find_one_and_delete({"state": "new"}, sort=[("priority", 1)])
    assert deleted == QUEUE[0]
    assert ids_of(await collect(collection.find())) == ["j2", "j3"]
    assert await collection.find_one_and_delete({"state": "none"}) is None


def ids_of(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(d["_id"] for d in documents)


# -- bulk_write ------------------------------------------------------------------------------


async def test_bulk_write_runs_every_kind_of_operation(store: Any) -> None:
    collection = await seeded(
        store, [{"_id": "a", "n": 1}, {"_id": "b", "n": 2}, {"_id": "c", "n": 3}]
    )
    result = await collection.bulk_write(
        [
            InsertOne({"_id": "d", "n": 4}),
            UpdateOne({"_id": "a"}, {"$inc": {"n": 10}}),
            UpdateMany({"n": {"$gte": 3}}, {"$set": {"big": True}}),
            ReplaceOne({"_id": "b"}, {"n": 20}),
            DeleteOne({"_id": "c"}),
            UpdateOne({"_id": "e"}, {"$set": {"n": 5}}, upsert=True),
            DeleteMany({"n": {"$lt": 0}}),
        ]
    )
    assert result.inserted_count == 1
    assert result.matched_count == 1 + 3 + 1
    assert result.modified_count == 1 + 3 + 1
    assert result.deleted_count == 1
    assert result.upserted_ids == {5: "e"}
    assert by_id(await collect(collection.find())) == [
        {"_id": "a", "n": 11, "big": True},
        {"_id": "b", "n": 20},
        {"_id": "d", "n": 4, "big": True},
        {"_id": "e", "n": 5},
    ]


async def test_bulk_write_ordered_stops_at_the_first_error(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    with pytest.raises(DuplicateKeyError):
        await collection.bulk_write(
            [InsertOne({"_id": "b"}), InsertOne({"_id": "a"}), InsertOne({"_id": "c"})]
        )
    assert ids_of(await collect(collection.find())) == ["a", "b"]


async def test_bulk_write_unordered_attempts_everything(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    with pytest.raises(DuplicateKeyError):
        await collection.bulk_write(
            [InsertOne({"_id": "b"}), InsertOne({"_id": "a"}), InsertOne({"_id": "c"})],
            ordered=False,
        )
    assert ids_of(await collect(collection.find())) == ["a", "b", "c"]


# -- count and distinct ----------------------------------------------------------------------

STOCK = [
    {"_id": "1", "kind": "fruit", "tags": ["red", "sweet"], "size": 3, "info": {"origin": "ES"}},
    {
        "_id": "2",
        "kind": "fruit",
        "tags": ["yellow", "sweet"],
        "size": 1.5,
        "info": {"origin": "EC"},
    },
    {"_id": "3", "kind": "veg", "tags": ["green"], "size": 3.0},
    {"_id": "4", "kind": None, "tags": []},
]


async def test_count_documents(store: Any) -> None:
    collection = await seeded(store, STOCK)
    assert await collection.count_documents() == 4
    assert await collection.count_documents({}) == 4
    assert await collection.count_documents({"kind": "fruit"}) == 2
    assert await collection.count_documents({"tags": "sweet"}) == 2
    assert await store.collection("empty_one").count_documents({}) == 0


@pytest.mark.parametrize(
    ("key", "filter", "expected"),
    [
        ("kind", None, [None, "fruit", "veg"]),
        ("kind", {"size": {"$gte": 2}}, ["fruit", "veg"]),
        ("tags", None, ["green", "red", "sweet", "yellow"]),
        ("size", None, [1.5, 3]),
        ("info.origin", None, ["EC", "ES"]),
        ("missing", None, []),
    ],
    ids=[
        "scalar-with-null",
        "filtered",
        "array-elements",
        "numbers-equal-once",
        "dotted",
        "missing",
    ],
)
async def test_distinct(
    store: Any, key: str, filter: dict[str, Any] | None, expected: list[Any]
) -> None:
    collection = await seeded(store, STOCK)
    found = await attempt(
        store, operators_in(filter or {}), lambda: collection.distinct(key, filter)
    )
    if found is not REFUSED:
        assert sorted(found, key=repr) == sorted(expected, key=repr)


# -- collections -----------------------------------------------------------------------------


async def test_list_and_drop_collections(store: Any) -> None:
    await store.collection("one").insert_one({"_id": "x"})
    await store.collection("two").insert_one({"_id": "y"})
    names = await store.list_collections()
    assert {"one", "two"} <= set(names)
    await store.drop_collection("one")
    assert "one" not in await store.list_collections()
    assert await store.collection("one").count_documents({}) == 0
    assert await store.collection("two").count_documents({}) == 1


async def test_health_check_passes(store: Any) -> None:
    health = await store.health_check()
    assert health.status == "pass", health.error
    assert health.driver == store.driver
