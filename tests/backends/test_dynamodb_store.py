"""The DynamoDB backend on DynamoDB Local: which read each query runs and what it costs,
batching, guarded writes, indexes, health. (Transactions: test_dynamodb_transactions.py.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lexigram_nosql import ReturnDocument, create_store
from lexigram_nosql.errors import (
    DocumentTooLargeError,
    DuplicateKeyError,
    InvalidQueryError,
    UnsupportedQueryError,
)
from tests.support import backend_dynamodb
from tests.support.backend_dynamodb import settings

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture

Factory = Callable[..., Awaitable[Any]]


def spy(store: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the arguments of every call of one client method."""
    calls: list[dict[str, Any]] = []
    original = getattr(store.client, method)

    async def recording(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(**kwargs)

    monkeypatch.setattr(store.client, method, recording)
    return calls


async def people(store: Any, n: int = 30) -> Any:
    collection = store.collection("people")
    await collection.insert_many(
        [{"_id": f"p{i:03}", "n": i, "team": "ab"[i % 2], "tags": [i % 3]} for i in range(n)]
    )
    return collection


# -- plans and what they read -------------------------------------------------------------


async def test_find_on_the_key_reads_one_item(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store)
    found = [d async for d in collection.find({"_id": "p007"})]
    assert found == [{"_id": "p007", "n": 7, "team": "b", "tags": [1]}]
    stats = collection.last_plan
    assert stats.plan.operation == "GetItem"
    assert (stats.requests, stats.items_read, stats.items_returned) == (1, 1, 1)


async def test_key_in_reads_only_those_items(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store)
    found = [d async for d in collection.find({"_id": {"$in": ["p001", "p002", "nope"]}})]
    assert sorted(d["_id"] for d in found) == ["p001", "p002"]
    assert collection.last_plan.plan.operation == "BatchGetItem"
    assert collection.last_plan.items_read == 2


async def test_explain_names_the_plan_without_reading(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store, 3)
    plan = await collection.explain({"team": "a", "n": {"$gt": 0}})
    assert plan.operation == "Scan"
    assert plan.filter_expression is not None


async def test_pages_follow_last_evaluated_key(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    collection = await people(store, 30)
    calls = spy(store, "scan", monkeypatch)
    found = [d async for d in collection.find({}, batch_size=7)]
    assert len(found) == 30
    assert [c.get("ExclusiveStartKey") is None for c in calls] == [True] + [False] * 4
    assert collection.last_plan.requests == 5


async def test_limit_stops_reading_early(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store, 30)
    found = [d async for d in collection.find({}, limit=3)]
    assert len(found) == 3
    assert collection.last_plan.items_read == 3
    assert collection.last_plan.requests == 1


async def test_a_stream_reads_page_by_page(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store, 30)
    stream = collection.find({"team": "a"}, batch_size=5)
    first = await anext(stream)
    assert first["team"] == "a"
    assert collection.last_plan.requests == 1  # only the first page was fetched
    await stream.aclose()


async def test_a_client_side_sort_with_a_limit_keeps_the_top_k(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = await people(store, 30)
    found = [d["n"] async for d in collection.find({}, sort=[("n", -1)], skip=2, limit=3)]
    assert found == [27, 26, 25]


async def test_count_on_an_exact_filter_uses_select_count(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    collection = await people(store, 30)
    calls = spy(store, "scan", monkeypatch)
    assert await collection.count_documents({"team": "a"}) == 15
    assert calls and all(c["Select"] == "COUNT" for c in calls)
    # Not exact ($gt may match inside arrays): items are read and checked by the engine.
    assert await collection.count_documents({"tags": {"$gt": 1}}) == 10
    assert "Select" not in calls[-1]


async def test_array_semantics_survive_the_pushdown(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("arrays")
    await collection.insert_many(
        [{"_id": 1, "a": [1, 5]}, {"_id": 2, "a": 5}, {"_id": 3, "a": "x5x"}, {"_id": 4}]
    )
    assert sorted([d["_id"] async for d in collection.find({"a": 5})]) == [1, 2]
    assert sorted([d["_id"] async for d in collection.find({"a": {"$gt": 4}})]) == [1, 2]
    assert sorted([d["_id"] async for d in collection.find({"a": {"$in": [1, "x"]}})]) == [1]


async def test_scans_are_refused_when_allow_scan_is_off(dynamodb: Factory) -> None:
    store = await dynamodb(allow_scan=False)
    collection = store.collection("people")
    await collection.insert_one({"_id": "p1", "team": "a"})
    assert await collection.find_one({"_id": "p1"}) is not None
    with pytest.raises(UnsupportedQueryError, match="allow_scan") as info:
        await collection.find_one({"team": "a"})
    assert info.value.backend == "dynamodb"
    assert info.value.collection == "people"


async def test_one_warning_per_scan_shape(dynamodb: Factory, caplog: Any) -> None:
    store = await dynamodb()
    collection = await people(store, 3)
    with caplog.at_level(logging.WARNING, logger="lexigram_nosql"):
        await collection.count_documents({"team": "a"})
        await collection.count_documents({"team": "b"})
        await collection.count_documents({"n": {"$gt": 1}})
    warnings = [r for r in caplog.records if "scans the whole DynamoDB table" in r.getMessage()]
    assert len(warnings) == 2


# -- types --------------------------------------------------------------------------------


async def test_types_round_trip(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("types")
    stamp = datetime(2024, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)
    stored = stamp.replace(microsecond=123000)  # MongoDB keeps milliseconds
    document = {"_id": 1.0, "f": 0.1, "tiny": 1e-7, "big": 10**18, "when": stamp, "b": b"\x00"}
    await collection.insert_one(document)
    found = await collection.find_one({"_id": 1})
    assert found == {
        "_id": 1.0,
        "f": 0.1,
        "tiny": 1e-7,
        "big": 10**18,
        "when": stored,
        "b": b"\x00",
    }
    assert type(found["_id"]) is float  # the float marker beside the shared key
    raw = await store.client.get_item(
        TableName=store.table_name("types"), Key={"_id": {"S": "\x00n1"}}
    )
    assert raw["Item"]["when"] == {"S": "2024-05-17T08:30:15.123000+00:00"}
    assert [d["_id"] async for d in collection.find({"when": {"$gte": stamp}})] == [1.0]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"_id": "big", "s": "x" * 410_000}, DocumentTooLargeError),
        ({"_id": "nan", "x": float("nan")}, UnsupportedQueryError),
        ({"_id": "inf", "x": [float("inf")]}, UnsupportedQueryError),
        ({"_id": "empty", "m": {"": 1}}, InvalidQueryError),
    ],
)
async def test_unstorable_documents_are_refused_before_any_request(
    dynamodb: Factory, monkeypatch: Any, document: dict[str, Any], error: type[Exception]
) -> None:
    store = await dynamodb()
    collection = store.collection("refused")
    await collection.insert_one({"_id": "seed"})
    sent = spy(store, "put_item", monkeypatch)
    batches = spy(store, "batch_write_item", monkeypatch)
    with pytest.raises(error):
        await collection.insert_one(document)
    with pytest.raises(error):
        await collection.insert_many([{"_id": "ok"}, document])
    with pytest.raises(error):
        await collection.update_one({"_id": "seed"}, {"$set": {"v": document}})
    assert sent == [] and batches == []


# -- writes -------------------------------------------------------------------------------


async def test_botocore_leaves_checking_requests_to_the_codec_and_dynamodb(
    dynamodb: Factory,
) -> None:
    """botocore's own check of every parameter's shape is off (the codec builds each request
    from checked values, and the check cost more CPU per item than encoding it); a request
    DynamoDB refuses is still a typed error."""
    store = await dynamodb()
    collection = store.collection("checked")
    await collection.insert_one({"_id": "a"})
    table = store.table_name("checked")
    # A number where a string belongs: botocore's validator would raise ParamValidationError.
    await store.client.get_item(TableName=table, Key={"_id": {"S": 5}})
    with pytest.raises(Exception) as refused:
        await store.client.get_item(TableName=table)  # no Key: DynamoDB says ValidationException
    assert isinstance(store.map_exception(refused.value), InvalidQueryError)


async def test_insert_many_writes_batches_of_25(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    collection = store.collection("batch")
    await collection.insert_one({"_id": "warm"})  # the table exists
    calls = spy(store, "batch_write_item", monkeypatch)
    await collection.insert_many([{"_id": i} for i in range(60)])
    sizes = [len(next(iter(c["RequestItems"].values()))) for c in calls]
    assert sizes == [25, 25, 10]
    assert await collection.count_documents({}) == 61


async def test_unprocessed_items_are_resent(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    collection = store.collection("batch")
    await collection.insert_one({"_id": "warm"})
    original = store.client.batch_write_item
    calls: list[int] = []

    async def throttled(**kwargs: Any) -> Any:
        ((table, requests),) = kwargs["RequestItems"].items()
        calls.append(len(requests))
        if len(calls) == 1:  # DynamoDB took only the first 10
            await original(RequestItems={table: requests[:10]})
            return {"UnprocessedItems": {table: requests[10:]}}
        return await original(**kwargs)

    monkeypatch.setattr(store.client, "batch_write_item", throttled)
    await collection.insert_many([{"_id": i} for i in range(25)])
    assert calls == [25, 15]
    assert await collection.count_documents({}) == 26


async def test_duplicate_ids_are_refused(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("dups")
    await collection.insert_one({"_id": "a", "v": 1})
    with pytest.raises(DuplicateKeyError) as info:
        await collection.insert_one({"_id": "a", "v": 2})
    assert info.value.key == {"_id": "a"}
    with pytest.raises(DuplicateKeyError):
        await collection.insert_many([{"_id": "b"}, {"_id": "a"}, {"_id": "c"}])
    # As MongoDB's ordered insert: what came before the duplicate is written.
    assert sorted([d["_id"] async for d in collection.find({})]) == ["a", "b"]
    assert (await collection.find_one({"_id": "a"}))["v"] == 1


async def test_operators_dynamodb_evaluates_become_an_update_expression(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    collection = store.collection("ops")
    await collection.insert_one({"_id": "a", "n": 1, "l": [1], "m": {"x": 1}})
    calls = spy(store, "update_item", monkeypatch)
    await collection.update_one(
        {"_id": "a"},
        {"$inc": {"n": 2}, "$push": {"l": 2}, "$set": {"m.x": 5, "new": True}, "$unset": {"z": 1}},
    )
    expression = calls[-1]["UpdateExpression"]
    assert "if_not_exists" in expression and "list_append" in expression
    assert "REMOVE" in expression
    assert await collection.find_one({"_id": "a"}) == {
        "_id": "a", "n": 3, "l": [1, 2], "m": {"x": 5}, "new": True
    }  # fmt: skip
    # $mul needs the engine: the changed attribute is written, guarded by its old value.
    await collection.update_one({"_id": "a"}, {"$mul": {"n": 1.5}})
    assert "#n" in calls[-1]["ConditionExpression"]
    assert (await collection.find_one({"_id": "a"}))["n"] == 4.5


async def test_unchanged_documents_are_not_written(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    collection = store.collection("same")
    await collection.insert_one({"_id": "a", "n": 1, "m": {"x": [1, 2]}})
    table = store.table_name("same")
    before = await store.client.get_item(TableName=table, Key={"_id": {"S": "a"}})
    for update in ({"$set": {"n": 1}}, {"$set": {"m": {"x": [1, 2]}}}, {"$unset": {"zz": ""}}):
        result = await collection.update_one({"_id": "a"}, update)
        assert (result.matched_count, result.modified_count) == (1, 0), update
    # The one UpdateItem sent by key is conditioned on something changing: it failed, and the
    # item (its version included) is as it was.
    after = await store.client.get_item(TableName=table, Key={"_id": {"S": "a"}})
    assert after["Item"] == before["Item"]


async def test_concurrent_updates_stay_atomic_per_document(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("counters")
    await collection.insert_one({"_id": "c", "inc": 0, "mul": 1})
    await asyncio.gather(
        *(collection.update_one({"_id": "c"}, {"$inc": {"inc": 1}}) for _ in range(20))
    )
    await asyncio.gather(
        *(collection.update_one({"_id": "c"}, {"$mul": {"mul": 2}}) for _ in range(5))
    )
    assert await collection.find_one({"_id": "c"}) == {"_id": "c", "inc": 20, "mul": 32}


async def test_a_document_that_stops_matching_is_not_deleted(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    collection = store.collection("race")
    await collection.insert_one({"_id": "a", "state": "old"})
    original = store.client.delete_item

    async def changed_meanwhile(**kwargs: Any) -> Any:
        await store.client.update_item(
            TableName=kwargs["TableName"],
            Key=kwargs["Key"],
            UpdateExpression="SET #s = :v",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":v": {"S": "new"}},
        )
        return await original(**kwargs)

    monkeypatch.setattr(store.client, "delete_item", changed_meanwhile)
    result = await collection.delete_many({"state": "old"})
    assert result.deleted_count == 0
    monkeypatch.setattr(store.client, "delete_item", original)
    assert (await collection.find_one({"_id": "a"}))["state"] == "new"


async def test_key_attributes_cannot_be_changed(dynamodb: Factory) -> None:
    store = await dynamodb(
        collections={"events": {"partition_key": "tenant", "sort_key": "seq", "sort_key_type": "N"}}
    )
    collection = store.collection("events")
    await collection.insert_one({"_id": "e1", "tenant": "acme", "seq": 1})
    with pytest.raises(UnsupportedQueryError, match="'seq'"):
        await collection.update_one({"tenant": "acme", "seq": 1}, {"$set": {"seq": 2}})


# -- key schemas and indexes --------------------------------------------------------------


async def test_a_configured_key_schema_queries_in_sort_key_order(dynamodb: Factory) -> None:
    store = await dynamodb(
        collections={
            "events": {
                "partition_key": "tenant",
                "sort_key": "seq",
                "sort_key_type": "N",
                "indexes": [{"name": "by_kind", "partition_key": "kind"}],
            }
        }
    )
    collection = store.collection("events")
    await collection.insert_many(
        [{"tenant": t, "seq": s, "kind": "ab"[s % 2]} for t in ("x", "y") for s in range(10)]
    )
    found = [
        d["seq"]
        async for d in collection.find(
            {"tenant": "x", "seq": {"$gte": 3}}, sort=[("seq", -1)], limit=2
        )
    ]
    assert found == [9, 8]
    stats = collection.last_plan
    assert stats.plan.operation == "Query" and stats.plan.native_order
    assert stats.items_read == 2
    by_kind = [d async for d in collection.find({"kind": "a"})]
    assert len(by_kind) == 10
    assert collection.last_plan.plan.index == "by_kind"
    assert collection.last_plan.items_read == 10


async def test_create_index_builds_a_queryable_index(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("people")
    await collection.insert_many(
        [
            {"_id": 1, "email": "a@x"},
            {"_id": 2, "email": ["a@x", "b@x"]},
            {"_id": 3, "email": "c@x"},
        ]
    )
    name = await collection.create_index("email")
    assert name == "email_1"
    await collection.insert_one({"_id": 4, "email": "a@x"})
    found = sorted([d["_id"] async for d in collection.find({"email": "a@x"})])
    assert found == [1, 2, 4]  # backfilled, multikey, and new documents
    assert collection.last_plan.plan.index == "email_1"
    assert collection.last_plan.items_read == 3
    await collection.update_one({"_id": 4}, {"$set": {"email": "d@x"}})
    assert sorted([d["_id"] async for d in collection.find({"email": "a@x"})]) == [1, 2]
    indexes = {i.name: i.keys for i in await collection.list_indexes()}
    assert indexes == {"_id_": [("_id", 1)], "email_1": [("email", 1)]}
    await collection.drop_index("email_1")
    assert [i.name for i in await collection.list_indexes()] == ["_id_"]


async def test_a_unique_index_keeps_guard_items_in_one_table(dynamodb: Factory) -> None:
    """One guard item per indexed value, in the store's guard table, moved by updates."""
    store = await dynamodb()
    collection = store.collection("people")
    await collection.insert_one({"_id": 1, "email": "a@x"})
    await collection.create_index("email", unique=True)
    guards = await store.client.scan(TableName=store.guard_table)
    values = sorted(item["value"]["S"] for item in guards["Items"] if "value" in item)
    assert values == ['["a@x"]']
    await collection.update_one({"_id": 1}, {"$set": {"email": "b@x"}})
    guards = await store.client.scan(TableName=store.guard_table)
    values = sorted(item["value"]["S"] for item in guards["Items"] if "value" in item)
    assert values == ['["b@x"]']
    assert "__lx_unique" not in await store.list_collections()
    await collection.drop_index("email_1")
    guards = await store.client.scan(TableName=store.guard_table)
    assert [item for item in guards["Items"] if "value" in item] == []


# -- lifecycle and health -----------------------------------------------------------------


async def test_health_reports_latency(dynamodb: Factory) -> None:
    store = await dynamodb()
    health = await store.health_check()
    assert health.status == "pass"
    assert health.latency_ms > 0 and "round_trip_ms" in health.details


async def test_an_unreachable_endpoint_is_a_connection_error() -> None:
    entry = settings("down")
    entry["dynamodb"]["endpoint_url"] = "http://127.0.0.1:9"
    entry["connect_timeout_s"] = 2
    store = create_store(entry)
    from lexigram_nosql.errors import NoSQLConnectionError

    with pytest.raises(NoSQLConnectionError, match=r"127\.0\.0\.1:9"):
        await store.connect()


async def test_secrets_stay_out_of_the_repr() -> None:
    store = create_store(settings("repr"))
    assert "lexigramtestsecret" not in repr(store)
    assert "127.0.0.1" in repr(store)


async def test_missing_tables_are_created_only_on_write(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("lazy")
    assert await collection.find_one({}) is None
    assert await store.list_collections() == []
    await collection.insert_one({"_id": 1})
    assert await store.list_collections() == ["lazy"]


async def test_create_tables_off_refuses_writes_to_a_missing_table(dynamodb: Factory) -> None:
    from lexigram_nosql.errors import ConfigurationError

    store = await dynamodb(create_tables=False)
    with pytest.raises(ConfigurationError, match="create_tables"):
        await store.collection("nope").insert_one({"_id": 1})


def test_a_missing_aioboto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from lexigram_nosql.errors import ConfigurationError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "aioboto3" else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=r"lexigram-nosql\[dynamodb\]"):
        create_store(settings("noboto"))


def test_creating_a_store_imports_no_driver() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from lexigram_nosql import create_store; "
        "create_store({'name': 'x', 'driver': 'dynamodb'}); "
        "print(any(m.split('.')[0] in ('aioboto3', 'botocore') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_non_string_ids_match_inside_pushed_filters(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("ids")
    await collection.insert_many([{"_id": 3}, {"_id": 7.5}, {"_id": "a", "x": 1}, {"_id": True}])
    found = [d["_id"] async for d in collection.find({"$or": [{"_id": 3}, {"x": 1}]})]
    assert sorted(found, key=str) == [3, "a"]
    assert sorted([d["_id"] async for d in collection.find({"_id": {"$lt": 8}})]) == [3, 7.5]
    assert [d["_id"] async for d in collection.find({"_id": {"$gte": "a"}})] == ["a"]


async def test_concurrent_new_fields_all_land_in_document_order(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("fields")
    await collection.insert_one({"_id": "d", "a": 1})
    await asyncio.gather(
        *(collection.update_one({"_id": "d"}, {"$set": {f"f{i}": i}}) for i in range(6))
    )
    document = await collection.find_one({"_id": "d"})
    assert document is not None
    assert list(document)[:2] == ["_id", "a"]
    assert sorted(list(document)[2:]) == [f"f{i}" for i in range(6)]
    await collection.update_one({"_id": "d"}, {"$unset": {"a": 1}})
    await collection.update_one({"_id": "d"}, {"$set": {"a": 2}})
    assert list(await collection.find_one({"_id": "d"}) or {})[-1] == "a"  # re-added: last


async def test_update_many_writes_a_bounded_number_at_once(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    collection = await people(store, 40)
    original = store.client.update_item
    in_flight = peak = 0

    async def counting(**kwargs: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(**kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(store.client, "update_item", counting)
    result = await collection.update_many({"team": "a"}, {"$inc": {"n": 100}})
    assert (result.matched_count, result.modified_count) == (20, 20)
    assert 1 < peak <= 16
    assert await collection.count_documents({"n": {"$gte": 100}}) == 20
    deleted = await collection.delete_many({"n": {"$gte": 100}})
    assert deleted.deleted_count == 20


async def test_projections_read_only_the_attributes_needed(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    store = await dynamodb()
    collection = store.collection("wide")
    await collection.insert_many(
        [{"_id": i, "a": {"x": i, "y": 0}, "b": [i], "big": "z" * 1000} for i in range(5)]
    )
    calls = spy(store, "scan", monkeypatch)
    found = [
        d
        async for d in collection.find({"b": {"$gt": 2}}, projection={"a.x": 1}, sort=[("_id", -1)])
    ]
    assert found == [{"_id": 4, "a": {"x": 4}}, {"_id": 3, "a": {"x": 3}}]
    names = set(calls[-1]["ExpressionAttributeNames"].values())
    assert {"a", "b", "_id"} <= names and "big" not in names
    assert await collection.distinct("a.x", {"b": {"$lt": 2}}) == [0, 1]
    assert "big" not in calls[-1]["ExpressionAttributeNames"].values()


async def test_generated_ids_skip_the_existence_lookup(dynamodb: Factory, monkeypatch: Any) -> None:
    store = await dynamodb()
    collection = store.collection("gen")
    await collection.insert_one({"_id": "warm"})
    lookups = spy(store, "batch_get_item", monkeypatch)
    result = await collection.insert_many([{"n": i} for i in range(30)])
    assert lookups == []
    assert len(set(result.inserted_ids)) == 30
    await collection.insert_many([{"n": 1}, {"_id": "chosen"}])
    assert len(lookups) == 1
    assert lookups[0]["RequestItems"][store.table_name("gen")]["Keys"] == [{"_id": {"S": "chosen"}}]


async def test_migration_bookkeeping_reads_by_key_never_scans(
    dynamodb: Factory, caplog: Any
) -> None:
    """status, apply and rollback read ``_migrations`` (records, catalog, lock) by key: they
    run with ``allow_scan: false``, and a data step that does scan warns about its own
    collection only."""
    from lexigram_nosql.migrations import AddField, MigrationContext, MigrationManager

    store = await dynamodb(allow_scan=False)
    users = store.collection("users")
    await users.insert_many([{"_id": f"u{i}", "n": i} for i in range(3)])

    async def up(ctx: MigrationContext) -> None:
        await ctx.collection("users").update_one({"_id": "u1"}, {"$set": {"vip": True}})

    async def down(ctx: MigrationContext) -> None:
        await ctx.collection("users").update_one({"_id": "u1"}, {"$unset": {"vip": ""}})

    manager = MigrationManager(store=store)
    manager.add(up, id="1", down=down, name="vip")
    assert [s.state for s in await manager.status()] == ["pending"]
    assert [r.action for r in await manager.apply()] == ["applied"]
    assert [s.state for s in await manager.status()] == ["applied"]
    unregistered = MigrationManager(store=store)  # finds what is recorded through the catalog
    assert [(s.id, s.registered) for s in await unregistered.status()] == [("1", False)]
    assert [r.action for r in await manager.rollback()] == ["rolled_back"]
    assert await unregistered.status() == []
    assert (await users.find_one({"_id": "u1"})) == {"_id": "u1", "n": 1}

    scanning = await dynamodb()
    await scanning.collection("users").insert_many([{"_id": f"u{i}"} for i in range(3)])
    caplog.set_level(logging.WARNING)
    manager = MigrationManager(store=scanning, batch_size=2)
    manager.add(AddField("users", "role", default="member"))
    await manager.apply()
    await manager.status()
    assert "collection users" in caplog.text, "the data step's own scan is reported"
    assert "_migrations" not in caplog.text


async def test_a_guard_whose_document_is_gone_is_taken_over(dynamodb: Factory) -> None:
    """DynamoDB's TTL deletes items without their guards: the next writer of the value finds
    the owner gone, deletes the stale guard and writes."""
    store = await dynamodb()
    collection = store.collection("people")
    await collection.create_index("email", unique=True)
    await collection.insert_one({"_id": "p1", "email": "a@x"})
    await store.client.delete_item(TableName=store.table_name("people"), Key={"_id": {"S": "p1"}})
    await collection.insert_one({"_id": "p2", "email": "a@x"})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": "p3", "email": "a@x"})


async def test_a_ttl_index_uses_dynamodb_time_to_live(dynamodb: Factory) -> None:
    """expire_after_seconds: DynamoDB's TTL on a hidden epoch-seconds attribute, computed
    from the earliest date at the path (kept up to date by every write)."""
    store = await dynamodb()
    collection = store.collection("sessions")
    at = datetime(2030, 1, 1, tzinfo=UTC)
    await collection.insert_one({"_id": "old", "at": at})
    assert await collection.create_index("at", expire_after_seconds=60) == "at_1"
    described = await store.client.describe_time_to_live(TableName=store.table_name("sessions"))
    assert described["TimeToLiveDescription"]["AttributeName"] == "__lx:ttl"

    async def expiry(key: str) -> str | None:
        item = await store.client.get_item(
            TableName=store.table_name("sessions"), Key={"_id": {"S": key}}
        )
        return item["Item"].get("__lx:ttl", {}).get("N")

    assert await expiry("old") == str(int(at.timestamp()) + 60)  # backfilled
    await collection.insert_one({"_id": "new", "at": [at, at - timedelta(days=1)], "n": 1})
    assert await expiry("new") == str(int(at.timestamp()) - 86400 + 60)  # the earliest date
    await collection.update_one({"_id": "new"}, {"$set": {"at": at + timedelta(seconds=5)}})
    assert await expiry("new") == str(int(at.timestamp()) + 65)
    await collection.update_one({"_id": "new"}, {"$inc": {"n": 1}})
    assert await expiry("new") == str(int(at.timestamp()) + 65)
    listed = {i.name: i.expire_after_seconds for i in await collection.list_indexes()}
    assert listed == {"_id_": None, "at_1": 60}
    assert await collection.create_index("at", expire_after_seconds=60) == "at_1"
    with pytest.raises(InvalidQueryError, match="one time-to-live"):
        await collection.create_index("other", expire_after_seconds=5)
    await collection.drop_index("at_1")
    described = await store.client.describe_time_to_live(TableName=store.table_name("sessions"))
    assert described["TimeToLiveDescription"]["TimeToLiveStatus"] in ("DISABLED", "DISABLING")


async def test_a_partial_ttl_index_gives_an_expiry_only_to_matching_documents(
    dynamodb: Factory,
) -> None:
    store = await dynamodb()
    collection = store.collection("sessions")
    at = datetime(2030, 1, 1, tzinfo=UTC)
    await collection.insert_many([{"_id": "g", "at": at, "guest": True}, {"_id": "m", "at": at}])
    await collection.create_index(
        "at", expire_after_seconds=60, partialFilterExpression={"guest": True}
    )

    async def expiry(key: str) -> str | None:
        item = await store.client.get_item(
            TableName=store.table_name("sessions"), Key={"_id": {"S": key}}
        )
        return item["Item"].get("__lx:ttl", {}).get("N")

    assert (await expiry("g"), await expiry("m")) == (str(int(at.timestamp()) + 60), None)
    await collection.update_one({"_id": "m"}, {"$set": {"guest": True}})  # moves in
    await collection.update_one({"_id": "g"}, {"$unset": {"guest": ""}})  # moves out
    assert (await expiry("g"), await expiry("m")) == (None, str(int(at.timestamp()) + 60))
    listed = {i.name: i for i in await collection.list_indexes()}
    assert listed["at_1"].partial_filter_expression == {"guest": True}


# -- writes by key in one request (direct.py) ------------------------------------------------


def requests(store: Any) -> list[str]:
    """The name of every DynamoDB request the store's client sends from now on."""
    sent: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        sent.append(model.name)

    store.client.meta.events.register("before-call.dynamodb", record)
    return sent


async def test_writes_by_key_are_one_request(dynamodb: Factory) -> None:
    store = await dynamodb()
    collection = store.collection("keyed")
    await collection.insert_one({"_id": "k", "n": 1, "s": "x", "f": 0.5})
    sent = requests(store)
    result = await collection.update_one({"_id": "k"}, {"$inc": {"n": 2}, "$set": {"s": "y"}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert sent == ["UpdateItem"]
    sent.clear()
    result = await collection.update_one({"_id": "k"}, {"$set": {"s": "y"}})
    assert (result.matched_count, result.modified_count) == (1, 0)
    result = await collection.update_one({"_id": "nope"}, {"$set": {"s": "y"}})
    assert (result.matched_count, result.modified_count) == (0, 0)
    # Nothing to change, or no such document: the condition fails, one read tells which.
    assert sent == ["UpdateItem", "GetItem", "UpdateItem", "GetItem"]
    sent.clear()
    after = await collection.find_one_and_update(
        {"_id": "k"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
    )
    assert after == {"_id": "k", "n": 4, "s": "y", "f": 0.5}
    assert await collection.replace_one({"_id": "k"}, {"n": 0, "f": 0.25}) is not None
    before = await collection.find_one_and_delete({"_id": "k"})
    assert before == {"_id": "k", "n": 0, "f": 0.25}
    assert (await collection.delete_one({"_id": "k"})).deleted_count == 0
    assert sent == ["UpdateItem", "PutItem", "DeleteItem", "DeleteItem"]


async def test_float_arithmetic_and_new_fields_take_the_read(dynamodb: Factory) -> None:
    """$inc onto a float field (binary arithmetic) and a new field (field order) read first."""
    store = await dynamodb()
    collection = store.collection("keyed")
    await collection.insert_one({"_id": "k", "f": 0.57})
    sent = requests(store)
    await collection.update_one({"_id": "k"}, {"$inc": {"f": 1}})
    assert sent == ["UpdateItem", "GetItem", "UpdateItem"]
    sent.clear()
    await collection.update_one({"_id": "k"}, {"$set": {"new": 1}})
    assert sent == ["UpdateItem", "GetItem", "UpdateItem"]
    assert await collection.find_one({"_id": "k"}) == {
        "_id": "k",
        "f": 1.5699999999999998,
        "new": 1,
    }


async def test_updates_by_key_without_set_ask_for_nothing_back(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    """Only a $set needs the old values (did it change anything?); for $inc, $unset and
    $currentDate the condition holding already says, so no attributes come back to parse."""
    store = await dynamodb()
    collection = store.collection("keyed")
    await collection.insert_one({"_id": "k", "n": 1, "s": "x", "gone": 1})
    calls = spy(store, "update_item", monkeypatch)

    async def counts(update: dict[str, Any]) -> tuple[int, int]:
        result = await collection.update_one({"_id": "k"}, update)
        return result.matched_count, result.modified_count

    assert await counts({"$inc": {"n": 1}}) == (1, 1)
    assert await counts({"$inc": {"n": 0}}) == (1, 0)
    assert await counts({"$unset": {"gone": "", "never": ""}}) == (1, 1)
    assert [c.get("ReturnValues") for c in calls] == [None, None, None]
    # The request states only what MongoDB's rules need: the field conditions imply that
    # the document exists, and $inc and the version are ADDs sharing the value 1.
    assert "attribute_exists" not in calls[0]["ConditionExpression"]
    assert calls[0]["UpdateExpression"].startswith("ADD ")
    assert len(calls[0]["ExpressionAttributeValues"]) == 3
    assert await counts({"$set": {"s": "x"}}) == (1, 0)  # unchanged: the read tells
    assert await counts({"$set": {"s": "y"}}) == (1, 1)
    assert calls[-1]["ReturnValues"] == "UPDATED_OLD"
    assert await collection.find_one({"_id": "k"}) == {"_id": "k", "n": 2, "s": "y"}
    assert await counts({"$inc": {"nope": 1}}) == (1, 1)  # a new field: the read, then SET
    assert await counts({"$unset": {"never": ""}}) == (1, 0)


async def test_find_one_by_key_is_one_get_item_checked_here(
    dynamodb: Factory, monkeypatch: Any
) -> None:
    """find_one({"_id": x, ...}) is one GetItem without the streams of find; the rest of
    the filter and the projection still apply."""
    store = await dynamodb()
    collection = await people(store, 3)

    def no_stream(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("find_one by key streamed through _select")

    monkeypatch.setattr(collection, "_select", no_stream)
    sent = requests(store)
    assert await collection.find_one({"_id": "p001"}) == {
        "_id": "p001",
        "n": 1,
        "team": "b",
        "tags": [1],
    }
    assert await collection.find_one({"_id": "p001", "n": 2}) is None
    assert await collection.find_one({"_id": "p001", "n": 1}, projection={"team": 1}) == {
        "_id": "p001",
        "team": "b",
    }
    assert await collection.find_one({"_id": "nope"}) is None
    assert sent == ["GetItem"] * 4
    stats = collection.last_plan
    assert stats.plan.operation == "GetItem"
    assert (stats.requests, stats.items_read, stats.items_returned) == (1, 0, 0)
    await collection.find_one({"_id": "p002"})
    assert (collection.last_plan.items_read, collection.last_plan.items_returned) == (1, 1)
    assert await store.collection("never_written").find_one({"_id": "p001"}) is None


# -- the hidden field order (order.py) ------------------------------------------------------


async def test_items_of_earlier_versions_read_back_and_update_in_order(
    dynamodb: Factory,
) -> None:
    """An item written with the JSON order list of earlier versions (a name since unset by
    key still listed) reads back as before, and takes every kind of update in order."""
    store = await dynamodb()
    collection = store.collection("legacy")
    await collection.insert_one({"_id": "warm"})  # creates the table
    await store.client.put_item(
        TableName=store.table_name("legacy"),
        Item={
            "_id": {"S": "old"},
            "z": {"N": "1"},
            "m": {"M": {"y": {"N": "1"}, "x": {"N": "2"}, "__lx:o": {"S": '["y","x"]'}}},
            "f": {"N": "0.5"},
            "__lx:o": {"S": '["_id","z","gone","m","f"]'},
            "__lx:f": {"SS": ["f"]},
            "__lx:v": {"N": "4"},
        },
    )
    expected = {"_id": "old", "z": 1, "m": {"y": 1, "x": 2}, "f": 0.5}

    def same_order(document: Any, wanted: dict[str, Any]) -> bool:
        return bool(document == wanted and list(document) == list(wanted)) and list(
            document["m"]
        ) == list(wanted["m"])

    assert same_order(await collection.find_one({"_id": "old"}), expected)
    (found,) = [d async for d in collection.find({"z": 1})]
    assert same_order(found, expected)
    sent = requests(store)
    await collection.update_one({"_id": "old"}, {"$unset": {"z": ""}})
    assert sent == ["UpdateItem"]  # by key: the order is not rewritten
    del expected["z"]
    assert same_order(await collection.find_one({"_id": "old"}), expected)
    await collection.update_one({"_id": "old"}, {"$inc": {"f": 1}})  # the float: rewritten
    await collection.update_one({"_id": "old"}, {"$set": {"gone": True, "A": 1}})
    # New fields go last, in MongoDB's processing order (by name).
    after = {"_id": "old", "m": {"y": 1, "x": 2}, "f": 1.5, "A": 1, "gone": True}
    assert same_order(await collection.find_one({"_id": "old"}), after)


async def test_the_order_attribute_is_written_only_when_needed(dynamodb: Factory) -> None:
    """Sorted fields read back sorted without it; a new field that breaks the sorting gets
    one, and $unset by key (no rewrite of the order) leaves the others in place."""
    store = await dynamodb()
    collection = store.collection("ordered")

    async def item(key: str) -> dict[str, Any]:
        response = await store.client.get_item(
            TableName=store.table_name("ordered"), Key={"_id": {"S": key}}
        )
        return dict(response["Item"])

    await collection.insert_one({"_id": "s", "a": 1, "b": {"c": 1, "d": 2}})
    assert "__lx:o" not in await item("s")
    await collection.update_one({"_id": "s"}, {"$set": {"A": 1}})  # sorts before "_id"
    assert "__lx:o" in await item("s")
    document = await collection.find_one({"_id": "s"})
    assert list(document) == ["_id", "a", "b", "A"]
    await collection.insert_one({"_id": "u", "z": 1, "m": 2, "a": 3})
    order = (await item("u"))["__lx:o"]["S"]
    assert len(order) == 5 and not order.startswith("[")
    sent = requests(store)
    await collection.update_one({"_id": "u"}, {"$unset": {"m": ""}})
    assert sent == ["UpdateItem"]
    assert list(await collection.find_one({"_id": "u"})) == ["_id", "z", "a"]
