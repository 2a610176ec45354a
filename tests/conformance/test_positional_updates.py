"""Positional update paths on every backend: ``$`` (the element the filter matched),
``$[]`` (every element) and ``$[<identifier>]`` with ``array_filters`` (the elements a filter
selects), with the examples of MongoDB's manual and the CRUD specification's
bulkWrite-arrayFilters, and MongoDB's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError, ReturnDocument, UpdateMany, UpdateOne
from tests.conformance.support import by_id, collect, seeded

K = {n: f"{n:024x}" for n in range(10)}


async def contents(collection: Any) -> list[Any]:
    return by_id(await collect(collection.find({})))


async def test_first_match_positional_on_values(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "grades": [85, 80, 80]}])
    await collection.update_one({"_id": K[1], "grades": 80}, {"$set": {"grades.$": 82}})
    assert await contents(collection) == [{"_id": K[1], "grades": [85, 82, 80]}]


async def test_first_match_positional_on_embedded_documents(store: Any) -> None:
    grades = [
        {"grade": 80, "mean": 75, "std": 8},
        {"grade": 85, "mean": 90, "std": 5},
        {"grade": 85, "mean": 85, "std": 8},
    ]
    collection = await seeded(store, [{"_id": K[4], "grades": grades}])
    await collection.update_one({"_id": K[4], "grades.grade": 85}, {"$set": {"grades.$.std": 6}})
    expected = [grades[0], {**grades[1], "std": 6}, grades[2]]
    assert await contents(collection) == [{"_id": K[4], "grades": expected}]


async def test_first_match_positional_with_elem_match(store: Any) -> None:
    grades = [
        {"grade": 80, "mean": 75, "std": 8},
        {"grade": 85, "mean": 90, "std": 5},
        {"grade": 90, "mean": 85, "std": 3},
    ]
    collection = await seeded(store, [{"_id": K[5], "grades": grades}])
    await collection.update_one(
        {"_id": K[5], "grades": {"$elemMatch": {"grade": {"$lte": 90}, "mean": {"$gt": 80}}}},
        {"$set": {"grades.$.grade": 18}},
    )
    expected = [grades[0], {**grades[1], "grade": 18}, grades[2]]
    assert await contents(collection) == [{"_id": K[5], "grades": expected}]


async def test_first_match_positional_in_find_one_and_update_and_unset(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "a": [1, 2, 3]}])
    after = await collection.find_one_and_update(
        {"a": {"$gt": 1}}, {"$unset": {"a.$": ""}}, return_document=ReturnDocument.AFTER
    )
    assert after == {"_id": K[1], "a": [1, None, 3]}


async def test_first_match_positional_needs_the_array_in_the_filter(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "grades": [85, 80]}])
    with pytest.raises(InvalidQueryError, match="did not find the match"):
        await collection.update_one({"_id": K[1]}, {"$set": {"grades.$": 1}})
    assert await contents(collection) == [{"_id": K[1], "grades": [85, 80]}]


async def test_all_positional(store: Any) -> None:
    collection = await seeded(
        store, [{"_id": K[1], "grades": [85, 82, 80]}, {"_id": K[2], "grades": [88, 90, 92]}]
    )
    result = await collection.update_many({}, {"$inc": {"grades.$[]": 10}})
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert await contents(collection) == [
        {"_id": K[1], "grades": [95, 92, 90]},
        {"_id": K[2], "grades": [98, 100, 102]},
    ]


async def test_all_positional_on_embedded_documents(store: Any) -> None:
    collection = await seeded(
        store, [{"_id": K[1], "grades": [{"g": 80, "std": 8}, {"g": 85, "std": 5}]}]
    )
    await collection.update_one({}, {"$inc": {"grades.$[].std": -2}})
    assert await contents(collection) == [
        {"_id": K[1], "grades": [{"g": 80, "std": 6}, {"g": 85, "std": 3}]}
    ]


async def test_all_positional_on_a_non_array_is_refused(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "grades": 5}])
    with pytest.raises(InvalidQueryError, match="non-array"):
        await collection.update_one({}, {"$set": {"grades.$[]": 1}})
    assert await contents(collection) == [{"_id": K[1], "grades": 5}]


async def test_filtered_positional_with_array_filters(store: Any) -> None:
    collection = await seeded(
        store,
        [
            {"_id": K[1], "grades": [95, 92, 90]},
            {"_id": K[2], "grades": [98, 100, 102]},
            {"_id": K[3], "grades": [95, 110, 100]},
        ],
    )
    result = await collection.update_many(
        {}, {"$set": {"grades.$[element]": 100}}, array_filters=[{"element": {"$gte": 100}}]
    )
    assert (result.matched_count, result.modified_count) == (3, 2)
    assert await contents(collection) == [
        {"_id": K[1], "grades": [95, 92, 90]},
        {"_id": K[2], "grades": [98, 100, 100]},
        {"_id": K[3], "grades": [95, 100, 100]},
    ]


async def test_filtered_positional_on_embedded_fields(store: Any) -> None:
    collection = await seeded(
        store,
        [
            {
                "_id": K[1],
                "grades": [{"grade": 80, "mean": 75}, {"grade": 85, "mean": 90}],
            }
        ],
    )
    await collection.update_one(
        {},
        {"$inc": {"grades.$[elem].mean": 1}},
        array_filters=[{"elem.grade": {"$gte": 85}}],
    )
    assert await contents(collection) == [
        {"_id": K[1], "grades": [{"grade": 80, "mean": 75}, {"grade": 85, "mean": 91}]}
    ]


async def test_nested_all_and_filtered_positional(store: Any) -> None:
    collection = await seeded(
        store,
        [{"_id": K[1], "grades": [{"questions": [10, 8, 5]}, {"questions": [8, 9, 6]}]}],
    )
    await collection.update_one(
        {},
        {"$inc": {"grades.$[].questions.$[score]": 2}},
        array_filters=[{"score": {"$gte": 8}}],
    )
    assert await contents(collection) == [
        {"_id": K[1], "grades": [{"questions": [12, 10, 5]}, {"questions": [10, 11, 6]}]}
    ]


async def test_bulk_write_with_array_filters(store: Any) -> None:
    """bulkWrite-arrayFilters of the CRUD specification."""
    seed = [{"_id": K[1], "y": [{"b": 3}, {"b": 1}]}, {"_id": K[2], "y": [{"b": 0}, {"b": 1}]}]
    collection = await seeded(store, seed)
    # The specification's filter is {} (the first document in natural order, which a
    # DynamoDB scan does not keep); {"y.b": 3} picks the same document everywhere.
    result = await collection.bulk_write(
        [UpdateOne({"y.b": 3}, {"$set": {"y.$[i].b": 2}}, array_filters=[{"i.b": 3}])]
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await contents(collection) == [
        {"_id": K[1], "y": [{"b": 2}, {"b": 1}]},
        seed[1],
    ]
    result = await collection.bulk_write(
        [UpdateMany({}, {"$set": {"y.$[i].b": 2}}, array_filters=[{"i.b": 1}])]
    )
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert await contents(collection) == [
        {"_id": K[1], "y": [{"b": 2}, {"b": 2}]},
        {"_id": K[2], "y": [{"b": 0}, {"b": 2}]},
    ]


async def test_find_one_and_update_with_array_filters(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "a": [1, 5, 9]}])
    after = await collection.find_one_and_update(
        {},
        {"$mul": {"a.$[big]": 2}},
        array_filters=[{"big": {"$gt": 4}}],
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": K[1], "a": [1, 10, 18]}


@pytest.mark.parametrize(
    ("update", "array_filters", "fragment"),
    [
        ({"$set": {"a.$[x]": 1}}, None, "No array filter found for the identifier 'x'"),
        ({"$set": {"a.$[x]": 1}}, [{"x": 1}, {"y": 2}], "'y' is not used"),
        ({"$set": {"a.$[x]": 1}}, [{"x": 1}, {"x": 2}], "more than one filter"),
        ({"$set": {"a.$[x]": 1}}, [{"x": 1, "y": 1}], "one identifier"),
    ],
)
async def test_array_filter_refusals(
    store: Any, update: dict[str, Any], array_filters: Any, fragment: str
) -> None:
    collection = await seeded(store, [{"_id": K[1], "a": [1, 2]}])
    with pytest.raises(InvalidQueryError, match=fragment):
        await collection.update_one({}, update, array_filters=array_filters)
    assert await contents(collection) == [{"_id": K[1], "a": [1, 2]}]


async def test_an_upsert_with_all_positional_needs_the_array_in_the_filter(store: Any) -> None:
    """MongoDB's rule: an upsert that inserts can use $[] only when the filter pins the array
    by equality (the inserted document starts from it)."""
    collection = await seeded(store, [])
    result = await collection.update_one(
        {"_id": K[1], "a": [1, 2]}, {"$inc": {"a.$[]": 10}}, upsert=True
    )
    assert result.upserted_id == K[1]
    assert await contents(collection) == [{"_id": K[1], "a": [11, 12]}]
    with pytest.raises(InvalidQueryError, match="must exist"):
        await collection.update_one({"_id": K[2]}, {"$inc": {"a.$[]": 10}}, upsert=True)
    assert await contents(collection) == [{"_id": K[1], "a": [11, 12]}]


async def test_array_filters_with_or(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[1], "a": [1, 2, 3, 4]}])
    await collection.update_one(
        {},
        {"$set": {"a.$[x]": 0}},
        array_filters=[{"$or": [{"x": 1}, {"x": {"$gte": 4}}]}],
    )
    assert await contents(collection) == [{"_id": K[1], "a": [0, 2, 3, 0]}]
