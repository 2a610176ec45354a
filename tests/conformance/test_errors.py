"""Malformed queries raise ``InvalidQueryError`` naming what is wrong, before anything is
written or sent; forbidden JavaScript and write stages are refused on every backend."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lexigram_nosql import (
    InvalidQueryError,
    QueryError,
    QueryLimitError,
    RegexTimeoutError,
    create_store,
)
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
    ("$bit-unknown-operation", {"$bit": {"n": {"nand": 1}}}),
    ("$bit-not-an-integer", {"$bit": {"n": {"and": 1.5}}}),
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


# -- limits on user-supplied input ---------------------------------------------------------


# ObjectId-shaped ids, which every backend (and the MongoDB wire test server) stores.
HEX_IDS = [{"_id": "65a000000000000000000001", "n": 1}, {"_id": "65a000000000000000000002", "n": 2}]


@pytest.mark.slow
async def test_default_limits_are_generous_and_named_when_exceeded(store: Any) -> None:
    """MongoDB's own bounds (32,761-character patterns, 1,000 stages) and 500,000 listed
    values; over them, QueryLimitError names the limit, and nothing is sent."""
    collection = await seeded(store, HEX_IDS)
    over_in = {"n": {"$in": list(range(500_001))}}
    with pytest.raises(QueryLimitError) as caught:
        await collection.count_documents(over_in)
    assert caught.value.limit == "max_in_length" and "max_in_length" in str(caught.value)
    assert caught.value.path == "n" and caught.value.operator == "$in"
    with pytest.raises(QueryLimitError, match="max_regex_length"):
        await collection.delete_many({"s": {"$regex": "x" * 32_762}})
    with pytest.raises(QueryLimitError, match="max_pipeline_stages"):
        collection.aggregate([{"$match": {}}] * 1_001)
    assert by_id(await collect(collection.find())) == HEX_IDS
    assert await collection.count_documents({"n": {"$in": [*range(10, 100_010), 2]}}) == 1


async def test_configured_limits_apply_to_every_entry_point(backend: Any) -> None:
    """Checked before the store is even used: this store is never connected."""
    make = getattr(backend, "create_store", create_store)
    limits = {"max_in_length": 3, "max_regex_length": 5, "max_pipeline_stages": 2}
    store = make({**backend.settings("limited"), "query_limits": limits})
    collection = store.collection("c")
    big_in = {"n": {"$elemMatch": {"$in": [1, 2, 3, 4]}}}
    long_regex = {"$or": [{"s": re.compile("abcdef")}]}
    calls = {
        "find": lambda f: collection.find(f),
        "count_documents": collection.count_documents,
        "distinct": lambda f: collection.distinct("n", f),
        "update_many": lambda f: collection.update_many(f, {"$set": {"x": 1}}),
        "delete_one": collection.delete_one,
        "find_one_and_delete": collection.find_one_and_delete,
    }
    for name, call in calls.items():
        for filter, limit in ((big_in, "max_in_length"), (long_regex, "max_regex_length")):
            with pytest.raises(QueryLimitError) as caught:
                result = call(filter)
                if hasattr(result, "__await__"):
                    await result
            assert caught.value.limit == limit, name
    pipeline = [{"$match": {}}, {"$facet": {"f": [{"$skip": 0}, {"$skip": 0}, {"$limit": 1}]}}]
    with pytest.raises(QueryLimitError, match="the \\$facet 'f' has 3 stages"):
        collection.aggregate(pipeline)
    with pytest.raises(QueryLimitError, match="pipeline has 3 stages"):
        collection.aggregate([{"$match": {}}] * 3)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+$"])
async def test_a_catastrophic_regex_is_refused_by_name_where_the_engine_runs_it(
    store: Any, pattern: str
) -> None:
    """Where the engine evaluates a ``$regex`` (memory, and the residual filters of DynamoDB
    and Firestore), a pattern over its time budget raises RegexTimeoutError naming it."""
    if store.driver == "mongodb":
        pytest.skip("the MongoDB server evaluates $regex itself")
    value = "a" * 5_000 + "b"
    collection = await seeded(store, [{"_id": "a", "s": value}, {"_id": "b", "s": "x"}])
    for action in (
        lambda: collect(collection.find({"s": {"$regex": pattern}})),
        lambda: collection.update_many({"s": {"$regex": pattern}}, {"$set": {"hit": 1}}),
        lambda: collection.count_documents({"s": {"$in": [re.compile(pattern)]}}),
    ):
        with pytest.raises(RegexTimeoutError) as caught:
            await action()
        assert caught.value.pattern == pattern and pattern in str(caught.value)
        assert isinstance(caught.value, QueryError)
    assert await collection.count_documents({"hit": 1}) == 0
