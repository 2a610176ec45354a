"""PyMongo's collection API on every backend, with the expectations of MongoDB's CRUD
specification tests (source/crud/tests in mongodb/specifications): update/replace
validation, pipeline updates, counts, find_one(skip=), sort= on update_one/replace_one, and
the results of bulk writes."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import (
    BulkWriteError,
    BulkWriteResult,
    DeleteOne,
    DuplicateKeyError,
    InsertOne,
    InvalidQueryError,
    ReplaceOne,
    ReturnDocument,
    UpdateMany,
    UpdateOne,
)
from tests.conformance.support import by_id, collect, seeded

K = {n: f"{n:024x}" for n in range(10)}
"""Ids shaped like ObjectIds, which every backend (CongoDB included) stores."""

THREE = [{"_id": K[1], "x": 11}, {"_id": K[2], "x": 22}, {"_id": K[3], "x": 33}]


async def contents(collection: Any) -> list[Any]:
    return by_id(await collect(collection.find({})))


# -- update and replace validation (updateOne-validation, replaceOne-validation...) -------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.update_one({"_id": K[1]}, {"x": 2}),
        lambda c: c.update_many({}, {"x": 2}),
        lambda c: c.find_one_and_update({"_id": K[1]}, {"x": 2}),
        lambda c: c.bulk_write([UpdateOne({"_id": K[1]}, {"x": 2})]),
        lambda c: c.bulk_write([UpdateMany({}, {"x": 2})]),
    ],
    ids=["update_one", "update_many", "find_one_and_update", "UpdateOne", "UpdateMany"],
)
async def test_an_update_without_operators_is_refused(store: Any, call: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError) as raised:
        await call(collection)
    assert "use replace_one to replace a document, or $set to change fields" in str(raised.value)
    assert await contents(collection) == THREE


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.replace_one({"_id": K[1]}, {"$set": {"x": 2}}),
        lambda c: c.find_one_and_replace({"_id": K[1]}, {"$set": {"x": 2}}),
        lambda c: c.bulk_write([ReplaceOne({"_id": K[1]}, {"$set": {"x": 2}})]),
    ],
    ids=["replace_one", "find_one_and_replace", "ReplaceOne"],
)
async def test_a_replacement_with_operators_is_refused(store: Any, call: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError, match="not update operators"):
        await call(collection)
    assert await contents(collection) == THREE


async def test_a_bulk_is_validated_before_its_first_write(store: Any) -> None:
    """bulkWrite-update-validation: the bad request is last, yet nothing is written."""
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError, match="operation 2"):
        await collection.bulk_write(
            [
                InsertOne({"_id": K[4]}),
                UpdateOne({"_id": K[1]}, {"$set": {"x": 0}}),
                UpdateOne({"_id": K[2]}, {"x": 0}),
            ]
        )
    assert await contents(collection) == THREE


# -- pipeline updates (updateWithPipelines) -------------------------------------------------

PIPELINE_SEED = [{"_id": K[1], "x": 1, "y": 1, "t": {"u": {"v": 1}}}, {"_id": K[2], "x": 2, "y": 1}]


async def test_update_one_with_a_pipeline(store: Any) -> None:
    collection = await seeded(store, PIPELINE_SEED)
    result = await collection.update_one(
        {"_id": K[1]}, [{"$replaceRoot": {"newRoot": "$t"}}, {"$addFields": {"foo": 1}}]
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await contents(collection) == [
        {"_id": K[1], "u": {"v": 1}, "foo": 1},
        {"_id": K[2], "x": 2, "y": 1},
    ]


async def test_update_many_with_a_pipeline(store: Any) -> None:
    collection = await seeded(store, PIPELINE_SEED)
    result = await collection.update_many({}, [{"$project": {"x": 1}}, {"$addFields": {"foo": 1}}])
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert await contents(collection) == [
        {"_id": K[1], "x": 1, "foo": 1},
        {"_id": K[2], "x": 2, "foo": 1},
    ]


async def test_find_one_and_update_with_a_pipeline(store: Any) -> None:
    collection = await seeded(store, PIPELINE_SEED)
    after = await collection.find_one_and_update(
        {"_id": K[1]},
        [{"$set": {"total": {"$add": ["$x", "$y"]}}}, {"$unset": ["t", "y"]}],
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": K[1], "x": 1, "total": 2}
    assert await contents(collection) == [{"_id": K[1], "x": 1, "total": 2}, PIPELINE_SEED[1]]


async def test_bulk_update_models_with_a_pipeline(store: Any) -> None:
    collection = await seeded(store, PIPELINE_SEED)
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": K[1]}, [{"$replaceWith": "$t"}, {"$addFields": {"foo": 1}}]),
            UpdateMany({"_id": K[2]}, [{"$project": {"x": 1}}]),
        ]
    )
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert await contents(collection) == [
        {"_id": K[1], "u": {"v": 1}, "foo": 1},
        {"_id": K[2], "x": 2},
    ]


async def test_pipeline_update_upserts(store: Any) -> None:
    collection = await seeded(store, [])
    result = await collection.update_one(
        {"_id": K[7]}, [{"$set": {"n": {"$literal": 1}}}], upsert=True
    )
    assert result.upserted_id == K[7]
    assert await contents(collection) == [{"_id": K[7], "n": 1}]


async def test_a_pipeline_update_refuses_other_stages(store: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError, match="not allowed in an update"):
        await collection.update_one({"_id": K[1]}, [{"$group": {"_id": "$x"}}])
    assert await contents(collection) == THREE


# -- counts and find_one(skip=) ---------------------------------------------------------------


async def test_estimated_document_count(store: Any) -> None:
    collection = await seeded(store, THREE)
    assert await collection.estimated_document_count() == 3
    assert await store.collection("never_written").estimated_document_count() == 0


@pytest.mark.parametrize(
    ("filter", "options", "expected"),
    [
        ({}, {}, 3),
        ({"_id": {"$gt": K[1]}}, {}, 2),
        ({"_id": {"$gt": K[1]}}, {"skip": 1, "limit": 3}, 1),
        ({}, {"skip": 1}, 2),
        ({}, {"limit": 2}, 2),
        ({}, {"skip": 5}, 0),
    ],
)
async def test_count_documents_with_skip_and_limit(
    store: Any, filter: dict[str, Any], options: dict[str, int], expected: int
) -> None:
    collection = await seeded(store, THREE)
    assert await collection.count_documents(filter, **options) == expected


async def test_find_one_with_skip(store: Any) -> None:
    collection = await seeded(store, THREE)
    assert await collection.find_one({}, sort=[("_id", 1)], skip=2) == THREE[2]
    assert await collection.find_one({"_id": K[1]}, skip=1) is None


# -- sort= on update_one / replace_one (MongoDB 8.0) ------------------------------------------


async def test_update_one_with_sort_updates_the_first_in_that_order(store: Any) -> None:
    collection = await seeded(store, THREE)
    result = await collection.update_one(
        {"_id": {"$gt": K[1]}}, {"$inc": {"x": 1}}, sort=[("_id", -1)]
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await contents(collection) == [THREE[0], THREE[1], {"_id": K[3], "x": 34}]


async def test_replace_one_with_sort_replaces_the_first_in_that_order(store: Any) -> None:
    collection = await seeded(store, THREE)
    result = await collection.replace_one({"_id": {"$gt": K[1]}}, {"x": 1}, sort=[("_id", -1)])
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await contents(collection) == [THREE[0], THREE[1], {"_id": K[3], "x": 1}]


async def test_bulk_models_take_sort(store: Any) -> None:
    collection = await seeded(store, THREE)
    await collection.bulk_write(
        [
            UpdateOne({}, {"$set": {"first": True}}, sort=[("x", -1)]),
            ReplaceOne({"x": {"$lt": 30}}, {"x": 0}, sort=[("x", -1)]),
        ]
    )
    assert await contents(collection) == [
        THREE[0],
        {"_id": K[2], "x": 0},
        {"_id": K[3], "x": 33, "first": True},
    ]


@pytest.mark.parametrize(
    "sort",
    [{"x": -1}, [("x", -1)], {"x": -1}.items()],
    ids=["document", "pairs", "items-view"],
)
async def test_update_one_takes_sort_in_every_form_pymongo_does(store: Any, sort: Any) -> None:
    """PyMongo types ``update_one``'s ``sort`` as a mapping (MongoDB 8.0's ``sort`` document)."""
    collection = await seeded(store, THREE)
    await collection.update_one({}, {"$set": {"first": True}}, sort=sort)
    assert await contents(collection) == [THREE[0], THREE[1], {**THREE[2], "first": True}]


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ({"x": -1}, 33),
        ({"x": 1}, 11),
        ("x", 11),
        (["x"], 11),
        ([("x", -1)], 33),
    ],
    ids=["document-desc", "document-asc", "field-name", "list-of-names", "pairs"],
)
async def test_find_takes_sort_in_every_form_pymongo_does(
    store: Any, sort: Any, first: int
) -> None:
    collection = await seeded(store, THREE)
    found = await collect(collection.find({}, sort=sort))
    assert found[0]["x"] == first
    one = await collection.find_one_and_update({}, {"$set": {"y": 1}}, sort=sort)
    assert one is not None and one["x"] == first


@pytest.mark.parametrize("sort", [b"x", 5, [("x", 2)], {"x": "up"}, [("x", 1, 1)]])
async def test_a_malformed_sort_is_refused_before_anything_is_written(
    store: Any, sort: Any
) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError):
        await collection.update_one({}, {"$set": {"y": 1}}, sort=sort)
    assert await contents(collection) == THREE


# -- bulk results and errors ------------------------------------------------------------------


async def test_bulk_write_result_counts(store: Any) -> None:
    collection = await seeded(store, THREE)
    result = await collection.bulk_write(
        [
            InsertOne({"_id": K[4], "x": 44}),
            UpdateOne({"_id": K[1]}, {"$set": {"x": 12}}),
            UpdateOne({"_id": K[9]}, {"$set": {"x": 99}}, upsert=True),
            ReplaceOne({"_id": K[8]}, {"x": 88}, upsert=True),
            DeleteOne({"_id": K[2]}),
        ]
    )
    assert result == BulkWriteResult(1, 1, 1, 1, {2: K[9], 3: K[8]})
    assert (result.inserted_count, result.upserted_count, result.upserted_ids) == (
        1,
        2,
        {2: K[9], 3: K[8]},
    )


async def test_unordered_insert_many_continues_past_errors(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[2]}])
    with pytest.raises(BulkWriteError) as raised:
        await collection.insert_many(
            [{"_id": K[1]}, {"_id": K[2]}, {"_id": K[3]}, {"_id": K[1]}, {"_id": K[4]}],
            ordered=False,
        )
    error = raised.value
    assert isinstance(error, DuplicateKeyError)
    assert error.result.inserted_count == 3
    assert [failure.index for failure in error.errors] == [1, 3]
    assert all(isinstance(failure.error, DuplicateKeyError) for failure in error.errors)
    assert [failure["code"] for failure in error.details["writeErrors"]] == [11000, 11000]
    assert await contents(collection) == [{"_id": K[i]} for i in (1, 2, 3, 4)]


async def test_ordered_insert_many_stops_at_the_first_error(store: Any) -> None:
    collection = await seeded(store, [{"_id": K[2]}])
    with pytest.raises(BulkWriteError) as raised:
        await collection.insert_many([{"_id": K[1]}, {"_id": K[2]}, {"_id": K[3]}])
    assert raised.value.result.inserted_count == 1
    assert [failure.index for failure in raised.value.errors] == [1]
    assert await contents(collection) == [{"_id": K[1]}, {"_id": K[2]}]


async def test_unordered_bulk_write_continues_past_errors(store: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(BulkWriteError) as raised:
        await collection.bulk_write(
            [
                InsertOne({"_id": K[1]}),
                UpdateOne({"_id": K[2]}, {"$inc": {"x": 1}}),
                UpdateOne({"_id": K[3]}, {"$push": {"x": 1}}),
                InsertOne({"_id": K[4]}),
                UpdateOne({"_id": K[5]}, {"$set": {"x": 55}}, upsert=True),
            ],
            ordered=False,
        )
    error = raised.value
    assert [failure.index for failure in error.errors] == [0, 2]
    assert isinstance(error.errors[0].error, DuplicateKeyError)
    assert "$push" in error.errors[1].message
    assert error.errors[0].operation == InsertOne({"_id": K[1]})
    assert error.result == BulkWriteResult(1, 1, 1, 0, {4: K[5]})
    assert await contents(collection) == [
        THREE[0],
        {"_id": K[2], "x": 23},
        THREE[2],
        {"_id": K[4]},
        {"_id": K[5], "x": 55},
    ]


async def test_ordered_bulk_write_stops_at_the_first_error(store: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(BulkWriteError) as raised:
        await collection.bulk_write(
            [
                UpdateOne({"_id": K[2]}, {"$inc": {"x": 1}}),
                InsertOne({"_id": K[1]}),
                InsertOne({"_id": K[4]}),
            ]
        )
    assert raised.value.result == BulkWriteResult(0, 1, 1, 0, {})
    assert [failure.index for failure in raised.value.errors] == [1]
    assert await contents(collection) == [THREE[0], {"_id": K[2], "x": 23}, THREE[2]]


async def test_update_result_says_whether_it_upserted(store: Any) -> None:
    collection = await seeded(store, THREE)
    inserted = await collection.update_one({"_id": K[7]}, {"$set": {"x": 1}}, upsert=True)
    updated = await collection.update_one({"_id": K[7]}, {"$set": {"x": 2}}, upsert=True)
    assert (inserted.did_upsert, inserted.upserted_id) == (True, K[7])
    assert (updated.did_upsert, updated.matched_count, updated.modified_count) == (False, 1, 1)


async def test_results_carry_pymongo_attributes(store: Any) -> None:
    """acknowledged on every result, raw_result and bulk_api_result in PyMongo's shapes."""
    collection = await seeded(store, THREE)
    inserted = await collection.insert_one({"_id": K[4]})
    many = await collection.insert_many([{"_id": K[5]}])
    upserted = await collection.update_one({"_id": K[7]}, {"$set": {"x": 1}}, upsert=True)
    updated = await collection.update_many({}, {"$set": {"x": 1}})
    deleted = await collection.delete_many({"_id": {"$in": [K[1], K[2]]}})
    bulk = await collection.bulk_write(
        [InsertOne({"_id": K[6]}), UpdateOne({"_id": K[8]}, {"$set": {"x": 8}}, upsert=True)]
    )
    results = (inserted, many, upserted, updated, deleted, bulk)
    assert all(result.acknowledged is True for result in results)
    assert upserted.raw_result == {
        "n": 1,
        "upserted": K[7],
        "nModified": 0,
        "ok": 1.0,
        "updatedExisting": False,
    }
    assert updated.raw_result == {"n": 6, "nModified": 5, "ok": 1.0, "updatedExisting": True}
    assert deleted.raw_result == {"n": 2, "ok": 1.0}
    assert bulk.bulk_api_result == {
        "writeErrors": [],
        "writeConcernErrors": [],
        "nInserted": 1,
        "nUpserted": 1,
        "nMatched": 0,
        "nModified": 0,
        "nRemoved": 0,
        "upserted": [{"index": 1, "_id": K[8]}],
    }


async def test_an_empty_insert_many_or_bulk_write_is_refused(store: Any) -> None:
    """The CRUD specification: an error MUST be raised when there is nothing to write."""
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError, match="non-empty list of documents"):
        await collection.insert_many([])
    for ordered in (True, False):
        with pytest.raises(InvalidQueryError, match="non-empty list of operations"):
            await collection.bulk_write([], ordered=ordered)
    assert await contents(collection) == THREE


# -- find and aggregate options (find.yml, aggregate.yml, find-allowdiskuse...) --------------

EIGHT = [{"_id": K[n], "x": n * 11} for n in range(1, 9)]


async def test_find_options_change_no_result(store: Any) -> None:
    """Several batches, allow_disk_use either way, and PyMongo's negative limit (at most that
    many documents, in one batch)."""
    collection = await seeded(store, EIGHT)
    after_first = {"_id": {"$gt": K[1]}}
    assert await collect(collection.find(after_first, sort={"_id": 1}, batch_size=2)) == EIGHT[1:]
    for allow in (True, False):
        found = collection.find(after_first, sort={"x": -1}, allow_disk_use=allow)
        assert await collect(found) == EIGHT[:0:-1]
    assert await collect(collection.find({}, sort={"_id": 1}, limit=-3)) == EIGHT[:3]
    assert await collect(collection.find(after_first, sort={"_id": 1}, batch_size=0)) == EIGHT[1:]


async def test_a_projection_may_be_a_list_of_field_names(store: Any) -> None:
    """PyMongo's other spelling of an inclusion projection, on every method taking one."""
    collection = await seeded(store, [{"_id": K[1], "x": 1, "y": 2, "z": {"a": 3, "b": 4}}])
    expected = {"_id": K[1], "x": 1, "z": {"a": 3}}
    fields = ["x", "z.a"]
    assert await collect(collection.find({}, projection=fields)) == [expected]
    assert await collection.find_one({}, projection=fields) == expected
    updated = await collection.find_one_and_update(
        {}, {"$set": {"y": 5}}, projection=fields, return_document=ReturnDocument.AFTER
    )
    assert updated == expected
    assert await collection.find_one_and_delete({}, projection=("x",)) == {"_id": K[1], "x": 1}


async def test_aggregate_options_change_no_result(store: Any) -> None:
    collection = await seeded(store, EIGHT)
    pipeline = [{"$match": {"_id": {"$gt": K[1]}}}, {"$sort": {"_id": 1}}]
    for options in (
        {"batch_size": 2},
        {"batchSize": 2},
        {"allow_disk_use": True},
        {"allowDiskUse": False, "batchSize": 3},
    ):
        assert await collect(collection.aggregate(pipeline, **options)) == EIGHT[1:], options


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.find({}, allow_disk_use="yes"),
        lambda c: c.find({}, batch_size=-1),
        lambda c: c.aggregate([], batch_size=-1),
        lambda c: c.aggregate([], allowDiskUse=1),
        lambda c: c.aggregate([], batch_size=2, batchSize=2),
    ],
    ids=["find-disk-use", "find-batch-size", "aggregate-batch-size", "aggregate-disk-use", "both"],
)
async def test_malformed_find_and_aggregate_options_are_refused(store: Any, call: Any) -> None:
    collection = await seeded(store, THREE)
    with pytest.raises(InvalidQueryError):
        call(collection)


async def test_return_document_takes_pymongo_values(store: Any) -> None:
    """PyMongo's ReturnDocument.AFTER is True and BEFORE is False: code passing them (or the
    booleans) gets the same document as with ours."""
    collection = await seeded(store, THREE)
    inc = {"$inc": {"x": 1}}
    after = await collection.find_one_and_update({"_id": K[1]}, inc, return_document=True)
    before = await collection.find_one_and_update({"_id": K[1]}, inc, return_document=False)
    replaced = await collection.find_one_and_replace({"_id": K[2]}, {"x": 0}, return_document=True)
    assert (after, before, replaced) == (
        {"_id": K[1], "x": 12},
        {"_id": K[1], "x": 12},
        {"_id": K[2], "x": 0},
    )
    with pytest.raises(InvalidQueryError, match="return_document"):
        await collection.find_one_and_update({"_id": K[1]}, inc, return_document="later")
    with pytest.raises(InvalidQueryError, match="upsert"):
        await collection.find_one_and_update({"_id": K[1]}, inc, upsert="yes")
    assert await collection.find_one({"_id": K[1]}) == {"_id": K[1], "x": 13}


async def test_insert_many_takes_any_iterable_of_documents(store: Any) -> None:
    """As PyMongo: a generator or a tuple of documents; a single document or text is not."""
    collection = await seeded(store, [])
    result = await collection.insert_many({"_id": K[n], "x": n} for n in (1, 2))
    assert result.inserted_ids == [K[1], K[2]]
    for wrong in ({"_id": K[3]}, "documents"):
        with pytest.raises(InvalidQueryError, match="list of documents"):
            await collection.insert_many(wrong)
    assert await contents(collection) == [{"_id": K[1], "x": 1}, {"_id": K[2], "x": 2}]


async def test_find_one_takes_an_id_for_a_filter(store: Any) -> None:
    """PyMongo's find_one(value) for find_one({"_id": value}), ObjectIds included."""
    bson = pytest.importorskip("bson")
    collection = await seeded(store, THREE)
    assert await collection.find_one(K[2]) == THREE[1]
    assert await collection.find_one(bson.ObjectId(K[3]), projection={"_id": 0}) == {"x": 33}
    assert await collection.find_one(K[9]) is None
