"""PyMongo's positional spellings on every backend: ``find(filter, projection, skip,
limit)``, ``find_one(filter, projection)``, ``update_one(filter, update, upsert)`` and the
rest take their arguments in PyMongo's order, so code written against PyMongo runs as it is
(keyword-only arguments stay keyword-only where PyMongo's next one is ``session``)."""

from __future__ import annotations

from typing import Any

from lexigram_nosql import InsertOne, ReturnDocument
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
