"""The Firestore backend against Google's emulator: what the shared suite cannot see."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from lexigram_nosql import (
    ConcurrencyError,
    DuplicateKeyError,
    UnsupportedQueryError,
    create_store,
)
from lexigram_nosql.backends.firestore import collection as collection_module
from lexigram_nosql.backends.firestore import wire
from lexigram_nosql.backends.firestore.collection import FirestoreCollection
from tests.support import backend_firestore


def _store(name: str | None = None, **firestore: Any) -> Any:
    settings = backend_firestore.settings(name or f"fs_{uuid.uuid4().hex[:8]}")
    settings["firestore"].update(firestore)
    return create_store(settings)


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    settings = backend_firestore.settings(f"fs_{uuid.uuid4().hex[:8]}")
    async for instance in backend_firestore.connected_store(settings):
        yield instance


async def raw_ids(store: Any, collection: str) -> list[str]:
    return sorted([s.id async for s in store.client.collection(collection).stream()])


# -- ids ---------------------------------------------------------------------------------


async def test_id_is_the_document_id_and_not_a_field(store: Any) -> None:
    await store.collection("c").insert_one({"_id": "a", "x": 1})
    snapshot = await store.client.collection("c").document("a").get()
    assert snapshot.to_dict() == {"x": 1, "__lx:o": "x"}, "the field order is hidden"
    assert await store.collection("c").find_one({"_id": "a"}) == {"_id": "a", "x": 1}


async def test_ids_firestore_reserves_are_stored_escaped(store: Any) -> None:
    coll = store.collection("c")
    for value in ("__lock__", "a/b", "~x", ""):
        await coll.insert_one({"_id": value, "v": value})
        assert await coll.find_one({"_id": value}) == {"_id": value, "v": value}
    assert await raw_ids(store, "c") == ["~", "~__lock__", "~a%2Fb", "~~x"]
    assert sorted([d["_id"] async for d in coll.find({"v": {"$in": ["a/b", "~x"]}})]) == [
        "a/b",
        "~x",
    ]


async def test_non_string_ids_keep_their_type_in_an_escaped_document_id(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_many([{"_id": 7}, {"_id": "7"}, {"_id": None}, {"_id": {"k": "a/b"}}])
    assert await raw_ids(store, "c") == ["7", "~%00n7", '~%00o[["k","a%2Fb"]]', "~%00z"]
    assert [d["_id"] async for d in coll.find({}, sort=[("_id", 1)])] == [
        None,
        7,
        "7",
        {"k": "a/b"},
    ]


async def test_find_one_by_id_is_a_direct_get_and_in_a_batched_get(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = store.collection("c")
    await coll.insert_many([{"_id": f"d{i}", "n": i} for i in range(5)])

    def no_queries(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a query ran for an _id lookup")

    monkeypatch.setattr(FirestoreCollection, "_run_plan", no_queries)
    api = store.client._firestore_api
    batch_get = api.batch_get_documents
    requested: list[int] = []  # the documents each BatchGetDocuments asked for

    def counting(*args: Any, request: Any, **kwargs: Any) -> Any:
        requested.append(len(request["documents"]))
        return batch_get(*args, request=request, **kwargs)

    monkeypatch.setattr(api, "batch_get_documents", counting)
    assert await coll.find_one({"_id": "d3"}) == {"_id": "d3", "n": 3}
    assert requested == [1], "one id is one get"
    found = [d async for d in coll.find({"_id": {"$in": ["d1", "d4", "nope"]}, "n": {"$gt": 1}})]
    assert found == [{"_id": "d4", "n": 4}]
    assert requested == [1, 3], "several ids are one batched get"


# -- values ------------------------------------------------------------------------------


async def test_updates_that_would_nest_arrays_are_refused_and_change_nothing(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_one({"_id": "a", "grid": [1]})
    with pytest.raises(UnsupportedQueryError, match="array directly inside an array"):
        await coll.update_one({"_id": "a"}, {"$push": {"grid": [2, 3]}})
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "grid": [1]}


# -- queries -----------------------------------------------------------------------------


async def test_in_with_more_than_thirty_values_is_exact(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_many(
        [{"_id": f"s{i:03}", "n": i} for i in range(120)]
        + [{"_id": "arr", "n": [500, 7]}, {"_id": "far", "n": [999]}]
    )
    wanted = [*range(0, 120, 3), 500]  # 41 values: two chunks of 30 and 11
    found = sorted([d["_id"] async for d in coll.find({"n": {"$in": wanted}})])
    assert found == sorted([*(f"s{i:03}" for i in range(0, 120, 3)), "arr"])
    assert await coll.count_documents({"n": {"$in": wanted}}) == 41


async def test_range_filters_see_inside_arrays(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_many(
        [
            {"_id": "scalar", "v": 10},
            {"_id": "array", "v": [1, 20]},
            {"_id": "low", "v": [1, 2]},
            {"_id": "string", "v": "zzz"},
            {"_id": "nested", "a": [{"b": 15}]},
        ]
    )
    assert sorted([d["_id"] async for d in coll.find({"v": {"$gte": 10}})]) == ["array", "scalar"]
    assert [d["_id"] async for d in coll.find({"a.b": {"$gt": 10}})] == ["nested"]


async def test_count_uses_the_count_aggregation_when_the_server_is_exact(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = store.collection("c")
    assert await coll.count_documents({}) == 0  # the emulator answers 0.0 here
    assert type(await coll.count_documents({})) is int
    await coll.insert_many([{"tags": "x"}, {"tags": ["x", "y"]}, {"tags": "y"}])

    def no_streaming(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("documents were streamed to count them")

    monkeypatch.setattr(FirestoreCollection, "_matches", no_streaming)
    assert await coll.count_documents({}) == 3
    assert await coll.count_documents({"tags": "x"}) == 2


async def test_limit_is_pushed_down_when_the_server_is_exact(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_many([{"_id": f"d{i}", "k": 1} for i in range(10)])
    limits: list[int] = []
    run_branch = FirestoreCollection._run_branch

    def spy(self: Any, branch: Any, transaction: Any, limit_hint: int | None) -> Any:
        limits.append(limit_hint or 0)
        return run_branch(self, branch, transaction, limit_hint)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FirestoreCollection, "_run_branch", spy)
        assert len([d async for d in coll.find({}, skip=2, limit=3)]) == 3
    assert limits == [5]


# -- writes ------------------------------------------------------------------------------


async def test_update_many_and_delete_many_beyond_one_batch(store: Any) -> None:
    coll = store.collection("big")
    await coll.insert_many([{"n": i} for i in range(620)])
    result = await coll.update_many({}, {"$inc": {"n": 1}})
    assert (result.matched_count, result.modified_count) == (620, 620)
    assert await coll.count_documents({"n": 620}) == 1
    assert (await coll.delete_many({"n": {"$gt": 100}})).deleted_count == 520
    assert await coll.count_documents({}) == 100


async def test_drop_collection_deletes_more_than_five_hundred_documents(store: Any) -> None:
    coll = store.collection("big")
    await coll.insert_many([{"n": i} for i in range(1205)])
    await store.drop_collection("big")
    assert await coll.count_documents({}) == 0
    assert "big" not in await store.list_collections()


async def test_insert_many_stops_at_a_duplicate_keeping_what_came_before(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_one({"_id": "b"})
    with pytest.raises(DuplicateKeyError) as info:
        await coll.insert_many([{"_id": "a"}, {"_id": "b"}, {"_id": "c"}])
    assert info.value.key == {"_id": "b"}
    assert await raw_ids(store, "c") == ["a", "b"]


async def test_concurrent_native_increments_are_exact(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_one({"_id": "n", "v": 0})
    await asyncio.gather(*(coll.update_one({"_id": "n"}, {"$inc": {"v": 1}}) for _ in range(30)))
    assert await coll.find_one({"_id": "n"}) == {"_id": "n", "v": 30}


async def test_guarded_writes_from_two_processes_do_not_lose_updates(store: Any) -> None:
    """Two stores stand for two processes: no shared lock, only Firestore's preconditions."""
    other = create_store(store.settings)
    await other.connect()
    try:
        await store.collection("c").insert_one({"_id": "n", "log": []})
        await asyncio.gather(
            *(
                s.collection("c").update_one({"_id": "n"}, {"$push": {"log": i}})
                for i, s in enumerate([store, other] * 4)
            )
        )
        found = await store.collection("c").find_one({"_id": "n"})
        assert sorted(found["log"]) == list(range(8))
    finally:
        await other.disconnect()


# -- transactions ------------------------------------------------------------------------


async def test_transaction_reads_its_own_writes_and_buffers_them(store: Any) -> None:
    coll = store.collection("c")
    async with store.transaction():
        await coll.insert_one({"_id": "t", "n": 1})
        await coll.update_one({"_id": "t"}, {"$inc": {"n": 1}})
        assert await coll.find_one({"n": 2}) == {"_id": "t", "n": 2}
        assert await raw_ids(store, "c") == [], "nothing is written before commit"
    assert await coll.find_one({"_id": "t"}) == {"_id": "t", "n": 2}


async def test_transaction_rolls_back_on_error(store: Any) -> None:
    coll = store.collection("c")
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await coll.insert_one({"_id": "t"})
            raise RuntimeError("boom")
    assert await coll.count_documents({}) == 0


async def test_contended_commit_raises_and_run_transaction_reruns(store: Any) -> None:
    """Two stores (two processes) race on one document: the loser's commit raises
    ``ConcurrencyError`` and writes nothing; ``run_transaction`` re-runs it. Small on
    purpose: the emulator takes seconds to settle each conflict."""
    other = create_store(store.settings)
    await other.connect()
    try:
        await store.collection("c").insert_one({"_id": "n", "v": 0})
        both_read = asyncio.Barrier(2)

        async def bump(s: Any, barrier: asyncio.Barrier | None = None) -> None:
            coll = s.collection("c")
            current = await coll.find_one({"_id": "n"})
            if barrier is not None:
                await barrier.wait()
            await coll.update_one({"_id": "n"}, {"$set": {"v": current["v"] + 1}})

        async def once(s: Any) -> str:
            try:
                async with s.transaction():
                    await bump(s, both_read)
            except ConcurrencyError:
                return "lost"
            return "won"

        outcomes = await asyncio.gather(once(store), once(other))
        # At least one loses (Firestore may abort both); a loser wrote nothing.
        assert "lost" in outcomes
        won = outcomes.count("won")
        assert await store.collection("c").find_one({"_id": "n"}) == {"_id": "n", "v": won}

        await asyncio.gather(
            store.run_transaction(lambda: bump(store)), other.run_transaction(lambda: bump(other))
        )
        assert await store.collection("c").find_one({"_id": "n"}) == {"_id": "n", "v": won + 2}
    finally:
        await other.disconnect()


async def test_transactions_of_one_process_take_turns_on_a_document(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_one({"_id": "n", "v": 0})

    async def bump() -> None:
        async with store.transaction():
            current = await coll.find_one({"_id": "n"})
            await asyncio.sleep(0)
            await coll.update_one({"_id": "n"}, {"$set": {"v": current["v"] + 1}})

    await asyncio.wait_for(asyncio.gather(*(bump() for _ in range(8))), timeout=10)
    assert await coll.find_one({"_id": "n"}) == {"_id": "n", "v": 8}


# -- indexes, health, configuration ------------------------------------------------------


async def test_ttl_indexes_are_refused_others_recorded(store: Any) -> None:
    coll = store.collection("c")
    await coll.insert_one({"a": 1})
    with pytest.raises(UnsupportedQueryError, match="TTL"):
        await coll.create_index("at", expire_after_seconds=60)
    assert await coll.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
    assert [i.name for i in await coll.list_indexes()] == ["_id_", "a_1_b_-1"]
    await coll.drop_index("a_1_b_-1")
    assert [i.name for i in await coll.list_indexes()] == ["_id_"]


async def test_a_unique_index_keeps_guard_documents_and_is_seen_by_other_processes(
    store: Any,
) -> None:
    """One guard document per indexed value; the index is recorded in Firestore, so a store
    that never saw create_index (another process) enforces it too."""
    coll = store.collection("people")
    await coll.insert_one({"_id": "p1", "email": "a@x"})
    await coll.create_index("email", unique=True)
    guards = [s.to_dict() async for s in store.client.collection("__lx_unique").stream()]
    assert [(g["collection"], g["index"], g["owner"]) for g in guards] == [
        ("people", "email_1", "p1")
    ]
    other = create_store(store.settings)
    async with other:
        with pytest.raises(DuplicateKeyError):
            await other.collection("people").insert_one({"email": "a@x"})
        listed = {i.name: i.unique for i in await other.collection("people").list_indexes()}
        assert listed == {"_id_": True, "email_1": True}
    await coll.drop_index("email_1")
    assert [s async for s in store.client.collection("__lx_unique").stream()] == []


async def test_health_reports_latency_and_fails_fast_when_unreachable(store: Any) -> None:
    health = await store.health_check()
    assert health.status == "pass" and health.latency_ms > 0
    assert health.details["emulator"] is True
    dead = create_store(
        {
            "name": "dead",
            "driver": "firestore",
            "lazy": True,
            "health_timeout_s": 0.5,
            "firestore": {"emulator_host": "127.0.0.1:9"},
        }
    )
    report = await asyncio.wait_for(dead.health_check(), timeout=5)
    assert report.status == "fail" and report.error


async def test_emulator_host_from_config_does_not_touch_the_environment(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    own = _store()
    await own.connect()
    try:
        assert "FIRESTORE_EMULATOR_HOST" not in os.environ
        assert own.client._target == backend_firestore.emulator_host()
        await own.collection("c").insert_one({"_id": "x"})
    finally:
        await backend_firestore.reset(own)
        await own.disconnect()


class NeedsIndex:
    """A query production Firestore refuses for want of an index (the emulator never does),
    whether it is run (see ``refuse_for_want_of_an_index``), counted or read."""

    def count(self, **kwargs: Any) -> Any:
        return self

    async def get(self, **kwargs: Any) -> Any:
        raise _missing_index()


def _missing_index() -> Exception:
    import google.api_core.exceptions as gx

    return gx.FailedPrecondition("The query requires an index. Create it here: ...")


def refuse_for_want_of_an_index(
    monkeypatch: pytest.MonkeyPatch, reader: type[Any], needs_index: Callable[[Any], bool]
) -> None:
    """``reader``'s queries on the branches ``needs_index`` picks fail as production
    Firestore fails them without their composite index."""
    build = reader._query

    def query(self: Any, branch: Any) -> Any:
        return NeedsIndex() if needs_index(branch) else build(self, branch)

    def run_query(query: Any, transaction: Any, key: Any) -> Any:
        if not isinstance(query, NeedsIndex):
            return wire.run_query(query, transaction, key)

        async def refuse() -> Any:
            raise _missing_index()
            yield

        return refuse()

    monkeypatch.setattr(reader, "_query", query)
    monkeypatch.setattr(collection_module, "run_query", run_query)


async def test_a_query_needing_a_missing_composite_index_falls_back_to_one_field(
    store: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Production Firestore refuses some conjunctions until a composite index exists; the
    emulator never does, so the refusal is simulated for every multi-field query."""
    coll = store.collection("c")
    await coll.insert_many(
        [{"_id": "hit", "a": 1, "b": 5}, {"_id": "miss", "a": 1, "b": 0}, {"_id": "o", "a": 2}]
    )
    refuse_for_want_of_an_index(monkeypatch, FirestoreCollection, lambda branch: len(branch) > 1)
    with caplog.at_level("WARNING", logger="lexigram_nosql"):
        found = [d["_id"] async for d in coll.find({"a": 1, "b": {"$gt": 2}})]
    assert found == ["hit"]
    assert "composite index" in caplog.text


async def test_documents_are_read_without_copying_the_snapshot_and_share_nothing(
    store: Any,
) -> None:
    """Reads decode a snapshot's fields without ``to_dict()``'s deep copy; what they return
    shares no container with the snapshot, so changing it changes nothing read later."""
    from lexigram_nosql.backends.firestore.codec import decode_document, decode_snapshot

    collection = store.collection("c")
    await collection.insert_one({"_id": "a", "m": {"y": [1, {"k": 2}], "x": 1}, "t": [3]})
    snapshot = await store.client.collection("c").document("a").get()
    assert isinstance(getattr(snapshot, "_data", None), dict), "the client keeps its fields"
    decoded = decode_snapshot(snapshot)
    assert decoded == decode_document(snapshot.id, snapshot.to_dict())
    decoded["m"]["y"][1]["k"] = 99
    decoded["t"].append(4)
    assert decode_snapshot(snapshot) == {"_id": "a", "m": {"y": [1, {"k": 2}], "x": 1}, "t": [3]}
