"""DynamoDB rows of the overhead benchmark: this package against raw aioboto3 (the low-level
client, with boto3's TypeSerializer/TypeDeserializer as its users convert documents), on the
same DynamoDB Local (``scripts/services.sh up dynamodb``) in the same run.

Operations, each side doing the same work over the wire:

* ``insert_many`` of n_insert documents without ``_id`` (ids generated on both sides):
  BatchWriteItem in chunks of 25, unprocessed items resent;
* ``find`` reading n_find documents: a paginated Scan;
* n_get ``find_one`` by ``_id``: GetItem (strongly consistent on both sides);
* n_update ``update_one`` by ``_id`` with ``$inc``: ONE UpdateItem on both sides (raw: ``ADD``
  under ``attribute_exists`` of the key, what a raw-driver user writes; ours: the same with
  MongoDB's type rule as its condition, see ``backends/dynamodb/direct.py``).

Requests per operation are counted on each client with botocore's event hooks.

The bulk rows alternate which side goes first over several rounds, the single-document rows
interleave the sides call by call; the ratio is the median of the paired ratios, so load from
other processes on the machine does not decide it (``_timing``). The raw ``find_one`` timed
against itself (A/A) shows the harness's noise.

    python benchmarks/overhead.py dynamodb
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._timing import A_A, Timing, alternate, botocore_counter, interleave

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT_ENV = "LEXIGRAM_NOSQL_TEST_DYNAMODB_ENDPOINT"
CREDENTIALS = {"aws_access_key_id": "lexigrambench", "aws_secret_access_key": "lexigrambench"}
ROUNDS = 9
CALLS = 6_000
"""Single-document calls per side (``overhead.py``'s default is 2,000), interleaved with the
raw client's call by call (``_timing.interleave``): a GetItem or UpdateItem to DynamoDB Local
takes ~1.2-1.5 ms, 6,000 take ~7-9 s a side."""
KEYED = 100  # documents that lookups and updates by _id address


def endpoint() -> str | None:
    url = os.environ.get(ENDPOINT_ENV)
    if url:
        return url
    env = ROOT / ".services" / "env"
    if env.exists():
        for line in env.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == ENDPOINT_ENV:
                return value.strip()
    return None


async def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port or 80), 1.0
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


_alternate = functools.partial(alternate, rounds=ROUNDS, split=True)
"""Every DynamoDB workload is split across rounds."""


Row = tuple[str, Timing, str]


def _document(i: int) -> dict[str, Any]:
    return {"n": i, "name": f"user {i}", "group": i % 5, "tags": ["a", "b"], "score": i / 4}


async def run(n_insert: int, n_find: int, n_get: int, n_update: int) -> list[Row] | None:
    url = endpoint()
    if url is None or not await _reachable(url):
        return None
    import aioboto3
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    from lexigram_nosql import create_store

    logging.getLogger("lexigram_nosql").setLevel(logging.ERROR)  # the scan warning
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    store: Any = create_store(
        {
            "name": "bench",
            "operation_timeout_s": 600,  # a whole benchmark batch on a loaded machine
            "driver": "dynamodb",
            "dynamodb": {
                "endpoint_url": url,
                "table_prefix": prefix,
                "access_key_id": CREDENTIALS["aws_access_key_id"],
                "secret_access_key": CREDENTIALS["aws_secret_access_key"],
            },
        }
    )
    await store.connect()
    serializer, deserializer = TypeSerializer(), TypeDeserializer()

    def encode(document: dict[str, Any]) -> dict[str, Any]:
        from decimal import Decimal

        def numbers(value: Any) -> Any:
            if isinstance(value, float):
                return Decimal(repr(value))
            if isinstance(value, list):
                return [numbers(v) for v in value]
            return value

        return {k: serializer.serialize(numbers(v)) for k, v in document.items()}

    def decode(item: dict[str, Any]) -> dict[str, Any]:
        return {k: deserializer.deserialize(v) for k, v in item.items()}

    session = aioboto3.Session(region_name="us-east-1", **CREDENTIALS)
    rows: list[Row] = []
    tables: list[str] = []
    try:
        async with session.client("dynamodb", endpoint_url=url) as client:
            counters = (botocore_counter(store.client), botocore_counter(client))
            counted = functools.partial(_alternate, counters=counters)

            async def raw_table(name: str) -> str:
                table = f"{prefix}raw_{name}"
                await client.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": "_id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "_id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
                tables.append(table)
                return table

            async def raw_insert_many(table: str, documents: list[dict[str, Any]]) -> None:
                items = [encode({"_id": uuid.uuid4().hex[:24], **d}) for d in documents]
                for start in range(0, len(items), 25):
                    pending: Any = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
                    while pending:
                        response = await client.batch_write_item(RequestItems={table: pending})
                        pending = response.get("UnprocessedItems", {}).get(table, [])

            # insert_many
            per_round = max(n_insert // ROUNDS, 1)
            docs = [_document(i) for i in range(per_round)]
            ours_inserts = store.collection("inserts")
            await ours_inserts.insert_one({"_id": "warm"})
            raw_inserts = await raw_table("inserts")

            async def ours_insert(r: int) -> None:
                await ours_inserts.insert_many(docs)

            async def raw_insert(r: int) -> None:
                await raw_insert_many(raw_inserts, docs)

            timed = await counted(ours_insert, raw_insert, operations=1)
            rows.append((f"insert_many {per_round * ROUNDS}", timed, ""))

            # find
            found_docs = [_document(i) for i in range(n_find)]
            ours_data = store.collection("data")
            await ours_data.insert_many(found_docs)
            raw_data = await raw_table("data")
            await raw_insert_many(raw_data, found_docs)

            async def ours_find(r: int) -> None:
                async for _ in ours_data.find({}):
                    pass

            async def raw_find(r: int) -> None:
                arguments: dict[str, Any] = {"TableName": raw_data, "ConsistentRead": True}
                while True:
                    response = await client.scan(**arguments)
                    for item in response["Items"]:
                        decode(item)
                    if "LastEvaluatedKey" not in response:
                        return
                    arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

            timed = await counted(ours_find, raw_find, split=False, operations=1)
            rows.append((f"find {n_find} docs", timed, ""))

            # find_one and update_one by _id
            ours_small = store.collection("small")
            raw_small = await raw_table("small")
            keyed = [{"_id": f"k{i}", **_document(i)} for i in range(KEYED)]
            await ours_small.insert_many(keyed)
            for document in keyed:
                await client.put_item(TableName=raw_small, Item=encode(document))

            calls = functools.partial(interleave, counters=counters)

            async def ours_get(i: int) -> None:
                await ours_small.find_one({"_id": f"k{i % KEYED}"})

            async def raw_get(i: int) -> None:
                response = await client.get_item(
                    TableName=raw_small, Key={"_id": {"S": f"k{i % KEYED}"}}, ConsistentRead=True
                )
                decode(response["Item"])

            timed = await calls(ours_get, raw_get, calls=n_get)
            rows.append((f"find_one by _id x{n_get}", timed, ""))
            timed = await interleave(raw_get, raw_get, calls=n_get)
            rows.append((f"find_one by _id x{n_get}, raw vs raw", timed, A_A))

            async def ours_update(i: int) -> None:
                await ours_small.update_one({"_id": f"k{i % KEYED}"}, {"$inc": {"n": 1}})

            async def raw_update(i: int) -> None:
                await client.update_item(
                    TableName=raw_small,
                    Key={"_id": {"S": f"k{i % KEYED}"}},
                    UpdateExpression="ADD #n :one",
                    ConditionExpression="attribute_exists(#k)",
                    ExpressionAttributeNames={"#n": "n", "#k": "_id"},
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )

            timed = await calls(ours_update, raw_update, calls=n_update)
            rows.append((f"update_one $inc x{n_update}", timed, ""))
            for table in tables:
                await client.delete_table(TableName=table)
    finally:
        for collection in await store.list_collections():
            await store.drop_collection(collection)
        await store.disconnect()
    return rows


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    result = asyncio.run(run(3000, 3000, 600, 600))
    if result is None:
        print(f"DynamoDB Local is not reachable ({ENDPOINT_ENV}); run scripts/services.sh up")
    else:
        for name, ours_s, raw_s, _, _ in result:
            ratio = ours_s / raw_s
            print(f"{name:24} ours {ours_s * 1e3:8.1f} ms  raw {raw_s * 1e3:8.1f} ms  x{ratio:.2f}")
