"""Field names that start with ``$`` or contain ``.``: stored through inserts and
replacements as MongoDB 5.0+ stores them (the cases of the CRUD specification's
insertOne-dots_and_dollars and replaceOne-dots_and_dollars), refused where MongoDB refuses
them: at the top level of a replacement, inside ``_id``, and as update paths."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError
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
