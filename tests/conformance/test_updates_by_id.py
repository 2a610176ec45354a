"""``$set``/``$unset`` by ``_id``, the updates some backends send without reading the document
first (Firestore): the results and rules are MongoDB's whichever way a backend writes them.
``modified_count`` is 0 when nothing changed (a same-value ``$set``, an ``$unset`` of a missing
field), a missing ``_id`` matches nothing and creates nothing, dotted paths follow MongoDB's
path rules, and a unique index on the field is still enforced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql import DuplicateKeyError, InvalidQueryError, UpdateOne, WriteError
from tests.conformance.support import REFUSED, UNIQUE_INDEXES, attempt, seeded

STORED: dict[str, Any] = {
    "n": 1,
    "f": 2.5,
    "s": "text",
    "none": None,
    "flag": True,
    "d": {"a": 1, "b": [1, "x"]},
    "arr": [1, {"k": "v"}],
    "at": datetime(2024, 2, 29, 12, 30, 1, 123000, tzinfo=UTC),
}


def counts(result: Any) -> tuple[int, int]:
    return result.matched_count, result.modified_count


@pytest.mark.parametrize("field", sorted(STORED))
async def test_set_to_the_same_value_modifies_nothing(store: Any, field: str) -> None:
    collection = await seeded(store, [{"_id": "a", **STORED}])
    result = await collection.update_one({"_id": "a"}, {"$set": {field: STORED[field]}})
    assert counts(result) == (1, 0)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", **STORED}


async def test_unset_of_a_missing_field_modifies_nothing(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    result = await collection.update_one({"_id": "a"}, {"$unset": {"nope": "", "other": 1}})
    assert counts(result) == (1, 0)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1}


async def test_a_missing_id_matches_nothing_and_creates_nothing(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    for update in (
        {"$set": {"x": 2}},
        {"$unset": {"x": ""}},
        {"$set": {"y": 1}, "$unset": {"x": 1}},
    ):
        result = await collection.update_one({"_id": "zz"}, update)
        assert (*counts(result), result.upserted_id) == (0, 0, None)
        assert counts(await collection.update_many({"_id": "zz"}, update)) == (0, 0)
    assert await collection.find_one({"_id": "zz"}) is None
    assert await collection.count_documents({}) == 1


async def test_set_and_unset_together(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1, "y": 2, "z": 3}])
    update = {"$set": {"x": 10, "new": {"k": [1, 2]}}, "$unset": {"y": "", "missing": ""}}
    assert counts(await collection.update_one({"_id": "a"}, update)) == (1, 1)
    assert await collection.find_one({"_id": "a"}) == {
        "_id": "a",
        "x": 10,
        "new": {"k": [1, 2]},
        "z": 3,
    }
    # The same again changes nothing.
    assert counts(await collection.update_one({"_id": "a"}, update)) == (1, 0)


async def test_update_many_and_bulk_update_one_by_id(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}, {"_id": "b", "x": 1}])
    assert counts(await collection.update_many({"_id": "a"}, {"$set": {"x": 2}})) == (1, 1)
    assert counts(await collection.update_many({"_id": "a"}, {"$set": {"x": 2}})) == (1, 0)
    result = await collection.bulk_write(
        [
            UpdateOne({"_id": "b"}, {"$set": {"x": 3}}),
            UpdateOne({"_id": "b"}, {"$set": {"x": 3}}),
            UpdateOne({"_id": "zz"}, {"$unset": {"x": ""}}),
            UpdateOne({"_id": "a"}, {"$unset": {"x": ""}}),
        ]
    )
    assert (result.matched_count, result.modified_count) == (3, 2)
    assert [d async for d in collection.find({}, sort=[("_id", 1)])] == [
        {"_id": "a"},
        {"_id": "b", "x": 3},
    ]


async def test_field_names_that_need_quoting(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    names = {"first name": "Zoë", "a`b": 1, "back\\slash": 2, "ü": 3, "1": 4, "-x": 5}
    assert counts(await collection.update_one({"_id": "a"}, {"$set": names})) == (1, 1)
    assert counts(await collection.update_one({"_id": "a"}, {"$set": names})) == (1, 0)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1, **names}
    result = await collection.update_one({"_id": "a"}, {"$unset": dict.fromkeys(names, "")})
    assert counts(result) == (1, 1)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1}


async def test_a_dotted_set_through_a_scalar_is_refused_and_changes_nothing(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "a": 5, "keep": 1}])
    with pytest.raises((InvalidQueryError, WriteError)):  # MongoDB: PathNotViable
        await collection.update_one({"_id": "a"}, {"$set": {"a.b": 1, "keep": 2}})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "a": 5, "keep": 1}


async def test_a_dotted_set_creates_the_missing_map_and_merges_into_one(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "m": {"x": 1}}])
    result = await collection.update_one({"_id": "a"}, {"$set": {"a.b": 1, "m.y": 2}})
    assert counts(result) == (1, 1)
    assert await collection.find_one({"_id": "a"}) == {
        "_id": "a",
        "a": {"b": 1},
        "m": {"x": 1, "y": 2},
    }
    assert counts(await collection.update_one({"_id": "a"}, {"$unset": {"m.x": ""}})) == (1, 1)
    assert counts(await collection.update_one({"_id": "a"}, {"$unset": {"m.x": ""}})) == (1, 0)


async def test_a_unique_index_on_the_field_is_still_enforced(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"}])
    created = await attempt(
        store, [UNIQUE_INDEXES], lambda: collection.create_index("email", unique=True)
    )
    if created is REFUSED:
        return
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})
    # The value b gives up is free for another document; the one it takes is held.
    assert counts(await collection.update_one({"_id": "b"}, {"$set": {"email": "c@x"}})) == (1, 1)
    assert counts(await collection.update_one({"_id": "a"}, {"$set": {"email": "b@x"}})) == (1, 1)
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "a"}, {"$set": {"email": "c@x"}})
    # Unsetting the field indexes it as null: a second null is a duplicate.
    assert counts(await collection.update_one({"_id": "a"}, {"$unset": {"email": ""}})) == (1, 1)
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "b"}, {"$unset": {"email": ""}})
    # Another field of an indexed collection is free to change.
    assert counts(await collection.update_one({"_id": "b"}, {"$set": {"other": 1}})) == (1, 1)
    assert [d async for d in collection.find({}, sort=[("_id", 1)])] == [
        {"_id": "a"},
        {"_id": "b", "email": "c@x", "other": 1},
    ]
