"""Malformed queries raise ``InvalidQueryError`` naming what is wrong, before anything is
written or sent; forbidden JavaScript and write stages are refused on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError
from tests.conformance.support import by_id, collect, seeded

ORIGINAL = [{"_id": "a", "n": 1, "s": ["x"]}, {"_id": "b", "n": 2, "s": []}]

BAD_FILTERS: list[tuple[str, Any]] = [
    ("unknown-operator", {"n": {"$bogus": 1}}),
    ("$where", {"$where": "this.n > 1"}),
    ("$function-in-$expr", {"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}),
    ("operator-in-field-position", {"$n": 1}),
    ("empty-key", {"": 1}),
    ("$in-not-a-list", {"n": {"$in": 1}}),
    ("$size-negative", {"s": {"$size": -1}}),
    ("$mod-wrong-arity", {"n": {"$mod": [2]}}),
    ("$all-not-a-list", {"s": {"$all": "x"}}),
    ("$nin-not-a-list", {"n": {"$nin": "x"}}),
    ("$and-not-a-list", {"$and": {"n": 1}}),
    ("$and-empty", {"$and": []}),
    ("$regex-not-a-string", {"n": {"$regex": 5}}),
    ("$options-bad-flag", {"n": {"$regex": "a", "$options": "q"}}),
    ("$type-unknown", {"n": {"$type": "nonsense"}}),
    ("$not-empty", {"n": {"$not": {}}}),
    ("$elemMatch-not-a-document", {"s": {"$elemMatch": 3}}),
    ("filter-not-a-mapping", ["n", 1]),
]


@pytest.mark.parametrize("filter", [f for _, f in BAD_FILTERS], ids=[n for n, _ in BAD_FILTERS])
async def test_bad_filters_are_refused_before_anything_is_written(store: Any, filter: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.update_many(filter, {"$set": {"touched": True}})
    with pytest.raises(InvalidQueryError):
        await collection.delete_many(filter)
    with pytest.raises(InvalidQueryError):
        await collection.count_documents(filter)
    with pytest.raises(InvalidQueryError):
        collection.find(filter)
    assert by_id(await collect(collection.find())) == ORIGINAL


BAD_UPDATES: list[tuple[str, Any]] = [
    ("unknown-operator", {"$bogus": {"n": 1}}),
    ("$inc-not-a-number", {"$inc": {"n": "one"}}),
    ("$mul-not-a-number", {"$mul": {"n": None}}),
    ("conflicting-paths", {"$set": {"n": 1}, "$inc": {"n": 1}}),
    ("parent-and-child-paths", {"$set": {"d": {}, "d.x": 1}}),
    ("$rename-to-itself", {"$rename": {"n": "n"}}),
    ("$pop-bad-direction", {"$pop": {"s": 2}}),
    ("$push-$slice-not-int", {"$push": {"s": {"$each": [1], "$slice": "x"}}}),
    ("$push-$each-not-a-list", {"$push": {"s": {"$each": 1}}}),
    ("operators-mixed-with-fields", {"$set": {"n": 5}, "plain": 1}),
    ("empty-update", {}),
    ("empty-path", {"$set": {"": 1}}),
    ("update-not-a-mapping", [("$set", {"n": 1})]),
]


@pytest.mark.parametrize("update", [u for _, u in BAD_UPDATES], ids=[n for n, _ in BAD_UPDATES])
async def test_bad_updates_are_refused_before_anything_is_written(store: Any, update: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.update_one({"_id": "a"}, update)
    with pytest.raises(InvalidQueryError):
        await collection.update_many({}, update, upsert=True)
    with pytest.raises(InvalidQueryError):
        await collection.find_one_and_update({"_id": "a"}, update)
    assert by_id(await collect(collection.find())) == ORIGINAL


BAD_PIPELINES: list[tuple[str, Any]] = [
    ("unknown-stage", [{"$bogus": {}}]),
    ("$out", [{"$out": "elsewhere"}]),
    ("$merge", [{"$merge": {"into": "elsewhere"}}]),
    ("two-keys-in-a-stage", [{"$match": {}, "$limit": 1}]),
    ("$limit-negative", [{"$limit": -1}]),
    ("$group-without-id", [{"$group": {"n": {"$sum": 1}}}]),
    ("$accumulator", [{"$group": {"_id": None, "x": {"$accumulator": {}}}}]),
    ("$function", [{"$project": {"x": {"$function": {"body": "1", "args": [], "lang": "js"}}}}]),
    ("unknown-expression", [{"$project": {"x": {"$bogus": 1}}}]),
    ("bad-$match", [{"$match": {"n": {"$bogus": 1}}}]),
    ("pipeline-not-a-list", {"$match": {}}),
]


@pytest.mark.parametrize(
    "pipeline", [p for _, p in BAD_PIPELINES], ids=[n for n, _ in BAD_PIPELINES]
)
async def test_bad_pipelines_are_refused_before_running(store: Any, pipeline: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        collection.aggregate(pipeline)
    assert await store.list_collections() == [collection.name]


BAD_DOCUMENTS: list[tuple[str, Any]] = [
    ("not-a-mapping", ["a", 1]),
    ("empty-field-name", {"": 1}),
    ("dollar-field-in-id", {"_id": {"$a": 1}}),
]


@pytest.mark.parametrize(
    "document", [d for _, d in BAD_DOCUMENTS], ids=[n for n, _ in BAD_DOCUMENTS]
)
async def test_bad_documents_are_refused_before_anything_is_written(
    store: Any, document: Any
) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.insert_one(document)
    with pytest.raises(InvalidQueryError):
        await collection.insert_many([{"_id": "ok"}, document])
    with pytest.raises(InvalidQueryError):
        await collection.replace_one({"_id": "a"}, document)
    assert by_id(await collect(collection.find())) == ORIGINAL


async def test_error_names_the_path_and_operator(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError) as info:
        await collection.count_documents({"profile.age": {"$gt": 1, "$bogus": 2}})
    assert info.value.operator == "$bogus"
    assert "profile.age" in str(info.value)


async def test_update_many_refuses_a_replacement_document(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.update_many({}, {"n": 5})
    assert by_id(await collect(collection.find())) == ORIGINAL


async def test_replace_refuses_operators(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.replace_one({"_id": "a"}, {"$set": {"n": 5}})
    assert by_id(await collect(collection.find())) == ORIGINAL


async def test_bad_index_requests(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    with pytest.raises(InvalidQueryError):
        await collection.create_index([])
    with pytest.raises(InvalidQueryError):
        await collection.create_index([("n", 2)])
    with pytest.raises(InvalidQueryError):
        await collection.drop_index("")


async def test_bad_collection_names(store: Any) -> None:
    for name in ("", "$cmd", "a\x00b"):
        with pytest.raises(InvalidQueryError):
            store.collection(name)
