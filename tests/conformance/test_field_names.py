"""Field names that start with ``$`` or contain ``.``: stored through inserts and
replacements as MongoDB 5.0+ stores them (the cases of the CRUD specification's
insertOne-dots_and_dollars and replaceOne-dots_and_dollars), refused where MongoDB refuses
them: at the top level of a replacement, inside ``_id``, and as update paths."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError, ReplaceOne, UpdateMany, UpdateOne
from tests.conformance.support import collect, seeded

ID = "0000000000000000000000a1"

STORED = [
    ("top-level-dollar", {"_id": ID, "$a": 1}),
    ("top-level-dotted", {"_id": ID, "a.b": 1}),
    ("embedded-dollar", {"_id": ID, "a": {"$b": 1}}),
    ("embedded-dotted", {"_id": ID, "a": {"b.c": 1}}),
    ("dbref-like", {"_id": ID, "a": {"$db": "foo"}}),
    ("operator-names", {"_id": ID, "$inc": True, "l": {"$set": {"x.y": [{"$push": 1}]}}}),
]


@pytest.mark.parametrize(("case", "document"), STORED, ids=[c for c, _ in STORED])
async def test_inserted_dollar_and_dotted_names_read_back(
    store: Any, case: str, document: dict[str, Any]
) -> None:
    collection = store.collection(f"names_{case}")
    result = await collection.insert_one(dict(document))
    assert result.inserted_id == ID
    assert await collect(collection.find({})) == [document]
    await collection.update_one({"_id": ID}, {"$set": {"other": 2}})
    assert await collection.find_one({"_id": ID}) == {**document, "other": 2}


async def test_insert_many_stores_dollar_and_dotted_names(store: Any) -> None:
    collection = await seeded(store, [])
    documents = [
        {"_id": f"{n:024x}", **{k: v for k, v in d.items() if k != "_id"}}
        for n, (_, d) in enumerate(STORED)
    ]
    await collection.insert_many(documents)
    assert sorted(await collect(collection.find({})), key=lambda d: d["_id"]) == documents


REPLACED = [
    ("top-level-dotted", {"_id": ID, "a.b": 1}),
    ("embedded-dollar", {"_id": ID, "a": {"$b": 1}}),
    ("embedded-dotted", {"_id": ID, "a": {"b.c": 1}}),
]


@pytest.mark.parametrize(("case", "replacement"), REPLACED, ids=[c for c, _ in REPLACED])
async def test_replacements_store_dollar_and_dotted_names(
    store: Any, case: str, replacement: dict[str, Any]
) -> None:
    collection = await seeded(store, [{"_id": ID}])
    result = await collection.replace_one({"_id": ID}, dict(replacement))
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await collect(collection.find({})) == [replacement]


async def test_a_top_level_dollar_name_in_a_replacement_is_refused(store: Any) -> None:
    """MongoDB reads it as an operator; the message says what to do, not "operator"."""
    collection = await seeded(store, [{"_id": ID, "x": 1}])
    with pytest.raises(InvalidQueryError) as raised:
        await collection.replace_one({"_id": ID}, {"$a": 1})
    assert "dollar ($) prefixed field '$a'" in str(raised.value)
    assert "cannot contain the operator" not in str(raised.value)
    assert raised.value.path == "$a"
    assert await collect(collection.find({})) == [{"_id": ID, "x": 1}]


async def test_a_dollar_name_inside_id_is_refused(store: Any) -> None:
    collection = await seeded(store, [])
    with pytest.raises(InvalidQueryError, match="inside _id"):
        await collection.insert_one({"_id": {"$a": 1}})
    assert await collect(collection.find({})) == []


HOUSING = {
    "_id": ID,
    "address": {"$number": 123, "$street": "Elm Road"},
    "$rooms": {"br": 2, "bath": 1},
}


async def test_an_update_reaches_a_nested_dollar_name(store: Any) -> None:
    """The manual's housing example: address.$street can be set by an update."""
    collection = await seeded(store, [HOUSING])
    result = await collection.update_one({"_id": ID}, {"$set": {"address.$street": "Elm Ave"}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await collection.find_one({"_id": ID}) == {
        **HOUSING,
        "address": {"$number": 123, "$street": "Elm Ave"},
    }


@pytest.mark.parametrize("update", [{"$set": {"$rooms.br": 3}}, {"$inc": {"$pool": 1}}])
async def test_an_update_of_an_existing_document_cannot_set_a_top_level_dollar_name(
    store: Any, update: dict[str, Any]
) -> None:
    collection = await seeded(store, [HOUSING])
    with pytest.raises(InvalidQueryError, match="dollar"):
        await collection.update_one({"_id": ID}, update)
    assert await collect(collection.find({})) == [HOUSING]


async def test_an_update_may_unset_a_top_level_dollar_name(store: Any) -> None:
    collection = await seeded(store, [HOUSING])
    await collection.update_one({"_id": ID}, {"$unset": {"$rooms": ""}})
    assert await collect(collection.find({})) == [{"_id": ID, "address": HOUSING["address"]}]


async def test_an_upsert_that_inserts_may_create_a_top_level_dollar_name(store: Any) -> None:
    """The manual's expenses example: allowed when the upsert inserts, refused once the
    filter matches the document it created."""
    collection = await seeded(store, [])
    update = {"$set": {"phone": 25.17, "$hotel": 320.10}}
    result = await collection.update_one({"date": "2021-07-07"}, update, upsert=True)
    assert result.did_upsert
    stored = await collection.find_one({"date": "2021-07-07"}, projection={"_id": 0})
    assert stored == {"date": "2021-07-07", "phone": 25.17, "$hotel": 320.10}
    with pytest.raises(InvalidQueryError, match="dollar"):
        await collection.update_one({"date": "2021-07-07"}, update, upsert=True)


async def test_a_dotted_update_path_means_nesting_not_a_dotted_name(store: Any) -> None:
    collection = await seeded(store, [{"_id": ID, "a.b": 1}])
    await collection.update_one({"_id": ID}, {"$set": {"a.b": 2}})
    assert await collection.find_one({"_id": ID}) == {"_id": ID, "a.b": 1, "a": {"b": 2}}


def _set_field(field: str, input: str) -> dict[str, Any]:
    return {"$setField": {"field": {"$literal": field}, "value": 1, "input": input}}


PIPELINE_SETS = [
    ("top-level-dollar", [{"$replaceWith": _set_field("$a", "$$ROOT")}], {"$a": 1, "foo": {}}),
    ("top-level-dotted", [{"$replaceWith": _set_field("a.b", "$$ROOT")}], {"a.b": 1, "foo": {}}),
    ("embedded-dollar", [{"$set": {"foo": _set_field("$a", "$foo")}}], {"foo": {"$a": 1}}),
    ("embedded-dotted", [{"$set": {"foo": _set_field("a.b", "$foo")}}], {"foo": {"a.b": 1}}),
]
"""The CRUD specification's *-dots_and_dollars update cases: a name an update path cannot
spell is set by a pipeline update through ``$setField`` (with ``$literal`` for ``$``)."""


@pytest.mark.parametrize(
    ("case", "pipeline", "expected"), PIPELINE_SETS, ids=[c for c, _, _ in PIPELINE_SETS]
)
async def test_a_pipeline_update_sets_dollar_and_dotted_names_with_set_field(
    store: Any, case: str, pipeline: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    collection = await seeded(store, [{"_id": ID, "foo": {}}])
    result = await collection.update_one({"_id": ID}, pipeline)
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert await collect(collection.find({})) == [{"_id": ID, **expected}]


async def test_every_update_method_takes_set_field(store: Any) -> None:
    """update_many, find_one_and_update and the bulk models, as the specification's
    updateMany-, findOneAndUpdate- and bulkWrite-*-dots_and_dollars files run them."""
    pipeline = PIPELINE_SETS[0][1]
    calls: dict[str, Any] = {
        "update_many": lambda c: c.update_many({"_id": ID}, pipeline),
        "find_one_and_update": lambda c: c.find_one_and_update({"_id": ID}, pipeline),
        "UpdateOne": lambda c: c.bulk_write([UpdateOne({"_id": ID}, pipeline)]),
        "UpdateMany": lambda c: c.bulk_write([UpdateMany({"_id": ID}, pipeline)]),
    }
    for method, call in calls.items():
        collection = await seeded(store, [{"_id": ID, "foo": {}}])
        await call(collection)
        stored = await collect(collection.find({}))
        assert stored == [{"_id": ID, "foo": {}, "$a": 1}], method


async def test_get_set_and_unset_field_in_an_aggregation(store: Any) -> None:
    collection = await seeded(store, [{"_id": ID, "$price": 5, "a.b": 2, "c": {"x.y": 3}}])
    pipeline = [
        {
            "$project": {
                "_id": 0,
                "price": {"$getField": {"$literal": "$price"}},
                "ab": {"$getField": "a.b"},
                "xy": {"$getField": {"field": "x.y", "input": "$c"}},
                "gone": {"$getField": {"field": "nope", "input": "$c"}},
                "null": {"$getField": {"field": "x", "input": "$nothing"}},
                "set": {"$setField": {"field": "a.b", "input": "$c", "value": 4}},
                "removed": {"$setField": {"field": "x.y", "input": "$c", "value": "$$REMOVE"}},
                "unset": {"$unsetField": {"field": "x.y", "input": "$c"}},
            }
        }
    ]
    assert await collect(collection.aggregate(pipeline)) == [
        {
            "price": 5,
            "ab": 2,
            "xy": 3,
            "null": None,
            "set": {"x.y": 3, "a.b": 4},
            "removed": {},
            "unset": {},
        }
    ]


@pytest.mark.parametrize(
    "expression",
    [
        {"$getField": "$price"},
        {"$setField": {"field": 1, "input": "$$ROOT", "value": 1}},
        {"$setField": {"field": "a", "input": "$$ROOT"}},
        {"$unsetField": {"field": "a", "input": "$$ROOT", "value": 1}},
    ],
    ids=["dollar-path-field", "non-string-field", "no-value", "unset-with-value"],
)
async def test_malformed_field_operators_are_refused(store: Any, expression: Any) -> None:
    collection = await seeded(store, [{"_id": ID}])
    with pytest.raises(InvalidQueryError):
        collection.aggregate([{"$project": {"v": expression}}])


async def test_dotted_names_inside_id_and_replacements_of_every_method(store: Any) -> None:
    """insertOne-dots_and_dollars' dotted key inside ``_id``, and the replaceOne cases through
    find_one_and_replace and the bulk ReplaceOne."""
    collection = await seeded(store, [])
    result = await collection.insert_one({"_id": {"a.b": 1}})
    assert result.inserted_id == {"a.b": 1}
    assert await collection.find_one({"_id": {"a.b": 1}}) == {"_id": {"a.b": 1}}
    others = await seeded(store, [{"_id": ID}])
    found = await others.find_one_and_replace(
        {"_id": ID}, {"a.b": 1, "c": {"$d": 2}}, return_document=True
    )
    assert found == {"_id": ID, "a.b": 1, "c": {"$d": 2}}
    await others.bulk_write([ReplaceOne({"_id": ID}, {"e": {"f.g": 3, "$h": 4}})])
    assert await collect(others.find({})) == [{"_id": ID, "e": {"f.g": 3, "$h": 4}}]
