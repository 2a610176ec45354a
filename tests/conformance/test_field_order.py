"""Field order, as MongoDB keeps it: a document reads back with its fields in insertion order
(``_id`` first), at every depth and inside arrays of documents. ``$set`` of a new field
appends it to its document, an existing field keeps its place, ``$rename`` is an ``$unset``
plus a ``$set`` (the field moves to the end), a replacement takes the replacement's order
with ``_id`` first, and embedded-document equality in filters depends on the order
(``{"n": {"x": 1, "y": 2}}`` does not match a stored ``{"y": 2, "x": 1}``).

Each update sets at most one new field: MongoDB 5.0+ appends the new fields of one operator
in lexicographic order, which these cases leave aside."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_nosql import DocumentRepository, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from tests.conformance.support import TRANSACTIONS, attempt, collect, seeded

NESTED: dict[str, Any] = {
    "_id": "a",
    "z": 1,
    "m": {"y": 1, "x": {"q": 1, "p": 2}},
    "b": [{"k": 1, "c": 2}, {"v": 1}],
    "a": "last",
}


def names(document: Any) -> list[str]:
    return list(document) if document is not None else []


def shape(value: Any) -> Any:
    """The field names of every embedded document, in order (values aside)."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None


async def test_documents_read_back_in_insertion_order(store: Any) -> None:
    collection = await seeded(store, [NESTED])
    await collection.insert_many([{"_id": "b", "y": 1, "x": 2}, {"_id": "c", "b": 1, "a": 2}])
    await collection.insert_one({"_id": "d", "m": 1, "e": 2})
    generated = await collection.insert_one({"q": 1, "p": 2})
    found = await collection.find_one({"_id": "a"})
    assert shape(found) == shape(NESTED)
    assert names(await collection.find_one({"_id": "d"})) == ["_id", "m", "e"]
    every = {d["_id"]: names(d) for d in await collect(collection.find({"_id": {"$ne": "a"}}))}
    assert every == {
        "b": ["_id", "y", "x"],
        "c": ["_id", "b", "a"],
        "d": ["_id", "m", "e"],
        generated.inserted_id: ["_id", "q", "p"],
    }


async def test_a_new_field_is_appended_and_an_existing_one_keeps_its_place(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "b": 1, "a": {"y": 1, "x": 2}}])
    await collection.update_one({"_id": "a"}, {"$set": {"b": 5}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "b", "a"]
    await collection.update_one({"_id": "a"}, {"$set": {"aa": 1}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "b", "a", "aa"]
    await collection.update_one({"b": 5}, {"$set": {"a.c": 3}})  # found by a filter
    found = await collection.find_one({"_id": "a"})
    assert names(found) == ["_id", "b", "a", "aa"] and names(found["a"]) == ["y", "x", "c"]
    await collection.update_one({"_id": "a"}, {"$set": {"a.w": 4}})
    assert names((await collection.find_one({"_id": "a"}))["a"]) == ["y", "x", "c", "w"]
    await collection.update_one({"_id": "a"}, {"$set": {"a.x": 0}})
    assert names((await collection.find_one({"_id": "a"}))["a"]) == ["y", "x", "c", "w"]
    await collection.update_one({"_id": "a"}, {"$inc": {"0n": 1}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "b", "a", "aa", "0n"]


async def test_an_unset_field_set_again_comes_last(store: Any) -> None:
    """Through the general update path: Firestore's one-commit ``$set``/``$unset`` by ``_id``
    does not write the order (its documented limits are pinned in
    ``tests/backends/test_firestore_order.py``)."""
    collection = await seeded(store, [{"_id": "a", "x": 1, "y": 2, "z": 3}])
    await collection.update_one({"y": 2}, {"$unset": {"x": ""}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "y", "z"]
    await collection.update_one({"y": 2}, {"$set": {"x": 1}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "y", "z", "x"]
    await collection.update_one({"_id": "a"}, {"$set": {"a": 0}, "$unset": {"y": ""}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "z", "x", "a"]
    await collection.update_many({}, {"$unset": {"z": ""}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "x", "a"]


async def test_rename_moves_the_field_to_the_end(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "b": 1, "c": 2, "n": {"q": 1, "p": 2}}])
    await collection.update_one({"_id": "a"}, {"$rename": {"b": "a"}})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "c", "n", "a"]
    await collection.update_one({"_id": "a"}, {"$rename": {"n.q": "n.r"}})
    assert names((await collection.find_one({"_id": "a"}))["n"]) == ["p", "r"]


async def test_a_replacement_takes_its_own_order_with_id_first(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "x": 1, "y": 2}])
    await collection.replace_one({"_id": "a"}, {"y": 3, "m": {"k": 1, "j": 2}, "x": 4})
    found = await collection.find_one({"_id": "a"})
    assert shape(found) == [
        ("_id", None),
        ("y", None),
        ("m", [("k", None), ("j", None)]),
        ("x", None),
    ]
    await collection.replace_one({"x": 4}, {"b": 1, "_id": "a", "a": 2})
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "b", "a"]


async def test_upserts_and_find_one_and_modify_keep_the_order(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "y": 1, "x": 2}])
    await collection.update_one(
        {"_id": "u", "k": 1}, {"$set": {"b": {"z": 1, "a": 2}}}, upsert=True
    )
    found = await collection.find_one({"_id": "u"})
    assert names(found) == ["_id", "k", "b"] and names(found["b"]) == ["z", "a"]
    after = await collection.find_one_and_update(
        {"_id": "a"}, {"$set": {"w": 1}}, return_document=ReturnDocument.AFTER
    )
    assert names(after) == ["_id", "y", "x", "w"]
    before = await collection.find_one_and_replace({"_id": "a"}, {"q": 1, "p": 2})
    assert names(before) == ["_id", "y", "x", "w"]
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "q", "p"]
    replaced = await collection.find_one_and_replace(
        {"_id": "r"}, {"d": 1, "c": 2}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert names(replaced) == ["_id", "d", "c"]


async def test_bulk_writes_keep_the_order(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "y": 1, "x": 2}])
    await collection.bulk_write(
        [
            InsertOne({"_id": "b", "t": 1, "s": 2}),
            UpdateOne({"_id": "a"}, {"$set": {"c": 1}}),
            ReplaceOne({"_id": "b"}, {"v": 1, "u": {"k": 1, "j": 2}}),
        ]
    )
    assert names(await collection.find_one({"_id": "a"})) == ["_id", "y", "x", "c"]
    replaced = await collection.find_one({"_id": "b"})
    assert names(replaced) == ["_id", "v", "u"] and names(replaced["u"]) == ["k", "j"]


async def test_transactions_keep_the_order(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "y": 1, "x": 2}])

    async def run() -> None:
        async with store.transaction():
            await collection.insert_one({"_id": "b", "t": 1, "s": {"z": 1, "a": 2}})
            await collection.update_one({"_id": "a"}, {"$set": {"c": 1}})
            inside = await collection.find_one({"_id": "a"})
            assert names(inside) == ["_id", "y", "x", "c"]

    await attempt(store, [TRANSACTIONS], run)
    if store.capabilities.transactions:
        assert names(await collection.find_one({"_id": "a"})) == ["_id", "y", "x", "c"]
        written = await collection.find_one({"_id": "b"})
        assert names(written) == ["_id", "t", "s"] and names(written["s"]) == ["z", "a"]


async def test_projections_and_aggregations_keep_the_stored_order(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "z": 1, "y": 2, "x": 3}])
    found = await collection.find_one({"_id": "a"}, projection={"x": 1, "z": 1})
    assert names(found) == ["_id", "z", "x"], "the document's order, not the projection's"
    excluded = await collection.find_one({}, projection={"y": 0})
    assert names(excluded) == ["_id", "z", "x"]
    rows = await collect(collection.aggregate([{"$match": {"_id": "a"}}]))
    assert [names(row) for row in rows] == [["_id", "z", "y", "x"]]


EQUALITY_CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "same-order": ({"n": {"y": 2, "x": 1}}, ["stored"]),
    "other-order": ({"n": {"x": 1, "y": 2}}, []),
    "in-other-order": ({"n": {"$in": [{"x": 1, "y": 2}]}}, []),
    "in-both-orders": ({"n": {"$in": [{"x": 1, "y": 2}, {"y": 2, "x": 1}]}}, ["stored"]),
    "ne-other-order": ({"n": {"$ne": {"x": 1, "y": 2}}}, ["sorted", "stored"]),
    "element-same-order": ({"arr": {"b": 1, "a": 2}}, ["stored"]),
    "element-other-order": ({"arr": {"a": 2, "b": 1}}, []),
    "array-same-order": ({"arr": [{"b": 1, "a": 2}]}, ["stored"]),
    "array-other-order": ({"arr": [{"a": 2, "b": 1}]}, []),
    "sorted-same-order": ({"s": {"x": 1, "y": 2}}, ["sorted"]),
    "sorted-other-order": ({"s": {"y": 2, "x": 1}}, []),
}


class Users(DocumentRepository[dict[str, Any], str]):
    collection_name = "ordered_users"

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
async def test_repositories_keep_the_order(store: Any, versioned: bool) -> None:
    users = Users(store, versioned=versioned)
    saved = await users.save({"name": "Ada", "email": "ada@x", "tags": {"z": 1, "a": 2}})
    version = ["_version"] if versioned else []
    assert names(saved) == ["_id", "name", "email", "tags", *version], "_id first"
    stored = await users.get(saved["_id"])
    assert names(stored) == names(saved) and names((stored or {})["tags"]) == ["z", "a"]
    changed = {key: value for key, value in (stored or {}).items() if key != "email"}
    await users.save({**changed, "email": "ada@y"})
    again = await users.get(saved["_id"])
    assert names(again) == ["_id", "name", "tags", *version, "email"]


@pytest.mark.parametrize(
    ("condition", "expected"), list(EQUALITY_CASES.values()), ids=list(EQUALITY_CASES)
)
async def test_embedded_document_equality_depends_on_the_order(
    store: Any, condition: dict[str, Any], expected: list[str]
) -> None:
    collection = await seeded(
        store,
        [
            {"_id": "stored", "n": {"y": 2, "x": 1}, "arr": [{"b": 1, "a": 2}]},
            {"_id": "sorted", "s": {"x": 1, "y": 2}},
        ],
    )
    found = sorted(d["_id"] for d in await collect(collection.find(condition)))
    assert found == expected
    assert await collection.count_documents(condition) == len(expected)


async def test_id_is_stored_first_wherever_it_is_given(store: Any) -> None:
    """A MongoDB server moves ``_id`` to the front of an inserted document, of a replacement
    and of the document an upsert inserts."""
    collection = store.collection("id_first")
    await collection.insert_one({"b": 1, "_id": "one", "a": 2})
    await collection.insert_many([{"z": 1, "_id": "many"}])
    await collection.update_one({"x": 1, "_id": "up"}, {"$set": {"y": 2}}, upsert=True)
    await collection.replace_one({"_id": "one"}, {"c": 3, "_id": "one"})
    assert names(await collection.find_one({"_id": "one"})) == ["_id", "c"]
    assert names(await collection.find_one({"_id": "many"})) == ["_id", "z"]
    assert names(await collection.find_one({"_id": "up"})) == ["_id", "x", "y"]


async def test_one_updates_new_fields_are_created_in_mongodbs_processing_order(
    store: Any,
) -> None:
    """MongoDB 5.0+ applies an update's fields in the order of their names, whatever their
    operator (numeric names in numeric order), so that is the order of the fields it adds."""
    collection = await seeded(store, [{"_id": "a", "k": 1, "m": {"x": 1}}])
    await collection.update_one(
        {"k": 1},
        {"$set": {"z": 1, "b": 1}, "$inc": {"m.y": 1, "c": 1}, "$min": {"m.10": 1, "m.9": 1}},
    )
    found = await collection.find_one({"_id": "a"})
    assert names(found) == ["_id", "k", "m", "b", "c", "z"]
    assert names(found["m"]) == ["x", "9", "10", "y"]
