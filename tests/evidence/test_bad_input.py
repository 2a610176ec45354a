"""Every malformed filter, update, pipeline or document is a named ``QueryError`` and changes
nothing, on every backend.

``tests/conformance/test_errors.py`` holds the common cases; this table adds the hostile ones
(deep nesting, JavaScript smuggled into nested positions, odd keys, wrong operand types). One
test per kind runs the whole table, so the suite stays fast on the remote test servers, and the
failure message lists every case that misbehaved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError, UnsupportedQueryError
from tests.conformance.support import by_id, collect, seeded

# No explicit _ids: CongoDB stores only ObjectIds, and each backend's own ids are what the
# before/after comparison must preserve.
ORIGINAL = [{"n": 1, "s": ["x"], "d": {"k": 1}}, {"n": 2, "s": [], "d": {"k": 2}}]
REFUSALS = (InvalidQueryError, UnsupportedQueryError)


def nested(depth: int, wrap: Callable[[Any], Any], core: Any) -> Any:
    value = core
    for _ in range(depth):
        value = wrap(value)
    return value


DEEP_AND = nested(500, lambda f: {"$and": [f]}, {"n": 1})
DEEP_OR = nested(500, lambda f: {"$or": [f, {"n": 2}]}, {"n": 1})
DEEP_NOT = {"n": nested(500, lambda f: {"$not": f}, {"$eq": 1})}
DEEP_ELEM_MATCH = nested(500, lambda f: {"s": {"$elemMatch": f}}, {"x": 1})
DEEP_EXPRESSION = nested(500, lambda e: {"$add": [e, 1]}, "$n")
DEEP_DOCUMENT = nested(1000, lambda d: {"k": d}, 1)
DEEP_ARRAY = nested(1000, lambda a: [a], 1)

BAD_FILTERS: list[tuple[str, Any]] = [
    ("500-nested-$and", DEEP_AND),
    ("500-nested-$or", DEEP_OR),
    ("500-nested-$not", DEEP_NOT),
    ("500-nested-$elemMatch", DEEP_ELEM_MATCH),
    ("500-nested-$expr", {"$expr": {"$gt": [DEEP_EXPRESSION, 0]}}),
    ("1000-deep-literal-document", {"d": DEEP_DOCUMENT}),
    ("1000-deep-literal-array", {"s": DEEP_ARRAY}),
    ("$where-inside-$and", {"$and": [{"n": 1}, {"$where": "this.n > 0"}]}),
    ("$where-inside-$elemMatch", {"s": {"$elemMatch": {"$where": "true"}}}),
    ("$where-as-field-operator", {"n": {"$where": "true"}}),
    ("$accumulator-in-$expr", {"$expr": {"$accumulator": {"init": "function() {}"}}}),
    ("$function-deep-in-$expr", {"$expr": {"$eq": [{"$function": {"body": "x"}}, 1]}}),
    ("$text", {"$text": {"$search": "x"}}),
    ("$jsonSchema", {"$jsonSchema": {"required": ["n"]}}),
    ("$near", {"d": {"$near": [1, 2]}}),
    ("$geoWithin", {"d": {"$geoWithin": {"$box": [[0, 0], [1, 1]]}}}),
    ("None-key", {None: 1}),
    ("int-key", {1: 1}),
    ("bytes-key", {b"n": 1}),
    ("tuple-key", {("n",): 1}),
    ("$-segment-in-path", {"d.$k": 1}),
    ("empty-segment-in-path", {"d..k": 1}),
    ("trailing-dot", {"d.": 1}),
    ("leading-dot", {".d": 1}),
    ("$regex-invalid-pattern", {"s": {"$regex": "("}}),
    ("$mod-zero-divisor", {"n": {"$mod": [0, 1]}}),
    ("$mod-string-divisor", {"n": {"$mod": ["2", 1]}}),
    ("$size-float", {"s": {"$size": 1.5}}),
    ("$size-bool", {"s": {"$size": True}}),
    ("$size-string", {"s": {"$size": "1"}}),
    ("$type-unknown-number", {"n": {"$type": 99}}),
    ("$or-not-a-list", {"$or": {"n": 1}}),
    ("$or-item-not-a-document", {"$or": [1]}),
    ("$nor-empty", {"$nor": []}),
    ("$and-under-a-field", {"n": {"$and": [{"$gt": 0}]}}),
    ("operator-mixed-with-field", {"d": {"$eq": 1, "k": 2}}),
    ("unknown-operator-in-$elemMatch", {"s": {"$elemMatch": {"$bogus": 1}}}),
    ("unknown-operator-in-$not", {"n": {"$not": {"$bogus": 1}}}),
    ("unknown-expression-in-$expr", {"$expr": {"$bogus": ["$n", 1]}}),
    ("$divide-wrong-arity-in-$expr", {"$expr": {"$divide": [1]}}),
    ("filter-is-a-string", "n"),
]

# MongoDB 5.0+ stores $-prefixed and dotted field names below the top level (and dotted ones
# at it), `$[]` is the all-positional operator and a list is a pipeline update: those are
# accepted, and tested as such in tests/conformance/test_field_names.py, test_pymongo_api.py
# and test_positional_updates.py.
BAD_UPDATES: list[tuple[str, Any]] = [
    ("1000-deep-$set-value", {"$set": {"d": DEEP_DOCUMENT}}),
    ("1000-deep-$push-value", {"$push": {"s": DEEP_ARRAY}}),
    ("$-key-inside-$push-value", {"$push": {"s": {"$function": {"body": "x"}}}}),
    ("int-path", {"$set": {1: 1}}),
    ("None-path", {"$unset": {None: ""}}),
    ("positional-$", {"$set": {"s.$": 1}}),
    ("filtered-positional", {"$set": {"s.$[x]": 1}}),
    ("empty-segment-path", {"$set": {"d..k": 1}}),
    ("empty-key-in-value", {"$set": {"d": {"": 1}}}),
    ("operator-value-not-a-document", {"$set": 5}),
    ("operator-value-a-list", {"$set": [("n", 1)]}),
    ("$inc-bool", {"$inc": {"n": True}}),
    ("$inc-operator-document", {"$inc": {"n": {"$x": 1}}}),
    ("$bit-unknown-operation", {"$bit": {"n": {"nand": 1}}}),
    ("$bit-non-integer-operand", {"$bit": {"n": {"and": 1.5}}}),
    ("$currentDate-bad-type", {"$currentDate": {"d": {"$type": "x"}}}),
    ("$rename-to-operator", {"$rename": {"n": "$m"}}),
    ("$rename-into-itself", {"$rename": {"d": "d.k"}}),
    ("$push-$position-not-int", {"$push": {"s": {"$each": [1], "$position": "x"}}}),
    ("$push-$sort-bad", {"$push": {"s": {"$each": [1], "$sort": 5}}}),
    ("$push-unknown-modifier", {"$push": {"s": {"$each": [1], "$bogus": 1}}}),
    ("$addToSet-$each-not-a-list", {"$addToSet": {"s": {"$each": "x"}}}),
    ("$pull-bad-condition", {"$pull": {"s": {"$bogus": 1}}}),
    ("$pull-$where", {"$pull": {"s": {"$where": "true"}}}),
    ("update-is-a-string", "$set"),
]

BAD_PIPELINES: list[tuple[str, Any]] = [
    ("500-nested-expression", [{"$addFields": {"x": DEEP_EXPRESSION}}]),
    ("500-nested-$and-in-$match", [{"$match": DEEP_AND}]),
    ("$where-in-$match", [{"$match": {"$where": "true"}}]),
    ("$function-in-$addFields", [{"$addFields": {"x": {"$function": {"body": "x"}}}}]),
    ("$accumulator-in-$group", [{"$group": {"_id": "$n", "x": {"$accumulator": {}}}}]),
    ("$out-inside-$facet", [{"$facet": {"x": [{"$out": "elsewhere"}]}}]),
    (
        "$merge-inside-$lookup",
        [{"$lookup": {"from": "o", "as": "x", "pipeline": [{"$merge": "o"}]}}],
    ),
    ("stage-None", [None]),
    ("stage-a-string", ["$match"]),
    ("stage-empty", [{}]),
    ("$limit-bool", [{"$limit": True}]),
    ("$limit-float", [{"$limit": 1.5}]),
    ("$skip-negative", [{"$skip": -1}]),
    ("$sort-empty", [{"$sort": {}}]),
    ("$sort-bad-direction", [{"$sort": {"n": 2}}]),
    ("$unwind-without-$", [{"$unwind": "s"}]),
    ("$lookup-from-not-a-name", [{"$lookup": {"from": 1, "as": "x"}}]),
    ("$group-unknown-accumulator", [{"$group": {"_id": None, "x": {"$bogus": 1}}}]),
    ("$group-dotted-field", [{"$group": {"_id": None, "a.b": {"$sum": 1}}}]),
    ("$group-id-unknown-expression", [{"$group": {"_id": {"$bogus": 1}}}]),
    ("$count-$name", [{"$count": "$x"}]),
    ("$count-empty", [{"$count": ""}]),
    ("$project-empty", [{"$project": {}}]),
    ("$project-$-field", [{"$project": {"$x": 1}}]),
    ("pipeline-is-a-string", "$match"),
]

BAD_DOCUMENTS: list[tuple[str, Any]] = [
    ("1000-deep-document", {"d": DEEP_DOCUMENT}),
    ("1000-deep-array", {"s": DEEP_ARRAY}),
    ("int-key-nested", {"d": {1: "one"}}),
    ("None-key-in-document", {None: 1}),
    ("empty-nested-key", {"d": {"": 1}}),
]


async def _misbehaviours(
    collection: Any, cases: list[tuple[str, Any]], operations: dict[str, Callable[[Any], Any]]
) -> list[str]:
    """Run every operation on every case; describe each that did not refuse it."""
    failures = []
    for name, value in cases:
        for operation, run in operations.items():
            try:
                outcome = run(value)
                if isinstance(outcome, Awaitable):
                    await outcome
            except REFUSALS as exc:
                if not str(exc):
                    failures.append(f"{name} / {operation}: refused without a message")
            except Exception as exc:  # any other exception is the finding
                failures.append(f"{name} / {operation}: {type(exc).__name__}: {str(exc)[:200]}")
            else:
                failures.append(f"{name} / {operation}: accepted")
    return failures


async def _content(store: Any, collection: Any) -> tuple[list[Any], list[str]]:
    """Everything a refused operation could have changed: the documents and the collections."""
    return by_id(await collect(collection.find())), await store.list_collections()


def test_the_table_has_more_than_fifty_cases() -> None:
    cases = BAD_FILTERS + BAD_UPDATES + BAD_PIPELINES + BAD_DOCUMENTS
    assert len(cases) >= 50
    assert len({name for name, _ in cases}) == len(cases), "case names are unique"


async def test_bad_filters_are_refused_and_change_nothing(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    before = await _content(store, collection)
    failures = await _misbehaviours(
        collection,
        BAD_FILTERS,
        {
            "find": lambda f: collect(collection.find(f)),
            "count_documents": lambda f: collection.count_documents(f),
            "update_one": lambda f: collection.update_one(f, {"$set": {"touched": 1}}),
            "update_many": lambda f: collection.update_many(f, {"$set": {"touched": 1}}),
            "find_one_and_update": lambda f: collection.find_one_and_update(
                f, {"$set": {"touched": 1}}
            ),
            "replace_one": lambda f: collection.replace_one(f, {"touched": 1}, upsert=True),
            "delete_one": lambda f: collection.delete_one(f),
            "delete_many": lambda f: collection.delete_many(f),
            "aggregate-$match": lambda f: collect(collection.aggregate([{"$match": f}])),
        },
    )
    assert failures == []
    assert await _content(store, collection) == before


async def test_bad_updates_are_refused_and_change_nothing(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    before = await _content(store, collection)
    failures = await _misbehaviours(
        collection,
        BAD_UPDATES,
        {
            "update_one": lambda u: collection.update_one({"n": 1}, u),
            "update_one-upsert": lambda u: collection.update_one({"n": 99}, u, upsert=True),
            "update_many": lambda u: collection.update_many({}, u),
            "find_one_and_update": lambda u: collection.find_one_and_update({"n": 1}, u),
        },
    )
    assert failures == []
    assert await _content(store, collection) == before


async def test_bad_pipelines_are_refused_and_change_nothing(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    before = await _content(store, collection)
    failures = await _misbehaviours(
        collection,
        BAD_PIPELINES,
        {"aggregate": lambda p: collect(collection.aggregate(p))},
    )
    assert failures == []
    assert await _content(store, collection) == before


async def test_bad_documents_are_refused_and_change_nothing(store: Any) -> None:
    collection = await seeded(store, ORIGINAL)
    before = await _content(store, collection)
    failures = await _misbehaviours(
        collection,
        BAD_DOCUMENTS,
        {
            "insert_one": lambda d: collection.insert_one(d),
            "insert_many": lambda d: collection.insert_many([{"n": 3}, d]),
            "replace_one": lambda d: collection.replace_one({"n": 1}, d),
            "replace_one-upsert": lambda d: collection.replace_one({"n": 99}, d, upsert=True),
            "update_one-$set": lambda d: collection.update_one({"n": 1}, {"$set": {"d": d}}),
        },
    )
    assert failures == []
    assert await _content(store, collection) == before


@pytest.mark.slow
async def test_a_large_in_list_is_answered_exactly(store: Any) -> None:
    """The engine accepts a 100,000-value ``$in`` (MongoDB does too): every backend must
    answer it exactly, or refuse it by name rather than time out or fail in the driver."""
    collection = await seeded(store, ORIGINAL)
    values = [*range(3, 100_003), 2]
    try:
        count = await collection.count_documents({"n": {"$in": values}})
    except UnsupportedQueryError as exc:
        assert exc.backend == store.driver, exc
        return
    assert count == 1
    assert [d["n"] for d in await collect(collection.find({"n": {"$nin": values}}))] == [1]
