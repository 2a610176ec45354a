"""Any ``_id`` MongoDB accepts works on every backend, keeps its type, and is found by the
values MongoDB calls equal (issue 11, item 2)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lexigram_nosql import DuplicateKeyError, InvalidQueryError

WHEN = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
A_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")

IDS: list[tuple[str, Any]] = [
    ("str", "user-1"),
    ("empty-str", ""),
    ("nul-str", "\x00tagged"),
    ("slash-str", "a/b"),
    ("dot-str", "."),
    ("reserved-str", "__x__"),
    ("tilde-str", "~a%2F"),
    ("int", 7),
    ("negative-int", -42),
    ("big-int", 2**62),
    ("float", 7.5),
    ("integral-float", 7.0),
    ("bool", True),
    ("null", None),
    ("document", {"tenant": "t1", "n": 3}),
    ("nested-document", {"a": {"b": [1, "x"]}}),
    ("datetime", WHEN),
    ("uuid", A_UUID),
    ("bytes", b"\x00\xff"),
]


@pytest.mark.parametrize(("value"), [v for _, v in IDS], ids=[name for name, _ in IDS])
async def test_every_id_type_round_trips_with_its_type(store: Any, value: Any) -> None:
    collection = store.collection("ids")
    result = await collection.insert_one({"_id": value, "n": 1})
    assert result.inserted_id == value
    found = await collection.find_one({"_id": value})
    assert found == {"_id": value, "n": 1}
    assert type(found["_id"]) is type(value)
    listed = [d async for d in collection.find({})]
    assert [type(d["_id"]) for d in listed] == [type(value)]
    assert listed[0]["_id"] == value
    assert (await collection.update_one({"_id": value}, {"$inc": {"n": 1}})).modified_count == 1
    assert await collection.find_one({"_id": value}, projection={"_id": 0}) == {"n": 2}
    assert (await collection.delete_one({"_id": value})).deleted_count == 1
    assert await collection.count_documents({}) == 0


async def test_an_int_id_is_never_the_string_of_its_digits(store: Any) -> None:
    collection = store.collection("ids")
    await collection.insert_many([{"_id": 7, "kind": "int"}, {"_id": "7", "kind": "str"}])
    assert await collection.find_one({"_id": 7}) == {"_id": 7, "kind": "int"}
    assert await collection.find_one({"_id": "7"}) == {"_id": "7", "kind": "str"}
    assert await collection.count_documents({}) == 2


async def test_numeric_ids_are_equal_as_mongodb_compares_numbers(store: Any) -> None:
    collection = store.collection("ids")
    await collection.insert_one({"_id": 7, "n": 1})
    assert await collection.find_one({"_id": 7.0}) == {"_id": 7, "n": 1}
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": 7.0})
    assert await collection.count_documents({"_id": {"$in": [7.0, "7", 8]}}) == 1


async def test_an_integral_float_id_reads_back_as_a_float_found_by_the_int(store: Any) -> None:
    collection = store.collection("ids")
    await collection.insert_one({"_id": 3.0, "n": 1})
    found = await collection.find_one({"_id": 3})
    assert found == {"_id": 3.0, "n": 1} and type(found["_id"]) is float
    await collection.replace_one({"_id": 3}, {"n": 2})
    await collection.update_one({"_id": 3.0}, {"$inc": {"n": 1}})
    again = await collection.find_one({"_id": 3}, projection={"_id": 1})
    assert again == {"_id": 3.0} and type(again["_id"]) is float
    assert [type(d["_id"]) async for d in collection.find({"n": 3})] == [float]


async def test_int64_and_decimal128_ids_equal_the_int(store: Any) -> None:
    bson = pytest.importorskip("bson")
    collection = store.collection("ids")
    await collection.insert_one({"_id": 12, "n": 1})
    assert await collection.find_one({"_id": bson.Int64(12)}) == {"_id": 12, "n": 1}
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": bson.Int64(12)})


async def test_in_on_ids_of_mixed_types(store: Any) -> None:
    collection = store.collection("ids")
    ids: list[Any] = [1, "1", 2.5, {"k": 1}, WHEN, A_UUID, ""]
    await collection.insert_many([{"_id": value, "i": index} for index, value in enumerate(ids)])
    found = [d async for d in collection.find({"_id": {"$in": [1, {"k": 1}, A_UUID, "", 99]}})]
    assert sorted(d["i"] for d in found) == [0, 3, 5, 6]
    assert await collection.count_documents({"_id": {"$in": ["1", 2.5, WHEN]}}) == 3


async def test_a_datetime_id_is_found_in_any_time_zone(store: Any) -> None:
    collection = store.collection("ids")
    await collection.insert_one({"_id": WHEN})
    other_zone = WHEN.astimezone(timezone(timedelta(hours=-5)))
    found = await collection.find_one({"_id": other_zone})
    assert found == {"_id": WHEN}
    assert found["_id"].tzinfo is not None and found["_id"].utcoffset() == timedelta(0)


async def test_document_ids_compare_in_field_order(store: Any) -> None:
    collection = store.collection("ids")
    await collection.insert_one({"_id": {"a": 1, "b": 2}})
    assert await collection.find_one({"_id": {"a": 1, "b": 2}}) == {"_id": {"a": 1, "b": 2}}
    assert await collection.find_one({"_id": {"b": 2, "a": 1}}) is None
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": {"a": 1, "b": 2.0}})


async def test_upsert_creates_a_typed_id(store: Any) -> None:
    collection = store.collection("ids")
    result = await collection.update_one({"_id": 5}, {"$set": {"x": 1}}, upsert=True)
    assert result.upserted_id == 5
    assert await collection.find_one({"_id": 5}) == {"_id": 5, "x": 1}
    assert await collection.find_one({"_id": "5"}) is None


@pytest.mark.parametrize(
    "value",
    [[1, 2], re.compile("^a")],
    ids=["array", "regex"],
)
async def test_ids_mongodb_refuses_are_refused_and_nothing_is_written(
    store: Any, value: Any
) -> None:
    collection = store.collection("ids")
    with pytest.raises(InvalidQueryError) as info:
        await collection.insert_one({"_id": value})
    assert "_id" in str(info.value)
    assert await collection.count_documents({}) == 0


async def test_an_objectid_id_is_its_hex_string_everywhere(store: Any) -> None:
    bson = pytest.importorskip("bson")
    collection = store.collection("ids")
    oid = bson.ObjectId("65a1b2c3d4e5f60718293a4b")
    result = await collection.insert_one({"_id": oid, "n": 1})
    assert result.inserted_id == str(oid)
    expected = {"_id": str(oid), "n": 1}
    assert await collection.find_one({"_id": oid}) == expected
    assert await collection.find_one({"_id": str(oid)}) == expected
    assert await collection.count_documents({"_id": {"$in": [oid, "other"]}}) == 1
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": str(oid)})
