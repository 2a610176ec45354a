"""Any ``_id`` MongoDB accepts works on every backend, keeps its type, and is found by the
values MongoDB calls equal (issue 11, item 2)."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import pytest

from lexigram_nosql import (
    DuplicateKeyError,
    InsertOne,
    InvalidQueryError,
    ReplaceOne,
    ReturnDocument,
)
from tests.conformance.support import REFUSED, attempt, collect

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


async def test_an_objectid_id_is_its_hex_string_through_every_write(store: Any) -> None:
    """Replacements, upserts setting ``_id`` and the bulk models keep the id policy too."""
    bson = pytest.importorskip("bson")
    hexes = [f"65a1b2c3d4e5f60718293a{n:02x}" for n in range(5)]
    oid = [bson.ObjectId(h) for h in hexes]
    collection = store.collection("ids")
    replaced = await collection.replace_one({"n": 0}, {"_id": oid[0], "n": 0}, upsert=True)
    set_id = await collection.update_one({"n": 1}, {"$set": {"_id": oid[1]}}, upsert=True)
    on_insert = await collection.update_one(
        {"n": 2}, {"$setOnInsert": {"_id": oid[2]}}, upsert=True
    )
    found = await collection.find_one_and_replace(
        {"n": 3}, {"_id": oid[3], "n": 3}, upsert=True, return_document=ReturnDocument.AFTER
    )
    bulk = await collection.bulk_write([ReplaceOne({"n": 4}, {"_id": oid[4], "n": 4}, upsert=True)])
    assert [replaced.upserted_id, set_id.upserted_id, on_insert.upserted_id] == hexes[:3]
    assert found == {"_id": hexes[3], "n": 3}
    assert bulk.upserted_ids == {0: hexes[4]}
    stored = await collect(collection.find({}, sort={"n": 1}))
    assert stored == [{"_id": h, "n": n} for n, h in enumerate(hexes)]
    assert await collection.count_documents({"_id": {"$in": oid}}) == 5


def _spec_ids() -> list[tuple[str, Any, set[str]]]:
    bson = pytest.importorskip("bson")
    bson_only = {"BSON-only values"}
    return [
        ("nan", float("nan"), set()),
        ("empty-string", "", set()),
        ("empty-document", {}, set()),
        ("empty-bytes", b"", set()),
        ("null", None, set()),
        ("zero", 0, set()),
        ("int64", bson.Int64(0), set()),
        ("decimal128", bson.Decimal128("0"), bson_only),
        ("code", bson.Code(""), bson_only),
        ("code-with-scope", bson.Code("", {}), bson_only),
        ("timestamp", bson.Timestamp(0, 0), bson_only),
        ("min-key", bson.MinKey(), set()),
        ("max-key", bson.MaxKey(), set()),
    ]


WRITES: dict[str, Any] = {
    "insert_one": lambda c, v: c.insert_one({"_id": v}),
    "insert_many": lambda c, v: c.insert_many([{"_id": v}]),
    "update_one": lambda c, v: c.update_one({"_id": v}, {"$unset": {"a": ""}}, upsert=True),
    "update_many": lambda c, v: c.update_many({"_id": v}, {"$unset": {"a": ""}}, upsert=True),
    "replace_one": lambda c, v: c.replace_one({}, {"_id": v}, upsert=True),
    "bulk_write": lambda c, v: c.bulk_write([InsertOne({"_id": v})]),
}


SPEC_ID_NAMES = [
    "nan",
    "empty-string",
    "empty-document",
    "empty-bytes",
    "null",
    "zero",
    "int64",
    "decimal128",
    "code",
    "code-with-scope",
    "timestamp",
    "min-key",
    "max-key",
]


@pytest.mark.parametrize("case", range(len(SPEC_ID_NAMES)), ids=SPEC_ID_NAMES)
async def test_every_write_creates_the_id_types_of_the_crud_specification(
    store: Any, case: int
) -> None:
    """create-id-types and create-null-ids: each write path creates ``{_id: value}``."""
    name, value, needs = _spec_ids()[case]
    assert name == SPEC_ID_NAMES[case]
    for write, call in WRITES.items():
        collection = store.collection(f"ids_{case}_{write}")
        if await attempt(store, needs, partial(call, collection, value)) is REFUSED:
            assert await collection.count_documents({}) == 0
            continue
        [stored] = await collect(collection.find({}))
        assert list(stored) == ["_id"], (name, write)
        if name == "nan":
            assert math.isnan(stored["_id"]), write
        else:
            assert stored["_id"] == value, (name, write)
            assert await collection.count_documents({"_id": value}) == 1, (name, write)
