"""What only the SQLite store has: typed ids in one file, plans that read through indexes,
TTL sweeps, snapshots, transactions as SQLite transactions, a locked file, settings."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Context
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lexigram_nosql import ConcurrencyError, DuplicateKeyError, create_store
from lexigram_nosql.config.loader import load_config

Factory = Callable[..., Awaitable[Any]]


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Factory]:
    """Connected SQLite stores on files under ``tmp_path`` (``await sqlite(path=...)``)."""
    stores: list[Any] = []

    async def make(name: str = "db", **section: Any) -> Any:
        section.setdefault("path", str(tmp_path / f"{name}.db"))
        store = create_store({"name": name, "driver": "sqlite", "sqlite": section})
        await store.connect()
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.disconnect()


async def ids(stream: AsyncIterator[dict[str, Any]]) -> list[Any]:
    return [doc["_id"] async for doc in stream]


async def test_ids_keep_their_type(sqlite: Factory) -> None:
    store = await sqlite()
    people = store.collection("people")
    await people.insert_many([{"_id": 7, "n": "int"}, {"_id": "7", "n": "str"}])
    assert await people.find_one({"_id": 7}) == {"_id": 7, "n": "int"}
    assert await people.find_one({"_id": "7"}) == {"_id": "7", "n": "str"}
    with pytest.raises(DuplicateKeyError):
        await people.insert_one({"_id": 7.0})  # MongoDB: 7 and 7.0 are one _id
    assert await ids(people.find({"_id": {"$gt": 5}})) == [7]


async def test_equality_range_and_sort_on_an_indexed_field_do_not_scan(sqlite: Factory) -> None:
    store = await sqlite()
    items = store.collection("items")
    await items.insert_many([{"_id": i, "n": i % 10, "tag": f"t{i % 3}"} for i in range(100)])
    await items.create_index("n")
    await items.create_index([("tag", 1), ("n", -1)])
    cases: list[tuple[dict[str, Any], Any, list[Any]]] = [
        ({"n": 3}, None, [3, 13, 23, 33, 43, 53, 63, 73, 83, 93]),
        ({"n": {"$gte": 8, "$lt": 9}}, None, list(range(8, 100, 10))),
        ({"n": {"$in": [1, 2]}, "_id": {"$lt": 20}}, None, [1, 2, 11, 12]),
        (
            {"$or": [{"n": 0}, {"tag": "t1", "n": 1}]},
            None,
            sorted([*range(0, 100, 10), 1, 31, 61, 91]),
        ),
        ({}, [("tag", 1), ("n", -1)], None),
        ({"tag": "t2"}, [("tag", -1), ("n", 1)], None),
        ({"tag": "t2", "n": {"$gt": 3, "$lte": 5}}, None, [5, 14, 35, 44, 65, 74, 95]),
    ]
    for filter, sort, expected in cases:
        found = await ids(items.find(filter, sort=sort, limit=0))
        plan = items.last_plan
        assert plan is not None and plan.index is not None, (filter, plan)
        assert filter == {} or not plan.scans, (filter, plan)
        assert not sort or plan.sorted, (sort, plan)  # read in index order, never sorted
        if expected is not None:
            assert sorted(found) == expected, filter
    top = [doc["n"] async for doc in items.find({}, sort=[("n", -1)], limit=3)]
    assert top == [9, 9, 9] and items.last_plan.sorted
    pairs = [(d["tag"], d["n"]) async for d in items.find({}, sort=[("tag", -1), ("n", 1)])]
    assert pairs == sorted(pairs, key=lambda p: (-int(p[0][1]), p[1]))
    assert items.last_plan.sorted and items.last_plan.index == "tag_1_n_-1"


async def test_arrays_and_sparse_indexes_never_lose_a_match(sqlite: Factory) -> None:
    store = await sqlite()
    things = store.collection("things")
    await things.insert_many(
        [{"_id": 1, "a": [1, 10]}, {"_id": 2, "a": 6}, {"_id": 3}, {"_id": 4, "a": None}]
    )
    await things.create_index("a", sparse=True)
    # Different elements of [1, 10] meet each bound: MongoDB matches it.
    assert sorted(await ids(things.find({"a": {"$gt": 5, "$lt": 7}}))) == [1, 2]
    # A sparse index cannot answer null (it skips documents without the field).
    assert sorted(await ids(things.find({"a": None}))) == [3, 4]
    assert things.last_plan.scans
    assert sorted(await ids(things.find({}, sort=[("a", 1)]))) == [1, 2, 3, 4]


async def test_ttl_index_sweeps_expired_documents(sqlite: Factory) -> None:
    store = await sqlite()
    sessions = store.collection("sessions")
    now = datetime.now(UTC)
    await sessions.insert_many(
        [
            {"_id": "old", "at": now - timedelta(hours=2)},
            {"_id": "old-in-array", "at": [now + timedelta(days=1), now - timedelta(hours=3)]},
            {"_id": "new", "at": now},
            {"_id": "not-a-date", "at": "yesterday"},
        ]
    )
    await sessions.create_index("at", expire_after_seconds=3600)
    assert await store.sweep_expired() == 2
    assert sorted(await ids(sessions.find())) == ["new", "not-a-date"]


async def test_a_partial_ttl_index_expires_only_matching_documents(sqlite: Factory) -> None:
    store = await sqlite()
    sessions = store.collection("sessions")
    old = datetime.now(UTC) - timedelta(hours=2)
    await sessions.insert_many(
        [{"_id": "guest", "at": old, "guest": True}, {"_id": "member", "at": old}]
    )
    await sessions.create_index(
        "at", expire_after_seconds=3600, partialFilterExpression={"guest": True}
    )
    assert await store.sweep_expired() == 1
    assert await ids(sessions.find()) == ["member"]


async def test_a_stream_reads_one_snapshot(sqlite: Factory) -> None:
    store = await sqlite()
    items = store.collection("items")
    await items.insert_many([{"_id": i} for i in range(600)])
    stream = items.find({}, batch_size=100)
    first = await anext(stream)
    await items.delete_many({})
    await items.insert_one({"_id": "late"})
    rest = [doc["_id"] async for doc in stream]
    assert [first["_id"], *rest] == list(range(600))


async def test_transaction_is_invisible_until_commit_and_rolls_back(sqlite: Factory) -> None:
    store = await sqlite()
    accounts = store.collection("accounts")
    await accounts.insert_one({"_id": "a", "balance": 10})
    seen_outside: list[Any] = []

    async def outside_reader() -> None:
        seen_outside.append(await accounts.find_one({"_id": "a"}))

    async with store.transaction():
        await accounts.update_one({"_id": "a"}, {"$inc": {"balance": 5}})
        assert (await accounts.find_one({"_id": "a"}))["balance"] == 15
        # A task with a fresh context is outside the transaction.
        await asyncio.get_running_loop().create_task(outside_reader(), context=Context())
    assert seen_outside[0]["balance"] == 10
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await accounts.update_one({"_id": "a"}, {"$inc": {"balance": 100}})
            await store.collection("new_collection").insert_one({"x": 1})
            raise RuntimeError("abort")
    assert (await accounts.find_one({"_id": "a"}))["balance"] == 15
    assert await store.list_collections() == ["accounts"]


async def test_a_locked_file_is_retried_then_refused_with_concurrency_error(
    sqlite: Factory, tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    store = await sqlite(path=str(path), busy_timeout_s=0.05, busy_retries=1)
    await store.collection("c").insert_one({"_id": 1})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ConcurrencyError) as info:
            await store.collection("c").insert_one({"_id": 2})
        assert info.value.store == "db"
        assert await store.collection("c").count_documents({}) == 1  # reads are not blocked
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.collection("c").insert_one({"_id": 2})
    assert await store.collection("c").count_documents({}) == 2


async def test_memory_path_is_private_and_removed_on_disconnect(sqlite: Factory) -> None:
    store = await sqlite(path=":memory:")
    await store.collection("c").insert_one({"_id": 1})
    file = Path(store.path)
    assert await asyncio.to_thread(file.exists)
    await store.disconnect()
    assert not await asyncio.to_thread(file.exists)


async def test_health_is_a_cheap_ping_naming_the_file_mode(sqlite: Factory) -> None:
    store = await sqlite()
    health = await store.health_check()
    assert health.status == "pass"
    assert health.details["journal_mode"] == "wal"
    assert health.details["synchronous"] == "normal"


def test_settings_from_yaml_and_environment(tmp_path: Path) -> None:
    settings = load_config(
        {"nosql": {"backends": [{"name": "primary", "driver": "sqlite"}]}},
        environ={
            "NOSQL__PRIMARY__SQLITE__PATH": str(tmp_path / "env.db"),
            "NOSQL__PRIMARY__SQLITE__SYNCHRONOUS": "full",
        },
    )
    entry = settings.backends[0]
    assert entry.sqlite.path == str(tmp_path / "env.db")  # type: ignore[union-attr]
    assert entry.sqlite.synchronous == "full"  # type: ignore[union-attr]
    assert entry.address() == f"sqlite://{tmp_path / 'env.db'}"


async def test_relative_paths_resolve_against_the_working_directory(
    sqlite: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await sqlite(path="nested/dir/app.db")
    await store.collection("c").insert_one({"_id": 1})
    assert (tmp_path / "nested" / "dir" / "app.db").exists()


async def test_a_transaction_cancelled_while_it_begins_leaves_the_store_usable(
    sqlite: Factory,
) -> None:
    store = await sqlite()
    items = store.collection("items")
    for _ in range(20):

        async def body() -> None:
            async with store.transaction():
                await items.insert_one({"in": "transaction"})

        task = asyncio.get_running_loop().create_task(body())
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await items.insert_one({"after": "cancel"})
    assert await items.count_documents({"after": "cancel"}) == 20


async def test_every_value_of_the_value_model_reads_back_with_its_type(sqlite: Factory) -> None:
    bson = pytest.importorskip("bson")
    import re
    import uuid

    values = {
        "long": bson.Int64(5),
        "pattern": re.compile("^a", re.I),
        "regex": bson.Regex("^b", "m"),
        "uuid": uuid.UUID(int=3),
        "oid": bson.ObjectId(),
        "dec": bson.Decimal128("1.50"),
        "bin": bson.Binary(b"x", 4),
        "code": bson.Code("f(x)", {"x": 1}),
        "ts": bson.Timestamp(5, 1),
        "min": bson.MinKey(),
        "max": bson.MaxKey(),
        "ref": bson.DBRef("users", 7),
        "inf": float("inf"),
    }
    store = await sqlite()
    things = store.collection("things")
    await things.insert_one({"_id": "all", **values})
    found = await things.find_one({"_id": "all"})
    assert found is not None
    for name, value in values.items():
        assert found[name] == value and type(found[name]) is type(value), name


async def test_counts_through_exact_plans_match_the_engine(sqlite: Factory) -> None:
    store = await sqlite()
    items = store.collection("items")
    await items.insert_many(
        [{"_id": i, "n": i % 10, "tags": ["a", "b"] if i % 2 else ["a"]} for i in range(100)]
    )
    await items.create_index("n")
    await items.create_index("tags")
    assert await items.count_documents({"n": 3}) == 10
    assert items.last_plan.exact
    assert await items.count_documents({"n": {"$in": [1, 2, 2]}}) == 20
    assert await items.count_documents({"tags": {"$in": ["a", "b"]}}) == 100  # each once
    assert await items.count_documents({"tags": "b", "n": {"$gt": 4}}) == 30  # engine-checked
    assert not items.last_plan.exact


@pytest.mark.parametrize("batch_size", [None, 1, 3, 50, 1000])
async def test_batched_reads_apply_sort_skip_and_limit_across_batches(
    sqlite: Factory, batch_size: int | None
) -> None:
    """``find`` hands documents a reader batch at a time: skip and limit cut batches at the
    right document whether the index gives the order or Python sorts, in a transaction too."""
    store = await sqlite()
    items = store.collection("items")
    documents = [{"_id": i, "n": (i * 37) % 101, "tag": i % 4} for i in range(101)]
    await items.insert_many(documents)
    await items.create_index("n")

    async def read(**options: Any) -> list[Any]:
        return [d["_id"] async for d in items.find(batch_size=batch_size, **options)]

    by_n = [d["_id"] for d in sorted(documents, key=lambda d: d["n"])]
    by_tag = [d["_id"] for d in sorted(documents, key=lambda d: d["tag"])]
    for skip, limit in [(0, 0), (0, 7), (5, 0), (5, 7), (100, 5), (101, 3), (250, 0)]:
        window = slice(skip, skip + limit if limit else None)
        assert await read(sort=[("n", 1)], skip=skip, limit=limit) == by_n[window]
        assert items.last_plan.sorted  # the index gave the order
        assert await read(sort=[("n", -1)], skip=skip, limit=limit) == by_n[::-1][window]
        assert await read(sort=[("tag", 1)], skip=skip, limit=limit) == by_tag[window]
        assert await read(skip=skip, limit=limit) == list(range(101))[window]
        async with store.transaction():
            assert await read(sort=[("n", 1)], skip=skip, limit=limit) == by_n[window]
    tagged = items.find({"tag": 1}, projection={"n": 1}, batch_size=batch_size)
    projected = [d async for d in tagged]
    assert projected == [{"_id": d["_id"], "n": d["n"]} for d in documents if d["tag"] == 1]
