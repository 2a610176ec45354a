"""Indexes of a DynamoDB collection: the table key, global secondary indexes from the
configuration, and those ``create_index`` adds on hidden attributes (see ``tables.py``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.dynamodb.codec import decode_item
from lexigram_nosql.backends.dynamodb.errors import error_code
from lexigram_nosql.backends.dynamodb.guards import (
    build_index,
    change_managed,
    drop_guards,
)
from lexigram_nosql.backends.dynamodb.tables import (
    TTL_ATTRIBUTE,
    TableInfo,
    shadow_attribute,
    shadow_values,
    ttl_value,
)
from lexigram_nosql.contracts import IndexInfo
from lexigram_nosql.errors import InvalidQueryError

if TYPE_CHECKING:
    from lexigram_nosql.backends.dynamodb.store import DynamoDocumentStore

__all__ = ["create_index", "drop_index", "list_indexes"]

_BUSY: Final = frozenset({"LimitExceededException", "ResourceInUseException"})
"""UpdateTable's answers while another change of the table's indexes is under way."""


async def create_index(store: DynamoDocumentStore, collection: str, spec: IndexSpec) -> str:
    """Add a global secondary index on the first key of ``spec`` and backfill it; for a
    unique index, first build its guards (``guards.py``), or raise ``DuplicateKeyError``
    with nothing written; a TTL index turns on DynamoDB's time to live instead."""
    if spec.expire_after_seconds is not None:
        await _create_ttl(store, collection, spec)
        if not spec.unique:
            return spec.name
    if spec.partial_filter is not None and not spec.unique:
        await _record_only(store, collection, spec)
        return spec.name
    if spec.sparse and not spec.unique:
        await _record_only(store, collection, spec)  # so it is listed as sparse
    elif not spec.unique:
        # A recorded (sparse) index of this name or keys with other options: refused.
        spec.exists_in((await store.created_table(collection)).managed, collection=collection)
    if spec.unique:
        await _create_unique(store, collection, spec)
    info = await store.created_table(collection)
    if [p for p, _ in spec.keys] == [info.partition_key] and not spec.unique:
        return "_id_" if info.partition_key == "_id" else "primary"
    if spec.unique and spec.keys[0][0] == info.partition_key:
        return spec.name  # queries on the first key already use the table key
    attribute = shadow_attribute(spec.keys)
    for index in info.indexes:
        if index.name == spec.name or index.partition_key == attribute:
            if index.partition_key != attribute:
                raise InvalidQueryError(
                    f"Collection {collection!r} already has an index named {spec.name!r} "
                    "with other keys",
                    collection=collection,
                )
            return spec.name if spec.unique else index.name
    await _update_indexes(
        store,
        info.table,
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": spec.name,
                    "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    await store.wait_table(info.table)
    store.forget_table(collection)
    info = await store.created_table(collection)
    await _backfill(
        store,
        info,
        spec.keys[0][0],
        attribute,
        lambda item: shadow_values(info, decode_item(item, info.key_names)).get(attribute),
    )
    return spec.name


async def _update_indexes(store: DynamoDocumentStore, table: str, **update: Any) -> None:
    """UpdateTable with one secondary-index change. DynamoDB changes one index of a table at a
    time and refuses the others meanwhile, so a change that another process's (or task's)
    change is in the way of waits for the table to be ACTIVE and is sent again, within
    ``table_wait_s``; one the other process already made (the same index) is done."""
    deadline = time.monotonic() + store.settings.dynamodb.table_wait_s
    while True:
        try:
            await store.client.update_table(TableName=table, **update)
            return
        except Exception as exc:
            code = error_code(exc)
            if code == "ValidationException" and "already exists" in str(exc):
                return
            if code not in _BUSY or time.monotonic() > deadline:
                raise
        await store.wait_table(table)


async def _create_unique(store: DynamoDocumentStore, collection: str, spec: IndexSpec) -> None:
    info = await store.created_table(collection)
    if spec.exists_in(info.uniques, collection=collection):
        return
    await build_index(store, collection, info, spec)
    await _record(store, collection, info, spec)


async def _record_only(store: DynamoDocumentStore, collection: str, spec: IndexSpec) -> None:
    """Record an index that needs no guards, so it is listed with its options. A plain
    partial index builds no global secondary index besides: reads never use a partial
    index, since it misses the documents outside its filter, so one would cost every write
    for nothing. A plain sparse one is a global secondary index too (which names no options)."""
    info = await store.created_table(collection)
    if spec.exists_in(info.managed, collection=collection):
        return
    await store.guard_table_ready()
    await _record(store, collection, info, spec)


async def _record(
    store: DynamoDocumentStore, collection: str, info: TableInfo, spec: IndexSpec
) -> None:
    """Add ``spec`` to the table's managed indexes (read again: another process may have
    added one since this one read the list)."""
    managed = await change_managed(
        store,
        collection,
        info.table,
        lambda recorded: (*(s for s in recorded if s.name != spec.name), spec),
    )
    store.remember_managed(collection, managed)


async def _create_ttl(store: DynamoDocumentStore, collection: str, spec: IndexSpec) -> None:
    """Turn on DynamoDB's time to live on the hidden ``TTL_ATTRIBUTE`` and give every
    document its expiry. DynamoDB allows one TTL attribute per table, MongoDB one field per
    TTL index: one TTL index per collection."""
    if len(spec.keys) != 1:
        raise InvalidQueryError(
            f"TTL index {spec.name!r} on collection {collection!r} must have exactly one key "
            "(a date field), as in MongoDB",
            collection=collection,
            operator="expire_after_seconds",
        )
    info = await store.created_table(collection)
    existing = info.ttl
    if existing is not None:
        if (
            existing.keys == spec.keys
            and existing.expire_after_seconds == spec.expire_after_seconds
            and existing.partial_filter == spec.partial_filter
        ):
            return
        raise InvalidQueryError(
            f"Collection {collection!r} already has the TTL index {existing.name!r}; "
            "DynamoDB keeps one time-to-live attribute per table (drop it first)",
            collection=collection,
            operator="expire_after_seconds",
        )
    await store.guard_table_ready()
    await _record(store, collection, info, spec)
    try:
        await store.client.update_time_to_live(
            TableName=info.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    except Exception as exc:
        if "already enabled" not in str(exc).lower():
            raise
    info = await store.created_table(collection)
    await _backfill(
        store,
        info,
        spec.keys[0][0],
        TTL_ATTRIBUTE,
        lambda item: ttl_value(info, decode_item(item, info.key_names)),
    )


async def _backfill(
    store: DynamoDocumentStore,
    info: TableInfo,
    path: str,
    attribute: str,
    value_of: Callable[[dict[str, Any]], Any],
) -> None:
    """Give documents written before an index (a GSI or TTL) its hidden attribute
    (``value_of`` the stored item), each only while the indexed field still holds the value
    read (otherwise its writer has set it)."""
    top = path.split(".", 1)[0]
    arguments: dict[str, Any] = {"TableName": info.table, "ConsistentRead": True}
    while True:
        response = await store.client.scan(**arguments)
        for item in response.get("Items", []):
            value = value_of(item)
            if value is None or item.get(attribute) == value:
                continue
            condition = "#top = :read" if top in item else "attribute_not_exists(#top)"
            values: dict[str, Any] = {":shadow": value}
            if top in item:
                values[":read"] = item[top]
            with contextlib.suppress(Exception):  # changed meanwhile: its writer set it
                await store.client.update_item(
                    TableName=info.table,
                    Key=info.key_of(item),
                    UpdateExpression="SET #shadow = :shadow",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#shadow": attribute, "#top": top},
                    ExpressionAttributeValues=values,
                )
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return
        arguments["ExclusiveStartKey"] = last_key


def list_indexes(info: TableInfo | None) -> list[IndexInfo]:
    """The key (``_id_``) and each global secondary index, with the user's keys."""
    if info is None:
        return []
    primary = [(info.partition_key, 1)] + ([(info.sort_key, 1)] if info.sort_key else [])
    name = "_id_" if primary == [("_id", 1)] else "primary"
    found = [IndexInfo(name, primary, unique=True)]
    managed = {spec.name: spec for spec in info.managed}
    for index in info.indexes:
        if index.name in managed:
            continue
        if index.user_keys is not None:
            keys = list(index.user_keys)
        else:
            keys = [(index.partition_key, 1)]
            keys += [(index.sort_key, 1)] if index.sort_key else []
        found.append(IndexInfo(index.name, keys))
    found.extend(spec.info for spec in info.managed)
    return found


async def drop_index(store: DynamoDocumentStore, collection: str, name: str) -> None:
    """Delete a global secondary index (the table key cannot be dropped)."""
    if name in ("_id_", "primary"):
        raise InvalidQueryError(
            f"The key index of collection {collection!r} cannot be dropped",
            collection=collection,
        )
    info = await store.table_info(collection, create=False)
    dropped = next((s for s in info.managed if s.name == name), None) if info else None
    if info is not None and dropped is not None:
        managed = await change_managed(
            store,
            collection,
            info.table,
            lambda recorded: tuple(spec for spec in recorded if spec.name != name),
        )
        store.remember_managed(collection, managed)
        if dropped.unique:
            await drop_guards(store, info.table, name)
        if dropped.expire_after_seconds is not None:
            await store.client.update_time_to_live(
                TableName=info.table,
                TimeToLiveSpecification={"Enabled": False, "AttributeName": TTL_ATTRIBUTE},
            )
        if all(index.name != name for index in info.indexes):
            return
    if info is None or all(index.name != name for index in info.indexes):
        raise InvalidQueryError(
            f"Collection {collection!r} of store {store.name!r} has no index named {name!r}",
            collection=collection,
        )
    await _update_indexes(
        store, info.table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}]
    )
    store.forget_table(collection)
    await store.wait_table(info.table)
