"""The memory store beyond the shared suite: copy isolation, lazy streaming from a snapshot,
fairness to other tasks, exact results under heavy concurrency, serialized transactions,
health and capabilities."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql import TransactionError, create_store
from lexigram_nosql.backends.memory import MemoryDocumentStore
from lexigram_nosql.backends.memory import collection as collection_module
from lexigram_nosql.backends.memory.values import clone, stored_copy


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    instance = create_store({"name": "mem", "driver": "memory"})
    await instance.connect()
    yield instance
    await instance.disconnect()


# -- values ----------------------------------------------------------------------------------


def test_clone_copies_containers_and_shares_immutable_leaves() -> None:
    value = {"a": [1, {"b": (2, 3)}], "s": "x"}
    copied = clone(value)
    assert copied == {"a": [1, {"b": [2, 3]}], "s": "x"}
    assert copied["a"] is not value["a"] and copied["a"][1] is not value["a"][1]
    assert copied["s"] is value["s"]


# -- isolation -------------------------------------------------------------------------------


async def test_update_operands_are_copied_into_the_store(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a"})
    operand = {"nested": [1, 2]}
    await collection.update_one({"_id": "a"}, {"$set": {"v": operand}})
    operand["nested"].append(3)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "v": {"nested": [1, 2]}}


async def test_inserted_nested_values_are_copied(store: Any) -> None:
    collection = store.collection("c")
    document: dict[str, Any] = {"_id": "a", "tags": ["x"], "d": {"k": [1]}}
    await collection.insert_one(document)
    document["tags"].append("y")
    document["d"]["k"].append(2)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "tags": ["x"], "d": {"k": [1]}}


async def test_group_output_does_not_share_stored_values(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "g": 1, "tags": ["x"]})
    [group] = [
        d
        async for d in collection.aggregate([{"$group": {"_id": "$g", "all": {"$push": "$$ROOT"}}}])
    ]
    group["all"][0]["tags"].append("mutated")
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "g": 1, "tags": ["x"]}


async def test_array_ids_are_refused_before_writing(store: Any) -> None:
    from lexigram_nosql import InvalidQueryError

    collection = store.collection("c")
    with pytest.raises(InvalidQueryError, match="_id cannot be an array"):
        await collection.insert_many([{"_id": "ok"}, {"_id": [1]}])
    assert await collection.count_documents({}) == 0


# -- streaming -------------------------------------------------------------------------------


async def test_find_copies_documents_lazily(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    collection = store.collection("c")
    await collection.insert_many([{"_id": f"{i:04d}", "n": i} for i in range(1000)])
    copies = 0
    real = collection_module.clone_document

    def counting(document: Any) -> Any:
        nonlocal copies
        copies += 1
        return real(document)

    monkeypatch.setattr(collection_module, "clone_document", counting)
    stream = collection.find({"n": {"$gte": 0}})
    first = await anext(stream)  # type: ignore[call-overload]
    assert first["_id"] == "0000"
    assert copies == 1
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_stream_reads_a_stable_snapshot(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_many([{"_id": f"{i:03d}", "n": i} for i in range(10)])
    stream = collection.find(sort=[("n", 1)])
    seen = [(await anext(stream))["n"]]  # type: ignore[call-overload]
    # Writes after the stream started do not tear the documents it is yielding.
    await collection.update_many({}, {"$inc": {"n": 100}})
    await collection.delete_one({"_id": "005"})
    seen += [d["n"] async for d in stream]
    assert seen == list(range(10))
    assert await collection.count_documents({"n": {"$gte": 100}}) == 9


async def test_long_scans_let_other_tasks_run(store: Any) -> None:
    """A scan that finds nothing still leaves the loop between time slices (the worst lag
    over big data is measured in tests/evidence/test_loop_lag.py)."""
    collection = store.collection("c")
    await collection.insert_many([{"_id": f"{i:05d}", "s": "x" * 200} for i in range(20_000)])
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = ticks
    slow = {"s": {"$regex": "x*y"}}  # some microseconds per document
    found = [d async for d in collection.find(slow)]  # scans everything, yields nothing
    during = ticks - start
    done = True
    await task
    assert found == []
    assert during >= 2


async def test_sort_with_limit_keeps_only_the_top_k(store: Any) -> None:
    import random

    collection = store.collection("c")
    values = [random.Random(3).randrange(100) for _ in range(500)]
    await collection.insert_many([{"_id": f"{i:03d}", "v": v} for i, v in enumerate(values)])
    expected = sorted(enumerate(values), key=lambda item: (item[1], item[0]))
    for skip, limit in ((0, 5), (7, 3), (495, 10), (0, 500)):
        found = [d["_id"] async for d in collection.find(sort=[("v", 1)], skip=skip, limit=limit)]
        assert found == [f"{i:03d}" for i, _ in expected[skip : skip + limit]]
    descending = [d["v"] async for d in collection.find(sort=[("v", -1)], limit=4)]
    assert descending == sorted(values, reverse=True)[:4]


# -- concurrency -----------------------------------------------------------------------------


async def test_two_hundred_concurrent_increments_are_exact(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "counter", "n": 0})
    await asyncio.gather(
        *(
            collection.find_one_and_update({"_id": "counter"}, {"$inc": {"n": 1}})
            for _ in range(200)
        ),
        *(collection.update_one({"_id": "counter"}, {"$inc": {"n": 2}}) for _ in range(100)),
    )
    assert await collection.find_one({"_id": "counter"}) == {"_id": "counter", "n": 400}


async def test_concurrent_upserts_create_one_document(store: Any) -> None:
    collection = store.collection("c")
    await collection.create_index("key", unique=True)
    results = await asyncio.gather(
        *(collection.update_one({"key": "k"}, {"$inc": {"n": 1}}, upsert=True) for _ in range(50))
    )
    assert sum(1 for r in results if r.upserted_id is not None) == 1
    assert [d["n"] async for d in collection.find({"key": "k"})] == [50]


# -- transactions ----------------------------------------------------------------------------


async def test_operations_outside_wait_for_an_open_transaction(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "n": 0})
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.transaction():
            await collection.update_one({"_id": "a"}, {"$set": {"n": 1}})
            inside.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await inside.wait()
    outside = asyncio.create_task(collection.update_one({"_id": "a"}, {"$inc": {"n": 10}}))
    await asyncio.sleep(0.01)
    assert not outside.done()
    release.set()
    await task
    await outside
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 11}


async def test_tasks_spawned_inside_join_the_transaction(store: Any) -> None:
    collection = store.collection("c")
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await asyncio.gather(*(collection.insert_one({"_id": f"t{i}"}) for i in range(5)))
            raise RuntimeError("roll back")
    assert await collection.count_documents({}) == 0


async def test_a_task_that_outlives_its_transaction_is_refused(store: Any) -> None:
    collection = store.collection("c")
    leaked: list[asyncio.Task[Any]] = []
    proceed = asyncio.Event()

    async def late() -> None:
        await proceed.wait()
        await collection.insert_one({"_id": "late"})

    async with store.transaction():
        leaked.append(asyncio.create_task(late()))
    proceed.set()
    with pytest.raises(TransactionError, match="already ended"):
        await leaked[0]
    assert await collection.count_documents({}) == 0


async def test_rollback_restores_indexes_and_collections(store: Any) -> None:
    keep = store.collection("keep")
    await keep.insert_many([{"_id": "a", "k": 1}, {"_id": "b", "k": 2}])
    await keep.create_index("k", unique=True)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await keep.drop_index("k_1")
            await keep.insert_one({"_id": "c", "k": 1})
            await keep.create_index("other")
            await store.drop_collection("keep")
            await store.collection("brand_new").insert_one({"_id": "x"})
            raise RuntimeError
    assert await store.list_collections() == ["keep"]
    assert [i.name for i in await keep.list_indexes()] == ["_id_", "k_1"]
    assert sorted([d["_id"] async for d in keep.find()]) == ["a", "b"]
    from lexigram_nosql import DuplicateKeyError

    with pytest.raises(DuplicateKeyError):
        await keep.insert_one({"_id": "c", "k": 1})


async def test_transactions_run_one_at_a_time(store: Any) -> None:
    order: list[str] = []

    async def worker(name: str) -> None:
        async with store.transaction():
            order.append(f"{name}-begin")
            await asyncio.sleep(0.005)
            order.append(f"{name}-end")

    await asyncio.gather(worker("a"), worker("b"), worker("c"))
    assert order == ["a-begin", "a-end", "b-begin", "b-end", "c-begin", "c-end"]


# -- health and capabilities -----------------------------------------------------------------


async def test_health_reports_counts(store: Any) -> None:
    await store.collection("a").insert_many([{"_id": 1}, {"_id": 2}])
    await store.collection("b").create_index("x")
    health = await store.health_check()
    assert health.status == "pass"
    assert health.details == {
        "collections": 2,
        "documents": 2,
        "indexes": 1,
        "transaction_open": False,
    }


async def test_capabilities_refuse_nothing(store: Any) -> None:
    caps = store.capabilities
    assert isinstance(store, MemoryDocumentStore)
    assert caps.driver == "memory" and caps.refused == frozenset()
    assert {"$regex", "$elemMatch", "$lookup", "$push", "$group"} <= caps.pushdown
    assert caps.transactions and caps.unique_indexes


async def test_disconnect_frees_the_data(store: Any) -> None:
    await store.collection("a").insert_one({"_id": 1})
    await store.disconnect()
    assert store._data == {}


# -- TTL -------------------------------------------------------------------------------------


async def test_ttl_index_expires_old_dates(store: Any) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    collection = store.collection("sessions")
    await collection.insert_many(
        [
            {"_id": "old", "at": now - timedelta(minutes=5)},
            {"_id": "fresh", "at": now + timedelta(minutes=5)},
            {"_id": "naive-old", "at": (now - timedelta(hours=1)).replace(tzinfo=None)},
            {
                "_id": "array-with-an-old-date",
                "at": [now + timedelta(hours=1), now - timedelta(hours=1)],
            },
            {"_id": "not-a-date", "at": "yesterday"},
            {"_id": "missing"},
        ]
    )
    await collection.create_index("at", expire_after_seconds=60)
    remaining = sorted([d["_id"] async for d in collection.find()])
    assert remaining == ["fresh", "missing", "not-a-date"]
    assert (await collection.list_indexes())[1].expire_after_seconds == 60
    await collection.insert_one({"_id": "later", "at": now - timedelta(days=1)})
    assert await collection.count_documents({"_id": "later"}) == 0


async def test_a_partial_ttl_index_expires_only_matching_documents(store: Any) -> None:
    from datetime import UTC, datetime, timedelta

    old = datetime.now(UTC) - timedelta(hours=2)
    collection = store.collection("sessions")
    await collection.insert_many(
        [{"_id": "guest", "at": old, "guest": True}, {"_id": "member", "at": old}]
    )
    await collection.create_index(
        "at", expire_after_seconds=60, partialFilterExpression={"guest": True}
    )
    assert [d["_id"] async for d in collection.find()] == ["member"]
    await collection.update_one({"_id": "member"}, {"$set": {"guest": True}})
    assert await collection.count_documents({}) == 0  # it entered the filter: expired


async def test_compound_indexes_never_expire_documents(store: Any) -> None:
    from datetime import UTC, datetime, timedelta

    collection = store.collection("sessions")
    await collection.insert_one({"_id": "old", "at": datetime.now(UTC) - timedelta(days=1), "u": 1})
    await collection.create_index([("at", 1), ("u", 1)], expire_after_seconds=1)
    assert await collection.count_documents({}) == 1


def _bson_size(value: Any) -> int:
    """The size stored_copy promises, stated plainly: an array is the document keyed
    "0", "1"..., as BSON stores it."""
    if isinstance(value, (list, tuple)):
        value = {str(i): item for i, item in enumerate(value)}
    size = 5
    for key, item in value.items():
        size += 2 + len(key.encode())
        if isinstance(item, (dict, list, tuple)):
            size += _bson_size(item)
        elif isinstance(item, str):
            size += 5 + len(item.encode())
        elif type(item) in (int, float, datetime):
            size += 8
        elif isinstance(item, bytes):
            size += 5 + len(item)
        else:
            size += 16
    return size


_names = st.text(min_size=1, max_size=3).filter(lambda name: "\x00" not in name)  # BSON's rule
_stored_values = st.recursive(
    st.one_of(
        st.text(max_size=4),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.binary(max_size=4),
        st.datetimes(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=12),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_names, children, max_size=3),
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_names, _stored_values, max_size=4))
def test_stored_copy_is_a_deep_copy_sized_as_bson_counts(document: dict[str, Any]) -> None:
    copied, size = stored_copy(document)
    assert copied == clone(document)
    assert size == _bson_size(document)
    bson = pytest.importorskip("bson")
    assert size >= len(bson.encode(document))  # slightly over rather than under


def test_long_arrays_count_their_index_keys() -> None:
    """Keys "0".."9" take one digit, "10".."99" two...: 1,234 elements, counted exactly."""
    _, size = stored_copy({"a": [None] * 1234})
    assert size == _bson_size({"a": [None] * 1234})
