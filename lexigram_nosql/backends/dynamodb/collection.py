"""``DynamoCollection``: the backend hooks, reads through the planner (``reading.py``) and
writes guarded by what was read (``writing.py``); the mixins hold the work, the hooks the
order in which a request uses it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.dynamodb import indexes
from lexigram_nosql.backends.dynamodb.direct import delete_by_key, modify_by_key, update_by_key
from lexigram_nosql.backends.dynamodb.healing import heals, heals_stream
from lexigram_nosql.backends.dynamodb.planner import Plan, PlanStats, normalize_filter, plan_read
from lexigram_nosql.backends.dynamodb.reading import project, read_attributes
from lexigram_nosql.backends.dynamodb.updates import filter_attributes, put_request
from lexigram_nosql.backends.dynamodb.writing import DynamoWrites, normalize_update
from lexigram_nosql.backends.keys import read_back
from lexigram_nosql.backends.object_ids import new_object_id
from lexigram_nosql.backends.retry import LostRace, find_one_and_name, retry_lost_races
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import WriteError
from lexigram_nosql.query.ast import Update
from lexigram_nosql.query.dates import utc_now
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import upsert_seed
from lexigram_nosql.types import Document, FilterDocument, SortSpec

__all__ = ["DynamoCollection"]


class DynamoCollection(DynamoWrites):
    """One collection, stored as the table ``{table_prefix}{name}`` (name encoded where
    DynamoDB would refuse it)."""

    _catalog_in_transactions = False  # tables, their indexes and guard builds: outside one

    _KEY_INDEXES = frozenset({"_id_", "primary"})  # "primary": a configured key, not _id

    # -- reading (reading.py) ------------------------------------------------------------

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

    @heals_stream
    async def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        info = await self._info(create=False)
        if info is None:
            self.last_plan = PlanStats(Plan("None", exact=True, native_order=True))
            return
        node = normalize_filter(query.filter.node)
        attributes = None
        if self._store.current_transaction() is None:
            attributes = read_attributes(info, node, query.projection, query.sort)
        rows = self._select(
            info, node, query.sort, query.skip, query.limit, query.batch_size, attributes
        )
        async with contextlib.aclosing(rows):
            async for _, document in rows:
                yield project(query.projection, document)

    async def _find_one(self, query: FindQuery) -> Document | None:
        if self._store.current_transaction() is None:
            done, document = await self._find_one_by_key(query)
            if done:
                return document
        return await super()._find_one(query)

    @heals
    async def _find_one_by_key(self, query: FindQuery) -> tuple[bool, Document | None]:
        """``find_one`` as one ``GetItem`` when its filter pins the key: (done, document);
        not done for any other plan."""
        info = await self._info(create=False)
        if info is None:
            self.last_plan = PlanStats(Plan("None", exact=True, native_order=True))
            return True, None
        node = normalize_filter(query.filter.node)
        plan = plan_read(node, info, query.sort)
        if plan.operation != "GetItem":
            return False, None
        return True, await self._get_one(info, node, plan, query)

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

    # -- writing (writing.py) ------------------------------------------------------------

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
        update = normalize_update(update)
        key = None if multi else self._direct_key(info, node)
        if key is not None:
            direct = await update_by_key(self._store.client, info, key, node, update, utc_now())
            if direct is not None:
                return direct
        guard = filter_attributes(node)

        async def attempt() -> UpdateResult:
            rows = await self._matching(info, node, multi)
            if not rows and upsert:
                inserted = await self._upsert(info, node, update)
                if inserted is not None:
                    return UpdateResult(0, 0, upserted_id=inserted["_id"])
                # Another upsert inserted the key first: update that one, unless the key is
                # taken by a document the filter does not match (MongoDB's duplicate key).
                rows = await self._matching(info, node, multi)
                if not rows:
                    raise self._duplicate(upsert_seed(node).get("_id"))
            now = utc_now()
            outcomes = await self._each(
                rows, lambda row: self._modify(info, node, update, row, guard, now)
            )
            if not multi and rows and outcomes[0] is None:
                raise LostRace  # the match changed meanwhile: update the next first match
            done = [outcome for outcome in outcomes if outcome is not None]
            return UpdateResult(len(done), sum(int(outcome[2]) for outcome in done))

        operation = "update_many" if multi else "update_one"
        return await retry_lost_races(self._store, operation, attempt, collection=self._name)

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

        async def attempt() -> DeleteResult:
            rows = await self._matching(info, node, multi)
            now = utc_now()
            outcomes = await self._each(
                rows, lambda row: self._modify(info, node, None, row, guard, now)
            )
            if not multi and rows and outcomes[0] is None:
                raise LostRace  # the match changed meanwhile: delete the next first match
            return DeleteResult(sum(outcome is not None for outcome in outcomes))

        operation = "delete_many" if multi else "delete_one"
        return await retry_lost_races(self._store, operation, attempt, collection=self._name)

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
        update = normalize_update(update) if update is not None else None
        guard = filter_attributes(node)
        if info is None:
            return None
        key = self._direct_key(info, node)
        if key is not None:
            done, document = await modify_by_key(
                self._store.client, info, key, node, update, return_document, utc_now()
            )
            if done:
                return project(query.projection, document) if document is not None else None

        async def attempt() -> Document | None:
            row = await self._first(info, node, query.sort)
            if row is None:
                if update is None or not upsert:
                    return None
                inserted = await self._upsert(info, node, update)
                if inserted is not None:
                    if return_document is ReturnDocument.AFTER:
                        return project(query.projection, inserted)
                    return None
                row = await self._first(info, node, query.sort)  # inserted concurrently
                if row is None:
                    raise self._duplicate(upsert_seed(node).get("_id"))
            outcome = await self._modify(info, node, update, row, guard, utc_now(), returning=True)
            if outcome is None:
                raise LostRace  # it stopped matching: find the next first match
            before, after, _ = outcome
            chosen = after if return_document is ReturnDocument.AFTER and after else before
            return project(query.projection, chosen)

        operation = find_one_and_name(update)
        return await retry_lost_races(self._store, operation, attempt, collection=self._name)

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
