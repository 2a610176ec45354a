"""A collection group on Firestore: one native collection-group query.

``FirestoreGroupReader`` is a ``FirestoreCollection`` whose queries run on
``client.collection_group(id)`` instead of one collection: the filter is pushed down the same
way and the engine re-checks every document, a missing composite index falls back to a
broader query exactly as for a collection, and a transaction's own pending writes to member
collections are seen. What differs: documents are keyed by their full path (ids repeat
across collections), and ``_id`` conditions stay with the engine (Firestore filters a group
on ``__name__`` by full path only), so a plan that had one is no longer exact on the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from lexigram_nosql.backends.firestore.collection import FirestoreCollection
from lexigram_nosql.backends.firestore.names import collection_path, escape_segment, name_of_path
from lexigram_nosql.backends.firestore.planner import DOCUMENT_ID, Branch, QueryPlan
from lexigram_nosql.backends.firestore.transaction import FirestoreTransaction
from lexigram_nosql.backends.group import GroupSource, Owned
from lexigram_nosql.backends.names import group_of
from lexigram_nosql.query.ast import FilterNode
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.types import Document

__all__ = ["FirestoreGroupReader", "NativeGroup"]


class FirestoreGroupReader(FirestoreCollection):
    """Reads of every collection whose id is the group's (see the module docstring)."""

    def _reference(self) -> Any:
        client = self._client
        cached = self._cached_reference
        if cached is None or cached[0] is not client:
            group = client.collection_group(escape_segment(self._name))
            cached = self._cached_reference = (client, group)
        return cached[1]

    def _pending(self, handle: FirestoreTransaction) -> dict[str, Document | None]:
        return {
            f"{collection_path(name)}/{doc_id}": document
            for name, writes in handle.pending.items()
            if group_of(name) == self._name
            for doc_id, document in writes.items()
        }

    def _id_lookup(self, node: FilterNode) -> list[str] | None:
        return None

    def _plan(self, node: FilterNode) -> QueryPlan:
        plan = super()._plan(node)
        branches: list[Branch] = []
        dropped = False
        for branch in plan.branches:
            kept = tuple(p for p in branch if p.segments != DOCUMENT_ID)
            dropped = dropped or len(kept) != len(branch)
            if kept not in branches:
                branches.append(kept)
        if not dropped:
            return plan
        return QueryPlan(tuple(branches), sound=False, disjoint=False)

    @staticmethod
    def _key(name: str) -> str:
        return name.partition("/documents/")[2]  # the document's path in the database

    @staticmethod
    def _without_index(branch: Branch) -> Branch | None:
        # A group query on even one field needs a collection-group index (Firestore indexes
        # single fields per collection only, unless exempted): fall back to the whole group.
        return () if branch else None


class NativeGroup(GroupSource):
    """The documents of a ``FirestoreGroupReader``, with the collection each lives in."""

    def __init__(self, reader: FirestoreGroupReader) -> None:
        self._reader = reader

    async def documents(self, query: FindQuery) -> AsyncIterator[Owned]:
        reader = self._reader
        if query.sort:
            for match in await reader._select(
                FindQuery(query.filter, None, query.sort, 0, _bound(query))
            ):
                yield _owner(match.doc_id), match.document
            return
        bound = _bound(query)
        emitted = 0
        async for match in reader._matches(query.filter, limit_hint=bound or None):
            yield _owner(match.doc_id), match.document
            emitted += 1
            if bound and emitted >= bound:
                return

    async def count(self, query: FilterQuery) -> int:
        return await self._reader._count(query)


def _bound(query: FindQuery) -> int:
    return query.skip + query.limit if query.limit else 0


def _owner(document_path: str) -> str:
    """The collection name of the document at ``document_path`` (ids never hold ``/``)."""
    return name_of_path(document_path.rsplit("/", 1)[0])
