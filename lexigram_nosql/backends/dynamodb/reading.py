"""Reads of a DynamoDB collection: plans run page by page, the residual filter, sort,
skip and limit applied on the loop, and a transaction's own writes overlaid.

A mixin of ``DynamoCollection``, apart so that the collection keeps only the backend hooks;
the writes (``writing.py``) read through it to find what they change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import BaseCollection
from lexigram_nosql.backends.dynamodb.codec import (
    FLOAT_ID,
    FLOATS,
    LIST_FLOATS,
    ORDER,
    AttributeValue,
    decode_item,
)
from lexigram_nosql.backends.dynamodb.planner import Plan, PlanStats, plan_read, query_shape
from lexigram_nosql.backends.dynamodb.tables import TableInfo
from lexigram_nosql.backends.dynamodb.transactions import TransactionBuffer, slot_of
from lexigram_nosql.backends.dynamodb.updates import filter_attributes
from lexigram_nosql.errors import UnsupportedQueryError, WriteError
from lexigram_nosql.query.ast import FilterNode
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.projection import Projection, apply_projection
from lexigram_nosql.query.requests import FindQuery
from lexigram_nosql.reads import PlanKind, current_report
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.dynamodb.store import DynamoDocumentStore

__all__ = ["DynamoReads", "Row", "project", "read_attributes"]

Row = tuple[Mapping[str, AttributeValue], Document]
"""An item as read (for write conditions) with its decoded document."""

_BATCH_GET: Final = 100


class DynamoReads(BaseCollection["DynamoDocumentStore"]):
    """Planning and reading, shared by the collection's reads and by its writes."""

    def __init__(self, store: DynamoDocumentStore, name: str) -> None:
        super().__init__(store, name)
        self.last_plan: PlanStats | None = None
        """The plan and counters of the latest read on this collection (tests, benchmarks)."""

    # -- planning ------------------------------------------------------------------------

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
        _note(plan, stats)
        client = self._store.client
        consistent = self._store.settings.dynamodb.consistent_read
        key_names = info.key_names
        projection = _projection(attributes)
        if plan.operation == "GetItem":
            row = await self._get(info, plan.keys[0], stats, projection)
            if row is not None:
                yield row
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

    async def _get(
        self,
        info: TableInfo,
        key: dict[str, AttributeValue],
        stats: PlanStats,
        projection: Mapping[str, Any],
    ) -> Row | None:
        """The item with ``key`` (one ``GetItem``), if there is one."""
        response = await self._store.client.get_item(
            TableName=info.table,
            Key=key,
            ConsistentRead=self._store.settings.dynamodb.consistent_read,
            **projection,
        )
        stats.requests += 1
        item = response.get("Item")
        if not item:
            return None
        stats.items_read += 1
        return item, decode_item(item, info.key_names)

    async def _get_one(
        self, info: TableInfo, node: FilterNode, plan: Plan, query: FindQuery
    ) -> Document | None:
        """``find_one`` of a filter (``node``, normalised) planned as one ``GetItem``
        (``{"_id": x}``, maybe with more conditions), outside a transaction: the item read
        and checked here, without the streams of ``_select``."""
        stats = self.last_plan = PlanStats(plan)
        _note(plan, stats)
        attributes = read_attributes(info, node, query.projection, query.sort)
        row = await self._get(info, plan.keys[0], stats, _projection(attributes))
        if row is None or not (plan.exact or matches(node, row[1])):
            return None
        stats.items_returned = 1
        return project(query.projection, row[1])

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


def _note(plan: Plan, stats: PlanStats) -> None:
    """Tell the current read report (``lexigram_nosql.reads``) which plan runs."""
    report = current_report()
    if report is not None:
        kind: PlanKind = (
            "scan" if plan.operation == "Scan" else "native" if plan.exact else "residual"
        )
        report.note(kind, index=plan.index, counters=stats)


def _projection(attributes: frozenset[str] | None) -> dict[str, Any]:
    """The ``ProjectionExpression`` arguments reading only ``attributes`` (all: none)."""
    if not attributes:
        return {}
    names = {f"#p{i}": name for i, name in enumerate(sorted(attributes))}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def read_attributes(
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
    fields = {path.split(".", 1)[0] for path in paths} | filtered
    needed = fields | info.key_names | {ORDER}
    needed.add(FLOAT_ID)  # tells a float _id (7.0) from an int one
    needed.add(FLOATS)  # and where integral floats are (floats.py)
    needed.update(LIST_FLOATS + field for field in fields)
    if projection.include_id:
        needed.add("_id")
    return frozenset(needed)


def project(projection: Projection | None, document: Document) -> Document:
    """``document`` as the find's projection shapes it (whole when there is none)."""
    return apply_projection(projection, document) if projection is not None else document
