"""DynamoDB rows of the overhead benchmark: this package vs raw aioboto3, same server, same
run (DynamoDB Local from ``scripts/services.sh up dynamodb``).

Each pair does the same work over the wire: an insert refused on an existing key
(``attribute_not_exists``), a get by key, a find of 20 documents, and an update that must say
whether it matched and modified (ours: read + guarded UpdateItem; raw: GetItem + UpdateItem),
with the raw side deserialising items as a user of the low-level client would.

    python benchmarks/overhead_backends/dynamodb.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT_ENV = "LEXIGRAM_NOSQL_TEST_DYNAMODB_ENDPOINT"
CREDENTIALS = {"aws_access_key_id": "lexigrambench", "aws_secret_access_key": "lexigrambench"}


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
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port or 80), 1.0
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _paired(ours: Any, raw: Any, count: int, rounds: int = 50) -> tuple[float, float]:
    """Total seconds of ``count`` calls of each, alternating in rounds so that load on the
    machine weighs on both sides alike."""
    totals = [0.0, 0.0]
    step = max(count // rounds, 1)
    for start in range(0, count, step):
        for side, operation in enumerate((ours, raw)):
            began = time.perf_counter()
            for i in range(start, min(start + step, count)):
                await operation(i)
            totals[side] += time.perf_counter() - began
    return totals[0], totals[1]


async def run(
    n_insert: int, n_find: int, n_get: int, n_update: int
) -> list[tuple[str, float, float]] | None:
    url = endpoint()
    if url is None or not await _reachable(url):
        return None
    import aioboto3
    from boto3.dynamodb.types import TypeDeserializer

    sys.path.insert(0, str(ROOT))
    from lexigram_nosql import create_store

    logging.getLogger("lexigram_nosql").setLevel(logging.ERROR)  # the scan warning
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    store: Any = create_store(
        {
            "name": "bench",
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
    ours = store.collection("ours")
    raw_table = f"{prefix}raw"
    deserializer = TypeDeserializer()

    def decode(item: dict[str, Any]) -> dict[str, Any]:
        return {k: deserializer.deserialize(v) for k, v in item.items()}

    session = aioboto3.Session(region_name="us-east-1", **CREDENTIALS)
    rows: list[tuple[str, float, float]] = []
    try:
        async with session.client("dynamodb", endpoint_url=url) as client:
            await client.create_table(
                TableName=raw_table,
                KeySchema=[{"AttributeName": "_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "_id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            await ours.insert_one({"_id": "warm", "n": 0})  # creates the table

            async def our_insert(i: int) -> None:
                await ours.insert_one({"_id": f"d{i}", "n": i, "name": f"user {i}", "group": i % 5})

            async def raw_insert(i: int) -> None:
                await client.put_item(
                    TableName=raw_table,
                    Item={
                        "_id": {"S": f"d{i}"},
                        "n": {"N": str(i)},
                        "name": {"S": f"user {i}"},
                        "group": {"N": str(i % 5)},
                    },
                    ConditionExpression="attribute_not_exists(#k)",
                    ExpressionAttributeNames={"#k": "_id"},
                )

            rows.append(("insert_one", *await _paired(our_insert, raw_insert, n_insert)))

            async def our_get(i: int) -> None:
                await ours.find_one({"_id": f"d{i % n_insert}"})

            async def raw_get(i: int) -> None:
                response = await client.get_item(
                    TableName=raw_table, Key={"_id": {"S": f"d{i % n_insert}"}}, ConsistentRead=True
                )
                decode(response["Item"])

            rows.append(("find_one by _id", *await _paired(our_get, raw_get, n_get)))

            async def our_find(i: int) -> None:
                [d async for d in ours.find({}, limit=20)]

            async def raw_find(i: int) -> None:
                response = await client.scan(TableName=raw_table, Limit=20, ConsistentRead=True)
                [decode(item) for item in response["Items"]]

            rows.append(("find 20 docs", *await _paired(our_find, raw_find, n_find)))

            async def our_update(i: int) -> None:
                await ours.update_one({"_id": f"d{i % n_insert}"}, {"$inc": {"n": 1}})

            async def raw_update(i: int) -> None:
                key = {"_id": {"S": f"d{i % n_insert}"}}
                await client.get_item(TableName=raw_table, Key=key, ConsistentRead=True)
                await client.update_item(
                    TableName=raw_table,
                    Key=key,
                    UpdateExpression="SET #n = #n + :one",
                    ConditionExpression="attribute_exists(#k)",
                    ExpressionAttributeNames={"#n": "n", "#k": "_id"},
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )

            rows.append(("update_one $inc", *await _paired(our_update, raw_update, n_update)))
            await client.delete_table(TableName=raw_table)
    finally:
        await store.drop_collection("ours")
        await store.disconnect()
    return rows


if __name__ == "__main__":
    result = asyncio.run(run(300, 100, 300, 300))
    if result is None:
        print(
            f"DynamoDB Local is not reachable ({ENDPOINT_ENV}); run scripts/services.sh up dynamodb"
        )
    else:
        for name, ours_s, raw_s in result:
            ratio = ours_s / raw_s
            print(f"{name:16} ours {ours_s * 1e3:8.1f} ms  raw {raw_s * 1e3:8.1f} ms  x{ratio:.2f}")
