"""What each backend implements: the ``_`` primitives ``BaseCollection`` (``collection.py``)
calls with validated, parsed input, and the engine-backed defaults (``backends/fallbacks.py``:
counts, ``distinct``, aggregation after a pushed-down ``$match``) a backend overrides where its
server does better. A mixin of ``BaseCollection``."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from lexigram_nosql import reads
from lexigram_nosql.backends import fallbacks
from lexigram_nosql.backends.bulk import UpdateCall, insert_batch, run_steps
from lexigram_nosql.backends.retry import LostRace, retry_lost_races
from lexigram_nosql.contracts import (
    BulkWriteFailure,
    BulkWriteResult,
    DeleteResult,
    ReturnDocument,
    UpdateResult,
    WriteOperation,
)
from lexigram_nosql.errors import NoSQLError
from lexigram_nosql.query.ast import ParsedPipeline, ReplacementUpdate, Update
from lexigram_nosql.query.projection import parse_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.collection import BaseCollection

__all__ = ["CollectionPrimitives"]


class CollectionPrimitives(abc.ABC):
    """The backend side of a collection: abstract primitives and overridable defaults."""

    @abc.abstractmethod
    def _lookup_source(self, name: str) -> AsyncIterator[Document]:
        """Every document of collection ``name`` of the same store (``$lookup``'s input)."""

    async def _find_one(self, query: FindQuery) -> Document | None:
        return await fallbacks.first(self._find(query))

    async def _estimated_count(self) -> int:
        return await self._count(FilterQuery.build(None))

    async def _count(self, query: FilterQuery) -> int:
        return await fallbacks.count(self._find(FindQuery(query, fallbacks.ID_ONLY)))

    async def _distinct(self, key: str, query: FilterQuery) -> list[Any]:
        documents = self._find(FindQuery(query, parse_projection({key: 1})))
        return await fallbacks.distinct(documents, key)

    def _aggregate(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        return fallbacks.aggregate(pipeline, self._find, self._lookup_source)

    async def _explain(self, query: FindQuery) -> Document:
        """A find cursor's ``explain``: the query run to its end with a ``ReadReport``
        current, which the backend fills as it reads (its plan, the index it used, the items
        it read); MongoDB's explain document is the server's own (its override)."""
        collection = _base(self)
        options = query.filter.options
        if options is not None:
            collection._honour("explain", options)
        report = reads.ReadReport()
        returned = 0
        async with collection._operation("explain", options):
            token = reads.reporting(report)  # over the observers' report, for this body
            try:
                documents = collection._open_hinted("explain", options, lambda: self._find(query))()
                try:
                    async for _ in documents:
                        returned += 1
                finally:
                    aclose = getattr(documents, "aclose", None)
                    if aclose is not None:
                        await aclose()
            finally:
                reads.done(token)
        return {
            "queryPlanner": {
                "namespace": collection.name,
                "backend": collection.store.driver,
                "plan": report.plan,
                "index": report.index,
            },
            "executionStats": {"nReturned": returned, "totalDocsExamined": report.items_read},
        }

    @abc.abstractmethod
    async def _insert(self, documents: list[Document]) -> list[Any]:
        """Insert validated documents (assign ``_id`` where missing); return ids. The
        documents may be the caller's own dicts: copy one before changing it.

        In order, as MongoDB's ordered insert: a refused document (a duplicate ``_id`` or
        unique key raises ``DuplicateKeyError``) stops the batch, the ones before it stay
        written, and the error's ``request_index`` says its position in ``documents``.
        Refusals made while encoding, before anything is sent, carry no position."""

    @abc.abstractmethod
    def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        """Stream matching documents, honouring projection, sort, skip and limit."""

    _finds_in_batches: ClassVar[bool] = False
    """``find`` reads ``_find_batches``: the driver hands documents a batch at a time, so
    each batch is one bounded fetch instead of one per document."""

    def _find_batches(self, query: FindQuery) -> AsyncIterator[list[Document]]:
        """``_find``'s documents, a list at a time (backends setting ``_finds_in_batches``)."""
        raise NotImplementedError

    @abc.abstractmethod
    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult: ...

    @abc.abstractmethod
    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult: ...

    @abc.abstractmethod
    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        """Atomically update (or, with ``update=None``, delete) the first match in sort order
        and return it before or after, projected."""

    async def _write_bulk(
        self,
        operations: Sequence[WriteOperation],
        steps: list[Any],
        *,
        ordered: bool,
    ) -> tuple[BulkWriteResult, list[BulkWriteFailure]]:
        """Run a validated bulk (``steps``: each operation's validated form); what was done
        and the failures. The engine's way by default; a server with a bulk command
        overrides it."""
        return await run_steps(_base(self), operations, steps, ordered=ordered)

    async def _insert_all(
        self, documents: list[Document], *, ordered: bool
    ) -> tuple[list[Any], list[tuple[int, NoSQLError]]]:
        """Insert ``documents`` (validated; not to be changed), past refused ones unless
        ``ordered``: the ids inserted and the failures by position. The default makes as few
        ``_insert`` calls as the failures allow; a server that goes on past errors itself
        overrides it."""
        return await insert_batch(_base(self), documents, ordered=ordered)

    async def _update_first_in_order(self, call: UpdateCall) -> UpdateResult:
        """``update_one``/``replace_one`` with ``sort``: the first match in that order is
        updated (MongoDB 8.0). The engine's way: find its ``_id``, then update it under the
        same filter, again if another writer made it stop matching meanwhile."""

        async def attempt() -> UpdateResult:
            first = await self._find_one(FindQuery(call.query, fallbacks.ID_ONLY, call.sort, 0, 1))
            if first is None:
                return await self._update(
                    call.query, call.update, call.raw, multi=False, upsert=call.upsert
                )
            pinned = FilterQuery.build({"$and": [call.query.raw, {"_id": first["_id"]}]})
            pinned = dataclasses.replace(pinned, options=call.query.options)
            result = await self._update(pinned, call.update, call.raw, multi=False, upsert=False)
            if not result.matched_count:
                raise LostRace  # it stopped matching: update the next first match
            return result

        kind = "replace_one" if isinstance(call.update, ReplacementUpdate) else "update_one"
        operation = f"{kind} with sort"
        collection = _base(self)
        return await retry_lost_races(
            collection.store, operation, attempt, collection=collection.name
        )


def _base(primitives: CollectionPrimitives) -> BaseCollection[Any]:
    """The collection these primitives are a mixin of."""
    return cast("BaseCollection[Any]", primitives)
