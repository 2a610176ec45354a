"""PyMongo's per-command options on every backend: ``comment`` and ``hint`` are taken as
PyMongo takes them and change no result; ``let`` is refused by name, before anything is
written (see ``backends/command_options.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import (
    DeleteMany,
    DeleteOne,
    InsertOne,
    InvalidQueryError,
    ReplaceOne,
    ReturnDocument,
    UpdateMany,
    UpdateOne,
)
from tests.conformance.support import by_id, collect, seeded

A, B, C = (f"{n:024x}" for n in (0xA1, 0xB2, 0xC3))
"""ObjectId-shaped ids, which every backend (CongoDB included) stores."""

SEED = [{"_id": A, "kind": "bolt", "qty": 4}, {"_id": B, "kind": "nut", "qty": 9}]

Call = Callable[[Any, dict[str, Any]], Awaitable[Any]]


async def _listed(iterator: Any) -> Any:
    return await collect(iterator)


CALLS: dict[str, Call] = {
    "find": lambda c, o: _listed(c.find({"kind": "nut"}, **o)),
    "find_one": lambda c, o: c.find_one({"kind": "nut"}, **o),
    "count_documents": lambda c, o: c.count_documents({"qty": {"$gt": 1}}, **o),
    "distinct": lambda c, o: c.distinct("kind", {}, **o),
    "aggregate": lambda c, o: _listed(c.aggregate([{"$match": {"kind": "bolt"}}], **o)),
    "update_one": lambda c, o: c.update_one({"_id": A}, {"$inc": {"qty": 1}}, **o),
    "update_many": lambda c, o: c.update_many({}, {"$set": {"checked": True}}, **o),
    "replace_one": lambda c, o: c.replace_one({"_id": B}, {"kind": "washer"}, **o),
    "delete_one": lambda c, o: c.delete_one({"_id": A}, **o),
    "delete_many": lambda c, o: c.delete_many({"qty": {"$lt": 5}}, **o),
    "find_one_and_update": lambda c, o: c.find_one_and_update(
        {"_id": A}, {"$inc": {"qty": 2}}, return_document=ReturnDocument.AFTER, **o
    ),
    "find_one_and_replace": lambda c, o: c.find_one_and_replace(
        {"_id": B}, {"kind": "washer"}, **o
    ),
    "find_one_and_delete": lambda c, o: c.find_one_and_delete({"_id": B}, **o),
}
"""Every call taking ``hint`` (and ``comment``), with the options spliced in."""

COMMENT_ONLY: dict[str, Call] = {
    "insert_one": lambda c, o: c.insert_one({"_id": C, "kind": "pin"}, **o),
    "insert_many": lambda c, o: c.insert_many([{"_id": C, "kind": "pin"}], **o),
    "estimated_document_count": lambda c, o: c.estimated_document_count(**o),
    "bulk_write": lambda c, o: c.bulk_write(
        [InsertOne({"_id": C}), UpdateOne({"_id": A}, {"$set": {"qty": 0}})], **o
    ),
}

LET_CALLS = {
    name: call
    for name, call in CALLS.items()
    if name not in ("count_documents", "distinct")  # PyMongo takes no let there
} | {"bulk_write": COMMENT_ONLY["bulk_write"]}


async def _run_both(store: Any, call: Call, options: dict[str, Any]) -> None:
    plain = await seeded(store, SEED)
    labelled = await seeded(store, SEED)
    expected = await call(plain, {})
    assert await call(labelled, options) == expected
    plain_after = by_id(await collect(plain.find({})))
    assert by_id(await collect(labelled.find({}))) == plain_after


@pytest.mark.parametrize("comment", ["nightly-reindex", {"job": "reindex", "attempt": 2}])
@pytest.mark.parametrize("name", [*CALLS, *COMMENT_ONLY])
async def test_a_comment_changes_no_result(store: Any, name: str, comment: Any) -> None:
    await _run_both(store, {**CALLS, **COMMENT_ONLY}[name], {"comment": comment})


@pytest.mark.parametrize("hint", ["_id_", [("_id", 1)], {"_id": 1}])
@pytest.mark.parametrize("name", list(CALLS))
async def test_a_hint_changes_no_result(store: Any, name: str, hint: Any) -> None:
    await _run_both(store, CALLS[name], {"hint": hint})


@pytest.mark.parametrize("hint", [3, "", [], [("qty",)], {"qty": None}])
@pytest.mark.parametrize("name", list(CALLS))
async def test_a_malformed_hint_is_refused_before_anything_is_written(
    store: Any, name: str, hint: Any
) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="hint must be an index name"):
        await CALLS[name](collection, {"hint": hint})
    assert by_id(await collect(collection.find({}))) == SEED


def _models(hint: Any) -> list[Any]:
    return [
        UpdateOne({"_id": A}, {"$inc": {"qty": 1}}, hint=hint),
        UpdateMany({}, {"$set": {"checked": True}}, hint=hint),
        ReplaceOne({"_id": B}, {"kind": "washer"}, hint=hint),
        DeleteOne({"_id": A}, hint=hint),
        DeleteMany({"qty": {"$gt": 100}}, hint=hint),
    ]


@pytest.mark.parametrize("hint", ["_id_", [("_id", 1)]])
async def test_bulk_models_take_a_hint_that_changes_no_result(store: Any, hint: Any) -> None:
    await _run_both(
        store,
        lambda c, o: c.bulk_write(_models(o.get("hint"))),
        {"hint": hint},
    )


async def test_a_bulk_model_with_a_malformed_hint_is_refused_before_any_write(store: Any) -> None:
    collection = await seeded(store, SEED)
    models = [InsertOne({"_id": C}), *_models(None)[:2], DeleteOne({"_id": B}, hint=7)]
    with pytest.raises(InvalidQueryError, match=r"operation 3 \(DeleteOne\).*hint must be"):
        await collection.bulk_write(models)
    assert by_id(await collect(collection.find({}))) == SEED


@pytest.mark.parametrize("name", list(LET_CALLS))
async def test_let_is_refused_by_name_before_anything_is_written(store: Any, name: str) -> None:
    """Variables for ``$expr`` change results, and no backend here binds them: a call that
    passes them must fail loudly, not run as if they were absent."""
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="let="):
        await LET_CALLS[name](collection, {"let": {"wanted": "nut"}})
    assert by_id(await collect(collection.find({}))) == SEED
