"""Filters: every operator family, MongoDB's array and null semantics, on every backend.

Each case is (filter, expected ids) over one shared set of documents; results are compared
sorted by ``_id``. Nested documents keep their keys in alphabetical order so that backends
whose maps are unordered store the same thing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conformance.support import REFUSED, attempt, collect, ids, operators_in, seeded, utc

PEOPLE: list[dict[str, Any]] = [
    {
        "_id": "p1",
        "name": "Ada",
        "age": 36,
        "score": 9.5,
        "tags": ["math", "code"],
        "address": {"city": "London", "zip": "N1"},
        "active": True,
        "joined": utc(2020, 1, 1),
        "items": [{"qty": 1, "sku": "a"}, {"qty": 4, "sku": "b"}],
    },
    {
        "_id": "p2",
        "name": "Bob",
        "age": 25,
        "score": 7,
        "tags": ["code"],
        "address": {"city": "Paris", "zip": "75001"},
        "active": False,
        "joined": utc(2021, 6, 15),
        "items": [{"qty": 3, "sku": "a"}],
    },
    {
        "_id": "p3",
        "name": "Cy",
        "age": 41,
        "score": None,
        "tags": [],
        "address": {"city": "London"},
        "active": True,
        "joined": utc(2019, 3, 3),
        "items": [],
    },
    {
        "_id": "p4",
        "name": "dee",
        "age": 30.5,
        "score": 8,
        "tags": ["art", "math"],
        "address": {"city": "Berlin", "zip": "10115"},
        "active": True,
        "joined": utc(2022, 12, 31, 23, 59, 59, 999000),
    },
    {
        "_id": "p5",
        "name": "Eve",
        "tags": ["math"],
        "address": {"city": "paris"},
        "items": [{"qty": 5, "sku": "b"}, {"qty": 1, "sku": "c"}],
    },
    {
        "_id": "p6",
        "name": "Finn",
        "age": None,
        "score": 3,
        "tags": "solo",
        "active": False,
        "nick": "f",
    },
]

ALL = ["p1", "p2", "p3", "p4", "p5", "p6"]

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # -- equality, dotted paths, arrays, null ---------------------------------------------
    ("eq-string", {"name": "Ada"}, ["p1"]),
    ("eq-string-case-sensitive", {"name": "ada"}, []),
    ("eq-int", {"age": 25}, ["p2"]),
    ("eq-int-matches-float", {"age": 25.0}, ["p2"]),
    ("eq-float", {"age": 30.5}, ["p4"]),
    ("eq-null-matches-missing-and-null", {"age": None}, ["p5", "p6"]),
    ("eq-null-score", {"score": None}, ["p3", "p5"]),
    ("eq-true", {"active": True}, ["p1", "p3", "p4"]),
    ("eq-false", {"active": False}, ["p2", "p6"]),
    ("eq-bool-is-not-number", {"active": 1}, []),
    ("eq-array-element", {"tags": "math"}, ["p1", "p4", "p5"]),
    ("eq-scalar-field", {"tags": "solo"}, ["p6"]),
    ("eq-whole-array", {"tags": ["code"]}, ["p2"]),
    ("eq-whole-array-two", {"tags": ["math", "code"]}, ["p1"]),
    ("eq-whole-array-order-matters", {"tags": ["code", "math"]}, []),
    ("eq-empty-array", {"tags": []}, ["p3"]),
    ("eq-dotted", {"address.city": "London"}, ["p1", "p3"]),
    ("eq-embedded-document", {"address": {"city": "London"}}, ["p3"]),
    ("eq-embedded-document-two-fields", {"address": {"city": "London", "zip": "N1"}}, ["p1"]),
    ("eq-through-array-of-documents", {"items.sku": "b"}, ["p1", "p5"]),
    ("eq-through-array-number", {"items.qty": 1}, ["p1", "p5"]),
    ("eq-array-index-then-field", {"items.0.sku": "a"}, ["p1", "p2"]),
    ("eq-array-index", {"tags.0": "math"}, ["p1", "p5"]),
    ("eq-array-index-second", {"tags.1": "math"}, ["p4"]),
    ("eq-only-one-has-it", {"nick": "f"}, ["p6"]),
    ("eq-null-on-absent-field", {"nothing": None}, ALL),
    ("eq-null-dotted", {"address.zip": None}, ["p3", "p5", "p6"]),
    ("eq-id", {"_id": "p3"}, ["p3"]),
    ("eq-two-fields", {"name": "Ada", "age": 36}, ["p1"]),
    ("eq-two-fields-no-match", {"name": "Ada", "age": 25}, []),
    ("empty-filter", {}, ALL),
    # -- $eq / $ne -------------------------------------------------------------------------
    ("$eq", {"age": {"$eq": 25}}, ["p2"]),
    ("$eq-array", {"tags": {"$eq": ["code"]}}, ["p2"]),
    ("$eq-null", {"score": {"$eq": None}}, ["p3", "p5"]),
    ("$ne", {"age": {"$ne": 25}}, ["p1", "p3", "p4", "p5", "p6"]),
    ("$ne-array-no-element", {"tags": {"$ne": "math"}}, ["p2", "p3", "p6"]),
    ("$ne-null", {"age": {"$ne": None}}, ["p1", "p2", "p3", "p4"]),
    ("$ne-dotted", {"address.city": {"$ne": "London"}}, ["p2", "p4", "p5", "p6"]),
    ("$ne-through-array", {"items.sku": {"$ne": "a"}}, ["p3", "p4", "p5", "p6"]),
    # -- comparisons -----------------------------------------------------------------------
    ("$gt", {"age": {"$gt": 30}}, ["p1", "p3", "p4"]),
    ("$gte", {"age": {"$gte": 36}}, ["p1", "p3"]),
    ("$lt", {"age": {"$lt": 30}}, ["p2"]),
    ("$lte-float", {"age": {"$lte": 30.5}}, ["p2", "p4"]),
    ("$gt-$lt", {"age": {"$gt": 25, "$lt": 40}}, ["p1", "p4"]),
    ("$gt-$lt-narrow", {"age": {"$gt": 30, "$lt": 31}}, ["p4"]),
    ("$gte-null-matches-null-and-missing", {"age": {"$gte": None}}, ["p5", "p6"]),
    ("$lt-null-matches-nothing", {"age": {"$lt": None}}, []),
    ("$gt-other-type-bracket", {"age": {"$gt": "a"}}, []),
    ("$gt-string-code-points", {"name": {"$gt": "D"}}, ["p4", "p5", "p6"]),
    ("$lt-string", {"name": {"$lt": "Bob"}}, ["p1"]),
    ("$gte-mixed-numbers", {"score": {"$gte": 8}}, ["p1", "p4"]),
    ("$lt-mixed-numbers", {"score": {"$lt": 8}}, ["p2", "p6"]),
    ("$gte-date", {"joined": {"$gte": utc(2020, 1, 1)}}, ["p1", "p2", "p4"]),
    ("$lt-date", {"joined": {"$lt": utc(2020, 1, 1)}}, ["p3"]),
    ("$gt-date-milliseconds", {"joined": {"$gt": utc(2022, 12, 31, 23, 59, 59, 998000)}}, ["p4"]),
    ("$gt-through-array", {"items.qty": {"$gt": 4}}, ["p5"]),
    ("$gte-through-array", {"items.qty": {"$gte": 4}}, ["p1", "p5"]),
    ("$gt-array-elements", {"tags": {"$gt": "d"}}, ["p1", "p4", "p5", "p6"]),
    ("$gt-bool", {"active": {"$gt": False}}, ["p1", "p3", "p4"]),
    ("$lte-on-missing", {"nothing": {"$lte": 5}}, []),
    # -- $in / $nin ------------------------------------------------------------------------
    ("$in", {"age": {"$in": [25, 41]}}, ["p2", "p3"]),
    ("$in-null", {"age": {"$in": [None]}}, ["p5", "p6"]),
    ("$in-array-elements", {"tags": {"$in": ["art", "solo"]}}, ["p4", "p6"]),
    ("$in-empty", {"tags": {"$in": []}}, []),
    ("$in-regex", {"name": {"$in": [re.compile("^E")]}}, ["p5"]),
    ("$in-mixed-types", {"age": {"$in": ["25", 25.0]}}, ["p2"]),
    ("$in-dotted", {"address.city": {"$in": ["Paris", "paris"]}}, ["p2", "p5"]),
    ("$in-id", {"_id": {"$in": ["p1", "p6", "zz"]}}, ["p1", "p6"]),
    ("$nin", {"age": {"$nin": [25, 41]}}, ["p1", "p4", "p5", "p6"]),
    ("$nin-array", {"tags": {"$nin": ["math"]}}, ["p2", "p3", "p6"]),
    ("$nin-null", {"age": {"$nin": [None]}}, ["p1", "p2", "p3", "p4"]),
    ("$nin-empty", {"age": {"$nin": []}}, ALL),
    # -- $exists ---------------------------------------------------------------------------
    ("$exists-true", {"age": {"$exists": True}}, ["p1", "p2", "p3", "p4", "p6"]),
    ("$exists-false", {"age": {"$exists": False}}, ["p5"]),
    ("$exists-dotted", {"address.zip": {"$exists": True}}, ["p1", "p2", "p4"]),
    ("$exists-dotted-false", {"address.zip": {"$exists": False}}, ["p3", "p5", "p6"]),
    ("$exists-through-array", {"items.sku": {"$exists": True}}, ["p1", "p2", "p5"]),
    ("$exists-empty-array-field", {"items": {"$exists": True}}, ["p1", "p2", "p3", "p5"]),
    ("$exists-null-value", {"score": {"$exists": True}}, ["p1", "p2", "p3", "p4", "p6"]),
    # -- $type -----------------------------------------------------------------------------
    ("$type-int", {"age": {"$type": "int"}}, ["p1", "p2", "p3"]),
    ("$type-double", {"age": {"$type": "double"}}, ["p4"]),
    ("$type-number", {"age": {"$type": "number"}}, ["p1", "p2", "p3", "p4"]),
    ("$type-null", {"age": {"$type": "null"}}, ["p6"]),
    ("$type-array", {"tags": {"$type": "array"}}, ["p1", "p2", "p3", "p4", "p5"]),
    ("$type-string-elements", {"tags": {"$type": "string"}}, ["p1", "p2", "p4", "p5", "p6"]),
    ("$type-object", {"address": {"$type": "object"}}, ["p1", "p2", "p3", "p4", "p5"]),
    ("$type-date", {"joined": {"$type": "date"}}, ["p1", "p2", "p3", "p4"]),
    ("$type-bool", {"active": {"$type": "bool"}}, ["p1", "p2", "p3", "p4", "p6"]),
    ("$type-list", {"age": {"$type": ["null", "double"]}}, ["p4", "p6"]),
    ("$type-code", {"age": {"$type": 16}}, ["p1", "p2", "p3"]),
    # -- $regex ----------------------------------------------------------------------------
    ("$regex-anchor", {"name": {"$regex": "^E"}}, ["p5"]),
    ("$regex-options-i", {"name": {"$regex": "^d", "$options": "i"}}, ["p4"]),
    ("$regex-substring", {"name": {"$regex": "e"}}, ["p4", "p5"]),
    ("$regex-compiled", {"name": re.compile("^b", re.IGNORECASE)}, ["p2"]),
    ("$regex-array-elements", {"tags": {"$regex": "^ma"}}, ["p1", "p4", "p5"]),
    ("$regex-dotted", {"address.city": {"$regex": "on$"}}, ["p1", "p3"]),
    ("$regex-not-numbers", {"age": {"$regex": "3"}}, []),
    ("$regex-dot-all-chars", {"name": {"$regex": "^.{3}$"}}, ["p1", "p2", "p4", "p5"]),
    # -- $not ------------------------------------------------------------------------------
    ("$not-$gt", {"age": {"$not": {"$gt": 30}}}, ["p2", "p5", "p6"]),
    ("$not-$size", {"tags": {"$not": {"$size": 1}}}, ["p1", "p3", "p4", "p6"]),
    ("$not-regex", {"name": {"$not": re.compile("^[A-C]")}}, ["p4", "p5", "p6"]),
    ("$not-$regex", {"name": {"$not": {"$regex": "e"}}}, ["p1", "p2", "p3", "p6"]),
    ("$not-$in", {"age": {"$not": {"$in": [25, 36]}}}, ["p3", "p4", "p5", "p6"]),
    # -- logical ---------------------------------------------------------------------------
    ("$and", {"$and": [{"age": {"$gt": 20}}, {"active": True}]}, ["p1", "p3", "p4"]),
    ("$and-same-field", {"$and": [{"tags": "math"}, {"tags": "code"}]}, ["p1"]),
    ("$or", {"$or": [{"age": 25}, {"name": "Eve"}]}, ["p2", "p5"]),
    ("$or-dotted", {"$or": [{"tags": "art"}, {"address.city": "Paris"}]}, ["p2", "p4"]),
    ("$or-exists", {"$or": [{"nick": {"$exists": True}}, {"score": {"$lt": 5}}]}, ["p6"]),
    ("$nor", {"$nor": [{"active": True}, {"age": None}]}, ["p2"]),
    ("$nor-single", {"$nor": [{"tags": "math"}]}, ["p2", "p3", "p6"]),
    (
        "$and-of-$or",
        {
            "$and": [
                {"$or": [{"age": {"$lt": 30}}, {"age": {"$gt": 40}}]},
                {"active": {"$exists": True}},
            ]
        },
        ["p2", "p3"],
    ),
    ("implicit-and-with-$or", {"name": "Ada", "$or": [{"age": 36}, {"age": 1}]}, ["p1"]),
    (
        "$or-of-$and",
        {"$or": [{"$and": [{"age": 25}, {"active": False}]}, {"_id": "p6"}]},
        ["p2", "p6"],
    ),
    # -- arrays ----------------------------------------------------------------------------
    ("$all", {"tags": {"$all": ["math", "code"]}}, ["p1"]),
    ("$all-one", {"tags": {"$all": ["math"]}}, ["p1", "p4", "p5"]),
    ("$all-empty-matches-nothing", {"tags": {"$all": []}}, []),
    ("$all-scalar-field", {"tags": {"$all": ["solo"]}}, ["p6"]),
    (
        "$elemMatch-two-conditions",
        {"items": {"$elemMatch": {"sku": "a", "qty": {"$gte": 2}}}},
        ["p2"],
    ),
    ("$elemMatch-equalities", {"items": {"$elemMatch": {"sku": "b", "qty": 4}}}, ["p1"]),
    ("$elemMatch-one-condition", {"items": {"$elemMatch": {"qty": {"$gt": 4}}}}, ["p5"]),
    ("across-elements-without-elemMatch", {"items.sku": "a", "items.qty": 4}, ["p1"]),
    ("$elemMatch-same-element-required", {"items": {"$elemMatch": {"sku": "a", "qty": 4}}}, []),
    ("$elemMatch-operator-form", {"tags": {"$elemMatch": {"$eq": "art"}}}, ["p4"]),
    ("$elemMatch-regex", {"tags": {"$elemMatch": {"$regex": "^c"}}}, ["p1", "p2"]),
    ("$elemMatch-not-an-array", {"tags": {"$elemMatch": {"$in": ["solo"]}}}, []),
    ("$size-0", {"tags": {"$size": 0}}, ["p3"]),
    ("$size-1", {"tags": {"$size": 1}}, ["p2", "p5"]),
    ("$size-2", {"tags": {"$size": 2}}, ["p1", "p4"]),
    ("$size-documents", {"items": {"$size": 2}}, ["p1", "p5"]),
    # -- $mod ------------------------------------------------------------------------------
    ("$mod", {"age": {"$mod": [5, 1]}}, ["p1", "p3"]),
    ("$mod-zero-remainder", {"age": {"$mod": [10, 5]}}, ["p2"]),
    # -- $expr -----------------------------------------------------------------------------
    ("$expr-compare-fields", {"$expr": {"$gt": ["$score", "$age"]}}, ["p6"]),
    ("$expr-eq", {"$expr": {"$eq": ["$name", "Bob"]}}, ["p2"]),
    (
        "$expr-size-ifnull",
        {"$expr": {"$lt": [{"$size": {"$ifNull": ["$items", []]}}, 1]}},
        ["p3", "p4", "p6"],
    ),
    (
        "$expr-and",
        {"$expr": {"$and": [{"$gte": ["$age", 30]}, {"$eq": ["$active", True]}]}},
        ["p1", "p3", "p4"],
    ),
    ("$expr-in", {"$expr": {"$in": ["$name", ["Cy", "Eve"]]}}, ["p3", "p5"]),
    ("$expr-arithmetic", {"$expr": {"$eq": [{"$add": ["$age", 5]}, 30]}}, ["p2"]),
    (
        "$expr-cond",
        {"$expr": {"$cond": [{"$eq": ["$active", True]}, {"$gt": ["$age", 40]}, False]}},
        ["p3"],
    ),
]


@pytest.mark.parametrize(("filter", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_filter(store: Any, filter: dict[str, Any], expected: list[str]) -> None:
    collection = await seeded(store, PEOPLE)
    found = await attempt(store, operators_in(filter), lambda: collect(collection.find(filter)))
    if found is not REFUSED:
        assert ids(found) == expected


@pytest.mark.parametrize(("filter", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_count_documents_agrees_with_find(
    store: Any, filter: dict[str, Any], expected: list[str]
) -> None:
    collection = await seeded(store, PEOPLE)
    count = await attempt(store, operators_in(filter), lambda: collection.count_documents(filter))
    if count is not REFUSED:
        assert count == len(expected)
