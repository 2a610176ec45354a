"""One collection of the memory store: CRUD, streaming reads, indexes and aggregation.

Single-document operations run without awaiting between their reads and their writes, so they
are atomic on the event loop. Reads stream from a snapshot of references to stored documents
(which are never mutated in place), copy each document only as it is yielded, and share the
loop as they go (``query.pacing``). ``update_many``/``delete_many`` share it too: they run as
an implicit transaction, so other operations of the store wait for them while the rest of the
process does not, and a failure still undoes every change.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.keys import check_id
from lexigram_nosql.backends.memory.data import CollectionData, MemoryTransaction, Undo
from lexigram_nosql.backends.memory.indexes import (
    MISSING_VALUE,
    MemoryIndex,
    index_values,
    value_key,
)
from lexigram_nosql.backends.memory.planner import Plan, choose_plan
from lexigram_nosql.backends.memory.values import (
    clone,
    clone_document,
    stored_copy,
)
from lexigram_nosql.backends.object_ids import new_object_id
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import (
    DuplicateKeyError,
    InvalidQueryError,
    UpdateMismatchError,
    WriteError,
)
from lexigram_nosql.query.aggregate import run_pipeline
from lexigram_nosql.query.ast import FilterNode, MatchAll, ParsedPipeline, ReplacementUpdate, Update
from lexigram_nosql.query.dates import utc_now
from lexigram_nosql.query.identity import same_stored
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.ordering import document_sort_key, sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.paths import MISSING, get_values
from lexigram_nosql.query.projection import Projection, apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.reads import current_report
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    # Only for typing: the store imports this module to build its collections.
    from lexigram_nosql.backends.memory.store import MemoryDocumentStore

__all__ = ["MemoryCollection"]

# Stages that never change the documents they receive, so the pipeline may read stored
# documents directly (its output is copied instead).
_READ_ONLY_STAGES: Final = frozenset(
    {"$match", "$group", "$sort", "$skip", "$limit", "$count", "$sortByCount", "$sample"}
)

_ID_INDEX: Final = IndexInfo("_id_", [("_id", 1)], unique=True)


def _matcher(node: FilterNode) -> Callable[[Any], bool]:
    """The engine's compiled predicate for ``node`` (compiled once per query)."""
    if isinstance(node, MatchAll):
        return lambda document: True
    return compile_filter(node)


class MemoryCollection(BaseCollection["MemoryDocumentStore"]):
    """A collection of the memory store (see the module docstring)."""

    def __init__(self, store: MemoryDocumentStore, name: str) -> None:
        # Typed here, like the other backends' collections: the string in the base class names
        # the store only for mypy, and the store's module imports this one.
        super().__init__(store, name)

    # -- internals -----------------------------------------------------------------------

    def _data(self) -> CollectionData | None:
        return self._store.data(self._name)

    def _candidates(
        self, data: CollectionData | None, node: FilterNode, *, snapshot: bool = False
    ) -> Iterable[Any]:
        """Stored documents that may match ``node``: an index's candidates, or every one.

        With ``snapshot`` the result is a list of references, safe to iterate across awaits
        (stored documents are never mutated, only replaced); without it, a live view for
        callers that finish before they next await or write.
        """
        if data is None:
            return ()
        plan = self.plan(node)
        report = current_report()
        if plan is None:
            if report is not None:
                report.note("scan", items_read=len(data.documents))
            return list(data.documents.values()) if snapshot else data.documents.values()
        documents = data.documents
        found = (documents.get(key) for key in dict.fromkeys(plan.fetch()))
        candidates = [document for document in found if document is not None]
        if report is not None:
            report.note("native", index=plan.index, items_read=len(candidates))
        return candidates

    async def _enter(self) -> MemoryTransaction | None:
        """Wait for this operation's turn (see ``MemoryDocumentStore.enter``), then remove
        documents that TTL indexes have expired."""
        tx = await self._store.enter()
        data = self._data()
        if data is not None:
            self._expire(data, tx)
        return tx

    def _expire(self, data: CollectionData, tx: MemoryTransaction | None) -> None:
        """Delete documents whose date, under an index with ``expire_after_seconds``, is older
        than that (MongoDB's TTL rule: single-field indexes, dates only, an array expires
        with its earliest date). MongoDB does this in the background every minute; here it
        happens before each operation, found through the index's ordered keys."""
        for index in list(data.indexes.values()):
            seconds = index.spec.expire_after_seconds
            if seconds is None or len(index.paths) != 1:
                continue
            cutoff = value_key(datetime.now(UTC) - timedelta(seconds=seconds))
            ordered = index.ensure_ordered()
            expired = {entry[2] for entry in ordered.irange((((cutoff[0],),),), ((cutoff,),))}
            for id_key in expired:
                data.put(id_key, None, tx.undo if tx else None)

    def plan(self, node: FilterNode) -> Plan | None:
        """The index plan ``find`` would use for ``node`` (None: a full scan)."""
        data = self._data()
        if data is None or isinstance(node, MatchAll):
            return None
        return choose_plan(node, data.documents, list(data.indexes.values()))

    def _matching(self, data: CollectionData | None, node: FilterNode) -> Iterator[Document]:
        test = _matcher(node)
        return (document for document in self._candidates(data, node) if test(document))

    def _first(self, data: CollectionData | None, query: FindQuery) -> Document | None:
        """The first match in sort order (natural order without a sort)."""
        found = self._matching(data, query.filter.node)
        if query.sort:
            smallest = heapq.nsmallest(1, found, key=document_sort_key(query.sort))
            return smallest[0] if smallest else None
        return next(found, None)

    def _project(self, projection: Projection | None, document: Document) -> Document:
        if projection is None:
            return clone_document(document)
        return clone_document(apply_projection(projection, document))

    def _duplicate(self, index: str, key: Any, document: Document) -> DuplicateKeyError:
        return DuplicateKeyError(
            f"Duplicate key in collection {self._name!r} of store {self._store.name!r}: "
            f"index {index!r} already has a document with {key!r}.",
            index=index,
            key=key,
            store=self._store.name,
            collection=self._name,
        )

    def _check_id(self, document: Document) -> Any:
        identifier = document["_id"]
        if isinstance(identifier, (list, tuple)):
            raise InvalidQueryError(
                f"_id cannot be an array (got {identifier!r}) in collection {self._name!r}",
                path="_id",
                collection=self._name,
            )
        return value_key(identifier)

    def _write(
        self,
        data: CollectionData,
        id_key: Any,
        document: Document,
        undo: list[Undo] | None,
        *,
        inserting: bool,
    ) -> None:
        """Store one document after checking ``_id`` and every unique index: on a
        ``DuplicateKeyError`` nothing has been written."""
        if inserting and id_key in data.documents:
            raise self._duplicate("_id_", {"_id": document["_id"]}, document)
        for index in data.indexes.values():
            conflict = index.conflict(id_key, document)
            if conflict is not None:
                raise self._duplicate(
                    index.spec.name, _key_values(index, conflict, document), document
                )
        data.put(id_key, document, undo)

    @staticmethod
    def _finish(tx: MemoryTransaction | None, undo: list[Undo], failed: bool) -> None:
        """Keep one operation's changes (in the transaction's log), or undo them all."""
        if failed:
            for step in reversed(undo):
                step()
        elif tx is not None:
            tx.undo.extend(undo)

    # -- writes --------------------------------------------------------------------------

    async def _insert(self, documents: list[Document]) -> list[Any]:
        """Insert in order. Like MongoDB's ordered inserts, a failure (a duplicate key) stops
        at the failing document: the ones before it stay inserted (inside a transaction,
        the rollback removes them), the failing one and those after are not written."""
        prepared: list[tuple[Any, Document]] = []
        for document in documents:
            if "_id" not in document:
                document = {"_id": new_object_id(), **document}
            stored = self._stored(document)
            prepared.append((self._check_id(stored), stored))
        tx = await self._enter()
        data = self._store.data_for_write(self._name, tx.undo if tx else None)
        ids: list[Any] = []
        for id_key, stored in prepared:
            try:
                self._write(data, id_key, stored, tx.undo if tx else None, inserting=True)
            except WriteError as exc:
                exc.request_index = len(ids)
                raise
            ids.append(clone(stored["_id"]))
        return ids

    def _updated(self, update: Update, document: Document) -> Document:
        """The new version of a stored document, which must keep its ``_id``."""
        new = apply_update(update, document, now=utc_now())
        if "_id" not in new:
            return self._stored({"_id": document["_id"], **new})
        if value_key(new["_id"]) != value_key(document["_id"]):
            what = "A replacement" if isinstance(update, ReplacementUpdate) else "An update"
            raise UpdateMismatchError(
                f"{what} cannot change _id (from {document['_id']!r} to {new['_id']!r}) "
                f"in collection {self._name!r}",
                path="_id",
                collection=self._name,
            )
        return self._stored(new)

    def _upsert_document(self, query: FilterQuery, update: Update) -> Document:
        seed = upsert_seed(query.node)
        new = apply_update(update, seed, inserting=True, now=utc_now())
        if "_id" not in new:
            new = {"_id": new_object_id(), **new}
        elif next(iter(new)) != "_id":
            new = {"_id": new["_id"], **{k: v for k, v in new.items() if k != "_id"}}
        check_id(new["_id"])  # from the filter, which may name any value
        return self._stored(new)

    def _stored(self, document: Document) -> Document:
        """The copy of ``document`` to store, within ``memory.emulate``'s limits."""
        copied, size = stored_copy(document)
        self._store.check_limits(copied, size, self._name)
        return copied

    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult:
        """Update the first (or every) match. ``update_many`` is all-or-nothing here: if one
        document breaks a unique index, none of them is changed."""
        if multi and self._store.current_transaction() is None:
            async with self._store.transaction():  # others wait; the loop does not
                return await self._update(query, update, raw, multi=True, upsert=upsert)
        tx = await self._enter()
        data = self._data()
        undo: list[Undo] = []
        matched = modified = 0
        upserted_id: Any = None
        failed = True
        pacer = Pacer()
        try:
            if multi:
                targets = await self._all_matching(data, query.node, pacer)
            else:
                targets = list(islice(self._matching(data, query.node), 1))
            for document in targets:
                if multi and pacer.due():
                    await pacer.pause()
                matched += 1
                new = self._updated(update, document)
                if same_stored(new, document):
                    continue
                target = self._store.data_for_write(self._name, undo)
                self._write(target, value_key(new["_id"]), new, undo, inserting=False)
                modified += 1
            if not matched and upsert:
                new = self._upsert_document(query, update)
                created = self._store.data_for_write(self._name, undo)
                self._write(created, self._check_id(new), new, undo, inserting=True)
                upserted_id = clone(new["_id"])
            failed = False
        finally:
            self._finish(tx, undo, failed)
        return UpdateResult(matched, modified, upserted_id)

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        if multi and self._store.current_transaction() is None:
            async with self._store.transaction():  # others wait; the loop does not
                return await self._delete(query, multi=True)
        tx = await self._enter()
        data = self._data()
        if data is None:
            return DeleteResult(0)
        pacer = Pacer()
        if multi:
            targets = await self._all_matching(data, query.node, pacer)
        else:
            targets = list(islice(self._matching(data, query.node), 1))
        undo: list[Undo] | None = tx.undo if tx else None
        for document in targets:
            if pacer.due():
                await pacer.pause()
            data.put(value_key(document["_id"]), None, undo)
        return DeleteResult(len(targets))

    async def _all_matching(
        self, data: CollectionData | None, node: FilterNode, pacer: Pacer
    ) -> list[Document]:
        """Every match, examined in time slices (for operations that hold the store)."""
        test = _matcher(node)
        found: list[Document] = []
        for document in self._candidates(data, node, snapshot=True):
            if pacer.due():
                await pacer.pause()
            if test(document):
                found.append(document)
        return found

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        tx = await self._enter()
        data = self._data()
        document = self._first(data, query)
        undo: list[Undo] = []
        failed = True
        try:
            if document is None:
                if update is None or not upsert:
                    failed = False
                    return None
                new = self._upsert_document(query.filter, update)
                created = self._store.data_for_write(self._name, undo)
                self._write(created, self._check_id(new), new, undo, inserting=True)
                failed = False
                if return_document is ReturnDocument.AFTER:
                    return self._project(query.projection, new)
                return None
            target = self._store.data_for_write(self._name, undo)
            id_key = value_key(document["_id"])
            if update is None:
                target.put(id_key, None, undo)
                failed = False
                return self._project(query.projection, document)
            new = self._updated(update, document)
            if not same_stored(new, document):
                self._write(target, id_key, new, undo, inserting=False)
            failed = False
            after = return_document is ReturnDocument.AFTER
            return self._project(query.projection, new if after else document)
        finally:
            self._finish(tx, undo, failed)

    # -- reads ---------------------------------------------------------------------------

    async def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        await self._enter()
        node = query.filter.node
        candidates = self._candidates(self._data(), node, snapshot=True)
        test = _matcher(node)
        if query.sort:
            found: Iterable[Document] = await self._sorted(candidates, test, query, Pacer())
            test = _always
        else:
            found = candidates
        projection = query.projection
        skip, remaining = query.skip, query.limit or -1
        pacer = Pacer()
        for document in found:
            if pacer.due():
                await pacer.pause()
            if not test(document):
                continue
            if skip:
                skip -= 1
                continue
            yield self._project(projection, document)
            remaining -= 1
            if remaining == 0:
                return

    @staticmethod
    async def _sorted(
        candidates: Iterable[Document],
        test: Callable[[Any], bool],
        query: FindQuery,
        pacer: Pacer,
    ) -> list[Document]:
        """Matches in sort order (skipped ones included). With a limit this is a bounded
        top-k: a heap of ``skip + limit`` documents, never a sort of every match."""
        key = document_sort_key(query.sort)
        bound = query.skip + query.limit if query.limit else 0
        heap: list[tuple[_Reversed, Document]] = []
        found: list[Document] = []
        for examined, document in enumerate(candidates, 1):
            if pacer.due():
                await pacer.pause()
            if not test(document):
                continue
            if not bound:
                found.append(document)
                continue
            rank = (key(document), examined)
            if len(heap) < bound:
                heapq.heappush(heap, (_Reversed(rank), document))
            elif rank < heap[0][0].rank:
                heapq.heapreplace(heap, (_Reversed(rank), document))
        if bound:
            return [document for _, document in sorted(heap, reverse=True)]
        return await paced_sort(found, key, pacer)

    async def _find_one(self, query: FindQuery) -> Document | None:
        first = FindQuery(query.filter, query.projection, query.sort, limit=1)
        found = [document async for document in self._find(first)]  # limit 1: runs to its end
        return found[0] if found else None

    async def _count(self, query: FilterQuery) -> int:
        await self._enter()
        data = self._data()
        if data is None:
            return 0
        if isinstance(query.node, MatchAll):
            return len(data.documents)
        return len(await self._all_matching(data, query.node, Pacer()))

    async def _distinct(self, key: str, query: FilterQuery) -> list[Any]:
        await self._enter()
        seen: dict[Any, Any] = {}
        pacer = Pacer()
        for document in await self._all_matching(self._data(), query.node, pacer):
            if pacer.due():
                await pacer.pause()
            for value in get_values(document, key):
                if value is MISSING:
                    continue
                for item in value if isinstance(value, list) else (value,):
                    seen.setdefault(sort_key(item), item)
        return [clone(seen[k]) for k in sorted(seen)]

    def _aggregate(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        return self._run_pipeline(pipeline)

    async def _run_pipeline(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        """A leading ``$match`` uses the indexes; read-only pipelines read stored documents
        without copying them and copy only what they output."""
        stages = pipeline.stages
        node: FilterNode = MatchAll()
        if stages and stages[0].name == "$match":
            node, stages = stages[0].parsed, stages[1:]
        await self._enter()
        candidates = self._candidates(self._data(), node, snapshot=True)
        read_only = all(stage.name in _READ_ONLY_STAGES for stage in stages)
        source = _source(candidates, _matcher(node), copy=not read_only)
        output = run_pipeline(ParsedPipeline(stages), source, lookup=self._lookup_source)
        async for document in output:
            yield clone_document(document) if read_only else document

    # -- indexes -------------------------------------------------------------------------

    async def _create_index(self, spec: IndexSpec) -> str:
        tx = await self._enter()
        if spec.keys == (("_id", 1),):
            return "_id_"  # it always exists
        if spec.name == "_id_":
            raise InvalidQueryError(
                f"Index name '_id_' is reserved for the _id index of {self._name!r}",
                collection=self._name,
            )
        data = self._data()
        existing = data.indexes if data is not None else {}
        if spec.exists_in((index.spec for index in existing.values()), collection=self._name):
            return spec.name
        index = MemoryIndex(spec)
        documents = data.documents if data is not None else {}
        for id_key, document in documents.items():
            conflict = index.conflict(id_key, document)
            if conflict is not None:
                raise self._duplicate(spec.name, _key_values(index, conflict, document), document)
            index.add(id_key, document)
        undo = tx.undo if tx else None
        target = self._store.data_for_write(self._name, undo)
        target.indexes[spec.name] = index
        if undo is not None:
            undo.append(lambda: target.indexes.pop(spec.name, None))
        return spec.name

    async def _list_indexes(self) -> list[IndexInfo]:
        await self._enter()
        data = self._data()
        if data is None:
            return []  # no collection, no indexes (as MongoDB lists them)
        return [_ID_INDEX, *(index.info for index in data.indexes.values())]

    async def _drop_index(self, name: str) -> None:
        tx = await self._enter()
        if name == "_id_":
            raise InvalidQueryError(
                f"The _id index of collection {self._name!r} cannot be dropped",
                collection=self._name,
            )
        data = self._data()
        index = data.indexes.pop(name, None) if data is not None else None
        if index is None:
            raise InvalidQueryError(
                f"Collection {self._name!r} of store {self._store.name!r} has no index "
                f"named {name!r}",
                collection=self._name,
            )
        if tx is not None and data is not None:
            tx.undo.append(lambda: data.indexes.__setitem__(name, index))


class _Reversed:
    """Orders ranks backwards, turning ``heapq``'s min-heap into the max-heap of a top-k."""

    __slots__ = ("rank",)

    def __init__(self, rank: tuple[Any, int]) -> None:
        self.rank = rank

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.rank < self.rank)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.rank == other.rank

    def __hash__(self) -> int:
        return hash(self.rank[1])


def _always(document: Any) -> bool:
    return True


async def _source(
    candidates: Iterable[Document], test: Callable[[Any], bool], *, copy: bool
) -> AsyncIterator[Document]:
    pacer = Pacer()
    for document in candidates:
        if pacer.due():
            await pacer.pause()
        if test(document):
            yield clone_document(document) if copy else document


def _key_values(index: MemoryIndex, key: tuple[Any, ...], document: Document) -> dict[str, Any]:
    """The user's values behind an index key, for the error message."""
    shown: dict[str, Any] = {}
    for path, component in zip(index.paths, key, strict=True):
        values = [v for v in index_values(document, path) if value_key(v) == component]
        value = values[0] if values else None
        shown[path] = None if value is MISSING_VALUE else value
    return shown
