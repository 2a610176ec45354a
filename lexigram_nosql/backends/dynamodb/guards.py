"""Unique indexes on DynamoDB: guard items in one table per store (see ``backends/unique.py``).

The table ``{table_prefix}__lx_unique`` (hash key ``k``) holds

* one guard item per indexed value: ``k`` is the hash of (table, index, canonical value),
  with the owner's key and the value's text for whoever inspects it;
* one item per collection table listing its unique indexes (``k = "indexes:" + table``),
  read once per process when the collection's table is first described.

A write that adds an indexed value puts its guard under ``attribute_not_exists(k)``, and a
write that drops one deletes it, in the same ``TransactWriteItems`` as the document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.dynamodb.codec import AttributeValue, decode_item
from lexigram_nosql.backends.dynamodb.errors import error_code
from lexigram_nosql.backends.dynamodb.tables import TableInfo
from lexigram_nosql.backends.dynamodb.updates import WriteRequest
from lexigram_nosql.backends.retry import LostRace, retry_lost_races
from lexigram_nosql.backends.unique import (
    duplicate_error,
    entries,
    find_duplicates,
    guard_id,
)

if TYPE_CHECKING:
    from lexigram_nosql.backends.dynamodb.store import DynamoDocumentStore

__all__ = [
    "GUARD_TABLE",
    "build_index",
    "drop_guards",
    "guard_writes",
    "change_managed",
    "forget_managed",
    "load_managed",
]

GUARD_TABLE: Final = "__lx_unique"
"""The guard table's name after the store's ``table_prefix``."""
_BATCH: Final = 25


def _meta_key(table: str) -> dict[str, AttributeValue]:
    return {"k": {"S": f"indexes:{table}"}}


async def load_managed(store: DynamoDocumentStore, table: str) -> tuple[IndexSpec, ...]:
    """The unique and TTL indexes recorded for ``table`` (none without a guard table)."""
    return (await _read_managed(store, table))[0]


async def _read_managed(
    store: DynamoDocumentStore, table: str
) -> tuple[tuple[IndexSpec, ...], int | None]:
    """The recorded indexes and the record's version (None: no record)."""
    try:
        response = await store.client.get_item(
            TableName=store.guard_table, Key=_meta_key(table), ConsistentRead=True
        )
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return (), None
        raise
    item = response.get("Item")
    if not item:
        return (), None
    specs = tuple(IndexSpec.from_json(data) for data in json.loads(item["specs"]["S"]))
    return specs, int(item["v"]["N"]) if "v" in item else 0


async def change_managed(
    store: DynamoDocumentStore,
    collection: str,
    table: str,
    change: Callable[[tuple[IndexSpec, ...]], tuple[IndexSpec, ...]],
) -> tuple[IndexSpec, ...]:
    """Apply ``change`` to the table's recorded indexes, conditioned on the version read, so
    two processes creating or dropping indexes at once both land (the loser reads again)."""

    async def attempt() -> tuple[IndexSpec, ...]:
        recorded, version = await _read_managed(store, table)
        managed = change(recorded)
        # Unchanged since read: still absent, or still there at the version read (a record
        # written before versions existed has none: version 0).
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(k)"}
        if version is not None:
            condition = {
                "ConditionExpression": (
                    "attribute_exists(k) AND (attribute_not_exists(v) OR v = :v)"
                ),
                "ExpressionAttributeValues": {":v": {"N": str(version)}},
            }
        try:
            if managed:
                text = json.dumps([spec.to_json() for spec in managed])
                item = {**_meta_key(table), "t": {"S": table}, "specs": {"S": text}}
                item["v"] = {"N": str((version or 0) + 1)}
                await store.client.put_item(TableName=store.guard_table, Item=item, **condition)
            elif version is not None:
                await store.client.delete_item(
                    TableName=store.guard_table, Key=_meta_key(table), **condition
                )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise LostRace from exc
            raise
        return managed

    return await retry_lost_races(store, "create_index/drop_index", attempt, collection=collection)


async def forget_managed(store: DynamoDocumentStore, table: str) -> None:
    """Delete the table's record (its table is being dropped)."""
    await store.client.delete_item(TableName=store.guard_table, Key=_meta_key(table))


def guard_writes(
    guard_table: str,
    collection: str,
    info: TableInfo,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    owner: Mapping[str, AttributeValue],
) -> tuple[WriteRequest, ...]:
    """The guard puts (conditional: the value is free) and deletes that turn ``old`` into
    ``new`` (None: absent) in every unique index of the table. A guard write's ``key`` is
    ``(collection, index, {path: value})``, for the error that names it."""
    writes: list[WriteRequest] = []
    for spec in info.uniques:
        before = entries(spec, old)
        after = entries(spec, new)
        for text in before.keys() - after.keys():
            key = {"k": {"S": guard_id(info.table, spec.name, text)}}
            params = {"TableName": guard_table, "Key": key}
            writes.append(
                WriteRequest(
                    "Delete", params, "guard", (collection, spec.name, before[text]), key, None
                )
            )
        for text in after.keys() - before.keys():
            key = {"k": {"S": guard_id(info.table, spec.name, text)}}
            item: dict[str, AttributeValue] = {
                **key,
                "t": {"S": info.table},
                "i": {"S": spec.name},
                "value": {"S": text},
                "owner": {"M": dict(owner)},
            }
            params = {
                "TableName": guard_table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(k)",
            }
            shown = (collection, spec.name, after[text])
            writes.append(WriteRequest("Put", params, "guard", shown, key, item))
    return tuple(writes)


async def build_index(
    store: DynamoDocumentStore, collection: str, info: TableInfo, spec: IndexSpec
) -> None:
    """Write the guards of every document, or raise ``DuplicateKeyError`` naming the shared
    values before anything is written."""
    await store.guard_table_ready()
    documents: list[tuple[Any, dict[str, Any]]] = []
    arguments: dict[str, Any] = {"TableName": info.table, "ConsistentRead": True}
    while True:
        response = await store.client.scan(**arguments)
        for item in response.get("Items", []):
            key = info.key_of(item)
            documents.append((json.dumps(key, sort_keys=True), item))
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        arguments["ExclusiveStartKey"] = last
    decoded = [(owner, decode_item(item, info.key_names)) for owner, item in documents]
    duplicates = find_duplicates(spec, decoded)
    if duplicates:
        raise duplicate_error(
            spec.name, duplicates[0], store=store.name, collection=collection, building=True
        )
    single = TableInfo(info.table, info.partition_key, info.partition_type, managed=(spec,))
    items = [
        write.params["Item"]
        for (_, item), (_, document) in zip(documents, decoded, strict=True)
        for write in guard_writes(
            store.guard_table, collection, single, None, document, info.key_of(item)
        )
    ]
    await _batch(store, [{"PutRequest": {"Item": item}} for item in items])


async def drop_guards(store: DynamoDocumentStore, table: str, index: str | None) -> None:
    """Delete the guards of one index of ``table`` (every index when None)."""
    names = {"#t": "t"}
    values: dict[str, Any] = {":t": {"S": table}}
    condition = "#t = :t"
    if index is not None:
        names["#i"] = "i"
        values[":i"] = {"S": index}
        condition += " AND #i = :i"
    arguments: dict[str, Any] = {
        "TableName": store.guard_table,
        "FilterExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "k",
    }
    keys: list[dict[str, Any]] = []
    while True:
        try:
            response = await store.client.scan(**arguments)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return  # no unique index was ever built on this store
            raise
        keys.extend({"k": item["k"]} for item in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        arguments["ExclusiveStartKey"] = last
    await _batch(store, [{"DeleteRequest": {"Key": key}} for key in keys])


async def _batch(store: DynamoDocumentStore, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), _BATCH):
        pending: list[Any] = requests[start : start + _BATCH]
        while pending:
            response = await store.client.batch_write_item(
                RequestItems={store.guard_table: pending}
            )
            pending = response.get("UnprocessedItems", {}).get(store.guard_table, [])
            if pending:
                await asyncio.sleep(0.05)
