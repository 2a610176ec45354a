"""One value model on every backend (issue 11, item 4): what a MongoDB user can store is
accepted (or refused by name where the backend truly cannot hold it), everything else is
refused with ``InvalidQueryError`` naming the path before anything is written, datetimes come
back aware in UTC at millisecond precision, and documents over the backend's size limit are
refused before sending."""

from __future__ import annotations

import math
import re
import uuid
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import pytest

from lexigram_nosql import DocumentTooLargeError, InvalidQueryError, UpdateOne
from tests.conformance.support import REFUSED, attempt

BSON_ONLY: Final = "BSON-only values"
"""A pseudo-operator for ``attempt``: values only MongoDB's types can hold."""

NAN: Final = "NaN and infinity"
"""A pseudo-operator for ``attempt``: floats a backend cannot store."""

bson = pytest.importorskip("bson")

Point = namedtuple("Point", "x y")


def _same(expected: Any) -> Callable[[Any], bool]:
    return lambda back: bool(back == expected and type(back) is type(expected))


def _regex(back: Any) -> bool:
    # PyMongo reads a stored pattern back as bson.Regex; the memory store keeps re.Pattern.
    return getattr(back, "pattern", None) == "^a.c$"


def _nan(back: Any) -> bool:
    return isinstance(back, float) and math.isnan(back)


# name, value, what the backend must be able to store, how to check what reads back
STORABLE: list[tuple[str, Any, list[str], Callable[[Any], bool]]] = [
    ("int64-max", 2**63 - 1, [], lambda back: back == 2**63 - 1),
    ("int64-min", -(2**63), [], lambda back: back == -(2**63)),
    ("int64", bson.Int64(5), [], lambda back: back == 5),
    ("tuple-as-list", (1, "a"), [], _same([1, "a"])),
    ("namedtuple-as-list", Point(1, "a"), [], _same([1, "a"])),
    ("nan", float("nan"), [NAN], _nan),
    ("infinity", float("inf"), [NAN], _same(float("inf"))),
    ("uuid", uuid.UUID(int=7), [BSON_ONLY], _same(uuid.UUID(int=7))),
    ("regex", re.compile("^a.c$"), [BSON_ONLY], _regex),
    ("objectid", bson.ObjectId("0123456789abcdef01234567"), [BSON_ONLY], lambda back: True),
    ("decimal128", bson.Decimal128("1.10"), [BSON_ONLY], _same(bson.Decimal128("1.10"))),
    ("binary-subtype", bson.Binary(b"\x01", 0x80), [BSON_ONLY], lambda b: bytes(b) == b"\x01"),
    ("timestamp", bson.Timestamp(1700000000, 1), [BSON_ONLY], _same(bson.Timestamp(1700000000, 1))),
    ("min-key", bson.MinKey(), [BSON_ONLY], _same(bson.MinKey())),
    ("max-key", bson.MaxKey(), [BSON_ONLY], _same(bson.MaxKey())),
    ("code", bson.Code("return 1"), [BSON_ONLY], lambda back: str(back) == "return 1"),
]


@pytest.mark.parametrize(
    ("value", "needs", "check"),
    [(v, n, c) for _, v, n, c in STORABLE],
    ids=[name for name, *_ in STORABLE],
)
async def test_what_mongodb_stores_is_stored_or_refused_by_name(
    store: Any, value: Any, needs: list[str], check: Callable[[Any], bool]
) -> None:
    collection = store.collection("values")
    inserted = await attempt(
        store, needs, lambda: collection.insert_one({"_id": "v", "value": value})
    )
    if inserted is REFUSED:
        assert await collection.count_documents({}) == 0
        return
    stored = await collection.find_one({"_id": "v"})
    assert stored is not None and check(stored["value"]), stored


class _Custom:
    def __repr__(self) -> str:
        return "<custom>"


NOT_STORABLE: list[tuple[str, Any]] = [
    ("set", {1, 2}),
    ("frozenset", frozenset({1})),
    ("date", date(2024, 5, 1)),
    ("decimal", Decimal("1.5")),
    ("bytearray", bytearray(b"x")),
    ("complex", 1j),
    ("object", _Custom()),
    ("int-beyond-int64", 2**63),
    ("int-below-int64", -(2**63) - 1),
    ("timedelta", timedelta(seconds=1)),
]


@pytest.mark.parametrize("value", [v for _, v in NOT_STORABLE], ids=[n for n, _ in NOT_STORABLE])
async def test_what_mongodb_cannot_store_is_refused_naming_the_path(store: Any, value: Any) -> None:
    collection = store.collection("values")
    await collection.insert_one({"_id": "keep", "n": 1})
    with pytest.raises(InvalidQueryError) as info:
        await collection.insert_one({"_id": "x", "a": {"b": [0, value]}})
    assert info.value.path == "a.b.1", info.value
    assert "a.b.1" in str(info.value)
    with pytest.raises(InvalidQueryError) as info:
        await collection.insert_many([{"_id": "ok"}, {"_id": "bad", "v": value}])
    assert info.value.path == "v"
    with pytest.raises(InvalidQueryError):
        await collection.update_one({"_id": "keep"}, {"$set": {"v": value}})
    with pytest.raises(InvalidQueryError):
        await collection.update_one({"_id": "keep"}, {"$push": {"list": value}})
    with pytest.raises(InvalidQueryError):
        await collection.replace_one({"_id": "keep"}, {"v": [value]})
    with pytest.raises(InvalidQueryError):
        await collection.bulk_write([UpdateOne({"_id": "keep"}, {"$set": {"v": value}})])
    assert [d async for d in collection.find({})] == [{"_id": "keep", "n": 1}]


async def test_a_field_name_holding_a_null_character_is_refused(store: Any) -> None:
    """BSON writes field names NUL-terminated: PyMongo and MongoDB refuse such a name, so
    every backend does, naming it, before anything is written."""
    collection = store.collection("values")
    await collection.insert_one({"_id": "keep", "n": 1})
    cases = [
        ({"_id": "x", "a\x00b": 1}, "a\x00b"),
        ({"_id": "x", "a": [{"b\x00": 1}]}, "a.0.b\x00"),
    ]
    for document, path in cases:
        with pytest.raises(InvalidQueryError, match="null character") as info:
            await collection.insert_many([{"_id": "ok"}, document])
        assert info.value.path == path
    with pytest.raises(InvalidQueryError, match="null character"):
        await collection.update_one({"_id": "keep"}, {"$set": {"v": {"x\x00": 1}}})
    with pytest.raises(InvalidQueryError, match="null character"):
        await collection.replace_one({"_id": "keep"}, {"x\x00": 1})
    for update in ({"$set": {"a\x00b": 1}}, {"$inc": {"a.b\x00": 1}}, {"$unset": {"\x00": ""}}):
        with pytest.raises(InvalidQueryError, match="null character"):
            await collection.update_one({"_id": "keep"}, update)
    with pytest.raises(InvalidQueryError, match="null character"):
        await collection.find_one({"a\x00b": 1})  # PyMongo cannot send it either
    assert [d async for d in collection.find({})] == [{"_id": "keep", "n": 1}]


# insert_many of documents without _id (its usual input) checks most of them the quick way.
WITHOUT_IDS_REFUSED: list[tuple[Any, str]] = [
    ({"n": 2**63}, "n"),
    ({"tags": ["a", {1, 2}]}, "tags.1"),
    ({"sub": {"x\x00": 1}}, "sub.x\x00"),
    ({"sub": {"deep": [Decimal("1.5")]}}, "sub.deep.0"),
]


@pytest.mark.parametrize("ordered", [True, False])
async def test_insert_many_without_ids_refuses_before_writing_anything(
    store: Any, ordered: bool
) -> None:
    """Plain documents before and after a refused one: the refusal names its path and
    nothing is written, ordered or not (the quick check and the full one agree)."""
    collection = store.collection("values")
    plain = [{"n": i, "tags": ["a", "b"], "sub": {"x": 0.5, "deep": [i]}} for i in range(3)]
    for bad, path in WITHOUT_IDS_REFUSED:
        with pytest.raises(InvalidQueryError) as info:
            await collection.insert_many([*plain, bad, *plain], ordered=ordered)
        assert info.value.path == path
    assert await collection.count_documents({}) == 0
    when = datetime(2024, 5, 1, 12, 0, 0, 123999, tzinfo=timezone(timedelta(hours=2)))
    result = await collection.insert_many([*plain, {"at": when}], ordered=ordered)
    back = await collection.find_one({"_id": result.inserted_ids[-1]}, projection={"_id": 0})
    assert back == {"at": AT_UTC}
    assert [d["n"] async for d in collection.find({"n": {"$exists": True}}, sort=[("n", 1)])] == [
        0,
        1,
        2,
    ]


async def test_documents_nested_deeper_than_mongodb_allows_are_refused(store: Any) -> None:
    collection = store.collection("values")
    deep: Any = "leaf"
    for _ in range(101):
        deep = {"d": deep}
    with pytest.raises(InvalidQueryError, match="100 levels"):
        await collection.insert_one({"_id": "deep", "v": deep})
    assert await collection.count_documents({}) == 0


async def test_documents_over_the_backends_size_limit_are_refused_before_writing(
    store: Any,
) -> None:
    collection = store.collection("values")
    huge = "x" * (17 * 1024 * 1024)  # over every backend's limit, MongoDB's 16 MiB included
    with pytest.raises(DocumentTooLargeError):
        await collection.insert_one({"_id": "big", "blob": huge})
    await collection.insert_one({"_id": "small", "n": 1})
    with pytest.raises(DocumentTooLargeError):
        await collection.replace_one({"_id": "small"}, {"blob": huge})
    assert [d async for d in collection.find({})] == [{"_id": "small", "n": 1}]


AT_UTC: Final = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
DATETIMES: list[tuple[str, datetime]] = [
    ("naive-means-utc", datetime(2024, 5, 1, 10, 0, 0, 123000)),
    ("other-zone", datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2)))),
    ("microseconds-truncated", datetime(2024, 5, 1, 10, 0, 0, 123999, tzinfo=UTC)),
]


@pytest.mark.parametrize("value", [v for _, v in DATETIMES], ids=[n for n, _ in DATETIMES])
async def test_datetimes_come_back_aware_in_utc_to_the_millisecond(
    store: Any, value: datetime
) -> None:
    collection = store.collection("dates")
    await collection.insert_one({"_id": "d", "at": value, "list": [value]})
    stored = await collection.find_one({"_id": "d"})
    assert stored == {"_id": "d", "at": AT_UTC, "list": [AT_UTC]}
    assert stored["at"].utcoffset() == timedelta(0)
    # A filter with the value as given finds it, as MongoDB's (which truncates both).
    assert await collection.count_documents({"at": value}) == 1
    assert await collection.count_documents({"at": {"$in": [value]}}) == 1
    assert await collection.count_documents({"at": {"$gt": value}}) == 0
    await collection.update_one({"_id": "d"}, {"$set": {"later": value}})
    later = await collection.find_one({"_id": "d"}, projection={"later": 1, "_id": 0})
    assert later == {"later": AT_UTC}


async def test_an_upsert_refuses_what_its_filter_cannot_store(store: Any) -> None:
    collection = store.collection("values")
    with pytest.raises(InvalidQueryError) as info:
        await collection.update_one(
            {"_id": "u", "when": date(2024, 5, 1)}, {"$set": {"x": 1}}, upsert=True
        )
    assert "when" in str(info.value)
    assert await collection.count_documents({}) == 0
