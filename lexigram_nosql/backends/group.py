"""``store.collection_group(name)``: a read-only view over every collection of a store whose
last path segment is ``name`` (``orders``, ``users/u1/orders``, ``shops/s9/orders``...).

The view is a ``BaseCollection``, so the public read methods (validation, error translation,
engine fallbacks for ``distinct`` and ``aggregate``) are the ones every collection has; it
implements ``_find`` and ``_count`` over a ``GroupSource`` and refuses every write primitive.
A source yields ``(collection name, document)`` pairs: by default the union of the member
collections listed from the store (``ListedCollections``); Firestore runs one native
collection-group query instead (``backends/firestore/group.py``).

``_id`` is unique per collection only, so a view built with ``path_field="_path"`` adds to
every document read the document's full path, ``"<collection name>/<_id>"``; filters, sorts,
projections and pipelines see it like a stored field (a filter or sort naming it is then
evaluated by the engine, after the read). A view without ``path_field`` adds ``_path`` to the
documents of a request that names it (``projection={"_path": 1}``, a filter, a sort, a
pipeline stage): the opt-in by naming the field.
"""

from __future__ import annotations

import abc
import asyncio
import heapq
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from lexigram_nosql.backends.collection import BaseCollection, IndexSpec
from lexigram_nosql.backends.names import group_of
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.ast import MatchAll, ParsedPipeline, Update
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.projection import apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["CollectionGroup", "GroupSource", "ListedCollections", "id_text"]

Owned = tuple[str, Document]
"""A document with the name of the collection it was read from."""

#: Member collections counted at once by ``ListedCollections``.
_PARALLEL_COUNTS = 8

PATH = "_path"
"""The path field a view without ``path_field`` adds when a request names it."""


class GroupSource(abc.ABC):
    """Where a collection group's documents come from."""

    @abc.abstractmethod
    def documents(self, query: FindQuery) -> AsyncIterator[Owned]:
        """Every document matching ``query.filter``, whole, with its collection's name: in
        ``query.sort`` order (any order without), and no more than ``skip + limit`` of them
        when ``query.limit`` is set. Skip and projection are the caller's."""

    @abc.abstractmethod
    async def count(self, query: FilterQuery) -> int:
        """How many documents of the group match ``query``."""


class ListedCollections(GroupSource):
    """The union of the member collections, listed from the store at each read; each runs
    the query (filter, sort and limit pushed down as for any collection), and sorted
    streams are merged."""

    def __init__(self, store: BaseDocumentStore[Any], group: str) -> None:
        self._store = store
        self._group = group

    async def members(self) -> list[str]:
        names = await self._store._list_collections()
        return sorted(name for name in names if group_of(name) == self._group)

    async def documents(self, query: FindQuery) -> AsyncIterator[Owned]:
        bound = query.skip + query.limit if query.limit else 0
        per_collection = FindQuery(query.filter, None, query.sort, 0, bound, query.batch_size)
        streams = [
            _owned(name, self._store.collection(name)._find(per_collection))
            for name in await self.members()
        ]
        merged = _merge_sorted(streams, query.sort) if query.sort else _chain(streams)
        emitted = 0
        async for item in merged:
            yield item
            emitted += 1
            if bound and emitted >= bound:
                return

    async def count(self, query: FilterQuery) -> int:
        # One at a time inside a transaction: a MongoDB session serves one operation at once.
        in_transaction = self._store.current_transaction() is not None
        slots = asyncio.Semaphore(1 if in_transaction else _PARALLEL_COUNTS)

        async def one(name: str) -> int:
            async with slots:
                return await self._store.collection(name)._count(query)

        return sum(await asyncio.gather(*(one(name) for name in await self.members())))


class CollectionGroup(BaseCollection[Any]):
    """A read-only view over the collections of group ``name`` (see the module docstring):
    ``find``, ``find_one``, ``count_documents``, ``distinct`` and ``aggregate`` with the whole
    query language; every write raises ``InvalidQueryError`` pointing at
    ``store.collection(path)``."""

    def __init__(
        self,
        store: BaseDocumentStore[Any],
        name: str,
        source: GroupSource,
        *,
        path_field: str | None = None,
    ) -> None:
        super().__init__(store, name)
        self._source = source
        self._path_field = path_field

    @property
    def path_field(self) -> str | None:
        return self._path_field

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} store={self._store.name!r} group={self._name!r} "
            f"path_field={self._path_field!r}>"
        )

    def collection_of(self, document: Mapping[str, Any]) -> BaseCollection[Any]:
        """The collection a document read through this view lives in (it needs ``_id`` and
        the path field: ``path_field``, else ``_path``)."""
        field = self._path_field or PATH
        path = document.get(field)
        if not isinstance(path, str) or "_id" not in document:
            raise InvalidQueryError(
                f"collection_of needs a document read through collection group {self._name!r} "
                f"with its _id and its path field {field!r} (name it in the projection, or build "
                "the view with path_field=..., and keep both fields in projections)",
                collection=self._name,
                path=field,
            )
        suffix = "/" + id_text(document["_id"])
        if not path.endswith(suffix):
            raise InvalidQueryError(
                f"{field} {path!r} is not the path of a document with _id {document['_id']!r}",
                collection=self._name,
                path=field,
            )
        store: BaseDocumentStore[Any] = self._store
        return store.collection(path[: -len(suffix)])

    # -- reads ---------------------------------------------------------------------------

    def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        projection = query.projection.raw if query.projection is not None else None
        sort = {path: direction for path, direction in query.sort}
        return self._requesting(query.filter.raw, sort, projection)._read(query)

    def _aggregate(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        view = self._requesting([stage.raw for stage in pipeline.stages])
        return BaseCollection._aggregate(view, pipeline)

    def _requesting(self, *requests: Any) -> CollectionGroup:
        """This view, or, when it has no path field and a request names ``_path``, the same
        view with ``_path`` (the opt-in by naming the field)."""
        if self._path_field is None and _mentions(requests, PATH):
            return CollectionGroup(self._store, self._name, self._source, path_field=PATH)
        return self

    async def _read(self, query: FindQuery) -> AsyncIterator[Document]:
        late_filter, late_sort = self._late(query.filter), self._late_sort(query)
        if late_filter or late_sort:
            # The filter or sort names the path: the source gets the top-level conditions that
            # do not (a superset of the matches), and the rest is decided here.
            source_query = FindQuery(
                self._without_path(query.filter) if late_filter else query.filter,
                batch_size=query.batch_size,
            )
        else:
            source_query = FindQuery(
                query.filter, None, query.sort, query.skip, query.limit, query.batch_size
            )
        documents = self._with_paths(self._source.documents(source_query))
        if late_filter:
            documents = _filtered(documents, query.filter)
        if late_sort:
            documents = _sorted(documents, query.sort)
        skipped = emitted = 0
        async for document in documents:
            if skipped < query.skip:
                skipped += 1
                continue
            yield apply_projection(query.projection, document)
            emitted += 1
            if query.limit and emitted >= query.limit:
                return

    async def _count(self, query: FilterQuery) -> int:
        view = self._requesting(query.raw)
        if view._late(query):
            return await BaseCollection._count(view, query)
        return await self._source.count(query)

    async def _with_paths(self, owned: AsyncIterator[Owned]) -> AsyncIterator[Document]:
        field = self._path_field
        async for name, document in owned:
            if field is None:
                yield document
            else:
                yield {**document, field: f"{name}/{id_text(document.get('_id'))}"}

    def _without_path(self, query: FilterQuery) -> FilterQuery:
        field = self._path_field or PATH
        kept = {
            key: value for key, value in query.raw.items() if not _mentions({key: value}, field)
        }
        return FilterQuery.build(kept)

    def _late(self, query: FilterQuery) -> bool:
        return self._path_field is not None and _mentions(query.raw, self._path_field)

    def _late_sort(self, query: FindQuery) -> bool:
        field = self._path_field
        return field is not None and any(
            path == field or path.startswith(field + ".") for path, _ in query.sort
        )

    # -- writes are refused --------------------------------------------------------------

    def _read_only(self, operation: str) -> InvalidQueryError:
        return InvalidQueryError(
            f"Collection group {self._name!r} of store {self._store.name!r} is a read-only "
            f"view; run {operation} on the collection itself: store.collection(path), e.g. "
            "store.collection('users/u1/orders') (a view built with path_field='_path' gives "
            "each document's path, and view.collection_of(document) its collection)",
            store=self._store.name,
            collection=self._name,
            operator=operation,
        )

    # Refused up front, before any argument is looked at or batched (so an unordered bulk
    # write cannot turn the refusal into a per-request error)...

    async def insert_one(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("insert_one")

    async def insert_many(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("insert_many")

    async def update_one(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("update_one")

    async def update_many(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("update_many")

    async def replace_one(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("replace_one")

    async def delete_one(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("delete_one")

    async def delete_many(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("delete_many")

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("find_one_and_update")

    async def find_one_and_replace(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("find_one_and_replace")

    async def find_one_and_delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("find_one_and_delete")

    async def bulk_write(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("bulk_write")

    async def create_index(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("create_index")

    async def create_indexes(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("create_indexes")

    async def drop_index(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("drop_index")

    async def drop_indexes(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("drop_indexes")

    async def list_indexes(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("list_indexes")

    async def drop(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only("drop")

    # ... and by the primitives, for any write method added later.

    async def _insert(self, documents: list[Document]) -> list[Any]:
        raise self._read_only("insert")

    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult:
        raise self._read_only("update")

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        raise self._read_only("delete")

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        raise self._read_only("find_one_and_update/replace/delete")

    async def _create_index(self, spec: IndexSpec) -> str:
        raise self._read_only("create_index")

    async def _list_indexes(self) -> list[IndexInfo]:
        raise self._read_only("list_indexes")

    async def _check_hint(self, method: str, hint: Any) -> None:
        """A group reads several collections, each planning its own read: only the index
        every one of them has, on ``_id``, can be hinted."""
        if hint == "_id_" or hint == {"_id": 1} or list(hint) in ([("_id", 1)], [["_id", 1]]):
            return
        raise UnsupportedQueryError(
            f"{method}: collection group {self._name!r} reads several collections, each with "
            f"its own indexes; hint only '_id_' on a group, or {hint!r} on each collection",
            backend=self._backend_name(),
            operator="hint",
            store=self._store.name,
        )

    async def _drop_index(self, name: str) -> None:
        raise self._read_only("drop_index")


def id_text(value: Any) -> str:
    """``_id`` as it appears in a document path (strings as themselves)."""
    return value if isinstance(value, str) else str(value)


def _mentions(value: Any, field: str) -> bool:
    """Whether a filter document names ``field`` (as a key or a ``$field`` reference)."""
    if isinstance(value, Mapping):
        return any(
            (isinstance(key, str) and (key == field or key.startswith(field + ".")))
            or _mentions(item, field)
            for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return any(_mentions(item, field) for item in value)
    return isinstance(value, str) and (value == "$" + field or value.startswith(f"${field}."))


async def _owned(name: str, documents: AsyncIterator[Document]) -> AsyncIterator[Owned]:
    async for document in documents:
        yield name, document


async def _chain(streams: list[AsyncIterator[Owned]]) -> AsyncIterator[Owned]:
    for stream in streams:
        async for item in stream:
            yield item


async def _merge_sorted(
    streams: list[AsyncIterator[Owned]], sort: tuple[tuple[str, int], ...]
) -> AsyncIterator[Owned]:
    """The items of streams each sorted by ``sort``, in one sorted order."""
    key = document_sort_key(sort)
    heads: list[tuple[Any, int, Owned]] = []
    for index, stream in enumerate(streams):
        item = await anext(stream, None)
        if item is not None:
            heads.append((key(item[1]), index, item))
    heapq.heapify(heads)
    while heads:
        _, index, item = heads[0]
        yield item
        following = await anext(streams[index], None)
        if following is None:
            heapq.heappop(heads)
        else:
            heapq.heapreplace(heads, (key(following[1]), index, following))


async def _filtered(
    documents: AsyncIterator[Document], query: FilterQuery
) -> AsyncIterator[Document]:
    node = query.node
    async for document in documents:
        if isinstance(node, MatchAll) or matches(node, document):
            yield document


async def _sorted(
    documents: AsyncIterator[Document], sort: tuple[tuple[str, int], ...]
) -> AsyncIterator[Document]:
    for document in sorted([d async for d in documents], key=document_sort_key(sort)):
        yield document
