"""The MongoDB backend over the wire, with both clients (PyMongo Async and Motor).

These run against the server ``tests/support/mongodb_server.py`` picks: a real MongoDB when
``LEXIGRAM_NOSQL_TEST_MONGODB_URI`` is set, else CongoDB. Tests that CongoDB cannot answer
correctly (unique enforcement, string ids, real transactions) are marked ``real_mongodb`` and
reported as skipped without a real server; ``test_mongodb_mongomock.py`` covers some of them
in-process.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from bson import ObjectId
from pymongo import monitoring
from pymongo.errors import OperationFailure, PyMongoError

from lexigram_nosql import create_store
from lexigram_nosql.backends.mongodb import MongoDocumentStore, ServerInfo
from lexigram_nosql.backends.mongodb.client import client_options
from lexigram_nosql.errors import (
    DuplicateKeyError,
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    StoreStateError,
    TransactionError,
    UnsupportedQueryError,
    WriteError,
)
from tests.support import mongodb_server
from tests.support.backends import services_required

CLIENTS = ["pymongo", "motor"]


def skip_without_server() -> None:
    reason = mongodb_server.unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"the MongoDB test server is required but {reason}")
        pytest.skip(f"MongoDB: {reason}")


def needs_real_mongodb() -> None:
    found = mongodb_server.target()
    if found is None or found[0] != "mongodb":
        pytest.skip(
            f"needs a real MongoDB: set {mongodb_server.REAL_URI_ENV} "
            "(CongoDB gets this wrong; see docs/backends/mongodb.md)"
        )


class CommandLog(monitoring.CommandListener):
    """Every command the client sends, for checking which session it carried."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append({"name": event.command_name, **dict(event.command)})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def make_store(client: str, **mongodb: Any) -> MongoDocumentStore:
    entry = mongodb_server.settings(f"be_{uuid.uuid4().hex[:8]}", client)
    entry["mongodb"].update(mongodb)
    store = create_store(entry)
    assert isinstance(store, MongoDocumentStore)
    return store


@pytest.fixture(params=CLIENTS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[MongoDocumentStore]:
    skip_without_server()
    instance = make_store(request.param)
    await instance.connect()
    try:
        yield instance
    finally:
        await mongodb_server.reset(instance)
        await instance.disconnect()


def raw(store: MongoDocumentStore, collection: str) -> Any:
    """The driver's own collection handle, to see what is stored."""
    return store.client[store.settings.mongodb.database][collection]


# -- ids ---------------------------------------------------------------------------------


async def test_a_generated_id_is_an_object_id_returned_as_hex(store: MongoDocumentStore) -> None:
    result = await store.collection("users").insert_one({"name": "ada"})
    assert isinstance(result.inserted_id, str)
    assert len(result.inserted_id) == 24
    stored = await raw(store, "users").find_one({})
    assert stored["_id"] == ObjectId(result.inserted_id)
    found = await store.collection("users").find_one({"_id": result.inserted_id})
    assert found == {"_id": result.inserted_id, "name": "ada"}


async def test_ids_in_in_nin_and_ne_conditions_are_converted(store: MongoDocumentStore) -> None:
    users = store.collection("users")
    ids = (await users.insert_many([{"n": 1}, {"n": 2}, {"n": 3}])).inserted_ids
    assert all(isinstance(i, str) for i in ids)
    found = [d async for d in users.find({"_id": {"$in": ids[:2]}}, sort=[("n", 1)])]
    assert [d["n"] for d in found] == [1, 2]
    found = [d async for d in users.find({"_id": {"$nin": ids[:2]}})]
    assert [d["n"] for d in found] == [3]
    assert await users.count_documents({"_id": {"$ne": ids[0]}}) == 2
    assert (await users.update_one({"_id": ids[1]}, {"$set": {"n": 20}})).modified_count == 1
    assert (await users.delete_one({"_id": {"$eq": ids[2]}})).deleted_count == 1
    assert await users.distinct("_id") == sorted(ids[:2])


async def test_a_given_hex_id_is_stored_as_an_object_id(store: MongoDocumentStore) -> None:
    hex_id = str(ObjectId())
    result = await store.collection("c").insert_one({"_id": hex_id, "a": 1})
    assert result.inserted_id == hex_id
    assert (await raw(store, "c").find_one({}))["_id"] == ObjectId(hex_id)
    assert await store.collection("c").find_one({"_id": hex_id}) == {"_id": hex_id, "a": 1}


async def test_an_upsert_by_hex_id_creates_that_object_id(store: MongoDocumentStore) -> None:
    hex_id = str(ObjectId())
    result = await store.collection("c").update_one(
        {"_id": hex_id}, {"$set": {"a": 1}}, upsert=True
    )
    assert result.upserted_id == hex_id
    assert (await raw(store, "c").find_one({}))["_id"] == ObjectId(hex_id)


async def test_nested_object_ids_are_returned_unchanged(store: MongoDocumentStore) -> None:
    ref = ObjectId()
    await raw(store, "c").insert_one({"ref": ref, "refs": [ref]})
    found = await store.collection("c").find_one({})
    assert found is not None
    assert isinstance(found["_id"], str)
    assert found["ref"] == ref
    assert found["refs"] == [ref]


async def test_aggregate_returns_hex_ids(store: MongoDocumentStore) -> None:
    inserted = await store.collection("c").insert_one({"a": 1})
    out = [
        d
        async for d in store.collection("c").aggregate([{"$match": {"_id": inserted.inserted_id}}])
    ]
    assert out == [{"_id": inserted.inserted_id, "a": 1}]


@pytest.mark.real_mongodb
async def test_non_hex_ids_are_stored_as_given(store: MongoDocumentStore) -> None:
    needs_real_mongodb()
    coll = store.collection("c")
    await coll.insert_many([{"_id": "user-1"}, {"_id": 7}, {"_id": {"k": 1}}])
    assert sorted(str(d["_id"]) async for d in raw(store, "c").find({})) == [
        "7",
        "user-1",
        "{'k': 1}",
    ]
    assert await coll.find_one({"_id": "user-1"}) == {"_id": "user-1"}
    assert await coll.find_one({"_id": {"$in": [7]}}) == {"_id": 7}


# -- errors --------------------------------------------------------------------------------


async def test_a_duplicate_id_is_a_duplicate_key_error(store: MongoDocumentStore) -> None:
    inserted = await store.collection("c").insert_one({})
    with pytest.raises(DuplicateKeyError) as info:
        await store.collection("c").insert_one({"_id": inserted.inserted_id})
    assert info.value.index == "_id_"
    assert info.value.collection == "c"
    assert info.value.store == store.name
    assert info.value.key == {"_id": inserted.inserted_id}  # the id as documents read back


async def test_server_errors_carry_the_server_code(store: MongoDocumentStore) -> None:
    coll = store.collection("c")
    await coll.insert_one({"a": "text"})
    with pytest.raises(WriteError) as write:
        await coll.update_one({}, {"$inc": {"a": 1}})  # $inc on a string: the server refuses
    assert isinstance(write.value.code, int)
    assert (write.value.store, write.value.collection) == (store.name, "c")
    with pytest.raises(InvalidQueryError) as missing:  # as on every backend
        await coll.drop_index("no_such_index")
    assert missing.value.code in {27, 86}  # IndexNotFound (MongoDB: 27, CongoDB: 86)


@pytest.mark.real_mongodb
async def test_a_unique_index_is_enforced_with_index_and_key(store: MongoDocumentStore) -> None:
    needs_real_mongodb()
    coll = store.collection("users")
    await coll.create_index("email", unique=True)
    await coll.insert_one({"email": "a@x"})
    with pytest.raises(DuplicateKeyError) as info:
        await coll.insert_one({"email": "a@x"})
    assert (info.value.index, info.value.key) == ("email_1", {"email": "a@x"})


@pytest.fixture
def driver_socket_leak() -> Iterator[None]:
    """PyMongo leaks its monitor's half-open socket when a client is closed while the monitor
    is still trying to connect (reproduced with a bare ``AsyncMongoClient``); collect it here,
    so the warning is not blamed on the next test."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.usefixtures("driver_socket_leak")
async def test_an_unreachable_server_is_a_connection_error_without_the_password() -> None:
    store = create_store(
        {
            "name": "down",
            "driver": "mongodb",
            "mongodb": {
                "uri": "mongodb://bob:pw-s3cret@127.0.0.1:9/?authSource=admin",
                "server_selection_timeout_ms": 200,
            },
        }
    )
    assert "pw-s3cret" not in repr(store)
    with pytest.raises(NoSQLConnectionError) as info:
        await store.connect()
    assert "pw-s3cret" not in str(info.value)
    assert info.value.address is not None
    assert "pw-s3cret" not in info.value.address


@pytest.mark.usefixtures("driver_socket_leak")
async def test_health_of_an_unreachable_server_fails_without_the_password() -> None:
    store = create_store(
        {
            "name": "down",
            "driver": "mongodb",
            "lazy": True,
            "mongodb": {
                "uri": "mongodb://bob:pw-s3cret@127.0.0.1:9",
                "server_selection_timeout_ms": 200,
            },
        }
    )
    health = await store.health_check()
    assert health.status == "fail"
    assert health.error is not None
    assert "pw-s3cret" not in health.error
    assert "pw-s3cret" not in repr(health)


# -- health and settings -------------------------------------------------------------------


async def test_health_reports_ping_latency_and_server_versions(store: MongoDocumentStore) -> None:
    health = await store.health_check()
    assert health.status == "pass"
    assert health.details["ping_ms"] > 0
    assert health.latency_ms >= health.details["ping_ms"]
    assert health.details["server_version"] == store.server.version  # type: ignore[union-attr]
    assert isinstance(health.details["wire_version"], int)
    assert health.details["wire_version"] >= 6
    assert health.details["topology"] in {"standalone", "replica_set", "sharded"}
    assert health.details["client"] == store.client_name


async def test_the_configured_client_is_used(store: MongoDocumentStore) -> None:
    expected = "motor" if store.client_name == "motor" else "pymongo"
    assert type(store.client).__module__.split(".")[0] == expected


async def test_settings_reach_the_connected_client() -> None:
    skip_without_server()
    for client in CLIENTS:
        async with make_store(client, max_pool_size=3, read_preference="primaryPreferred") as s:
            assert s.client.options.pool_options.max_pool_size == 3
            assert s.client.read_preference.mongos_mode == "primaryPreferred"
            assert (await s.health_check()).status == "pass"


async def test_a_client_of_the_test_server_does_not_spin_its_monitor() -> None:
    """CongoDB answers an awaitable ``hello`` at once, so a streaming monitor would send
    thousands of heartbeats a second; the URI ``scripts/services.sh`` writes makes the
    client poll (a real MongoDB holds the ``hello``, so either mode is quiet there)."""
    skip_without_server()

    class Heartbeats(monitoring.ServerHeartbeatListener):
        count = 0

        def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
            Heartbeats.count += 1

        def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
            pass

    store = make_store("pymongo")
    options = {**client_options(store.settings.mongodb), "event_listeners": [Heartbeats()]}
    client = store._driver.create_client(store.settings.mongodb.uri, options)
    try:
        await client.admin.command("ping")
        await asyncio.sleep(0.5)
    finally:
        await store._driver.close(client)
    assert 1 <= Heartbeats.count < 20


# -- indexes ---------------------------------------------------------------------------------


async def test_indexes_single_compound_unique_sparse_ttl_listed_and_dropped(
    store: MongoDocumentStore,
) -> None:
    coll = store.collection("c")
    assert await coll.create_index("a") == "a_1"
    assert await coll.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
    assert await coll.create_index("email", unique=True, name="uniq_email") == "uniq_email"
    assert await coll.create_index("nick", sparse=True) == "nick_1"
    assert await coll.create_index("at", expire_after_seconds=60) == "at_1"
    listed = {i.name: i for i in await coll.list_indexes()}
    assert set(listed) == {"_id_", "a_1", "a_1_b_-1", "uniq_email", "nick_1", "at_1"}
    assert listed["a_1_b_-1"].keys == [("a", 1), ("b", -1)]
    assert listed["uniq_email"].unique and not listed["a_1"].unique
    assert listed["nick_1"].sparse
    assert listed["at_1"].expire_after_seconds == 60
    await coll.drop_index("a_1_b_-1")
    assert "a_1_b_-1" not in {i.name for i in await coll.list_indexes()}


# -- transactions --------------------------------------------------------------------------


async def test_a_standalone_server_refuses_transactions(store: MongoDocumentStore) -> None:
    if store.server is None or store.server.topology != "standalone":
        pytest.skip("the test server is not standalone")
    assert store.capabilities.transactions is False
    with pytest.raises(TransactionError, match="standalone") as info:
        async with store.transaction():
            pass
    # Also the refusal every backend gives for what it cannot do, naming the backend.
    assert isinstance(info.value, UnsupportedQueryError)
    assert info.value.backend == "mongodb"


@pytest.mark.parametrize("client", CLIENTS)
async def test_every_operation_in_a_transaction_carries_its_session(client: str) -> None:
    """Checked on the wire: each command inside the block has the same ``lsid`` and
    ``autocommit: false``; the block ends with ``commitTransaction``."""
    skip_without_server()
    log = CommandLog()
    store = with_listener(make_store(client), log)
    async with store:
        pretend_replica_set(store)
        coll = store.collection("c")
        await coll.insert_one({"seed": True})  # create the collection outside the block
        log.commands.clear()
        async with store.transaction():
            await coll.insert_one({"a": 1})
            await coll.update_many({"a": 1}, {"$set": {"b": 2}})
            await coll.find_one({"a": 1})
            _ = [d async for d in coll.find({})]
            await coll.count_documents({})
            _ = [d async for d in coll.aggregate([{"$match": {"a": 1}}])]
            await coll.delete_many({"b": 2})
        sent = list(log.commands)
        await mongodb_server.reset(store)
    *in_block, commit = sent
    names = [c["name"] for c in in_block]
    assert names == ["insert", "update", "find", "find", "aggregate", "aggregate", "delete"]
    assert commit["name"] == "commitTransaction"
    sessions = {bytes(c["lsid"]["id"]) for c in sent}
    assert len(sessions) == 1
    assert all(c.get("autocommit") is False for c in sent)
    assert in_block[0].get("startTransaction") is True
    assert all("startTransaction" not in c for c in sent[1:])


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_exception_in_a_transaction_aborts_it(client: str) -> None:
    skip_without_server()
    log = CommandLog()
    store = with_listener(make_store(client), log)
    async with store:
        pretend_replica_set(store)
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.collection("c").insert_one({"a": 1})
                raise RuntimeError("boom")
        names = [c["name"] for c in log.commands]
        await mongodb_server.reset(store)
    assert "abortTransaction" in names
    assert "commitTransaction" not in names


@pytest.mark.real_mongodb
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_transaction_commits_or_rolls_back(client: str) -> None:
    needs_real_mongodb()
    async with make_store(client) as store:
        if store.server is not None and store.server.topology == "standalone":
            pytest.skip("the real MongoDB is standalone; transactions need a replica set")
        coll = store.collection("c")
        await coll.insert_one({"_id": "seed"})  # create the collection outside
        async with store.transaction():
            await coll.insert_one({"_id": "kept"})
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await coll.insert_one({"_id": "dropped"})
                assert await coll.find_one({"_id": "dropped"}) is not None
                raise RuntimeError("roll back")
        assert {d["_id"] async for d in coll.find({})} == {"seed", "kept"}
        await mongodb_server.reset(store)


# -- helpers -------------------------------------------------------------------------------


def with_listener(store: MongoDocumentStore, log: CommandLog) -> MongoDocumentStore:
    """Rebuild the store's client with a command listener."""
    factory: Callable[[str, dict[str, Any]], Any] = store._client_factory

    def listening(uri: str, options: dict[str, Any]) -> Any:
        return factory(uri, {**options, "event_listeners": [log]})

    store._client_factory = listening
    return store


def pretend_replica_set(store: MongoDocumentStore) -> None:
    """CongoDB reports itself standalone but accepts transaction commands; for checking what
    the client sends, let the store believe it is a replica set member."""
    assert store.server is not None
    if store.server.topology != "standalone":
        return
    if not mongodb_server.against_congodb():
        pytest.skip("the real MongoDB is standalone; transactions need a replica set")
    store._server = ServerInfo(store.server.version, store.server.wire_version, "replica_set")


async def test_a_driver_error_while_streaming_is_translated(store: MongoDocumentStore) -> None:
    """A failure between batches (here: the client closed under the cursor) leaves ``find``
    as one of our errors, not the driver's."""
    coll = store.collection("c")
    await coll.insert_many([{"n": i} for i in range(10)])
    stream = coll.find({}, batch_size=2)
    assert (await anext(stream))["n"] == 0
    await store._driver.close(store.client)
    with pytest.raises(NoSQLError) as info:
        async for _ in stream:
            pass
    assert info.value.collection == "c"
    assert not type(info.value).__module__.startswith("pymongo")
    store._client = store._driver.create_client(store.settings.mongodb.uri, {})  # for reset


class FakeSession:
    """A session whose commits fail with the given errors first, recording what it was asked."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[str] = []

    async def commit_transaction(self) -> None:
        self.calls.append("commit")
        if self.failures:
            raise self.failures.pop(0)

    async def abort_transaction(self) -> None:
        self.calls.append("abort")

    async def end_session(self) -> None:
        self.calls.append("end")


def labelled(label: str, code: int) -> PyMongoError:
    return OperationFailure("failed", code, {"errorLabels": [label], "code": code})


async def test_a_commit_with_unknown_outcome_is_retried() -> None:
    store = make_store("pymongo")
    session = FakeSession(labelled("UnknownTransactionCommitResult", 91))
    await store._commit_transaction(session)
    assert session.calls == ["commit", "commit", "end"]


async def test_a_transient_commit_failure_is_raised_and_the_session_ended() -> None:
    store = make_store("pymongo")
    session = FakeSession(labelled("TransientTransactionError", 112))
    with pytest.raises(TransactionError, match="again"), store.translate_errors():
        await store._commit_transaction(session)
    assert session.calls == ["commit", "end"]


async def test_a_commit_that_timed_out_on_the_server_is_not_retried() -> None:
    store = make_store("pymongo")
    session = FakeSession(labelled("UnknownTransactionCommitResult", 50))
    with pytest.raises(NoSQLError), store.translate_errors():
        await store._commit_transaction(session)
    assert session.calls == ["commit", "end"]


async def test_abort_ends_the_session() -> None:
    store = make_store("pymongo")
    session = FakeSession()
    await store._abort_transaction(session)
    assert session.calls == ["abort", "end"]


@pytest.mark.parametrize("client", CLIENTS)
async def test_collections_use_the_database_while_the_store_is_connected(client: str) -> None:
    """A collection taken before ``connect`` (as a container wires them) gets the driver's
    collection when the store connects, and loses it when the store disconnects."""
    skip_without_server()
    store = make_store(client)
    early = store.collection("c")
    await store.connect()
    try:
        await early.insert_one({"a": 1})
        await store.collection("d").insert_one({"b": 1})
        assert await raw(store, "c").count_documents({}) == 1
        assert await raw(store, "d").count_documents({}) == 1
    finally:
        await mongodb_server.reset(store)
        await store.disconnect()
    with pytest.raises(StoreStateError, match="not connected"):
        _ = early._collection.find_one  # type: ignore[attr-defined]
    with pytest.raises(StoreStateError):
        await early.find_one({})


@pytest.mark.parametrize("client", CLIENTS)
async def test_the_database_in_the_uri_path_is_used_when_none_is_set(client: str) -> None:
    """As PyMongo's ``get_default_database()``: ``mongodb://h/urldb`` writes to ``urldb``."""
    skip_without_server()
    entry = mongodb_server.settings(f"be_{uuid.uuid4().hex[:8]}", client)
    database = entry["mongodb"].pop("database")
    parts = urlsplit(entry["mongodb"]["uri"])
    entry["mongodb"]["uri"] = urlunsplit(parts._replace(path=f"/{database}"))
    store = create_store(entry)
    assert isinstance(store, MongoDocumentStore)
    await store.connect()
    try:
        assert store.settings.mongodb.database == database
        await store.collection("c").insert_one({"a": 1})
        assert await store.client[database]["c"].count_documents({}) == 1
        assert await store.client["app"]["c"].count_documents({}) == 0
    finally:
        await mongodb_server.reset(store)
        await store.disconnect()
