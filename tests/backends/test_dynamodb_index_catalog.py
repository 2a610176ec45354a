"""The record of a DynamoDB collection's unique and TTL indexes, kept in the guard table so
that every process enforces them: changed by several processes at once, it loses nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support import backend_dynamodb

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture
Factory = Callable[..., Awaitable[Any]]
FIELDS = [f"f{n}" for n in range(4)]


async def names_seen_by_a_new_process(dynamodb: Factory, prefix: str) -> set[str]:
    fresh = await dynamodb(table_prefix=prefix)
    return {index.name for index in await fresh.collection("users").list_indexes()}


async def test_indexes_created_at_once_by_several_processes_are_all_recorded(
    dynamodb: Factory,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    stores = [await dynamodb(table_prefix=prefix) for _ in FIELDS]
    await stores[0].collection("users").insert_one({"_id": "u1"})
    await asyncio.gather(
        *(
            store.collection("users").create_index(field, unique=True)
            for store, field in zip(stores, FIELDS, strict=True)
        )
    )
    assert {f"{field}_1" for field in FIELDS} <= await names_seen_by_a_new_process(
        dynamodb, prefix
    )


async def test_drops_at_once_by_several_processes_are_all_recorded(dynamodb: Factory) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    first = await dynamodb(table_prefix=prefix)
    for field in FIELDS:
        await first.collection("users").create_index(field, unique=True)
    stores = [await dynamodb(table_prefix=prefix) for _ in FIELDS[:2]]
    await asyncio.gather(
        *(
            store.collection("users").drop_index(f"{field}_1")
            for store, field in zip(stores, FIELDS, strict=False)
        )
    )
    seen = await names_seen_by_a_new_process(dynamodb, prefix)
    assert {f"{field}_1" for field in FIELDS} & seen == {f"{field}_1" for field in FIELDS[2:]}
