"""PyMongo's positional spellings on every backend: ``find(filter, projection, skip,
limit)``, ``find_one(filter, projection)``, ``update_one(filter, update, upsert)`` and the
rest take their arguments in PyMongo's order, so code written against PyMongo runs as it is
(keyword-only arguments stay keyword-only where PyMongo's next one is ``session``)."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import (
    DeleteMany,
    DeleteOne,
    InsertOne,
    InvalidQueryError,
    ReplaceOne,
    ReturnDocument,
    UnsupportedQueryError,
    UpdateMany,
    UpdateOne,
)
from tests.conformance.support import by_id, collect

K = {n: f"{n:024x}" for n in range(10)}
"""Ids shaped like ObjectIds, which every backend (CongoDB included) stores."""


async def test_reads_take_projection_skip_and_limit_by_position(store: Any) -> None:
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[i], "n": i, "x": "y"} for i in range(5)])
    page = await collect(
        collection.find({"n": {"$gte": 1}}, {"_id": 0, "n": 1}, 1, 2, sort=[("n", 1)])
    )
    assert page == [{"n": 2}, {"n": 3}]
    assert await collection.find_one({"_id": K[3]}, {"_id": 0, "x": 1}) == {"x": "y"}
    assert await collection.find_one({}, {"_id": 0, "n": 1}, 4, sort=[("n", 1)]) == {"n": 4}


async def test_writes_take_upsert_and_ordered_by_position(store: Any) -> None:
    collection = store.collection("positional")
    result = await collection.update_one({"_id": K[1]}, {"$set": {"a": 1}}, True)
    assert result.upserted_id == K[1]
    result = await collection.update_many({"_id": K[2]}, {"$set": {"a": 2}}, True)
    assert result.upserted_id == K[2]
    result = await collection.replace_one({"_id": K[3]}, {"a": 3}, True)
    assert result.upserted_id == K[3]
    inserted = await collection.insert_many([{"_id": K[4], "a": 4}], False)
    assert inserted.inserted_ids == [K[4]]
    written = await collection.bulk_write([InsertOne({"_id": K[5], "a": 5})], False)
    assert written.inserted_count == 1
    assert by_id(await collect(collection.find({}))) == [{"_id": K[i], "a": i} for i in range(1, 6)]


async def test_find_one_and_modify_take_pymongos_positional_order(store: Any) -> None:
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[i], "n": i} for i in range(3)])
    after = await collection.find_one_and_update(
        {}, {"$inc": {"n": 10}}, {"_id": 0, "n": 1}, [("n", -1)], False, ReturnDocument.AFTER
    )
    assert after == {"n": 12}
    before = await collection.find_one_and_replace(
        {"_id": K[7]}, {"n": 7}, {"_id": 0}, None, True, ReturnDocument.BEFORE
    )
    assert before is None and await collection.find_one({"_id": K[7]}) == {"_id": K[7], "n": 7}
    deleted = await collection.find_one_and_delete({}, {"_id": 0, "n": 1}, [("n", 1)])
    assert deleted == {"n": 0}


def test_bulk_models_take_pymongos_parameters_in_its_order() -> None:
    """Each model's fields are PyMongo's parameters, same names, same order, same defaults'
    meaning: ``UpdateOne(filter, update, True, collation)`` means here what it means there."""
    import dataclasses
    import inspect

    import pymongo

    import lexigram_nosql

    for name in ("InsertOne", "UpdateOne", "UpdateMany", "ReplaceOne", "DeleteOne", "DeleteMany"):
        theirs = list(inspect.signature(getattr(pymongo, name)).parameters)
        ours = [field.name for field in dataclasses.fields(getattr(lexigram_nosql, name))]
        assert ours == theirs, name


async def test_bulk_models_take_upsert_by_position(store: Any) -> None:
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[1], "n": 1}, {"_id": K[2], "n": 2}])
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": K[5]}, {"$set": {"n": 5}}, True),
            UpdateOne({"_id": K[6]}, {"$set": {"n": 6}}, None),  # None: no upsert, as PyMongo's
            UpdateMany({"_id": K[7]}, {"$set": {"n": 7}}, True, None),
            ReplaceOne({"_id": K[8]}, {"n": 8}, True, None),
            DeleteOne({"_id": K[1]}, None),
            DeleteMany({"_id": K[2]}, None, None),
        ]
    )
    assert (result.matched_count, result.deleted_count) == (0, 2)
    assert result.upserted_ids == {0: K[5], 2: K[7], 3: K[8]}
    assert by_id(await collect(collection.find({}))) == [
        {"_id": K[5], "n": 5},
        {"_id": K[7], "n": 7},
        {"_id": K[8], "n": 8},
    ]


async def test_bulk_update_models_take_array_filters_by_position(store: Any) -> None:
    """PyMongo's fifth positional of ``UpdateOne``/``UpdateMany``, after ``collation``."""
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[0], "a": [1, 2, 3]}, {"_id": K[1], "a": [3, 4]}])
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": K[0]}, {"$set": {"a.$[e]": 0}}, False, None, [{"e": {"$gt": 1}}]),
            UpdateMany({"_id": K[1]}, {"$inc": {"a.$[e]": 10}}, False, None, [{"e": 4}]),
        ]
    )
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert by_id(await collect(collection.find({}))) == [
        {"_id": K[0], "a": [1, 0, 0]},
        {"_id": K[1], "a": [3, 14]},
    ]


async def test_bulk_models_take_hint_by_position(store: Any) -> None:
    """PyMongo's ``hint`` follows ``array_filters`` in updates, ``collation`` elsewhere: the
    keys of an index, which would be a malformed collation or array filters."""
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[i], "n": i} for i in range(4)])
    by_key = [("_id", 1)]
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": K[0]}, {"$set": {"n": 10}}, False, None, None, by_key),
            UpdateMany({"_id": K[1]}, {"$set": {"n": 11}}, False, None, None, by_key),
            ReplaceOne({"_id": K[2]}, {"n": 12}, False, None, by_key),
            DeleteOne({"_id": K[3]}, None, by_key),
            DeleteMany({"_id": K[9]}, None, by_key),
        ]
    )
    assert (result.modified_count, result.deleted_count) == (3, 1)
    assert by_id(await collect(collection.find({}))) == [
        {"_id": K[i], "n": 10 + i} for i in range(3)
    ]


async def test_a_bulk_models_positional_collation_is_a_collation(store: Any) -> None:
    """PyMongo's positional ``collation`` (the fourth of updates and replacements, the second
    of deletes): MongoDB honours it, a binary-comparing backend refuses it by name."""
    collection = store.collection("positional")
    await collection.insert_many([{"_id": K[1], "kind": "nut"}, {"_id": K[2], "kind": "pin"}])
    insensitive = {"locale": "en", "strength": 2}
    models = [
        UpdateOne({"kind": "PIN"}, {"$set": {"n": 1}}, False, insensitive),
        DeleteOne({"kind": "NUT"}, insensitive),
    ]
    if store.driver == "mongodb":
        result = await collection.bulk_write(models)
        assert (result.modified_count, result.deleted_count) == (1, 1)
        return
    with pytest.raises(UnsupportedQueryError, match="collation") as refused:
        await collection.bulk_write(models)
    assert refused.value.operator == "collation"
    assert by_id(await collect(collection.find({}))) == [
        {"_id": K[1], "kind": "nut"},
        {"_id": K[2], "kind": "pin"},
    ]


@pytest.mark.parametrize(
    "model",
    [
        InsertOne({"_id": K[3]}, "db.other"),
        UpdateOne({"_id": K[1]}, {"$set": {"n": 0}}, namespace="db.other"),
        UpdateMany({}, {"$set": {"n": 0}}, namespace="db.other"),
        ReplaceOne({"_id": K[1]}, {"n": 0}, namespace="db.other"),
        DeleteOne({"_id": K[1]}, namespace="db.other"),
        DeleteMany({}, None, None, "db.other"),
    ],
    ids=lambda model: type(model).__name__,
)
async def test_a_bulk_models_namespace_is_refused_by_name_before_any_write(
    store: Any, model: Any
) -> None:
    """``namespace`` is for PyMongo's client-level ``MongoClient.bulk_write``; a collection's
    bulk writes only into itself, so the request is refused rather than written elsewhere."""
    collection = store.collection("positional")
    await collection.insert_one({"_id": K[1], "n": 1})
    with pytest.raises(InvalidQueryError, match=r"operation 1 .*namespace") as refused:
        await collection.bulk_write([InsertOne({"_id": K[2]}), model])
    assert refused.value.operator == "namespace"
    assert await collect(collection.find({})) == [{"_id": K[1], "n": 1}]
