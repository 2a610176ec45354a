"""Writes of a DynamoDB collection: inserts (batched where no condition is needed),
updates and deletes of documents read first, each guarded by what was read and retried
when another writer got there first.

A mixin of ``DynamoCollection``, apart so that the collection keeps only the backend hooks;
it reads through ``DynamoReads`` (``reading.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

from lexigram_nosql.backends.dynamodb.codec import (
    AttributeValue,
    decode_item,
    normalize_value,
)
from lexigram_nosql.backends.dynamodb.direct import pinned_key
from lexigram_nosql.backends.dynamodb.errors import error_code
from lexigram_nosql.backends.dynamodb.guards import guard_writes
from lexigram_nosql.backends.dynamodb.planner import Plan, PlanStats, normalize_filter
from lexigram_nosql.backends.dynamodb.reading import DynamoReads, Row
from lexigram_nosql.backends.dynamodb.tables import TableInfo
from lexigram_nosql.backends.dynamodb.transactions import TransactionBuffer, slot_of
from lexigram_nosql.backends.dynamodb.updates import (
    WriteRequest,
    compile_update,
    delete_request,
    diff_update,
    full_item,
    put_request,
)
from lexigram_nosql.backends.object_ids import new_object_id
from lexigram_nosql.backends.retry import LostRace, retry_lost_races
from lexigram_nosql.errors import DuplicateKeyError, UnsupportedQueryError
from lexigram_nosql.query.ast import (
    FilterNode,
    OperatorUpdate,
    PullCondition,
    PushSpec,
    ReplacementUpdate,
    Update,
)
from lexigram_nosql.query.dates import utc_now
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.identity import same_stored
from lexigram_nosql.query.ordering import values_equal
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.types import Document

__all__ = ["DynamoWrites", "Outcome", "normalize_update"]

_BATCH_WRITE: Final = 25
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_PARALLEL_WRITES: Final = 16
"""How many documents ``update_many``/``delete_many`` write at once."""

Outcome = tuple[Document, Document | None, bool] | None
"""What writing one document did: (before, after, modified), or None when it no longer
matched."""


class DynamoWrites(DynamoReads):
    """Inserting, updating and deleting rows found by ``DynamoReads``."""

    # -- inserting -----------------------------------------------------------------------

    async def _send_insert(self, write: WriteRequest) -> None:
        transaction: TransactionBuffer | None = self._store.current_transaction()
        if transaction is not None:
            slot = slot_of(write.params["TableName"], write.item_key or {})
            if transaction.overlay.get(slot) is not None:
                raise self._duplicate(write.key)  # inserted earlier in this transaction
        try:
            await self._store.send(write)
        except Exception as exc:
            if error_code(exc) == _CONDITION_FAILED:
                raise self._duplicate(write.key) from exc
            raise

    def _guarded(
        self,
        info: TableInfo,
        write: WriteRequest,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> WriteRequest:
        """``write`` with the unique-index guard writes that must commit with it."""
        if not info.uniques:
            return write
        new = normalize_value(new) if new is not None else None
        owner = write.item_key or {}
        guards = guard_writes(self._store.guard_table, self._name, info, old, new, owner)
        return dataclasses.replace(write, guards=guards) if guards else write

    def _duplicate(self, key: Any) -> DuplicateKeyError:
        return DuplicateKeyError(
            f"A document with _id {key!r} already exists in collection {self._name!r} of "
            f"store {self._store.name!r}",
            index="_id_",
            key={"_id": key},
            store=self._store.name,
            collection=self._name,
        )

    async def _insert_batch(
        self, info: TableInfo, writes: list[WriteRequest], fresh: list[bool]
    ) -> None:
        """BatchWriteItem cannot carry conditions: existing keys (but ``fresh`` ones) are
        looked up first, and as in MongoDB's ordered insert the documents before a duplicate
        are written."""
        keys = [w.item_key or info.key_of(w.params["Item"]) for w in writes]
        frozen = [_freeze(k) for k in keys]
        stop: int | None = None
        seen: set[Any] = set()
        for position, key in enumerate(frozen):
            if key in seen:
                stop = position
                break
            seen.add(key)
        candidates = keys[:stop] if stop is not None else keys
        chosen = [key for key, new in zip(candidates, fresh, strict=False) if not new]
        existing = await self._existing(info, chosen) if chosen else set()
        for position, key in enumerate(frozen[: len(candidates)]):
            if key in existing:
                stop = position
                break
        items = [w.params["Item"] for w in (writes[:stop] if stop is not None else writes)]
        await self.batch_put(info, items)
        if stop is not None:
            duplicate = self._duplicate(writes[stop].key)
            duplicate.request_index = stop
            raise duplicate

    async def _existing(self, info: TableInfo, keys: list[dict[str, Any]]) -> set[Any]:
        plan = Plan("BatchGetItem", keys=tuple(keys))
        found: set[Any] = set()
        async with contextlib.aclosing(self._read(info, plan, PlanStats(plan), None)) as rows:
            async for item, _ in rows:
                found.add(_freeze(info.key_of(item)))
        return found

    async def batch_put(self, info: TableInfo, items: list[dict[str, Any]]) -> int:
        """Write items with BatchWriteItem, 25 per request, resending unprocessed items with
        exponential backoff. Returns the number of requests sent."""
        sent = 0
        for start in range(0, len(items), _BATCH_WRITE):
            pending: list[Any] = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            attempt = 0
            while pending:
                response = await self._store.client.batch_write_item(
                    RequestItems={info.table: pending}
                )
                sent += 1
                pending = response.get("UnprocessedItems", {}).get(info.table, [])
                attempt = await self._backoff(attempt, len(pending), "write")
        return sent

    # -- updating ------------------------------------------------------------------------

    def _changes(
        self,
        info: TableInfo,
        update: Update,
        row: Row,
        guard: set[str] | None,
        now: datetime,
    ) -> tuple[Document, WriteRequest | None]:
        """The new document and the write that makes it so (None when nothing changes)."""
        item, document = row
        new = normalize_value(apply_update(update, document, now=now))
        for attribute in info.key_names:
            if attribute != "_id" and not values_equal(new.get(attribute), document.get(attribute)):
                raise UnsupportedQueryError(
                    f"The update would change {attribute!r}, a key attribute of the DynamoDB "
                    f"table of collection {self._name!r}; delete and insert instead",
                    backend="dynamodb",
                    path=attribute,
                    collection=self._name,
                )
        if same_stored(new, document):
            return new, None
        if not isinstance(update, OperatorUpdate):  # a replacement or a pipeline
            write = put_request(info, new, purpose="update", old_item=item, guard=guard)
            return new, self._guarded(info, write, document, new)
        compiled = compile_update(info, update, document, item, guard, now)
        if compiled is None:
            return new, self._guarded(info, diff_update(info, item, new, guard), document, new)
        # Encoding the result refuses an oversized document before anything is sent. An
        # atomic update never touches a unique index's paths (compile_update leaves those
        # to the diff), so it needs no guards.
        return new, dataclasses.replace(compiled, item=full_item(info, new, item))

    async def _modify(
        self,
        info: TableInfo,
        node: FilterNode,
        update: Update | None,
        row: Row,
        guard: set[str] | None,
        now: datetime,
        *,
        returning: bool = False,
    ) -> Outcome:
        """Update (or delete) one document, re-reading and retrying when another writer
        changed it since it was read. Returns (before, after, modified), or None when the
        document no longer matches.

        An update compiled to atomic expressions (``ADD``, ``list_append``) is guarded only by
        the filter's attributes, so another writer may have changed the document since it was
        read; with ``returning`` the documents returned are then rebuilt from the item as it
        was just before this write (``ReturnValues=ALL_OLD``), never from the stale read."""
        if info.uniques and guard is not None:
            # The guards moved are those of the values read: the write holds only while
            # the indexed attributes still have them.
            guard = guard | {path.split(".", 1)[0] for path in info.unique_paths}

        async def attempt() -> Outcome:
            nonlocal row
            item, document = row
            if update is None:
                write: WriteRequest | None = delete_request(info, item, guard, document.get("_id"))
                write = self._guarded(info, write, document, None) if write else None
                new: Document | None = None
            else:
                new, write = self._changes(info, update, row, guard, now)
            if write is None:
                return document, new, False
            if returning and update is not None and write.action == "Update" and not write.guards:
                params = {**write.params, "ReturnValues": "ALL_OLD"}
                write = dataclasses.replace(write, params=params)
            try:
                response = await self._store.send(write)
            except Exception as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise
                fresh = await self._reread(info, item)
                if fresh is None or not matches(node, fresh[1]):
                    return None
                row = fresh
                raise LostRace from exc
            old = response.get("Attributes") if response is not None and update else None
            if old is not None and update is not None:
                document = decode_item(old, info.key_names)
                new = normalize_value(apply_update(update, document, now=now))
            return document, new, True

        operation = "delete" if update is None else "update"
        return await retry_lost_races(
            self._store, operation, attempt, collection=self._name, key=row[1].get("_id")
        )

    async def _upsert(self, info: TableInfo, node: FilterNode, update: Update) -> Document | None:
        """Insert the upsert document; None when another writer inserted the key first."""
        now = utc_now()
        seed = upsert_seed(node)
        new: Document = normalize_value(apply_update(update, seed, inserting=True, now=now))
        if "_id" not in new:
            new = {"_id": new_object_id(), **new}
        write = self._guarded(info, put_request(info, new, purpose="insert"), None, new)
        try:
            await self._store.send(write)
        except Exception as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return None
            raise
        return new

    # -- one request when the filter pins the key (direct.py) -----------------------------

    def _direct_key(self, info: TableInfo, node: FilterNode) -> dict[str, AttributeValue] | None:
        if self._store.current_transaction() is not None:
            return None
        return pinned_key(info, node)

    async def _each(
        self, rows: list[Row], write: Callable[[Row], Awaitable[Outcome]]
    ) -> list[Outcome]:
        """Write every row, each on its own (a few at a time outside a transaction, in order
        inside one); the first error is raised once every write has finished."""
        if len(rows) < 2 or self._store.current_transaction() is not None:
            return [await write(row) for row in rows]
        limit = asyncio.Semaphore(_PARALLEL_WRITES)

        async def bounded(row: Row) -> Outcome:
            async with limit:
                return await write(row)

        results = await asyncio.gather(*(bounded(row) for row in rows), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if not isinstance(r, BaseException)]

    async def _matching(self, info: TableInfo, node: FilterNode, multi: bool) -> list[Row]:
        if multi:
            return await self._all(info, node)
        first = await self._first(info, node)
        return [first] if first is not None else []


def _freeze(key: Mapping[str, AttributeValue]) -> Any:
    return tuple(sorted((name, repr(value)) for name, value in key.items()))


_STORED_AS_GIVEN: Final = frozenset({str, int, float, bool, type(None), bytes})
"""Operand types ``normalize_value`` returns unchanged."""


def normalize_update(update: Update) -> Update:
    """Update operands as DynamoDB stores them (datetimes as ISO strings)."""
    if isinstance(update, ReplacementUpdate):
        return ReplacementUpdate(normalize_value(update.document))
    if not isinstance(update, OperatorUpdate):
        return update  # a pipeline: its result is normalized once computed
    if (
        not update.array_filters
        and update.query is None
        and all(type(field.operand) in _STORED_AS_GIVEN for field in update.fields)
    ):
        return update  # the usual $set/$inc of plain values: nothing to normalize
    fields = []
    for field in update.fields:
        operand = field.operand
        if isinstance(operand, PushSpec):
            operand = PushSpec(
                tuple(normalize_value(v) for v in operand.each),
                operand.position,
                operand.slice,
                operand.sort,
            )
        elif isinstance(operand, PullCondition):
            operand = PullCondition(
                normalize_value(operand.value),
                normalize_filter(operand.clause) if operand.clause is not None else None,
            )
        elif isinstance(operand, tuple):
            operand = tuple(normalize_value(v) for v in operand)
        elif not isinstance(operand, str):
            operand = normalize_value(operand)
        fields.append(type(field)(field.op, field.path, operand))
    query = update.query
    return dataclasses.replace(
        update,
        fields=tuple(fields),
        array_filters=tuple((n, normalize_filter(f)) for n, f in update.array_filters),
        query=normalize_filter(query) if query is not None else None,
    )
