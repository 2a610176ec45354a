"""Partial indexes (``partialFilterExpression``), as MongoDB documents them: only documents
the filter matches are indexed, a unique partial index constrains only those, a write that
moves a document out of the filter frees its value and one that moves it in takes it (or
raises ``DuplicateKeyError`` with nothing written); filters MongoDB refuses in a partial
index are refused the same way on every backend. Generated ids, so CongoDB runs them too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lexigram_nosql import (
    DuplicateKeyError,
    InvalidQueryError,
    ReturnDocument,
    UpdateOne,
    create_store,
)
from lexigram_nosql.migrations import CreateIndex, DropIndex, MigrationManager
from lexigram_nosql.query import matches, parse_filter
from tests.conformance.support import (
    REFUSED,
    TRANSACTIONS,
    UNIQUE_INDEXES,
    attempt,
    collect,
    seeded,
)

ACTIVE = {"active": True}


async def unique_partial(
    collection: Any, store: Any, keys: Any, filter: Any, **options: Any
) -> bool:
    """Create a unique partial index; False when the backend (correctly) refused unique
    indexes altogether."""
    created = await attempt(
        store,
        [UNIQUE_INDEXES],
        lambda: collection.create_index(
            keys, unique=True, partialFilterExpression=filter, **options
        ),
    )
    return created is not REFUSED


async def emails(collection: Any, filter: Any = None) -> list[tuple[str, bool]]:
    found = await collect(collection.find(filter or {}))
    return sorted((d["email"], bool(d.get("active"))) for d in found)


async def test_a_unique_partial_index_constrains_only_matching_documents(store: Any) -> None:
    collection = await seeded(
        store,
        [
            {"email": "a@x", "active": False},
            {"email": "a@x", "active": False},  # outside the filter: no constraint
            {"email": "a@x", "active": True},
        ],
    )
    if not await unique_partial(collection, store, "email", ACTIVE):
        return
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"email": "a@x", "active": True})
    assert info.value.index == "email_1"
    assert "a@x" in str(info.value)
    await collection.insert_one({"email": "a@x"})  # no "active": outside the filter
    await collection.insert_one({"email": "a@x", "active": "yes"})  # not equal to True
    await collection.insert_one({"email": "b@x", "active": True})
    assert await collection.count_documents({"email": "a@x"}) == 5
    assert await collection.count_documents({"email": "a@x", "active": True}) == 1


async def test_moving_into_the_filter_takes_the_value_and_moving_out_frees_it(
    store: Any,
) -> None:
    collection = await seeded(
        store, [{"email": "a@x", "active": True, "n": 1}, {"email": "a@x", "active": False, "n": 2}]
    )
    if not await unique_partial(collection, store, "email", ACTIVE):
        return
    # Moving the second one in would duplicate the first: refused, nothing written.
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"n": 2}, {"$set": {"active": True}})
    with pytest.raises(DuplicateKeyError):
        await collection.replace_one({"n": 2}, {"email": "a@x", "active": True, "n": 2})
    with pytest.raises(DuplicateKeyError):
        await collection.find_one_and_update({"n": 2}, {"$set": {"active": True}})
    with pytest.raises(DuplicateKeyError):
        await collection.bulk_write([UpdateOne({"n": 2}, {"$set": {"active": True}})])
    second = await collection.find_one({"n": 2})
    assert second is not None
    with pytest.raises(DuplicateKeyError):  # pinned by key: one request where it can be
        await collection.update_one({"_id": second["_id"]}, {"$set": {"active": True}})
    with pytest.raises(DuplicateKeyError):
        await collection.find_one_and_update(
            {"_id": second["_id"]}, {"$set": {"active": True, "m": 1}}
        )
    with pytest.raises(DuplicateKeyError):
        await collection.update_one(
            {"n": 9}, {"$set": {"email": "a@x", "active": True}}, upsert=True
        )
    assert await collection.count_documents({"n": 9}) == 0
    assert await collection.find_one({"n": 2}, projection={"_id": 0}) == {
        "email": "a@x",
        "active": False,
        "n": 2,
    }
    # The first one leaves the filter: its value is free, the second one takes it.
    first = await collection.find_one({"n": 1})
    assert first is not None
    await collection.update_one({"_id": first["_id"]}, {"$unset": {"active": ""}})
    await collection.update_one({"_id": first["_id"]}, {"$set": {"active": False}})
    found = await collection.find_one_and_update(
        {"n": 2}, {"$set": {"active": True}}, return_document=ReturnDocument.AFTER
    )
    assert found is not None and found["active"] is True
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"n": 1}, {"$set": {"active": True}})
    # A change of the indexed value outside the filter takes nothing.
    await collection.update_one({"n": 1}, {"$set": {"email": "b@x"}})
    await collection.insert_one({"email": "b@x", "active": True, "n": 3})
    # Replacing moves a document out; a bulk update moves another in.
    await collection.replace_one({"n": 2}, {"email": "a@x", "n": 2})
    result = await collection.bulk_write([UpdateOne({"n": 1}, {"$set": {"email": "a@x"}})])
    assert result.modified_count == 1
    await collection.bulk_write([UpdateOne({"n": 1}, {"$set": {"active": True}})])
    assert await emails(collection) == [("a@x", False), ("a@x", True), ("b@x", True)]


async def test_deleting_a_matching_document_frees_its_value(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x", "active": True, "n": 1}])
    if not await unique_partial(collection, store, "email", ACTIVE):
        return
    await collection.delete_one({"n": 1})
    await collection.insert_one({"email": "a@x", "active": True, "n": 2})
    await collection.find_one_and_delete({"n": 2})
    await collection.insert_many(
        [{"email": "a@x", "active": True, "n": 3}, {"email": "a@x", "active": False, "n": 4}]
    )
    assert await emails(collection) == [("a@x", False), ("a@x", True)]


async def test_a_unique_partial_index_inside_a_transaction(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x", "active": True, "n": 1}])
    if not await unique_partial(collection, store, "email", ACTIVE):
        return

    async def swap() -> None:
        async with store.transaction():
            await collection.update_one({"n": 1}, {"$set": {"active": False}})
            await collection.insert_one({"email": "a@x", "active": True, "n": 2})

    if await attempt(store, [TRANSACTIONS], swap) is REFUSED:
        return
    assert await emails(collection) == [("a@x", False), ("a@x", True)]

    async def duplicate() -> None:
        async with store.transaction():
            await collection.insert_one({"email": "c@x", "active": True, "n": 3})
            await collection.update_one({"n": 1}, {"$set": {"active": True}})

    with pytest.raises(DuplicateKeyError):
        await duplicate()
    # All or nothing: the insert of the block was rolled back with it.
    assert await collection.count_documents({"n": 3}) == 0
    assert await collection.count_documents({"n": 1, "active": False}) == 1


async def test_building_a_unique_partial_index_checks_only_matching_documents(
    store: Any,
) -> None:
    collection = await seeded(
        store,
        [
            {"k": "x", "score": 1},
            {"k": "x", "score": 2},  # duplicates outside the filter: fine
            {"k": "y", "score": 10},
            {"k": "z", "score": 10},
        ],
    )
    filter = {"score": {"$gte": 5}}
    if not await unique_partial(collection, store, "k", filter):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"k": "y", "score": 7})
    await collection.insert_one({"k": "y", "score": 4})


async def test_building_over_duplicates_inside_the_filter_names_them_and_builds_nothing(
    store: Any,
) -> None:
    collection = await seeded(
        store, [{"k": "x", "score": 9}, {"k": "x", "score": 8}, {"k": "y", "score": 1}]
    )
    filter = {"score": {"$gt": 5}}
    created = await attempt(
        store,
        [UNIQUE_INDEXES],
        lambda: _expect_duplicate(
            collection.create_index("k", unique=True, partialFilterExpression=filter), "x"
        ),
    )
    if created is REFUSED:
        return
    assert "k_1" not in {i.name for i in await collection.list_indexes()}
    # Nothing half-built: once the duplicate leaves the filter, the index builds.
    await collection.update_one({"score": 8}, {"$set": {"score": 2}})
    await collection.create_index("k", unique=True, partialFilterExpression=filter)
    await collection.insert_one({"k": "x", "score": 3})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"k": "x", "score": 6})


async def _expect_duplicate(awaitable: Any, value: str) -> None:
    with pytest.raises(DuplicateKeyError) as info:
        await awaitable
    assert value in str(info.value)


async def test_a_compound_unique_partial_index_with_exists(store: Any) -> None:
    collection = await seeded(store, [{"org": "o", "user": "u"}])
    filter = {"user": {"$exists": True}, "org": {"$type": "string"}}
    if not await unique_partial(collection, store, [("org", 1), ("user", 1)], filter):
        return
    await collection.insert_one({"org": "o"})  # no user: outside the filter
    await collection.insert_one({"org": "o"})
    await collection.insert_one({"org": 1, "user": "u"})  # org not a string: outside
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"org": "o", "user": "u"})


@pytest.mark.parametrize(
    ("filter", "operator"),
    [
        ({"a": {"$ne": 1}}, "$ne"),
        ({"a": {"$exists": False}}, "$exists"),
        ({"a": {"$nin": [1]}}, "$nin"),
        ({"a": {"$not": {"$gt": 1}}}, "$not"),
        ({"$nor": [{"a": 1}]}, "$nor"),
        ({"a": {"$regex": "^x"}}, "$regex"),
        ({"a": {"$elemMatch": {"b": 1}}}, "$elemMatch"),
        ({"$expr": {"$eq": ["$a", 1]}}, "$expr"),
        ({"a": {"$size": 2}}, "$size"),
        ({"$or": [{"a": 1}, {"b": {"$mod": [2, 0]}}]}, "$mod"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_operators_a_partial_index_does_not_support_are_refused(
    store: Any, filter: Any, operator: str
) -> None:
    collection = await seeded(store, [{"a": 1}])
    for unique in (False, True):
        with pytest.raises(InvalidQueryError) as info:
            await collection.create_index("a", unique=unique, partialFilterExpression=filter)
        assert info.value.operator == operator
        assert operator in str(info.value)
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_partial_with_sparse_or_a_non_document_is_refused(store: Any) -> None:
    collection = await seeded(store, [{"a": 1}])
    with pytest.raises(InvalidQueryError, match="sparse"):
        await collection.create_index("a", sparse=True, partialFilterExpression={"a": 1})
    with pytest.raises(InvalidQueryError, match="partialFilterExpression"):
        await collection.create_index("a", partialFilterExpression=[("a", 1)])
    with pytest.raises(InvalidQueryError, match="_id index cannot be a partial"):
        await collection.create_index("_id", partialFilterExpression={"a": 1})
    with pytest.raises(InvalidQueryError, match="not both"):
        await collection.create_index(
            "a", partialFilterExpression={"a": 1}, partial_filter_expression={"a": 1}
        )
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_allowed_operators_are_accepted_and_listed(store: Any) -> None:
    collection = await seeded(store, [{"a": 1, "b": 2}])
    filter = {
        "$and": [{"a": {"$gte": 0, "$lt": 10}}, {"b": {"$in": [1, 2, 3]}}],
        "$or": [{"c": {"$exists": True}}, {"d": {"$type": "int"}}, {"e": "x"}],
        "f": {"$eq": None},
    }
    name = await collection.create_index([("a", 1), ("b", -1)], partialFilterExpression=filter)
    plain = await collection.create_index("a", name="a_all")
    listed = {info.name: info for info in await collection.list_indexes()}
    assert listed[name].partial_filter_expression == filter
    assert listed[name].keys == [("a", 1), ("b", -1)]
    assert listed[plain].partial_filter_expression is None
    assert (
        await collection.create_index([("a", 1), ("b", -1)], partial_filter_expression=filter)
        == name
    )  # the same index again: nothing to do
    await collection.drop_index(name)
    assert name not in {info.name for info in await collection.list_indexes()}


async def test_a_unique_partial_index_is_listed_with_its_filter(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}])
    if not await unique_partial(collection, store, "email", ACTIVE, name="active_email"):
        return
    listed = {info.name: info for info in await collection.list_indexes()}
    assert listed["active_email"].unique
    assert listed["active_email"].partial_filter_expression == ACTIVE
    information = await collection.index_information()  # PyMongo's shape
    assert information["active_email"] == {
        "key": [("email", 1)],
        "unique": True,
        "partialFilterExpression": ACTIVE,
    }
    assert information["_id_"] == {"key": [("_id", 1)]}
    await collection.drop_index("active_email")
    await collection.insert_many([{"email": "a@x", "active": True}] * 2)


async def test_queries_stay_exact_with_a_partial_index(store: Any) -> None:
    """A partial index misses the documents outside its filter: a read that used it for
    a query its filter does not imply would lose them."""
    documents = [{"n": i % 5, "score": i, "tag": f"t{i % 3}"} for i in range(30)]
    collection = await seeded(store, documents)
    await collection.create_index("n", partialFilterExpression={"score": {"$gt": 20}})
    await collection.create_index(
        [("tag", 1), ("n", 1)], partialFilterExpression={"score": {"$lt": 3}}
    )
    for filter in (
        {"n": 3},
        {"n": {"$gte": 2}},
        {"n": {"$in": [1, 4]}},
        {"n": 3, "score": {"$gt": 25}},
        {"tag": "t1", "n": {"$lt": 4}},
        {"$or": [{"n": 0}, {"tag": "t2"}]},
    ):
        node = parse_filter(filter)
        expected = sorted(d["score"] for d in documents if matches(node, d))
        found = sorted(d["score"] for d in await collect(collection.find(filter)))
        assert found == expected, filter
        assert await collection.count_documents(filter) == len(expected), filter
    ordered = [d["n"] for d in await collect(collection.find({}, sort=[("n", 1)]))]
    assert ordered == sorted(d["n"] for d in documents)


async def test_another_store_on_the_same_data_keeps_the_partial_rule(
    store: Any, backend: Any
) -> None:
    """The spec is recorded with the data, so a second process enforces the same rule."""
    collection = await seeded(store, [{"email": "a@x", "active": True}])
    if not await unique_partial(collection, store, "email", ACTIVE, name="active_email"):
        return
    other = getattr(backend, "create_store", create_store)(store.settings)
    await other.connect()
    try:
        again = other.collection(collection.name)
        assert await again.count_documents({}) == 1, "the new store sees the same data"
        listed = {info.name: info for info in await again.list_indexes()}
        assert listed["active_email"].partial_filter_expression == ACTIVE
        await again.insert_one({"email": "a@x", "active": False})
        with pytest.raises(DuplicateKeyError):
            await again.insert_one({"email": "a@x", "active": True})
    finally:
        await other.disconnect()


async def test_a_migration_creates_and_recreates_a_partial_index(store: Any) -> None:
    users = await seeded(store, [{"email": "a@x", "active": False}] * 2, name="users")
    manager = MigrationManager(store=store)
    manager.add(CreateIndex("users", "email", partial_filter_expression=ACTIVE, name="by_email"))
    manager.add(DropIndex("users", "by_email", keys="email", partial_filter_expression=ACTIVE))
    await manager.apply(to=1)
    listed = {i.name: i for i in await store.collection("users").list_indexes()}
    assert listed["by_email"].partial_filter_expression == ACTIVE
    await manager.apply()
    await manager.rollback()  # the drop's rollback recreates the index with its filter
    listed = {i.name: i for i in await store.collection("users").list_indexes()}
    assert listed["by_email"].partial_filter_expression == ACTIVE
    assert (
        "partial_filter_expression={'active': True}"
        in CreateIndex("users", "email", partial_filter_expression=ACTIVE).describe()
    )
    assert await users.count_documents({}) == 2


async def test_concurrent_inserts_exactly_one_matching_document_wins(store: Any) -> None:
    collection = await seeded(store, [{"email": "other@x"}])
    if not await unique_partial(collection, store, "email", ACTIVE):
        return
    results = await asyncio.gather(
        *(
            collection.insert_one({"email": "same@x", "active": n % 2 == 0, "n": n})
            for n in range(20)
        ),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 9 and all(isinstance(f, DuplicateKeyError) for f in failures)
    assert await collection.count_documents({"email": "same@x", "active": True}) == 1
    assert await collection.count_documents({"email": "same@x", "active": False}) == 10
