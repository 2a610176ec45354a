"""PyMongo's per-command options on every backend (see ``backends/command_options.py``):
``comment`` and ``hint`` change no result; a simple collation is every backend's, another one
is MongoDB's only and refused elsewhere by name; ``max_time_ms`` bounds the call; ``session``
is the store's own transaction's; ``let`` is refused by name. That MongoDB receives them is
checked by command monitoring in ``tests/backends/test_mongodb_command_options.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lexigram_nosql import (
    BulkWriteError,
    DeleteMany,
    DeleteOne,
    InsertOne,
    InvalidQueryError,
    OperationTimeoutError,
    ReplaceOne,
    ReturnDocument,
    TransactionSession,
    UnsupportedQueryError,
    UpdateMany,
    UpdateOne,
    create_store,
)
from tests.conformance.support import REFUSED, TRANSACTIONS, attempt, by_id, collect, seeded

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


BY_VARIABLE = {"$expr": {"$eq": ["$kind", "$$wanted"]}}
LET = {"wanted": "nut", "n": {"$add": [3, 4]}}
"""Variables as MongoDB takes them: constants and expressions evaluated once."""

SET_N = [{"$set": {"qty": "$$n"}}]

LET_PAIRS: dict[str, tuple[Call, Call]] = {
    "find": (
        lambda c, o: _listed(c.find({"kind": "nut"})),
        lambda c, o: _listed(c.find(BY_VARIABLE, **o)),
    ),
    "find_one": (
        lambda c, o: c.find_one({"kind": "nut"}),
        lambda c, o: c.find_one(BY_VARIABLE, **o),
    ),
    "count_documents": (
        lambda c, o: c.count_documents({"kind": "nut"}),
        lambda c, o: c.count_documents(BY_VARIABLE, **o),
    ),
    "aggregate": (
        lambda c, o: _listed(c.aggregate([{"$match": {"kind": "nut"}}, {"$set": {"n": 7}}])),
        lambda c, o: _listed(c.aggregate([{"$match": BY_VARIABLE}, {"$set": {"n": "$$n"}}], **o)),
    ),
    "update_one": (
        lambda c, o: c.update_one({"kind": "nut"}, {"$set": {"qty": 7}}),
        lambda c, o: c.update_one(BY_VARIABLE, SET_N, **o),
    ),
    "update_many": (
        lambda c, o: c.update_many({"kind": "nut"}, {"$set": {"qty": 7}}),
        lambda c, o: c.update_many(BY_VARIABLE, SET_N, **o),
    ),
    "replace_one": (
        lambda c, o: c.replace_one({"kind": "nut"}, {"kind": "washer"}),
        lambda c, o: c.replace_one(BY_VARIABLE, {"kind": "washer"}, **o),
    ),
    "delete_one": (
        lambda c, o: c.delete_one({"kind": "nut"}),
        lambda c, o: c.delete_one(BY_VARIABLE, **o),
    ),
    "delete_many": (
        lambda c, o: c.delete_many({"kind": "nut"}),
        lambda c, o: c.delete_many(BY_VARIABLE, **o),
    ),
    "find_one_and_update": (
        lambda c, o: c.find_one_and_update(
            {"kind": "nut"}, {"$set": {"qty": 7}}, return_document=ReturnDocument.AFTER
        ),
        lambda c, o: c.find_one_and_update(
            BY_VARIABLE, SET_N, return_document=ReturnDocument.AFTER, **o
        ),
    ),
    "find_one_and_replace": (
        lambda c, o: c.find_one_and_replace({"kind": "nut"}, {"kind": "washer"}),
        lambda c, o: c.find_one_and_replace(BY_VARIABLE, {"kind": "washer"}, **o),
    ),
    "find_one_and_delete": (
        lambda c, o: c.find_one_and_delete({"kind": "nut"}),
        lambda c, o: c.find_one_and_delete(BY_VARIABLE, **o),
    ),
    "bulk_write": (
        lambda c, o: c.bulk_write(
            [UpdateOne({"kind": "nut"}, {"$set": {"qty": 7}}), DeleteOne({"kind": "nut"})]
        ),
        lambda c, o: c.bulk_write([UpdateOne(BY_VARIABLE, SET_N), DeleteOne(BY_VARIABLE)], **o),
    ),
}
"""Each call PyMongo gives ``let``: with literal values, and with ``$$`` variables."""


@pytest.mark.parametrize("name", list(LET_PAIRS))
async def test_let_binds_the_variables_of_expr_and_pipeline_updates(store: Any, name: str) -> None:
    """``let=`` gives ``$$name`` its value in ``$expr`` filters, pipeline updates and
    aggregation stages: the call does what the same call with the values written in does."""
    literal, with_variables = LET_PAIRS[name]
    plain = await seeded(store, SEED)
    bound = await seeded(store, SEED)
    assert await with_variables(bound, {"let": LET}) == await literal(plain, {})
    assert by_id(await collect(bound.find({}))) == by_id(await collect(plain.find({})))


@pytest.mark.parametrize(
    ("let", "message"),
    [
        ("wanted", "let must be a document"),
        ({"Wanted": "nut"}, "let variable name 'Wanted' is not valid"),
        ({"wanted": {"$noSuchOperator": 1}}, "noSuchOperator"),
    ],
    ids=["not-a-document", "bad-name", "bad-expression"],
)
async def test_malformed_let_is_refused_before_anything_is_written(
    store: Any, let: Any, message: str
) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match=message):
        await collection.update_many(BY_VARIABLE, SET_N, let=let)
    assert by_id(await collect(collection.find({}))) == SEED


async def test_distinct_takes_no_let_as_pymongos_does_not(store: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(TypeError, match="'let'"):
        await collection.distinct("kind", BY_VARIABLE, let=LET)  # type: ignore[call-arg]


TIMED = {
    name: call
    for name, call in CALLS.items()
    if not name.startswith(("update", "replace", "delete"))  # PyMongo gives these no bound
}


@pytest.mark.parametrize("collation", [{"locale": "simple"}, None])
@pytest.mark.parametrize("name", list(CALLS))
async def test_the_simple_collation_changes_no_result(
    store: Any, name: str, collation: Any
) -> None:
    await _run_both(store, CALLS[name], {"collation": collation})


CASE_INSENSITIVE = {"locale": "en", "strength": 2}


async def test_a_case_insensitive_collation_is_mongodbs_or_refused_by_name(store: Any) -> None:
    """Never compared binary while the user asked for case-insensitive: MongoDB honours it,
    a backend comparing binary refuses it before anything is written."""
    collection = await seeded(store, SEED)
    if store.driver == "mongodb":
        found = await collection.find_one({"kind": "NUT"}, collation=CASE_INSENSITIVE)
        assert found == SEED[1]
        return
    for name in ("find", "update_many", "delete_one", "find_one_and_delete"):
        with pytest.raises(UnsupportedQueryError, match="collation") as refused:
            await CALLS[name](collection, {"collation": CASE_INSENSITIVE})
        assert (refused.value.operator, refused.value.backend) == ("collation", store.driver)
    assert by_id(await collect(collection.find({}))) == SEED


@pytest.mark.parametrize("collation", ["en", {"strength": 2}, {"locale": 3}])
async def test_a_malformed_collation_is_refused(store: Any, collation: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="collation must be a document"):
        await collection.update_many({}, {"$set": {"x": 1}}, collation=collation)
    assert by_id(await collect(collection.find({}))) == SEED


@pytest.mark.parametrize("spelling", ["max_time_ms", "maxTimeMS"])
@pytest.mark.parametrize("name", list(TIMED))
async def test_a_time_bound_the_call_meets_changes_no_result(
    store: Any, name: str, spelling: str
) -> None:
    await _run_both(store, TIMED[name], {spelling: 60_000})


@pytest.mark.parametrize("bound", [-1, "5", 1.5, True])
async def test_a_malformed_time_bound_is_refused(store: Any, bound: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="max_time_ms must be a non-negative integer"):
        await collection.find_one({}, max_time_ms=bound)


async def test_both_spellings_of_the_time_bound_are_refused(store: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="max_time_ms or maxTimeMS, not both"):
        await collection.count_documents({}, max_time_ms=5, maxTimeMS=5)


async def test_a_call_outliving_its_max_time_ms_raises_our_timeout_error(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = await seeded(store, SEED)

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(30)

    monkeypatch.setattr(collection, "_count", slow)
    with pytest.raises(OperationTimeoutError, match="max_time_ms=50") as timed_out:
        await collection.count_documents({}, max_time_ms=50)
    assert timed_out.value.operation == "count_documents"
    assert store.breaker is None or store.breaker.consecutive_failures == 0


async def test_an_option_the_call_does_not_take_is_a_type_error(store: Any) -> None:
    """As PyMongo's signatures say: no ``hint`` on an insert, no time bound on an update."""
    collection = await seeded(store, SEED)
    with pytest.raises(TypeError, match=r"insert_one.*'hint'"):
        await collection.insert_one({"_id": C}, hint="_id_")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"update_one.*'max_time_ms'"):
        await collection.update_one(  # type: ignore[call-arg]
            {"_id": A}, {"$set": {"qty": 0}}, max_time_ms=5
        )
    assert by_id(await collect(collection.find({}))) == SEED


async def test_a_session_from_the_stores_transaction_is_taken(store: Any) -> None:
    collection = await seeded(store, SEED)

    async def in_transaction() -> Any:
        async with store.transaction() as session:
            assert isinstance(session, TransactionSession) and session.in_transaction
            await collection.insert_one({"_id": C, "kind": "pin", "qty": 1}, session=session)
            await collection.update_one({"_id": A}, {"$inc": {"qty": 1}}, session=session)
            return await collection.find_one({"_id": A}, session=session)

    found = await attempt(store, [TRANSACTIONS], in_transaction)
    if found is REFUSED:
        return  # this backend has no transactions, and said so (asserted by attempt)
    assert found == {**SEED[0], "qty": 5}
    assert await collection.count_documents({}) == 3


async def test_a_session_that_is_not_this_stores_open_transaction_is_refused(store: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="session= takes the session of"):
        await collection.insert_one({"_id": C}, session=object())
    other = create_store({"name": "other", "driver": "memory"})

    async def stale_and_foreign() -> None:
        async with store.transaction() as session:
            pass
        with pytest.raises(InvalidQueryError, match="not open here"):
            await collection.update_one({"_id": A}, {"$set": {"qty": 0}}, session=session)
        async with other.transaction() as foreign, store.transaction():
            with pytest.raises(InvalidQueryError, match="store 'other'"):
                await collection.delete_one({"_id": A}, session=foreign)

    await other.connect()
    try:
        await attempt(store, [TRANSACTIONS], stale_and_foreign)
    finally:
        await other.disconnect()
    assert by_id(await collect(collection.find({}))) == SEED


@pytest.mark.parametrize("hint", ["no_such_index", [("qty", 1)]])
@pytest.mark.parametrize("name", list(CALLS))
async def test_a_hint_naming_no_index_is_refused_as_mongodb_refuses_it(
    store: Any, name: str, hint: Any
) -> None:
    """MongoDB: "hint provided does not correspond to an existing index"; the engine's
    backends check the hint against the collection's indexes, so code whose hint works in
    tests works in production."""
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="hint"):
        await CALLS[name](collection, {"hint": hint})
    assert by_id(await collect(collection.find({}))) == SEED


async def test_any_hint_goes_on_a_collection_that_does_not_exist(store: Any) -> None:
    """No collection, no index and no plan: MongoDB reads nothing and refuses nothing."""
    missing = store.collection("never_created")
    assert await missing.find_one({}, hint="no_such_index") is None
    assert await missing.count_documents({}, hint=[("qty", 1)]) == 0


async def test_a_hint_naming_an_index_of_the_collection_is_taken(store: Any) -> None:
    collection = await seeded(store, SEED)
    name = await collection.create_index([("kind", 1)])
    assert await collection.find_one({"kind": "nut"}, hint=name) == SEED[1]
    assert await collection.count_documents({}, hint={"kind": 1}) == 2
    assert (await collection.update_many({}, {"$set": {"n": 1}}, hint=name)).matched_count == 2


async def test_a_bulk_models_hint_naming_no_index_fails_that_request(store: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(BulkWriteError) as failed:
        await collection.bulk_write(
            [
                UpdateOne({"_id": A}, {"$set": {"qty": 0}}, hint="_id_"),
                DeleteOne({"_id": B}, hint="no_such_index"),
            ]
        )
    assert [error.index for error in failed.value.errors] == [1]
    assert isinstance(failed.value.errors[0].error, InvalidQueryError)
    assert by_id(await collect(collection.find({}))) == [{**SEED[0], "qty": 0}, SEED[1]]


async def test_a_hinted_sparse_index_reads_what_mongodb_reads_or_is_refused(store: Any) -> None:
    """Through a hinted sparse (or partial) index MongoDB reads only the documents the index
    holds; a backend that reads every match cannot run that hint exactly, and says so."""
    collection = await seeded(store, [*SEED, {"_id": C, "kind": "pin"}])  # C: no qty
    name = await collection.create_index("qty", sparse=True)
    if store.driver == "mongodb":
        assert await collection.count_documents({}, hint=name) == 2
        return
    with pytest.raises(UnsupportedQueryError, match="sparse or partial") as refused:
        await collection.count_documents({}, hint=name)
    assert (refused.value.operator, refused.value.backend) == ("hint", store.driver)


async def test_bulk_models_take_the_simple_collation(store: Any) -> None:
    simple = {"locale": "simple"}
    await _run_both(
        store,
        lambda c, o: c.bulk_write(
            [
                UpdateOne({"_id": A}, {"$inc": {"qty": 1}}, **o),
                ReplaceOne({"_id": B}, {"kind": "washer"}, **o),
                DeleteMany({"qty": {"$gt": 100}}, **o),
            ]
        ),
        {"collation": simple},
    )


async def test_a_bulk_models_other_collation_is_mongodbs_or_refused_before_any_write(
    store: Any,
) -> None:
    collection = await seeded(store, SEED)
    models = [
        InsertOne({"_id": C, "kind": "pin"}),
        DeleteOne({"kind": "NUT"}, collation=CASE_INSENSITIVE),
    ]
    if store.driver == "mongodb":
        result = await collection.bulk_write(models)
        assert (result.inserted_count, result.deleted_count) == (1, 1)
        return
    with pytest.raises(UnsupportedQueryError, match=r"operation 1 \(DeleteOne\).*collation"):
        await collection.bulk_write(models)
    assert by_id(await collect(collection.find({}))) == SEED


VALIDATED_WRITES = {
    name: {**CALLS, **COMMENT_ONLY}[name]
    for name in (
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "bulk_write",
    )
}
"""The calls PyMongo gives ``bypass_document_validation``."""


@pytest.mark.parametrize("bypass", [True, False])
@pytest.mark.parametrize("name", list(VALIDATED_WRITES))
async def test_bypass_document_validation_changes_no_result_without_a_validator(
    store: Any, name: str, bypass: bool
) -> None:
    """Only MongoDB has document validators (receiving the flag); elsewhere there is nothing
    to bypass."""
    await _run_both(store, VALIDATED_WRITES[name], {"bypass_document_validation": bypass})


async def test_a_malformed_bypass_document_validation_is_refused(store: Any) -> None:
    collection = await seeded(store, SEED)
    with pytest.raises(InvalidQueryError, match="bypass_document_validation must be True"):
        await collection.insert_one({"_id": C}, bypass_document_validation="yes")  # type: ignore[typeddict-item]
    assert by_id(await collect(collection.find({}))) == SEED


async def test_a_collection_group_takes_the_options_but_hints_only_the_id_index(
    store: Any,
) -> None:
    """A group reads several collections, each planning its own read with its own indexes."""
    await seeded(store, SEED, name="parts")
    group = store.collection_group("parts")
    assert await group.count_documents({}, hint="_id_", comment="audit", max_time_ms=60_000) == 2
    assert await group.find_one({"kind": "nut"}, hint=[("_id", 1)]) == SEED[1]
    with pytest.raises(UnsupportedQueryError, match="hint only '_id_'") as refused:
        await group.find_one({}, hint="kind_1")
    assert refused.value.operator == "hint"
