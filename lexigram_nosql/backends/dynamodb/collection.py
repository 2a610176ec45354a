"""``DynamoCollection``: reads through the planner, writes guarded by what was read."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.dynamodb import indexes
from lexigram_nosql.backends.dynamodb.codec import (
    FLOAT_ID,
    ORDER,
    AttributeValue,
    decode_item,
    new_object_id,
    normalize_value,
)
from lexigram_nosql.backends.dynamodb.direct import (
    delete_by_key,
    differs,
    modify_by_key,
    pinned_key,
    update_by_key,
)
from lexigram_nosql.backends.dynamodb.errors import error_code
from lexigram_nosql.backends.dynamodb.guards import guard_writes
from lexigram_nosql.backends.dynamodb.healing import heals, heals_stream
from lexigram_nosql.backends.dynamodb.planner import (
    Plan,
    PlanStats,
    normalize_filter,
    plan_read,
    query_shape,
)
from lexigram_nosql.backends.dynamodb.tables import TableInfo
from lexigram_nosql.backends.dynamodb.transactions import TransactionBuffer, slot_of
from lexigram_nosql.backends.dynamodb.updates import (
    WriteRequest,
    compile_update,
    delete_request,
    diff_update,
    filter_attributes,
    full_item,
    put_request,
)
from lexigram_nosql.backends.keys import read_back
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import (
    ConcurrencyError,
    DuplicateKeyError,
    UnsupportedQueryError,
    WriteError,
)
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
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.projection import Projection, apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.reads import PlanKind, current_report
from lexigram_nosql.types import Document, FilterDocument, SortSpec

if TYPE_CHECKING:
    from lexigram_nosql.backends.dynamodb.store import DynamoDocumentStore

__all__ = ["DynamoCollection"]

Row = tuple[Mapping[str, AttributeValue], Document]
"""An item as read (for write conditions) with its decoded document."""

_BATCH_WRITE: Final = 25
_BATCH_GET: Final = 100
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_PARALLEL_WRITES: Final = 16
"""How many documents ``update_many``/``delete_many`` write at once."""

Outcome = tuple[Document, Document | None, bool] | None
"""What writing one document did: (before, after, modified), or None when it no longer
matched."""


class DynamoCollection(BaseCollection["DynamoDocumentStore"]):
    """One collection, stored as the table ``{table_prefix}{name}`` (name encoded where
    DynamoDB would refuse it)."""

    def __init__(self, store: DynamoDocumentStore, name: str) -> None:
        super().__init__(store, name)
        self.last_plan: PlanStats | None = None
        """The plan and counters of the latest read on this collection (tests, benchmarks)."""

    # -- planning ------------------------------------------------------------------------

    async def explain(
        self, filter: FilterDocument | None = None, *, sort: SortSpec | None = None
    ) -> Plan:
        """The read ``find(filter, sort=sort)`` would run, without running it."""
        query = FindQuery.build(filter, sort=sort, limits=self._limits)
        async with self._operation("explain"):
            info = await self._info(create=False)
            if info is None:
                return Plan("None", exact=True, native_order=True)
            return self._plan(info, normalize_filter(query.filter.node), query.sort)

    async def _info(self, *, create: bool) -> TableInfo | None:
        return await self._store.table_info(self._name, create=create)

    def _plan(self, info: TableInfo, node: FilterNode, sort: tuple[tuple[str, int], ...]) -> Plan:
        plan = plan_read(node, info, sort)
        if plan.operation == "Scan":
            shape = query_shape(node)
            if not self._store.settings.dynamodb.allow_scan:
                raise UnsupportedQueryError(
                    f"The filter {shape} on collection {self._name!r} of store "
                    f"{self._store.name!r} would scan the whole DynamoDB table and "
                    "dynamodb.allow_scan is off; query on the partition key or an index "
                    "(create_index or dynamodb.collections.<name>.indexes)",
                    backend="dynamodb",
                    operator="scan",
                    store=self._store.name,
                    collection=self._name,
                )
            self._store.warn_scan(self._name, shape)
        return plan

    # -- reading -------------------------------------------------------------------------

    async def _read(
        self,
        info: TableInfo,
        plan: Plan,
        stats: PlanStats,
        page_size: int | None,
        attributes: frozenset[str] | None = None,
    ) -> AsyncGenerator[Row, None]:
        """Every item the plan reads, page by page; only the top-level ``attributes`` when
        given (a ProjectionExpression: less to send and to parse)."""
        report = current_report()
        if report is not None:
            kind: PlanKind = (
                "scan" if plan.operation == "Scan" else "native" if plan.exact else "residual"
            )
            report.note(kind, index=plan.index, counters=stats)
        client = self._store.client
        consistent = self._store.settings.dynamodb.consistent_read
        key_names = info.key_names
        projection: dict[str, Any] = {}
        if attributes:
            names = {f"#p{i}": name for i, name in enumerate(sorted(attributes))}
            projection = {
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
        if plan.operation == "GetItem":
            response = await client.get_item(
                TableName=info.table, Key=plan.keys[0], ConsistentRead=consistent, **projection
            )
            stats.requests += 1
            item = response.get("Item")
            if item:
                stats.items_read += 1
                yield item, decode_item(item, key_names)
            return
        if plan.operation == "BatchGetItem":
            for start in range(0, len(plan.keys), _BATCH_GET):
                keys: list[Any] = list(plan.keys[start : start + _BATCH_GET])
                attempt = 0
                while keys:
                    response = await client.batch_get_item(
                        RequestItems={
                            info.table: {"Keys": keys, "ConsistentRead": consistent, **projection}
                        }
                    )
                    stats.requests += 1
                    for item in response.get("Responses", {}).get(info.table, []):
                        stats.items_read += 1
                        yield item, decode_item(item, key_names)
                    keys = response.get("UnprocessedKeys", {}).get(info.table, {}).get("Keys", [])
                    attempt = await self._backoff(attempt, len(keys), "read")
            return
        if plan.operation not in ("Query", "Scan"):
            return
        method = client.query if plan.operation == "Query" else client.scan
        for request in plan.requests:
            arguments: dict[str, Any] = {"TableName": info.table, **request}
            if projection:
                arguments["ProjectionExpression"] = projection["ProjectionExpression"]
                arguments["ExpressionAttributeNames"] = {
                    **request.get("ExpressionAttributeNames", {}),
                    **projection["ExpressionAttributeNames"],
                }
            if page_size:
                arguments["Limit"] = page_size
            if consistent and "IndexName" not in request:
                arguments["ConsistentRead"] = True
            while True:
                response = await method(**arguments)
                stats.requests += 1
                stats.items_read += int(response.get("ScannedCount", 0))
                for item in response.get("Items", []):
                    yield item, decode_item(item, key_names)
                last_key = response.get("LastEvaluatedKey")
                if not last_key:
                    break
                arguments["ExclusiveStartKey"] = last_key

    async def _backoff(self, attempt: int, pending: int, what: str) -> int:
        """Wait before resending unprocessed items; give up after ``batch_retries``."""
        if not pending:
            return 0
        if attempt >= self._store.settings.dynamodb.batch_retries:
            raise WriteError(
                f"DynamoDB left {pending} items of a batch {what} on collection "
                f"{self._name!r} unprocessed after {attempt} retries (throttled); retry later "
                "or raise the table's capacity",
                store=self._store.name,
                collection=self._name,
            )
        await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        return attempt + 1

    async def _select(
        self,
        info: TableInfo,
        node: FilterNode,
        sort: tuple[tuple[str, int], ...] = (),
        skip: int = 0,
        limit: int = 0,
        batch_size: int | None = None,
        attributes: frozenset[str] | None = None,
    ) -> AsyncGenerator[Row, None]:
        """The matching rows in order, after skip and limit; ``last_plan`` tells the cost.
        With ``attributes``, rows hold only those (never pass such rows to a write)."""
        plan = self._plan(info, node, sort)
        stats = self.last_plan = PlanStats(plan)
        client_sort = bool(sort) and not plan.native_order
        page_size = batch_size
        if page_size is None and limit and plan.exact and not client_sort:
            page_size = skip + limit  # nothing is filtered out after the server: read no more
        transaction: TransactionBuffer | None = self._store.current_transaction()
        source = self._read(info, plan, stats, page_size, attributes)
        exact = plan.exact
        if transaction is not None:
            source = self._overlaid(info, transaction, source)
            exact = False  # the block's own writes are checked by the engine
        pacer = Pacer()  # the residual filter and the sort run on the loop: share it
        async with contextlib.aclosing(source) as rows:
            if not client_sort:
                skipped = returned = 0
                async for row in rows:
                    if pacer.due():
                        await pacer.pause()
                    if not exact and not matches(node, row[1]):
                        continue
                    if skipped < skip:
                        skipped += 1
                        continue
                    stats.items_returned += 1
                    yield row
                    returned += 1
                    if limit and returned >= limit:
                        return
                return
            key = document_sort_key(sort)
            bound = skip + limit if limit else None
            kept: list[Row] = []
            async for row in rows:
                if pacer.due():
                    await pacer.pause()
                if not exact and not matches(node, row[1]):
                    continue
                kept.append(row)
                if bound is not None and len(kept) >= 2 * bound + 64:
                    # A bounded top-k: only the best skip+limit rows can ever be returned.
                    kept.sort(key=lambda r: key(r[1]))
                    del kept[bound:]
        kept = await paced_sort(kept, lambda r: key(r[1]), pacer)
        for row in kept[skip:bound]:
            stats.items_returned += 1
            yield row

    async def _overlaid(
        self, info: TableInfo, transaction: TransactionBuffer, rows: AsyncGenerator[Row, None]
    ) -> AsyncGenerator[Row, None]:
        """Committed rows as the transaction's own writes left them, then the documents it
        inserted; the version of each committed row is remembered for the commit."""
        seen: set[Any] = set()
        async with contextlib.aclosing(rows):
            async for item, document in rows:
                key = info.key_of(item)
                slot = slot_of(info.table, key)
                seen.add(slot)
                if slot not in transaction.overlay:
                    transaction.record_read(info.table, item, key)
                    yield item, document
                    continue
                pending = transaction.overlay[slot]
                if pending is not None:
                    yield pending, decode_item(pending, info.key_names)
        for slot, pending in list(transaction.overlay.items()):
            if slot[0] == info.table and slot not in seen and pending is not None:
                yield pending, decode_item(pending, info.key_names)

    @heals_stream
    async def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        info = await self._info(create=False)
        if info is None:
            self.last_plan = PlanStats(Plan("None", exact=True, native_order=True))
            return
        node = normalize_filter(query.filter.node)
        attributes = None
        if self._store.current_transaction() is None:
            attributes = _read_attributes(info, node, query.projection, query.sort)
        rows = self._select(
            info, node, query.sort, query.skip, query.limit, query.batch_size, attributes
        )
        async with contextlib.aclosing(rows):
            async for _, document in rows:
                yield _project(query.projection, document)

    @heals
    async def _count(self, query: FilterQuery) -> int:
        info = await self._info(create=False)
        if info is None:
            return 0
        node = normalize_filter(query.node)
        plan = self._plan(info, node, ())
        in_transaction = self._store.current_transaction() is not None
        if in_transaction or not plan.exact or plan.operation not in ("Query", "Scan"):
            count = 0
            async with contextlib.aclosing(self._select(info, node)) as rows:
                async for _ in rows:
                    count += 1
            return count
        stats = self.last_plan = PlanStats(plan)
        method = self._store.client.query if plan.operation == "Query" else self._store.client.scan
        total = 0
        for request in plan.requests:
            arguments: dict[str, Any] = {"TableName": info.table, "Select": "COUNT", **request}
            while True:
                response = await method(**arguments)
                stats.requests += 1
                stats.items_read += int(response.get("ScannedCount", 0))
                total += int(response.get("Count", 0))
                last_key = response.get("LastEvaluatedKey")
                if not last_key:
                    break
                arguments["ExclusiveStartKey"] = last_key
        stats.items_returned = total
        return total

    async def _reread(self, info: TableInfo, item: Mapping[str, AttributeValue]) -> Row | None:
        response = await self._store.client.get_item(
            TableName=info.table, Key=info.key_of(item), ConsistentRead=True
        )
        fresh = response.get("Item")
        return (fresh, decode_item(fresh, info.key_names)) if fresh else None

    async def _first(self, info: TableInfo, node: FilterNode, sort: Any = ()) -> Row | None:
        async with contextlib.aclosing(self._select(info, node, sort, 0, 1)) as rows:
            async for row in rows:
                return row
        return None

    async def _all(self, info: TableInfo, node: FilterNode) -> list[Row]:
        async with contextlib.aclosing(self._select(info, node)) as rows:
            return [row async for row in rows]

    # -- inserting -----------------------------------------------------------------------

    @heals
    async def _insert(self, documents: list[Document]) -> list[Any]:
        info = await self._store.created_table(self._name)
        prepared = [d if "_id" in d else {"_id": new_object_id(), **d} for d in documents]
        # Every document is encoded (and refused if it must be) before anything is sent.
        writes = [
            self._guarded(info, put_request(info, d, purpose="insert"), None, d) for d in prepared
        ]
        ids = [read_back(d["_id"], backend="dynamodb") for d in prepared]
        if len(writes) == 1 or info.uniques or self._store.current_transaction() is not None:
            for position, write in enumerate(writes):
                try:
                    await self._send_insert(write)
                except WriteError as exc:
                    exc.request_index = position
                    raise
            return ids
        # A generated _id is new by construction: only keys the caller chose are looked up.
        fresh = ["_id" not in d and "_id" in (info.partition_key, info.sort_key) for d in documents]
        await self._insert_batch(info, writes, fresh)
        return ids

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
            key=key,
            store=self._store.name,
            collection=self._name,
        )

    async def _insert_batch(
        self, info: TableInfo, writes: list[WriteRequest], fresh: list[bool]
    ) -> None:
        """BatchWriteItem cannot carry conditions: existing keys (but ``fresh`` ones) are
        looked up first, and as in MongoDB's ordered insert the documents before a duplicate
        are written."""
        keys = [info.key_of(w.params["Item"]) for w in writes]
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
            if attribute != "_id" and differs(new.get(attribute), document.get(attribute)):
                raise UnsupportedQueryError(
                    f"The update would change {attribute!r}, a key attribute of the DynamoDB "
                    f"table of collection {self._name!r}; delete and insert instead",
                    backend="dynamodb",
                    path=attribute,
                    collection=self._name,
                )
        if not differs(new, document):
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
        for _ in range(self._store.settings.dynamodb.conflict_retries + 1):
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
                continue
            old = response.get("Attributes") if response is not None and update else None
            if old is not None and update is not None:
                document = decode_item(old, info.key_names)
                new = normalize_value(apply_update(update, document, now=now))
            return document, new, True
        raise ConcurrencyError(
            f"The document with _id {row[1].get('_id')!r} in collection {self._name!r} kept "
            f"changing during the update ({self._store.settings.dynamodb.conflict_retries} "
            "retries); retry later",
            key=row[1].get("_id"),
            store=self._store.name,
            collection=self._name,
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

    @heals
    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult:
        info = await self._info(create=upsert)
        if info is None:
            return UpdateResult(0, 0)
        node = normalize_filter(query.node)
        update = _normalize_update(update)
        key = None if multi else self._direct_key(info, node)
        if key is not None:
            direct = await update_by_key(self._store.client, info, key, node, update, utc_now())
            if direct is not None:
                return direct
        guard = filter_attributes(node)
        for _ in range(2):  # an upsert that lost an insert race updates the winner instead
            rows = await self._matching(info, node, multi)
            if rows or not upsert:
                break
            inserted = await self._upsert(info, node, update)
            if inserted is not None:
                return UpdateResult(0, 0, upserted_id=inserted["_id"])
        else:
            raise self._duplicate(upsert_seed(node).get("_id"))
        now = utc_now()
        outcomes = await self._each(
            rows, lambda row: self._modify(info, node, update, row, guard, now)
        )
        done = [outcome for outcome in outcomes if outcome is not None]
        return UpdateResult(len(done), sum(int(outcome[2]) for outcome in done))

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

    @heals
    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        info = await self._info(create=False)
        if info is None:
            return DeleteResult(0)
        node = normalize_filter(query.node)
        key = None if multi or info.uniques else self._direct_key(info, node)
        if key is not None:
            return await delete_by_key(self._store.client, info, key)
        guard = filter_attributes(node)
        rows = await self._matching(info, node, multi)
        now = utc_now()
        outcomes = await self._each(
            rows, lambda row: self._modify(info, node, None, row, guard, now)
        )
        return DeleteResult(sum(outcome is not None for outcome in outcomes))

    @heals
    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        info = await self._info(create=upsert)
        node = normalize_filter(query.filter.node)
        update = _normalize_update(update) if update is not None else None
        guard = filter_attributes(node)
        retries = self._store.settings.dynamodb.conflict_retries
        if info is None:
            return None
        key = self._direct_key(info, node)
        if key is not None:
            done, document = await modify_by_key(
                self._store.client, info, key, node, update, return_document, utc_now()
            )
            if done:
                return _project(query.projection, document) if document is not None else None
        for _ in range(retries + 1):
            row = await self._first(info, node, query.sort)
            if row is None:
                if update is None or not upsert:
                    return None
                inserted = await self._upsert(info, node, update)
                if inserted is None:
                    continue  # inserted concurrently: update that one
                if return_document is ReturnDocument.AFTER:
                    return _project(query.projection, inserted)
                return None
            outcome = await self._modify(info, node, update, row, guard, utc_now(), returning=True)
            if outcome is None:
                continue  # it stopped matching: find the next first match
            before, after, _ = outcome
            chosen = after if return_document is ReturnDocument.AFTER and after else before
            return _project(query.projection, chosen)
        raise ConcurrencyError(
            f"find_one_and_* on collection {self._name!r} kept losing races with other "
            f"writers ({retries} retries); retry later",
            store=self._store.name,
            collection=self._name,
        )

    # -- indexes -------------------------------------------------------------------------

    @heals
    async def _create_index(self, spec: IndexSpec) -> str:
        return await indexes.create_index(self._store, self._name, spec)

    @heals
    async def _list_indexes(self) -> list[IndexInfo]:
        return indexes.list_indexes(await self._info(create=False))

    @heals
    async def _drop_index(self, name: str) -> None:
        await indexes.drop_index(self._store, self._name, name)


def _read_attributes(
    info: TableInfo,
    node: FilterNode,
    projection: Projection | None,
    sort: tuple[tuple[str, int], ...],
) -> frozenset[str] | None:
    """The top-level attributes a projected find needs from DynamoDB: the projected ones,
    those the filter and the sort read, the key and the field order; None for all."""
    if projection is None or not projection.include:
        return None
    filtered = filter_attributes(node)
    if filtered is None:
        return None
    paths = [*projection.paths, *(path for path, _ in sort)]
    needed = {path.split(".", 1)[0] for path in paths} | filtered | info.key_names | {ORDER}
    needed.add(FLOAT_ID)  # tells a float _id (7.0) from an int one
    if projection.include_id:
        needed.add("_id")
    return frozenset(needed)


def _project(projection: Projection | None, document: Document) -> Document:
    return apply_projection(projection, document) if projection is not None else document


def _freeze(key: Mapping[str, AttributeValue]) -> Any:
    return tuple(sorted((name, repr(value)) for name, value in key.items()))


def _normalize_update(update: Update) -> Update:
    """Update operands as DynamoDB stores them (datetimes as ISO strings)."""
    if isinstance(update, ReplacementUpdate):
        return ReplacementUpdate(normalize_value(update.document))
    if not isinstance(update, OperatorUpdate):
        return update  # a pipeline: its result is normalized once computed
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
