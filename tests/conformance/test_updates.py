"""Update operators: each case is (stored document, update, document afterwards)."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError, UpdateMismatchError, WriteError
from tests.conformance.support import REFUSED, attempt, collect, operators_in, seeded, utc

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # -- $set / $unset ---------------------------------------------------------------------
    ("$set-new-field", {"a": 1}, {"$set": {"b": 2}}, {"a": 1, "b": 2}),
    ("$set-existing", {"a": 1}, {"$set": {"a": "x"}}, {"a": "x"}),
    ("$set-creates-path", {"a": 1}, {"$set": {"x.y.z": 1}}, {"a": 1, "x": {"y": {"z": 1}}}),
    (
        "$set-nested-existing",
        {"d": {"a": 1, "b": 2}},
        {"$set": {"d.b": 3}},
        {"d": {"a": 1, "b": 3}},
    ),
    ("$set-array-index", {"arr": [1, 2, 3]}, {"$set": {"arr.1": 9}}, {"arr": [1, 9, 3]}),
    (
        "$set-array-element-field",
        {"items": [{"n": 1}, {"n": 2}]},
        {"$set": {"items.1.n": 5}},
        {"items": [{"n": 1}, {"n": 5}]},
    ),
    ("$set-whole-document", {"d": {"a": 1}}, {"$set": {"d": {"b": 2}}}, {"d": {"b": 2}}),
    ("$set-null", {"a": 1}, {"$set": {"a": None}}, {"a": None}),
    ("$set-array", {"a": 1}, {"$set": {"a": [1, "two", {"c": 3}]}}, {"a": [1, "two", {"c": 3}]}),
    (
        "$set-date",
        {"a": 1},
        {"$set": {"at": utc(2024, 2, 29, 12)}},
        {"a": 1, "at": utc(2024, 2, 29, 12)},
    ),
    ("$set-two-fields", {"a": 1}, {"$set": {"b": 2, "c": 3}}, {"a": 1, "b": 2, "c": 3}),
    (
        "$set-field-with-space",
        {"a": 1},
        {"$set": {"first name": "Zoë"}},
        {"a": 1, "first name": "Zoë"},
    ),
    ("$unset", {"a": 1, "b": 2}, {"$unset": {"b": ""}}, {"a": 1}),
    ("$unset-missing", {"a": 1}, {"$unset": {"zz": ""}}, {"a": 1}),
    ("$unset-nested", {"d": {"a": 1, "b": 2}}, {"$unset": {"d.a": ""}}, {"d": {"b": 2}}),
    ("$unset-two", {"a": 1, "b": 2, "c": 3}, {"$unset": {"a": "", "c": 1}}, {"b": 2}),
    # -- numbers ---------------------------------------------------------------------------
    ("$inc", {"n": 1}, {"$inc": {"n": 2}}, {"n": 3}),
    ("$inc-negative", {"n": 1}, {"$inc": {"n": -5}}, {"n": -4}),
    ("$inc-missing-creates", {"a": 1}, {"$inc": {"n": 4}}, {"a": 1, "n": 4}),
    ("$inc-float", {"n": 1.5}, {"$inc": {"n": 1}}, {"n": 2.5}),
    # MongoDB adds binary floats (DynamoDB's decimal ADD would give 0.3 and 1.57).
    ("$inc-binary-float", {"n": 0.1}, {"$inc": {"n": 0.2}}, {"n": 0.30000000000000004}),
    ("$inc-int-onto-binary-float", {"n": 0.57}, {"$inc": {"n": 1}}, {"n": 1.5699999999999998}),
    ("$inc-nested", {"s": {"n": 1}}, {"$inc": {"s.n": 1, "s.m": 2}}, {"s": {"n": 2, "m": 2}}),
    ("$mul", {"n": 3}, {"$mul": {"n": 2}}, {"n": 6}),
    ("$mul-float", {"n": 3}, {"$mul": {"n": 0.5}}, {"n": 1.5}),
    ("$mul-missing-is-zero", {"a": 1}, {"$mul": {"n": 5}}, {"a": 1, "n": 0}),
    ("$min-lower", {"n": 5}, {"$min": {"n": 3}}, {"n": 3}),
    ("$min-higher-keeps", {"n": 5}, {"$min": {"n": 7}}, {"n": 5}),
    ("$min-missing-sets", {"a": 1}, {"$min": {"n": 7}}, {"a": 1, "n": 7}),
    ("$max-higher", {"n": 5}, {"$max": {"n": 9}}, {"n": 9}),
    ("$max-lower-keeps", {"n": 5}, {"$max": {"n": 1}}, {"n": 5}),
    (
        "$max-dates",
        {"d": utc(2020, 1, 1)},
        {"$max": {"d": utc(2021, 1, 1)}},
        {"d": utc(2021, 1, 1)},
    ),
    ("$min-strings", {"s": "m"}, {"$min": {"s": "c"}}, {"s": "c"}),
    # -- $rename / $setOnInsert ------------------------------------------------------------
    ("$rename", {"a": 1, "b": 2}, {"$rename": {"a": "c"}}, {"b": 2, "c": 1}),
    ("$rename-missing-no-op", {"a": 1}, {"$rename": {"zz": "c"}}, {"a": 1}),
    ("$rename-into-nested", {"a": 1}, {"$rename": {"a": "x.y"}}, {"x": {"y": 1}}),
    (
        "$rename-out-of-nested",
        {"x": {"y": 1, "z": 2}},
        {"$rename": {"x.y": "y"}},
        {"x": {"z": 2}, "y": 1},
    ),
    ("$rename-overwrites", {"a": 1, "b": 2}, {"$rename": {"a": "b"}}, {"b": 1}),
    (
        "$setOnInsert-ignored-on-update",
        {"a": 1},
        {"$setOnInsert": {"b": 2}, "$set": {"c": 3}},
        {"a": 1, "c": 3},
    ),
    # -- $push -----------------------------------------------------------------------------
    ("$push", {"arr": [1]}, {"$push": {"arr": 2}}, {"arr": [1, 2]}),
    ("$push-missing-creates", {"a": 1}, {"$push": {"arr": 2}}, {"a": 1, "arr": [2]}),
    ("$push-document", {"arr": []}, {"$push": {"arr": {"k": "v"}}}, {"arr": [{"k": "v"}]}),
    ("$push-$each", {"arr": [1]}, {"$push": {"arr": {"$each": [2, 3]}}}, {"arr": [1, 2, 3]}),
    (
        "$push-$position",
        {"arr": [1, 2]},
        {"$push": {"arr": {"$each": [0], "$position": 0}}},
        {"arr": [0, 1, 2]},
    ),
    (
        "$push-$slice-last",
        {"arr": [1, 2]},
        {"$push": {"arr": {"$each": [3, 4], "$slice": -3}}},
        {"arr": [2, 3, 4]},
    ),
    (
        "$push-$slice-first",
        {"arr": [1, 2]},
        {"$push": {"arr": {"$each": [3], "$slice": 2}}},
        {"arr": [1, 2]},
    ),
    (
        "$push-$sort",
        {"arr": [3, 1]},
        {"$push": {"arr": {"$each": [2], "$sort": 1}}},
        {"arr": [1, 2, 3]},
    ),
    (
        "$push-$sort-desc",
        {"arr": [3, 1]},
        {"$push": {"arr": {"$each": [2], "$sort": -1}}},
        {"arr": [3, 2, 1]},
    ),
    (
        "$push-$sort-by-field-$slice",
        {"top": [{"s": 5}, {"s": 9}]},
        {"$push": {"top": {"$each": [{"s": 7}], "$sort": {"s": -1}, "$slice": 2}}},
        {"top": [{"s": 9}, {"s": 7}]},
    ),
    (
        "$push-nested-path",
        {"d": {"arr": ["a"]}},
        {"$push": {"d.arr": "b"}},
        {"d": {"arr": ["a", "b"]}},
    ),
    # -- $addToSet -------------------------------------------------------------------------
    ("$addToSet-new", {"s": ["a"]}, {"$addToSet": {"s": "b"}}, {"s": ["a", "b"]}),
    ("$addToSet-existing", {"s": ["a", "b"]}, {"$addToSet": {"s": "a"}}, {"s": ["a", "b"]}),
    ("$addToSet-missing-creates", {"x": 1}, {"$addToSet": {"s": "a"}}, {"x": 1, "s": ["a"]}),
    (
        "$addToSet-$each",
        {"s": ["a"]},
        {"$addToSet": {"s": {"$each": ["a", "b", "c", "b"]}}},
        {"s": ["a", "b", "c"]},
    ),
    ("$addToSet-numeric-equality", {"s": [1]}, {"$addToSet": {"s": 1.0}}, {"s": [1]}),
    ("$addToSet-document", {"s": [{"a": 1}]}, {"$addToSet": {"s": {"a": 1}}}, {"s": [{"a": 1}]}),
    # -- $pull / $pullAll / $pop -----------------------------------------------------------
    ("$pull-value", {"s": ["a", "b", "a"]}, {"$pull": {"s": "a"}}, {"s": ["b"]}),
    ("$pull-condition", {"n": [1, 5, 3, 8]}, {"$pull": {"n": {"$gte": 5}}}, {"n": [1, 3]}),
    ("$pull-$in", {"n": [1, 2, 3]}, {"$pull": {"n": {"$in": [1, 3]}}}, {"n": [2]}),
    (
        "$pull-document-condition",
        {"items": [{"sku": "a", "q": 1}, {"sku": "b", "q": 2}]},
        {"$pull": {"items": {"sku": "a"}}},
        {"items": [{"sku": "b", "q": 2}]},
    ),
    (
        "$pull-document-operator-condition",
        {"items": [{"q": 1}, {"q": 5}, {"q": 9}]},
        {"$pull": {"items": {"q": {"$gt": 4}}}},
        {"items": [{"q": 1}]},
    ),
    ("$pull-missing-field-no-op", {"a": 1}, {"$pull": {"s": "x"}}, {"a": 1}),
    ("$pullAll", {"s": [1, 2, 3, 2]}, {"$pullAll": {"s": [2, 3]}}, {"s": [1]}),
    ("$pop-last", {"s": [1, 2, 3]}, {"$pop": {"s": 1}}, {"s": [1, 2]}),
    ("$pop-first", {"s": [1, 2, 3]}, {"$pop": {"s": -1}}, {"s": [2, 3]}),
    ("$pop-empty", {"s": []}, {"$pop": {"s": 1}}, {"s": []}),
    # -- $bit (the manual's examples: 13 and 10 is 8, 3 or 5 is 7, 1 xor 5 is 4) ----------
    ("$bit-and", {"n": 13}, {"$bit": {"n": {"and": 10}}}, {"n": 8}),
    ("$bit-or", {"n": 3}, {"$bit": {"n": {"or": 5}}}, {"n": 7}),
    ("$bit-xor", {"n": 1}, {"$bit": {"n": {"xor": 5}}}, {"n": 4}),
    ("$bit-in-order", {"n": 13}, {"$bit": {"n": {"and": 10, "or": 1}}}, {"n": 9}),
    ("$bit-missing-field", {"a": 1}, {"$bit": {"n": {"or": 6}}}, {"a": 1, "n": 6}),
    # -- combinations ----------------------------------------------------------------------
    ("$set-and-$inc", {"a": 1, "n": 1}, {"$set": {"a": 2}, "$inc": {"n": 1}}, {"a": 2, "n": 2}),
    ("$unset-and-$push", {"a": 1, "s": []}, {"$unset": {"a": ""}, "$push": {"s": 1}}, {"s": [1]}),
    (
        "$currentDate-and-others-leave-the-rest",
        {"a": 1, "keep": {"x": [1, 2]}},
        {"$inc": {"a": 1}},
        {"a": 2, "keep": {"x": [1, 2]}},
    ),
]


@pytest.mark.parametrize(
    ("before", "update", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_update_one(
    store: Any, before: dict[str, Any], update: dict[str, Any], after: dict[str, Any]
) -> None:
    collection = await seeded(store, [{"_id": "d1", **before}, {"_id": "d2", **before}])
    result = await attempt(
        store, operators_in(update), lambda: collection.update_one({"_id": "d1"}, update)
    )
    if result is REFUSED:
        return
    assert result.matched_count == 1
    assert await collection.find_one({"_id": "d1"}) == {"_id": "d1", **after}
    # The other document is untouched.
    assert await collection.find_one({"_id": "d2"}) == {"_id": "d2", **before}


@pytest.mark.parametrize(
    ("before", "update", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_update_many_applies_to_every_match(
    store: Any, before: dict[str, Any], update: dict[str, Any], after: dict[str, Any]
) -> None:
    collection = await seeded(
        store,
        [{"_id": "d1", "g": 1, **before}, {"_id": "d2", "g": 1, **before}, {"_id": "d3", **before}],
    )
    result = await attempt(
        store, operators_in(update), lambda: collection.update_many({"g": 1}, update)
    )
    if result is REFUSED:
        return
    assert result.matched_count == 2
    changed = before != after
    assert result.modified_count == (2 if changed else 0)
    for key in ("d1", "d2"):
        stored = await collection.find_one({"_id": key})
        assert stored is not None
        stored.pop("g", None)
        assert stored == {"_id": key, **after}
    assert await collection.find_one({"_id": "d3"}) == {"_id": "d3", **before}


async def test_modified_count_is_zero_when_nothing_changes(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1, "s": ["x"]}])
    result = await collection.update_one({"_id": "a"}, {"$set": {"n": 1}})
    assert (result.matched_count, result.modified_count) == (1, 0)
    result = await collection.update_one({"_id": "a"}, {"$addToSet": {"s": "x"}})
    assert (result.matched_count, result.modified_count) == (1, 0)


async def test_inc_follows_the_type_the_field_has_now(store: Any) -> None:
    """A field that became a float is added to in binary; one that became an int, exactly."""
    collection = await seeded(store, [{"_id": "a", "n": 1, "s": "x"}])
    await collection.update_one({"_id": "a"}, {"$set": {"n": 0.57}})
    await collection.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    assert await collection.find_one({"_id": "a"}) == {
        "_id": "a",
        "n": 1.5699999999999998,
        "s": "x",
    }
    await collection.update_one({"_id": "a"}, {"$set": {"n": 5}})
    await collection.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    found = await collection.find_one({"_id": "a"})
    assert found is not None and found["n"] == 6 and type(found["n"]) is int
    with pytest.raises((InvalidQueryError, WriteError)):  # MongoDB: TypeMismatch
        await collection.update_one({"_id": "a"}, {"$inc": {"s": 1}})
    assert (await collection.find_one({"_id": "a"}) or {})["s"] == "x"
    result = await collection.update_one({"_id": "zz"}, {"$inc": {"n": 1}})
    assert (result.matched_count, result.modified_count) == (0, 0)


async def test_bit_needs_an_integer_in_the_document(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "s": ["x"], "f": 1.5}])
    for path in ("s", "f"):
        with pytest.raises((InvalidQueryError, WriteError)):  # MongoDB: BadValue
            await collection.update_one({"_id": "a"}, {"$bit": {path: {"or": 1}}})
    assert await collection.find_one({}) == {"_id": "a", "s": ["x"], "f": 1.5}


async def test_update_matching_nothing_reports_zero(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1}])
    result = await collection.update_one({"_id": "zz"}, {"$set": {"n": 2}})
    assert (result.matched_count, result.modified_count, result.upserted_id) == (0, 0, None)
    result = await collection.update_many({"n": 5}, {"$set": {"n": 2}})
    assert (result.matched_count, result.modified_count) == (0, 0)


async def test_update_one_changes_only_the_first_match(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "g": 1}, {"_id": "b", "g": 1}])
    result = await collection.update_one({"g": 1}, {"$set": {"hit": True}})
    assert result.modified_count == 1
    assert await collection.count_documents({"hit": True}) == 1


async def test_current_date_sets_a_recent_utc_date(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    await collection.update_one({"_id": "a"}, {"$currentDate": {"at": True}})
    stored = await collection.find_one({"_id": "a"})
    assert stored is not None
    from datetime import UTC, datetime, timedelta

    at = stored["at"]
    assert isinstance(at, datetime)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)


async def test_replace_one_replaces_everything_but_the_id(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1, "y": 2}])
    result = await collection.replace_one({"_id": "a"}, {"z": 3})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "z": 3}


async def test_replace_one_with_the_same_id_is_allowed(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    await collection.replace_one({"x": 1}, {"_id": "a", "x": 2})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 2}


async def test_replace_one_cannot_change_the_id(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    with pytest.raises(InvalidQueryError):
        await collection.replace_one({"_id": "a"}, {"_id": "b", "x": 2})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1}
    assert await collection.count_documents({}) == 1


async def test_set_cannot_change_the_id(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1}])
    with pytest.raises(InvalidQueryError):
        await collection.update_one({"_id": "a"}, {"$set": {"_id": "b"}})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "x": 1}


async def test_delete_one_and_many(store: Any) -> None:
    collection = await seeded(store, [{"_id": f"d{i}", "g": i % 2} for i in range(6)])
    assert (await collection.delete_one({"g": 1})).deleted_count == 1
    assert await collection.count_documents({}) == 5
    assert (await collection.delete_many({"g": 0})).deleted_count == 3
    assert await collection.count_documents({}) == 2
    assert (await collection.delete_many({"g": 7})).deleted_count == 0
    assert (await collection.delete_many({})).deleted_count == 2
    assert await collection.count_documents({}) == 0


@pytest.mark.parametrize(
    "update",
    [{"$set": {"_id": "b"}}, {"$setOnInsert": {"_id": "b"}}, {"$unset": {"_id": ""}}],
    ids=["set", "set-on-insert", "unset"],
)
async def test_an_upsert_cannot_change_the_id_its_filter_gives(
    store: Any, update: dict[str, Any]
) -> None:
    """MongoDB starts the upserted document from the filter's equalities: an ``_id`` taken
    from there is immutable (error 66), while one the filter does not name may be set."""
    collection = await seeded(store, [])
    with pytest.raises(InvalidQueryError):
        await collection.update_one({"_id": "a"}, update, upsert=True)
    assert await collection.count_documents({}) == 0
    result = await collection.update_one({"x": 1}, {"$setOnInsert": {"_id": "c"}}, upsert=True)
    assert result.upserted_id == "c"
    assert await collection.find_one({}) == {"_id": "c", "x": 1}


MISMATCHES: list[tuple[str, Any]] = [
    ("inc-of-a-string", {"$inc": {"s": 1}}),
    ("push-onto-a-number", {"$push": {"n": 1}}),
    ("field-inside-a-number", {"$set": {"n.x": 1}}),
    ("set-of-the-id", {"$set": {"_id": "other"}}),
]


@pytest.mark.parametrize("update", [u for _, u in MISMATCHES], ids=[n for n, _ in MISMATCHES])
async def test_an_update_that_does_not_fit_the_document_is_one_error_everywhere(
    store: Any, update: dict[str, Any]
) -> None:
    """MongoDB's TypeMismatch, PathNotViable and ImmutableField, found by the server or the
    engine: UpdateMismatchError, both an InvalidQueryError and a WriteError; nothing written."""
    stored = {"_id": "a", "n": 1, "s": "x"}
    collection = await seeded(store, [stored])
    for call in (
        lambda: collection.update_one({"_id": "a"}, update),
        lambda: collection.update_many({}, update),
        lambda: collection.find_one_and_update({"_id": "a"}, update),
    ):
        with pytest.raises(UpdateMismatchError) as raised:
            await call()
        assert isinstance(raised.value, InvalidQueryError)
        assert isinstance(raised.value, WriteError)
    with pytest.raises(UpdateMismatchError):
        await collection.replace_one({"_id": "a"}, {"_id": "b"})
    with pytest.raises(UpdateMismatchError):  # the upserted document's _id is the filter's
        await collection.replace_one({"_id": "z"}, {"_id": "y"}, upsert=True)
    assert await collect(collection.find({})) == [stored]
