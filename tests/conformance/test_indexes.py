"""Indexes: creating, listing and dropping them; uniqueness (single, compound, sparse) on
insert, update, replace and upsert. Backends without unique indexes must refuse them with
``UnsupportedQueryError`` (asserted through ``attempt``), never ignore them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql import (
    ASCENDING,
    DESCENDING,
    BulkWriteError,
    DuplicateKeyError,
    IndexModel,
    InvalidQueryError,
    ReturnDocument,
    UnsupportedQueryError,
)
from lexigram_nosql.query import matches, parse_filter
from tests.conformance.support import (
    REFUSED,
    TRANSACTIONS,
    TTL_INDEXES,
    UNIQUE_INDEXES,
    attempt,
    collect,
    seeded,
    unique_name,
)


async def unique_index(store: Any, collection: Any, keys: Any, **options: Any) -> bool:
    """Create a unique index; False when the backend (correctly) refused it."""
    created = await attempt(
        store, [UNIQUE_INDEXES], lambda: collection.create_index(keys, unique=True, **options)
    )
    return created is not REFUSED


async def test_create_list_and_drop_an_index(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x", "age": 3}])
    name = await collection.create_index([("age", 1)])
    assert name == "age_1"
    named = await collection.create_index([("email", 1), ("age", -1)], name="by_email_age")
    assert named == "by_email_age"
    listed = {info.name: info for info in await collection.list_indexes()}
    assert listed["age_1"].keys == [("age", 1)]
    assert listed["by_email_age"].keys == [("email", 1), ("age", -1)]
    await collection.drop_index("age_1")
    assert "age_1" not in {info.name for info in await collection.list_indexes()}
    # Queries keep working (and stay exact) with and without indexes.
    assert await collection.count_documents({"age": 3}) == 1


async def test_create_index_with_a_string_key(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "sku": "x"}])
    assert await collection.create_index("sku") == "sku_1"


async def test_an_index_name_or_keys_taken_with_other_options_is_refused(store: Any) -> None:
    """MongoDB's IndexOptionsConflict: nothing changes."""
    collection = await seeded(store, [{"n": 1, "m": 2}])
    await collection.create_index("n", sparse=True)
    with pytest.raises(InvalidQueryError):
        await collection.create_index("n")  # n_1 again, not sparse
    await collection.create_index("m", name="by_m")
    with pytest.raises(InvalidQueryError):
        await collection.create_index("n", name="by_m", sparse=True)  # by_m is on m
    information = await collection.index_information()
    assert information["n_1"] == {"key": [("n", 1)], "sparse": True}
    assert information["by_m"] == {"key": [("m", 1)]}


async def test_create_index_twice_is_idempotent(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "n": 1}])
    assert await collection.create_index([("n", 1)]) == "n_1"
    assert await collection.create_index([("n", 1)]) == "n_1"
    assert [i.name for i in await collection.list_indexes()].count("n_1") == 1


async def test_queries_are_exact_with_an_index(store: Any) -> None:
    documents = [{"_id": f"d{i:02d}", "n": i % 7, "tags": [f"t{i % 3}"]} for i in range(40)]
    collection = await seeded(store, documents)
    await collection.create_index([("n", 1)])
    await collection.create_index([("tags", 1)])
    for filter in (
        {"n": 3},
        {"n": {"$gte": 5}},
        {"n": {"$in": [1, 2]}},
        {"tags": "t1", "n": {"$lt": 4}},
        {"$or": [{"n": 0}, {"tags": "t2"}]},
    ):
        node = parse_filter(filter)
        expected = sorted(d["_id"] for d in documents if matches(node, d))
        found = sorted(d["_id"] for d in await collect(collection.find(filter)))
        assert found == expected, filter
        assert await collection.count_documents(filter) == len(expected), filter


# -- uniqueness ------------------------------------------------------------------------------


async def test_unique_index_refuses_a_duplicate_insert(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"_id": "b", "email": "a@x"})
    assert "email" in str(info.value)
    assert await collection.count_documents({}) == 1
    await collection.insert_one({"_id": "c", "email": "c@x"})


async def test_unique_index_refuses_a_duplicate_update(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "b"}, {"$set": {"email": "a@x"}})
    assert await collection.find_one({"_id": "b"}) == {"_id": "b", "email": "b@x"}
    # Updating a document to its own key is fine.
    await collection.update_one({"_id": "a"}, {"$set": {"email": "a@x", "n": 1}})


async def test_unique_index_refuses_a_duplicate_replace_and_upsert(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}, {"_id": "b", "email": "b@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.replace_one({"_id": "b"}, {"email": "a@x"})
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": "z"}, {"$set": {"email": "a@x"}}, upsert=True)
    assert await collection.count_documents({}) == 2
    assert await collection.find_one({"_id": "b"}) == {"_id": "b", "email": "b@x"}


async def test_creating_a_unique_index_over_duplicates_fails(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "k": 1}, {"_id": "b", "k": 1}])
    created = await attempt(
        store,
        [UNIQUE_INDEXES],
        lambda: expect_duplicate(collection.create_index([("k", 1)], unique=True)),
    )
    if created is REFUSED:
        return
    assert "k_1" not in {i.name for i in await collection.list_indexes()}


async def expect_duplicate(awaitable: Any) -> None:
    with pytest.raises(DuplicateKeyError):
        await awaitable


async def test_compound_unique_index(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "org": "x", "user": "u1"}])
    if not await unique_index(store, collection, [("org", 1), ("user", 1)]):
        return
    await collection.insert_one({"_id": "b", "org": "y", "user": "u1"})
    await collection.insert_one({"_id": "c", "org": "x", "user": "u2"})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "d", "org": "x", "user": "u1"})
    assert await collection.count_documents({}) == 3


async def test_unique_index_treats_missing_as_null(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "b"})


async def test_sparse_unique_index_allows_many_missing(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a"}])
    if not await unique_index(store, collection, [("email", 1)], sparse=True):
        return
    await collection.insert_one({"_id": "b"})
    await collection.insert_one({"_id": "c", "email": "c@x"})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "d", "email": "c@x"})
    assert await collection.count_documents({}) == 3


async def test_unique_index_on_array_elements(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "codes": ["x", "y"]}])
    if not await unique_index(store, collection, [("codes", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "b", "codes": ["z", "y"]})
    await collection.insert_one({"_id": "c", "codes": ["z"]})


async def test_insert_many_with_a_unique_violation_keeps_the_earlier_documents(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.insert_many(
            [
                {"_id": "b", "email": "b@x"},
                {"_id": "c", "email": "a@x"},
                {"_id": "d", "email": "d@x"},
            ]
        )
    assert sorted(d["_id"] for d in await collect(collection.find())) == ["a", "b"]


async def test_dropping_a_unique_index_lifts_the_constraint(store: Any) -> None:
    collection = await seeded(store, [{"_id": "a", "email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)], name="email_unique"):
        return
    await collection.drop_index("email_unique")
    await collection.insert_one({"_id": "b", "email": "a@x"})
    assert await collection.count_documents({"email": "a@x"}) == 2


# -- uniqueness: guards that move, concurrency, transactions, equality ---------------------
# These cases use generated ids, so they also run on CongoDB (which takes only ObjectIds).


async def test_a_unique_value_moves_with_update_and_is_freed_by_delete(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}, {"email": "b@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    await collection.update_one({"email": "a@x"}, {"$set": {"email": "c@x"}})
    await collection.insert_one({"email": "a@x"})  # the old value was freed
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"email": "c@x"})  # the new one is taken
    await collection.replace_one({"email": "c@x"}, {"email": "d@x", "n": 1})
    await collection.insert_one({"email": "c@x"})
    await collection.delete_one({"email": "d@x"})
    await collection.insert_one({"email": "d@x"})
    found = await collection.find_one_and_update(
        {"email": "d@x"}, {"$set": {"email": "e@x"}}, return_document=ReturnDocument.AFTER
    )
    assert found is not None and found["email"] == "e@x"
    with pytest.raises(DuplicateKeyError):
        await collection.find_one_and_update({"email": "e@x"}, {"$set": {"email": "b@x"}})
    await collection.find_one_and_delete({"email": "e@x"})
    await collection.insert_one({"email": "e@x"})
    emails = sorted(d["email"] for d in await collect(collection.find()))
    assert emails == ["a@x", "b@x", "c@x", "e@x"]


async def test_a_duplicate_names_the_index_and_the_value(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)], name="one_per_email"):
        return
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"email": "a@x"})
    assert info.value.index == "one_per_email"
    assert "a@x" in str(info.value)


async def test_unique_equality_is_mongodb_equality(store: Any) -> None:
    collection = await seeded(store, [{"k": 1}])
    if not await unique_index(store, collection, [("k", 1)]):
        return
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"k": 1.0})  # 1 == 1.0 in MongoDB
    await collection.insert_one({"k": "1"})  # a string is another value
    await collection.insert_one({"k": True})  # so is a boolean
    await collection.insert_one({"k": 1.5})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"k": "1"})
    assert await collection.count_documents({}) == 4


async def test_twenty_concurrent_inserts_of_one_value_exactly_one_wins(store: Any) -> None:
    collection = await seeded(store, [{"email": "other@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    results = await asyncio.gather(
        *(collection.insert_one({"email": "same@x", "n": n}) for n in range(20)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 19, results
    assert all(isinstance(f, DuplicateKeyError) for f in failures), failures
    assert await collection.count_documents({"email": "same@x"}) == 1


async def test_twenty_concurrent_updates_to_one_value_exactly_one_wins(store: Any) -> None:
    collection = await seeded(store, [{"n": n, "email": f"{n}@x"} for n in range(20)])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    results = await asyncio.gather(
        *(collection.update_one({"n": n}, {"$set": {"email": "same@x"}}) for n in range(20)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 19 and all(isinstance(f, DuplicateKeyError) for f in failures)
    assert await collection.count_documents({"email": "same@x"}) == 1
    # The losers kept their values (and their guards): those are still taken.
    keeper = [d async for d in collection.find({"email": {"$ne": "same@x"}})]
    assert len(keeper) == 19
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"email": keeper[0]["email"]})


async def test_unique_index_inside_a_transaction(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return

    async def move_then_reuse() -> None:
        async with store.transaction():
            await collection.update_one({"email": "a@x"}, {"$set": {"email": "b@x"}})
            await collection.insert_one({"email": "a@x"})

    if await attempt(store, [TRANSACTIONS], move_then_reuse) is REFUSED:
        return
    assert sorted(d["email"] for d in await collect(collection.find())) == ["a@x", "b@x"]

    async def duplicate() -> None:
        async with store.transaction():
            await collection.insert_one({"email": "c@x"})
            await collection.insert_one({"email": "b@x"})

    with pytest.raises(DuplicateKeyError):
        await duplicate()
    # All or nothing: the first insert of the block was rolled back with it.
    assert await collection.count_documents({"email": "c@x"}) == 0

    async def twice_in_one_block() -> None:
        async with store.transaction():
            await collection.insert_one({"email": "d@x"})
            await collection.insert_one({"email": "d@x"})

    with pytest.raises(DuplicateKeyError):
        await twice_in_one_block()
    assert await collection.count_documents({"email": "d@x"}) == 0
    await collection.insert_one({"email": "d@x"})


async def test_building_a_unique_index_over_duplicates_names_them_and_builds_nothing(
    store: Any,
) -> None:
    collection = await seeded(store, [{"k": "x"}, {"k": "y"}, {"k": "x"}])
    created = await attempt(
        store,
        [UNIQUE_INDEXES],
        lambda: expect_duplicate(collection.create_index("k", unique=True)),
    )
    if created is REFUSED:
        return
    assert "k_1" not in {i.name for i in await collection.list_indexes()}
    # Nothing half-built: the values stay free once the duplicate is gone.
    await collection.delete_one({"k": "x"})
    await collection.create_index("k", unique=True)
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"k": "y"})
    assert "y" in str(info.value)
    listed = {i.name: i for i in await collection.list_indexes()}
    assert listed["k_1"].unique


async def test_a_dropped_collection_forgets_its_unique_values(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}])
    if not await unique_index(store, collection, [("email", 1)]):
        return
    await store.drop_collection(collection.name)
    fresh = store.collection(collection.name)
    await fresh.insert_one({"email": "a@x"})
    await fresh.insert_one({"email": "a@x"})
    assert await fresh.count_documents({}) == 2


async def test_a_ttl_index_is_created_listed_and_dropped(store: Any) -> None:
    """Expiry itself is lazy everywhere (MongoDB's monitor runs every 60 s, DynamoDB's TTL
    within days): documents stay readable until the server deletes them."""
    collection = await seeded(store, [{"at": datetime(2020, 1, 1, tzinfo=UTC), "n": 1}])
    created = await attempt(
        store, [TTL_INDEXES], lambda: collection.create_index("at", expire_after_seconds=3600)
    )
    if created is REFUSED:
        return
    assert created == "at_1"
    listed = {i.name: i for i in await collection.list_indexes()}
    assert listed["at_1"].expire_after_seconds == 3600
    await collection.insert_one({"at": datetime(2030, 1, 1, tzinfo=UTC), "n": 2})
    await collection.update_many({}, {"$inc": {"n": 10}})
    assert sorted(d["n"] for d in await collect(collection.find({"n": {"$gt": 11}}))) == [12]
    await collection.drop_index("at_1")
    assert "at_1" not in {i.name for i in await collection.list_indexes()}


# -- PyMongo's index API: keys and options as PyMongo takes them ---------------------------


async def test_create_index_takes_keys_in_every_form_pymongo_takes(store: Any) -> None:
    collection = await seeded(store, [{"a": 1, "b": 2, "c": 3}])
    assert await collection.create_index(["a", "b"]) == "a_1_b_1"
    assert await collection.create_index({"c": -1, "a": 1}) == "c_-1_a_1"
    assert await collection.create_index([("b", -1), "c"]) == "b_-1_c_1"
    assert await collection.create_index([("c", DESCENDING), ("b", ASCENDING)]) == "c_-1_b_1"
    listed = {info.name: info.keys for info in await collection.list_indexes()}
    assert listed["a_1_b_1"] == [("a", 1), ("b", 1)]
    assert listed["c_-1_a_1"] == [("c", -1), ("a", 1)]
    assert listed["b_-1_c_1"] == [("b", -1), ("c", 1)]


async def test_create_index_takes_mongodb_option_names(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x", "nick": "a"}])
    named = await collection.create_index("nick", name="by_nick", sparse=True, background=True)
    assert named == "by_nick"
    if await unique_index(store, collection, {"email": 1}, name="one_email"):
        information = await collection.index_information()
        assert information["one_email"] == {"key": [("email", 1)], "unique": True}
    information = await collection.index_information()
    # background is taken and ignored, as MongoDB 4.2+ ignores it: it is not listed.
    assert information["by_nick"] == {"key": [("nick", 1)], "sparse": True}


async def test_expire_after_seconds_by_its_mongodb_name(store: Any) -> None:
    collection = await seeded(store, [{"at": datetime(2030, 1, 1, tzinfo=UTC)}])
    created = await attempt(
        store, [TTL_INDEXES], lambda: collection.create_index("at", expireAfterSeconds=60)
    )
    if created is REFUSED:
        return
    assert created == "at_1"
    information = await collection.index_information()
    assert information["at_1"] == {"key": [("at", 1)], "expireAfterSeconds": 60}


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"foo": 1}, id="unknown"),
        pytest.param({"uniqe": True}, id="misspelt"),
        pytest.param({"name": 5}, id="name-not-a-string"),
        pytest.param({"name": ""}, id="empty-name"),
        pytest.param({"unique": "yes"}, id="unique-not-a-boolean"),
        pytest.param({"expireAfterSeconds": -1}, id="negative-ttl"),
        pytest.param({"expireAfterSeconds": 2**31}, id="ttl-over-int32"),
        pytest.param({"expireAfterSeconds": "60"}, id="ttl-not-a-number"),
        pytest.param({"expireAfterSeconds": 1, "expire_after_seconds": 1}, id="ttl-twice"),
        pytest.param({"partialFilterExpression": {"a": {"$ne": 1}}}, id="partial-operator"),
    ],
)
async def test_bad_index_options_are_refused_by_name(store: Any, options: dict[str, Any]) -> None:
    collection = await seeded(store, [{"k": 1}])
    with pytest.raises(InvalidQueryError) as info:
        await collection.create_index("k", **options)
    named = next(iter(options))
    assert named in str(info.value) or str(options[named]) in str(info.value)
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_the_id_index_cannot_expire_documents(store: Any) -> None:
    collection = await seeded(store, [{"k": 1}])
    with pytest.raises(InvalidQueryError, match="_id"):
        await collection.create_index("_id", expireAfterSeconds=60)


@pytest.mark.parametrize(
    ("keys", "options", "named"),
    [
        pytest.param("k", {"collation": {"locale": "fr"}}, "collation", id="collation"),
        pytest.param("k", {"hidden": True}, "hidden", id="hidden"),
        pytest.param([("k", "text")], {}, "text", id="text-key"),
        pytest.param({"k": "2dsphere"}, {}, "2dsphere", id="geo-key"),
    ],
)
async def test_what_only_mongodb_could_build_is_refused_on_every_backend(
    store: Any, keys: Any, options: dict[str, Any], named: str
) -> None:
    collection = await seeded(store, [{"k": "x"}])
    with pytest.raises(UnsupportedQueryError) as info:
        await collection.create_index(keys, **options)
    assert info.value.operator == named and info.value.backend == store.driver
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_create_indexes_creates_each_model_and_returns_the_names(store: Any) -> None:
    collection = await seeded(store, [{"a": 1, "b": 2}])
    names = await collection.create_indexes(
        [IndexModel("a"), IndexModel([("b", -1)], name="b_desc", sparse=True)]
    )
    assert names == ["a_1", "b_desc"]
    information = await collection.index_information()
    assert information["a_1"] == {"key": [("a", 1)]}
    assert information["b_desc"] == {"key": [("b", -1)], "sparse": True}
    # A bad model anywhere in the list: nothing is created.
    with pytest.raises(InvalidQueryError):
        await collection.create_indexes([IndexModel("c"), "d"])
    assert "c_1" not in await collection.index_information()


async def test_create_indexes_takes_pymongo_own_index_model(store: Any) -> None:
    operations = pytest.importorskip("pymongo.operations")
    collection = await seeded(store, [{"a": 1}])
    names = await collection.create_indexes([operations.IndexModel([("a", -1)], sparse=True)])
    assert names == ["a_-1"]
    assert (await collection.index_information())["a_-1"] == {"key": [("a", -1)], "sparse": True}


async def test_drop_index_by_name_or_by_keys(store: Any) -> None:
    collection = await seeded(store, [{"a": 1, "b": 2}])
    await collection.create_index([("a", 1), ("b", -1)])
    await collection.create_index("b")
    await collection.drop_index([("a", 1), ("b", -1)])  # the name those keys give: a_1_b_-1
    await collection.drop_index("b_1")
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]
    with pytest.raises(InvalidQueryError):
        await collection.drop_index("b_1")  # gone, as MongoDB's IndexNotFound


async def test_the_id_index_cannot_be_dropped_nor_given_options(store: Any) -> None:
    collection = await seeded(store, [{"a": 1}])
    for spelling in ("_id_", [("_id", 1)]):
        with pytest.raises(InvalidQueryError, match="_id"):
            await collection.drop_index(spelling)
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]
    assert await collection.create_index("_id") == "_id_"  # it exists already
    for option in ("unique", "sparse"):
        with pytest.raises(InvalidQueryError, match=option):
            await collection.create_index("_id", **{option: True})  # as MongoDB refuses
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_drop_index_star_drops_all_but_the_id_index(store: Any) -> None:
    collection = await seeded(store, [{"a": 1, "b": 2}])
    await collection.create_indexes([IndexModel("a"), IndexModel("b")])
    await collection.drop_index("*")
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_drop_indexes_drops_all_but_the_id_index(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x", "n": 1}])
    await collection.create_index("n")
    await collection.create_index([("nick", -1)], sparse=True)
    await unique_index(store, collection, "email")
    await collection.drop_indexes()
    assert await collection.index_information() == {"_id_": {"key": [("_id", 1)]}}
    await collection.insert_one({"email": "a@x", "n": 1})  # no constraint left
    assert await collection.count_documents({"email": "a@x"}) == 2


async def test_list_indexes_reads_as_mongodb_index_documents(store: Any) -> None:
    collection = await seeded(store, [{"email": "a@x"}])
    await collection.create_index([("email", -1)], sparse=True)
    first, second = await collection.list_indexes()
    assert first["name"] == "_id_" and first["key"] == {"_id": 1}
    assert second["name"] == "email_-1" and second["key"] == {"email": -1}
    assert second.get("sparse") is True and second.get("unique") is None
    assert "sparse" in second and "unique" not in second
    # As PyMongo's async cursor is read: async for, and to_list().
    cursor = await collection.list_indexes()
    assert [index["name"] async for index in cursor] == ["_id_", "email_-1"]
    assert [index["name"] for index in await cursor.to_list()] == ["_id_", "email_-1"]


async def test_the_id_index_is_listed_once_the_collection_exists(store: Any) -> None:
    """MongoDB lists no index for a collection that does not exist, and ``_id_`` for one
    that does (a first insert or a first ``create_index`` creates it)."""
    collection = store.collection(unique_name())
    assert await collection.list_indexes() == []
    assert await collection.index_information() == {}
    await collection.insert_one({"n": 1})
    assert await collection.index_information() == {"_id_": {"key": [("_id", 1)]}}
    await store.drop_collection(collection.name)
    assert await collection.list_indexes() == []
    other = store.collection(unique_name())
    await other.create_index("n")
    assert [info.name for info in await other.list_indexes()] == ["_id_", "n_1"]


def test_index_model_document_is_pymongos() -> None:
    model = IndexModel({"email": 1}, unique=True, partialFilterExpression={"on": True})
    assert model.document == {
        "key": {"email": 1},
        "name": "email_1",
        "unique": True,
        "partialFilterExpression": {"on": True},
    }
    assert IndexModel("at", expire_after_seconds=5, name="ttl").document == {
        "key": {"at": 1},
        "name": "ttl",
        "expireAfterSeconds": 5,
    }
    with pytest.raises(InvalidQueryError, match="foo"):
        IndexModel("a", foo=1)


# -- duplicate-key errors: the same fields on every backend --------------------------------


async def test_a_duplicate_id_names_the_id_index_and_the_value(store: Any) -> None:
    collection = await seeded(store, [])
    inserted = (await collection.insert_one({"n": 1})).inserted_id
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"_id": inserted, "n": 2})
    error = info.value
    assert error.code == 11000
    assert error.index == "_id_"
    assert error.key == {"_id": inserted}
    assert error.details["keyValue"] == {"_id": inserted}  # PyMongo's spelling
    assert error.details["code"] == 11000
    with pytest.raises(BulkWriteError) as bulk:
        await collection.insert_many([{"n": 3}, {"_id": inserted, "n": 4}])
    assert isinstance(bulk.value, DuplicateKeyError) and bulk.value.index == "_id_"
    (failure,) = bulk.value.details["writeErrors"]
    assert (failure["index"], failure["code"]) == (1, 11000)
    assert failure["keyValue"] == {"_id": inserted}
    assert str(inserted) in str(error)
    assert error.collection == collection.name
