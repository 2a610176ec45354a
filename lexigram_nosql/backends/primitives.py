"""What each backend implements: the ``_`` primitives ``BaseCollection`` (``collection.py``)
calls with validated, parsed input, and the engine-backed defaults (``backends/fallbacks.py``:
counts, ``distinct``, aggregation after a pushed-down ``$match``) a backend overrides where its
server does better. A mixin of ``BaseCollection``."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from lexigram_nosql.backends import fallbacks
from lexigram_nosql.contracts import DeleteResult, ReturnDocument, UpdateResult
from lexigram_nosql.query.ast import ParsedPipeline, Update
from lexigram_nosql.query.projection import parse_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.types import Document

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
