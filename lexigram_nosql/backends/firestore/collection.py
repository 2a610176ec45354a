"""``FirestoreCollection``: CRUD on one Firestore collection, exact whatever the filter.

Reads (here) run the planner's branches (``planner.py``) in parallel (their results decoded
from the wire messages, ``wire.py``), merge them by document id and re-check each document
with the shared engine's ``matches``; sort is done here (a
bounded top-k when a limit is given, since Firestore's ``order_by`` drops documents missing the
field and orders types differently from MongoDB). Writes (``writes.py``) outside a transaction
are atomic per document: each is guarded by the update time of the version that was read (or,
for native ``$inc``/``$addToSet`` on an ``_id`` filter, by existence only) and retried on
conflict; a ``$set``/``$unset`` of top-level fields by ``_id`` is sent without a read
(``direct.py``). Index hooks delegate to ``indexes.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import AsyncGenerator, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.firestore import direct, indexes, writes
from lexigram_nosql.backends.firestore.codec import id_from_value
from lexigram_nosql.backends.firestore.merge import merge
from lexigram_nosql.backends.firestore.names import collection_path
from lexigram_nosql.backends.firestore.planner import (
    DOCUMENT_ID,
    Branch,
    QueryPlan,
    id_lookup,
    plan_filter,
)
from lexigram_nosql.backends.firestore.transaction import FirestoreTransaction
from lexigram_nosql.backends.firestore.wire import get_documents, run_query
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.query.ast import Condition, FieldOp, FilterNode, MatchAll, Update
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.projection import apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.reads import current_report
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    # Named in the quoted base class: the store imports this module, not the reverse.
    from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore  # noqa: F401

__all__ = ["FirestoreCollection", "Match"]

logger = logging.getLogger("lexigram_nosql")


@dataclass(frozen=True, slots=True)
class Match:
    """A matching document with the update time of the version read (None when it is a
    transaction's own pending write)."""

    doc_id: str
    update_time: Any
    document: Document


class FirestoreCollection(BaseCollection["FirestoreDocumentStore"]):
    """One Firestore collection (or subcollection, for a path name); ``_id`` is the
    document id."""

    _catalog_in_transactions = False  # index and guard builds, collection drops: outside one

    _cached_reference: tuple[Any, Any] | None = None

    # -- plumbing ------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        return self._store.client

    def _reference(self) -> Any:
        client = self._client
        cached = self._cached_reference
        if cached is None or cached[0] is not client:
            cached = self._cached_reference = (
                client,
                client.collection(collection_path(self._name)),
            )
        return cached[1]

    def _document(self, doc_id: str) -> Any:
        return self._reference().document(doc_id)

    def _transaction(self) -> FirestoreTransaction | None:
        handle = self._store.current_transaction()
        return handle if isinstance(handle, FirestoreTransaction) else None

    # -- reading -------------------------------------------------------------------------
    # What a collection-group reader (``group.py``) changes: where queries run, how a document
    # is keyed, which pending writes of a transaction are visible, and what is pushed down.

    def _pending(self, handle: FirestoreTransaction) -> dict[str, Document | None]:
        """The transaction's own writes visible to this read, by key (the document id)."""
        return handle.writes(self._name)

    def _id_lookup(self, node: FilterNode) -> list[str] | None:
        return id_lookup(node)

    def _plan(self, node: FilterNode) -> QueryPlan:
        return plan_filter(node)

    @staticmethod
    def _key(name: str) -> str:
        """The key of the document a query returned, from its resource name: unique among
        what this reader returns (here the document id)."""
        return name.rpartition("/")[2]

    @staticmethod
    def _without_index(branch: Branch) -> Branch | None:
        """A broader branch that needs no composite index (one field needs none), or None."""
        return branch[:1] if len(branch) > 1 else None

    async def _matches(
        self, query: FilterQuery, *, limit_hint: int | None = None
    ) -> AsyncGenerator[Match, None]:
        """Every document matching ``query`` exactly (transaction's own writes included)."""
        node = query.node
        check = not isinstance(node, MatchAll)
        handle = self._transaction()
        pending = self._pending(handle) if handle is not None else {}
        transaction = handle.transaction if handle is not None else None
        ids = self._id_lookup(node)
        if ids is not None:
            # A get is exact for the _id condition itself; anything else is checked here.
            check = not _only_id(node)
            if handle is not None:
                await handle.lock(self._store, self._name, ids)
            report = current_report()
            if report is not None:
                report.note("native")  # gets by id
            source = self._get_many(ids, transaction)
        else:
            plan = self._plan(node)
            report = current_report()
            if report is not None:
                report.note("scan" if plan.everything else "native" if plan.sound else "residual")
            sound_single = plan.sound and len(plan.branches) == 1
            hint = limit_hint if sound_single and not pending else None
            source = self._run_plan(plan, transaction, hint)
        pacer = Pacer()  # the residual filter runs on the loop: share it
        async with contextlib.aclosing(source) as stream:
            async for doc_id, update_time, document in stream:
                if pacer.due():
                    await pacer.pause()
                if doc_id in pending:
                    continue  # the transaction's own version wins (yielded below)
                if check and not matches(node, document):
                    continue
                yield Match(doc_id, update_time, document)
        for doc_id, pending_document in list(pending.items()):
            if pending_document is None or (ids is not None and doc_id not in ids):
                continue  # deleted, or not one of the ids looked up (unchecked then)
            if check and not matches(node, pending_document):
                continue
            yield Match(doc_id, None, pending_document)

    async def _get_many(
        self, ids: list[str], transaction: Any
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        """The documents of ``ids`` that exist (one batched get), in id order."""
        if not ids:
            return
        references = [self._document(doc_id) for doc_id in ids]
        found = await get_documents(self._client, references, transaction)
        for item in sorted(found, key=lambda item: item[0]):
            yield item

    def _query(self, branch: Branch) -> Any:
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        query = self._reference()
        for prim in branch:
            if prim.segments == DOCUMENT_ID:
                path = FieldPath.document_id()
                if isinstance(prim.value, list):
                    value: Any = [self._document(doc_id) for doc_id in prim.value]
                else:
                    value = self._document(prim.value)
            else:
                path = FieldPath(*prim.segments).to_api_repr()
                value = prim.value
            query = query.where(filter=FieldFilter(path, prim.op, value))
        return query

    def _run_plan(
        self, plan: QueryPlan, transaction: Any, limit_hint: int | None
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        if len(plan.branches) == 1:  # the branch's own stream: one generator less per document
            return self._run_branch(plan.branches[0], transaction, limit_hint)
        return self._run_union(plan, transaction, limit_hint)

    async def _run_union(
        self, plan: QueryPlan, transaction: Any, limit_hint: int | None
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        """The documents of several branches (or none), each once."""
        if not plan.branches:
            return
        streams = [self._run_branch(b, transaction, limit_hint) for b in plan.branches]
        seen: set[str] = set()
        async with contextlib.aclosing(merge(streams)) as merged:
            async for item in merged:
                if item[0] not in seen:
                    seen.add(item[0])
                    yield item

    async def _run_branch(
        self, branch: Branch, transaction: Any, limit_hint: int | None
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        from google.api_core import exceptions as gx

        query = self._query(branch)
        if limit_hint is not None:
            query = query.limit(limit_hint)
        yielded = False
        try:
            async with (
                self._store.query_slots,
                contextlib.aclosing(run_query(query, transaction, self._key)) as stream,
            ):
                async for found in stream:
                    yielded = True
                    yield found
        except gx.FailedPrecondition as exc:
            # Production Firestore wants a composite index for some conjunctions: fall back
            # to a broader query that needs none (a superset, re-checked).
            fallback = self._without_index(branch)
            if yielded or fallback is None or "index" not in str(exc).lower():
                raise
            logger.warning(
                "Firestore needs a composite index for a query on %s.%s; running a broader "
                "query and filtering locally (create the index to avoid this): %s",
                self._store.name,
                self._name,
                self._store.redact(str(exc)),
            )
            broader = run_query(self._query(fallback), transaction, self._key)
            async with contextlib.aclosing(broader) as stream:
                async for found in stream:
                    yield found

    async def _select(self, query: FindQuery) -> list[Match]:
        """The matches of a sorted query, skip and limit applied (a bounded top-k)."""
        key = document_sort_key(query.sort)
        found = [m async for m in self._matches(query.filter)]
        if query.limit:
            chosen = heapq.nsmallest(query.skip + query.limit, found, key=lambda m: key(m.document))
        else:
            chosen = await paced_sort(found, lambda m: key(m.document), Pacer())
        return chosen[query.skip :]

    async def _find(self, query: FindQuery) -> AsyncGenerator[Document, None]:
        if query.sort:
            for match in await self._select(query):
                yield apply_projection(query.projection, match.document)
            return
        hint = query.skip + query.limit if query.limit else None
        skipped = emitted = 0
        async with contextlib.aclosing(self._matches(query.filter, limit_hint=hint)) as stream:
            async for match in stream:
                if skipped < query.skip:
                    skipped += 1
                    continue
                yield apply_projection(query.projection, match.document)
                emitted += 1
                if query.limit and emitted >= query.limit:
                    return

    async def _find_one(self, query: FindQuery) -> Document | None:
        node = query.filter.node
        if (
            self._transaction() is None
            and isinstance(node, Condition)
            and node.path == "_id"
            and node.op is FieldOp.EQ
        ):
            # The hot path (one get, no generators): find_one({"_id": x}).
            doc_id = id_from_value(node.operand)
            if doc_id is None:
                return None
            found = await get_documents(self._client, [self._document(doc_id)], None)
            return apply_projection(query.projection, found[0][2]) if found else None
        return await super()._find_one(query)

    async def _first(self, query: FindQuery) -> Match | None:
        if query.sort:
            chosen = await self._select(FindQuery(query.filter, None, query.sort, 0, 1))
            return chosen[0] if chosen else None
        async with contextlib.aclosing(self._matches(query.filter, limit_hint=1)) as stream:
            async for match in stream:
                return match
        return None

    async def _count(self, query: FilterQuery) -> int:
        if self._transaction() is None and self._id_lookup(query.node) is None:
            plan = self._plan(query.node)
            if plan.sound and (len(plan.branches) <= 1 or plan.disjoint):
                counted = await self._count_on_server(plan)
                if counted is not None:
                    return counted
        count = 0
        async with contextlib.aclosing(self._matches(query)) as stream:
            async for _ in stream:
                count += 1
        return count

    async def _count_on_server(self, plan: QueryPlan) -> int | None:
        """The sum of each branch's count aggregation (the emulator answers 0.0 for none);
        None when Firestore wants an index it does not have."""
        from google.api_core import exceptions as gx

        async def one(branch: Branch) -> int:
            async with self._store.query_slots:
                result = await self._query(branch).count(alias="n").get()
            return sum(int(agg.value) for row in result for agg in row)

        try:
            totals = await asyncio.gather(*(one(b) for b in plan.branches))
        except gx.FailedPrecondition:
            return None
        return sum(totals)

    # -- writing (writes.py) -------------------------------------------------------------

    async def _insert(self, documents: list[Document]) -> list[Any]:
        return await writes.insert_documents(self, documents)

    def _update(  # returns the coroutine that does it: one coroutine layer less per call
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> Coroutine[Any, Any, UpdateResult]:
        written = direct.update_by_id(self, query, update, upsert=upsert)
        if written is not None:
            return written
        return writes.update_matching(self, query, update, multi=multi, upsert=upsert)

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        return await writes.delete_matching(self, query, multi=multi)

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        return await writes.find_one_and_modify(
            self, query, update, upsert=upsert, return_document=return_document
        )

    # -- indexes (indexes.py) ------------------------------------------------------------

    async def _create_index(self, spec: IndexSpec) -> str:
        return await indexes.create_index(self, spec)

    async def _list_indexes(self) -> list[IndexInfo]:
        return await indexes.list_indexes(self)

    async def _drop_index(self, name: str) -> None:
        await indexes.drop_index(self, name)


# -- helpers -----------------------------------------------------------------------------


def _only_id(node: FilterNode) -> bool:
    return (
        isinstance(node, Condition) and node.path == "_id" and node.op in (FieldOp.EQ, FieldOp.IN)
    )
