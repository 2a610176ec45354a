"""Ints and floats keep their type on every backend (issue 11, item 4): MongoDB stores ``2.0``
as a double and ``2`` as an int, ``$type`` tells them apart, and an update that turns one into
the other modifies the document. DynamoDB's numbers are decimals (``2.0`` is stored as ``2``),
so its backend marks where integral floats are; these cases hold it to MongoDB."""

from __future__ import annotations

from typing import Any

from lexigram_nosql import ReturnDocument

NUMBERS: dict[str, Any] = {
    "_id": "n",
    "f": 2.0,
    "i": 2,
    "neg": -3.0,
    "big": 1e20,
    "arr": [2.0, 2, {"x": 4.0, "l": [1.0, 3]}],
    "doc": {"x": 5.0, "y": 5, "l": [6.0, 7], "in": {"z": 8.0}},
}


def typed(value: Any) -> Any:
    """``value`` with the type of every number spelled out (``2 == 2.0`` in Python)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


async def test_integral_floats_read_back_as_floats_at_any_depth(store: Any) -> None:
    collection = store.collection("numbers")
    await collection.insert_one(dict(NUMBERS))
    assert typed(await collection.find_one({"_id": "n"})) == typed(NUMBERS)
    assert typed([d async for d in collection.find({})]) == [typed(NUMBERS)]
    projected = await collection.find_one({"_id": "n"}, projection={"f": 1, "arr": 1, "doc.x": 1})
    assert typed(projected) == typed(
        {"_id": "n", "f": 2.0, "arr": NUMBERS["arr"], "doc": {"x": 5.0}}
    )


async def test_type_filters_tell_doubles_from_ints(store: Any) -> None:
    collection = store.collection("numbers")
    await collection.insert_many(
        [{"_id": "d", "v": 2.0, "l": [1.0]}, {"_id": "i", "v": 2, "l": [1]}, {"_id": "s", "v": "2"}]
    )
    assert [d["_id"] async for d in collection.find({"v": {"$type": "double"}})] == ["d"]
    assert [d["_id"] async for d in collection.find({"v": {"$type": "int"}})] == ["i"]
    assert [d["_id"] async for d in collection.find({"l": {"$type": "double"}})] == ["d"]
    assert await collection.count_documents({"v": 2}) == 2  # equal as numbers
    assert await collection.distinct("v", {"v": {"$type": "number"}}) in ([2.0], [2])


async def test_an_update_that_changes_only_the_number_type_modifies(store: Any) -> None:
    collection = store.collection("numbers")
    await collection.insert_one({"_id": "u", "v": 2, "w": 3.0, "l": [1, 2]})

    result = await collection.update_one({"_id": "u"}, {"$set": {"v": 2.0}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    result = await collection.update_one({"_id": "u"}, {"$set": {"w": 3}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    result = await collection.update_one({"_id": "u"}, {"$set": {"v": 2.0}})
    assert (result.matched_count, result.modified_count) == (1, 0)
    stored = await collection.find_one({"_id": "u"})
    assert typed(stored) == typed({"_id": "u", "v": 2.0, "w": 3, "l": [1, 2]})

    result = await collection.update_one({"_id": "u"}, {"$set": {"l": [1.0, 2]}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    result = await collection.update_one({"_id": "u"}, {"$set": {"l": [1, 2]}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert typed((await collection.find_one({"_id": "u"}))["l"]) == typed([1, 2])


async def test_arithmetic_and_array_updates_keep_the_number_types(store: Any) -> None:
    collection = store.collection("numbers")
    await collection.insert_one({"_id": "a", "f": 2.0, "i": 2, "l": [1.0], "d": {"x": 1.0}})
    await collection.update_one({"_id": "a"}, {"$inc": {"f": 1, "i": 1}})
    await collection.update_one({"_id": "a"}, {"$push": {"l": 3}})
    await collection.update_one({"_id": "a"}, {"$push": {"l": 4.0}})
    await collection.update_one({"_id": "a"}, {"$set": {"d.y": 2.0, "d.x": 1}})
    after = await collection.find_one_and_update(
        {"_id": "a"}, {"$inc": {"i": 1}}, return_document=ReturnDocument.AFTER
    )
    expected = {"_id": "a", "f": 3.0, "i": 4, "l": [1.0, 3, 4.0], "d": {"x": 1, "y": 2.0}}
    assert typed(after) == typed(expected)
    assert typed(await collection.find_one({"_id": "a"})) == typed(expected)
    await collection.update_one({"_id": "a"}, {"$set": {"i": 4.0}})
    await collection.update_one({"_id": "a"}, {"$inc": {"i": 1}})
    assert typed((await collection.find_one({"_id": "a"}))["i"]) == typed(5.0)


async def test_a_replacement_keeps_the_number_types(store: Any) -> None:
    collection = store.collection("numbers")
    await collection.insert_one({"_id": "r", "v": 1})
    result = await collection.replace_one({"_id": "r"}, {"v": 1.0, "l": [2.0]})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert typed(await collection.find_one({"_id": "r"})) == typed(
        {"_id": "r", "v": 1.0, "l": [2.0]}
    )
