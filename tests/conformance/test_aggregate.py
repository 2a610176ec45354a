"""Aggregation: stages, accumulators and expressions, on every backend.

Each case is (pipeline, expected output). Pipelines that end in ``$sort`` (or produce one
document) compare in order; the others compare sorted by ``_id``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.support import REFUSED, attempt, collect, operators_in, seeded, utc

SALES: list[dict[str, Any]] = [
    {
        "_id": "s1",
        "item": "apple",
        "qty": 5,
        "price": 1.5,
        "region": "north",
        "tags": ["fruit", "red"],
        "at": utc(2024, 1, 5, 10, 30),
    },
    {
        "_id": "s2",
        "item": "banana",
        "qty": 10,
        "price": 0.5,
        "region": "south",
        "tags": ["fruit"],
        "at": utc(2024, 1, 6),
    },
    {
        "_id": "s3",
        "item": "apple",
        "qty": 2,
        "price": 1.5,
        "region": "south",
        "tags": ["fruit", "red"],
        "at": utc(2024, 2, 1),
    },
    {
        "_id": "s4",
        "item": "carrot",
        "qty": 7,
        "price": 0.25,
        "region": "north",
        "tags": ["veg"],
        "at": utc(2024, 2, 15),
    },
    {
        "_id": "s5",
        "item": "banana",
        "qty": 1,
        "price": 0.5,
        "region": "north",
        "tags": [],
        "at": utc(2024, 3, 1),
    },
]

ITEMS: list[dict[str, Any]] = [
    {"_id": "apple", "color": "red"},
    {"_id": "banana", "color": "yellow"},
]

CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], bool]] = [
    # (name, pipeline, expected, ordered)
    (
        "$match",
        [{"$match": {"region": "north"}}, {"$project": {"_id": 1}}],
        [{"_id": "s1"}, {"_id": "s4"}, {"_id": "s5"}],
        False,
    ),
    ("$match-empty", [{"$match": {}}, {"$count": "n"}], [{"n": 5}], True),
    (
        "$group-sum-field",
        [{"$group": {"_id": "$item", "total": {"$sum": "$qty"}}}],
        [
            {"_id": "apple", "total": 7},
            {"_id": "banana", "total": 11},
            {"_id": "carrot", "total": 7},
        ],
        False,
    ),
    (
        "$group-count-with-$sum-1",
        [{"$group": {"_id": "$region", "n": {"$sum": 1}}}],
        [{"_id": "north", "n": 3}, {"_id": "south", "n": 2}],
        False,
    ),
    (
        "$group-null-id",
        [{"$group": {"_id": None, "qty": {"$sum": "$qty"}, "n": {"$count": {}}}}],
        [{"_id": None, "qty": 25, "n": 5}],
        True,
    ),
    (
        "$group-avg",
        [{"$group": {"_id": "$item", "avg": {"$avg": "$qty"}}}],
        [
            {"_id": "apple", "avg": 3.5},
            {"_id": "banana", "avg": 5.5},
            {"_id": "carrot", "avg": 7.0},
        ],
        False,
    ),
    (
        "$group-min-max",
        [{"$group": {"_id": "$region", "lo": {"$min": "$qty"}, "hi": {"$max": "$qty"}}}],
        [{"_id": "north", "lo": 1, "hi": 7}, {"_id": "south", "lo": 2, "hi": 10}],
        False,
    ),
    (
        "$group-first-last-after-sort",
        [
            {"$sort": {"qty": 1}},
            {
                "$group": {
                    "_id": "$region",
                    "first": {"$first": "$item"},
                    "last": {"$last": "$item"},
                }
            },
        ],
        [
            {"_id": "north", "first": "banana", "last": "carrot"},
            {"_id": "south", "first": "apple", "last": "banana"},
        ],
        False,
    ),
    (
        "$group-push",
        [{"$sort": {"_id": 1}}, {"$group": {"_id": "$item", "qtys": {"$push": "$qty"}}}],
        [
            {"_id": "apple", "qtys": [5, 2]},
            {"_id": "banana", "qtys": [10, 1]},
            {"_id": "carrot", "qtys": [7]},
        ],
        False,
    ),
    (
        "$group-addToSet",
        [
            {"$group": {"_id": "$item", "regions": {"$addToSet": "$region"}}},
            {"$project": {"n": {"$size": "$regions"}}},
        ],
        [{"_id": "apple", "n": 2}, {"_id": "banana", "n": 2}, {"_id": "carrot", "n": 1}],
        False,
    ),
    (
        "$group-compound-id",
        [
            {"$group": {"_id": {"item": "$item", "region": "$region"}, "n": {"$sum": 1}}},
            {"$match": {"_id.item": "apple"}},
            {"$sort": {"_id.region": 1}},
        ],
        [
            {"_id": {"item": "apple", "region": "north"}, "n": 1},
            {"_id": {"item": "apple", "region": "south"}, "n": 1},
        ],
        True,
    ),
    (
        "$group-expression-sum",
        [{"$group": {"_id": None, "revenue": {"$sum": {"$multiply": ["$qty", "$price"]}}}}],
        [{"_id": None, "revenue": 7.5 + 5.0 + 3.0 + 1.75 + 0.5}],
        True,
    ),
    (
        "$group-then-sort",
        [
            {"$group": {"_id": "$item", "total": {"$sum": "$qty"}}},
            {"$sort": {"total": -1, "_id": 1}},
        ],
        [
            {"_id": "banana", "total": 11},
            {"_id": "apple", "total": 7},
            {"_id": "carrot", "total": 7},
        ],
        True,
    ),
    # -- shaping ---------------------------------------------------------------------------
    (
        "$project-include",
        [{"$match": {"_id": "s1"}}, {"$project": {"item": 1, "qty": 1}}],
        [{"_id": "s1", "item": "apple", "qty": 5}],
        True,
    ),
    (
        "$project-exclude-id",
        [{"$match": {"_id": "s1"}}, {"$project": {"_id": 0, "item": 1}}],
        [{"item": "apple"}],
        True,
    ),
    (
        "$project-exclude",
        [{"$match": {"_id": "s5"}}, {"$project": {"tags": 0, "at": 0, "price": 0}}],
        [{"_id": "s5", "item": "banana", "qty": 1, "region": "north"}],
        True,
    ),
    (
        "$project-computed",
        [
            {"$match": {"_id": "s2"}},
            {"$project": {"total": {"$multiply": ["$qty", "$price"]}, "name": "$item"}},
        ],
        [{"_id": "s2", "total": 5.0, "name": "banana"}],
        True,
    ),
    (
        "$addFields",
        [
            {"$match": {"_id": "s4"}},
            {"$addFields": {"big": {"$gt": ["$qty", 5]}}},
            {"$project": {"big": 1, "qty": 1}},
        ],
        [{"_id": "s4", "qty": 7, "big": True}],
        True,
    ),
    (
        "$set-stage",
        [
            {"$match": {"_id": "s4"}},
            {"$set": {"qty": {"$add": ["$qty", 1]}}},
            {"$project": {"qty": 1}},
        ],
        [{"_id": "s4", "qty": 8}],
        True,
    ),
    (
        "$unset-stage",
        [{"$match": {"_id": "s5"}}, {"$unset": ["tags", "at", "price", "region"]}],
        [{"_id": "s5", "item": "banana", "qty": 1}],
        True,
    ),
    (
        "$replaceRoot",
        [{"$match": {"_id": "s1"}}, {"$replaceRoot": {"newRoot": {"i": "$item", "q": "$qty"}}}],
        [{"i": "apple", "q": 5}],
        True,
    ),
    (
        "$replaceWith",
        [{"$match": {"_id": "s1"}}, {"$replaceWith": {"i": "$item"}}],
        [{"i": "apple"}],
        True,
    ),
    # -- order and paging ------------------------------------------------------------------
    (
        "$sort-asc",
        [{"$sort": {"qty": 1}}, {"$project": {"_id": 1}}],
        [{"_id": "s5"}, {"_id": "s3"}, {"_id": "s1"}, {"_id": "s4"}, {"_id": "s2"}],
        True,
    ),
    (
        "$sort-two-keys",
        [{"$sort": {"item": -1, "qty": 1}}, {"$project": {"_id": 1}}],
        [{"_id": "s4"}, {"_id": "s5"}, {"_id": "s2"}, {"_id": "s3"}, {"_id": "s1"}],
        True,
    ),
    (
        "$skip-$limit",
        [{"$sort": {"qty": -1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 1}}],
        [{"_id": "s4"}, {"_id": "s1"}],
        True,
    ),
    (
        "$limit",
        [{"$sort": {"_id": 1}}, {"$limit": 1}, {"$project": {"_id": 1}}],
        [{"_id": "s1"}],
        True,
    ),
    ("$count", [{"$match": {"qty": {"$gte": 5}}}, {"$count": "many"}], [{"many": 3}], True),
    (
        "$sortByCount",
        [{"$sortByCount": "$region"}],
        [{"_id": "north", "count": 3}, {"_id": "south", "count": 2}],
        True,
    ),
    # -- arrays ----------------------------------------------------------------------------
    (
        "$unwind",
        [
            {"$match": {"_id": {"$in": ["s1", "s5"]}}},
            {"$unwind": "$tags"},
            {"$project": {"tags": 1}},
            {"$sort": {"tags": 1}},
        ],
        [{"_id": "s1", "tags": "fruit"}, {"_id": "s1", "tags": "red"}],
        True,
    ),
    (
        "$unwind-preserve",
        [
            {"$match": {"_id": "s5"}},
            {"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": True}},
            {"$project": {"tags": 1}},
        ],
        [{"_id": "s5"}],
        True,
    ),
    (
        "$unwind-index",
        [
            {"$match": {"_id": "s1"}},
            {"$unwind": {"path": "$tags", "includeArrayIndex": "i"}},
            {"$project": {"tags": 1, "i": 1}},
            {"$sort": {"i": 1}},
        ],
        [{"_id": "s1", "tags": "fruit", "i": 0}, {"_id": "s1", "tags": "red", "i": 1}],
        True,
    ),
    (
        "$unwind-then-group",
        [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}],
        [{"_id": "fruit", "n": 3}, {"_id": "red", "n": 2}, {"_id": "veg", "n": 1}],
        False,
    ),
    # -- expressions -----------------------------------------------------------------------
    (
        "$cond",
        [{"$project": {"size": {"$cond": [{"$gte": ["$qty", 5]}, "big", "small"]}}}],
        [
            {"_id": "s1", "size": "big"},
            {"_id": "s2", "size": "big"},
            {"_id": "s3", "size": "small"},
            {"_id": "s4", "size": "big"},
            {"_id": "s5", "size": "small"},
        ],
        False,
    ),
    (
        "$ifNull",
        [{"$match": {"_id": "s1"}}, {"$project": {"x": {"$ifNull": ["$missing", "dflt"]}}}],
        [{"_id": "s1", "x": "dflt"}],
        True,
    ),
    (
        "$concat-$toUpper-$toLower",
        [
            {"$match": {"_id": "s1"}},
            {"$project": {"s": {"$concat": [{"$toUpper": "$item"}, "-", {"$toLower": "$region"}]}}},
        ],
        [{"_id": "s1", "s": "APPLE-north"}],
        True,
    ),
    (
        "$size-$arrayElemAt",
        [
            {"$match": {"_id": "s1"}},
            {"$project": {"n": {"$size": "$tags"}, "last": {"$arrayElemAt": ["$tags", -1]}}},
        ],
        [{"_id": "s1", "n": 2, "last": "red"}],
        True,
    ),
    (
        "$in-expression",
        [{"$match": {"_id": "s3"}}, {"$project": {"red": {"$in": ["red", "$tags"]}}}],
        [{"_id": "s3", "red": True}],
        True,
    ),
    (
        "arithmetic",
        [
            {"$match": {"_id": "s2"}},
            {
                "$project": {
                    "a": {"$add": ["$qty", 1]},
                    "s": {"$subtract": ["$qty", 4]},
                    "d": {"$divide": ["$qty", 4]},
                    "m": {"$mod": ["$qty", 3]},
                }
            },
        ],
        [{"_id": "s2", "a": 11, "s": 6, "d": 2.5, "m": 1}],
        True,
    ),
    (
        "comparison-and-boolean",
        [
            {"$match": {"_id": "s2"}},
            {
                "$project": {
                    "x": {"$and": [{"$eq": ["$item", "banana"]}, {"$not": [{"$lt": ["$qty", 3]}]}]},
                    "y": {"$or": [False, {"$ne": ["$qty", 10]}]},
                }
            },
        ],
        [{"_id": "s2", "x": True, "y": False}],
        True,
    ),
    (
        "$dateToString",
        [
            {"$match": {"_id": "s1"}},
            {"$project": {"d": {"$dateToString": {"format": "%Y-%m-%d %H:%M", "date": "$at"}}}},
        ],
        [{"_id": "s1", "d": "2024-01-05 10:30"}],
        True,
    ),
    (
        "$literal",
        [{"$match": {"_id": "s1"}}, {"$project": {"x": {"$literal": "$qty"}}}],
        [{"_id": "s1", "x": "$qty"}],
        True,
    ),
    # -- multi-output ----------------------------------------------------------------------
    (
        "$facet",
        [
            {
                "$facet": {
                    "n": [{"$count": "n"}],
                    "top": [{"$sort": {"qty": -1}}, {"$limit": 1}, {"$project": {"_id": 1}}],
                }
            }
        ],
        [{"n": [{"n": 5}], "top": [{"_id": "s2"}]}],
        True,
    ),
]


@pytest.mark.parametrize(
    ("pipeline", "expected", "ordered"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_aggregate(
    store: Any, pipeline: list[dict[str, Any]], expected: list[dict[str, Any]], ordered: bool
) -> None:
    collection = await seeded(store, SALES)
    found = await attempt(
        store, operators_in(pipeline), lambda: collect(collection.aggregate(pipeline))
    )
    if found is REFUSED:
        return
    if not ordered:
        found = sorted(found, key=lambda d: repr(d.get("_id")))
        expected = sorted(expected, key=lambda d: repr(d.get("_id")))
    assert found == expected


async def test_lookup_joins_a_collection_of_the_same_store(store: Any) -> None:
    sales = await seeded(store, SALES)
    items = await seeded(store, ITEMS)
    pipeline = [
        {"$match": {"_id": {"$in": ["s1", "s4"]}}},
        {
            "$lookup": {
                "from": items.name,
                "localField": "item",
                "foreignField": "_id",
                "as": "info",
            }
        },
        {"$project": {"info": 1}},
        {"$sort": {"_id": 1}},
    ]
    found = await attempt(store, operators_in(pipeline), lambda: collect(sales.aggregate(pipeline)))
    if found is not REFUSED:
        assert found == [
            {"_id": "s1", "info": [{"_id": "apple", "color": "red"}]},
            {"_id": "s4", "info": []},
        ]


async def test_sample_returns_distinct_documents(store: Any) -> None:
    collection = await seeded(store, SALES)
    pipeline = [{"$sample": {"size": 3}}]
    found = await attempt(
        store, operators_in(pipeline), lambda: collect(collection.aggregate(pipeline))
    )
    if found is not REFUSED:
        assert len({d["_id"] for d in found}) == 3
        assert all(d in SALES for d in found)


async def test_aggregate_on_an_empty_collection(store: Any) -> None:
    collection = store.collection("never_written")
    assert await collect(collection.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}])) == []
    assert await collect(collection.aggregate([{"$count": "n"}])) == []


async def test_aggregate_output_is_a_copy(store: Any) -> None:
    collection = await seeded(store, SALES)
    [first] = await collect(collection.aggregate([{"$match": {"_id": "s1"}}]))
    first["tags"].append("changed")
    [again] = await collect(collection.aggregate([{"$match": {"_id": "s1"}}]))
    assert again["tags"] == ["fruit", "red"]
