"""``BaseCollection``: the public collection API, validated once for every backend.

Public methods parse their arguments here (``FilterQuery``/``FindQuery``, ``parse_update``...)
and run inside the store's per-operation wrapper, so a backend only ever sees valid, parsed
input alongside the raw documents, and implements the ``_`` primitives (declared, with the
engine-backed defaults a server may override, in ``backends/primitives.py``); bulk writes are
in ``backends/bulk.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack, cast

from lexigram_nosql import reads
from lexigram_nosql.backends.bulk import UpdateCall, checked_documents, run_bulk
from lexigram_nosql.backends.command_options import OptionMethods, within
from lexigram_nosql.backends.guard import OperationGuard
from lexigram_nosql.backends.index_spec import IndexSpec
from lexigram_nosql.backends.indexing import IndexMethods
from lexigram_nosql.backends.keys import check_id
from lexigram_nosql.backends.primitives import CollectionPrimitives
from lexigram_nosql.contracts import (
    BulkWriteFailure,
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    ReturnDocument,
    UpdateResult,
    WriteOperation,
)
from lexigram_nosql.cursor import DocumentCursor, DocumentStream
from lexigram_nosql.errors import BulkWriteError, InvalidQueryError
from lexigram_nosql.query.aggregate_parse import parse_pipeline
from lexigram_nosql.query.ast import Update
from lexigram_nosql.query.expressions import bind_variables
from lexigram_nosql.query.limits import Limits, check_pipeline
from lexigram_nosql.query.options import (
    BULK_OPTIONS,
    DISTINCT_OPTIONS,
    INSERT_OPTIONS,
    READ_OPTIONS,
    TIMED_OPTIONS,
    UPDATE_OPTIONS,
    WRITE_OPTIONS,
    variables,
)
from lexigram_nosql.query.requests import (
    CommandOptions,
    FilterQuery,
    FindQuery,
    check_server_hints,
    filter_query,
    find_query,
    one_spelling,
    parse_sort,
)
from lexigram_nosql.query.update import check_new_document, parse_replacement, parse_update
from lexigram_nosql.types import (
    BulkOptions,
    Document,
    FilterDocument,
    FindOptions,
    InsertOptions,
    Pipeline,
    ProjectionSpec,
    ReadOptions,
    SortSpec,
    TimedOptions,
    UpdateDocument,
    UpdateOptions,
    WriteOptions,
)

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["BaseCollection", "IndexSpec"]


logger = logging.getLogger("lexigram_nosql")
_new_tuple = tuple.__new__
_NO_FIND_OPTIONS: tuple[None, None] = (None, None)

StoreT = TypeVar("StoreT", bound="BaseDocumentStore[Any]")


class BaseCollection(IndexMethods, CollectionPrimitives, OptionMethods, Generic[StoreT]):
    """Validation and engine-backed defaults for one collection; backends implement the
    ``_`` primitives and override defaults where the server does better (the index methods:
    ``indexing.py``)."""

    _store: StoreT

    def __init__(self, store: StoreT, name: str) -> None:
        self._store = store
        self._name = name
        # The store's bounds on user-supplied filters and pipelines (read on every call).
        self._limits: Limits = store.settings.query_limits

    @property
    def name(self) -> str:
        return self._name

    @property
    def store(self) -> StoreT:
        return self._store

    def __repr__(self) -> str:
        return f"<{type(self).__name__} store={self._store.name!r} name={self._name!r}>"

    def _operation(self, name: str, options: CommandOptions | None = None) -> OperationGuard:
        """The store's per-operation wrapper for this collection: ``store.operation(name,
        collection)``, built here (a call less per operation); ``max_time_ms`` bounds it
        (on MongoDB too, behind the server's own bound)."""
        if options is None:
            return OperationGuard(self._store, name, self._name)
        timeout_s = self._time_bound(options) if options.max_time_ms else None
        if (options.hint is not None or options.let is not None) and not self._sends_options:
            return self._engine_operation(name, options, timeout_s)
        return OperationGuard(self._store, name, self._name, timeout_s)

    def _backend_name(self) -> str:
        return self._store.driver

    # -- writes --------------------------------------------------------------------------

    async def insert_one(
        self, document: Document, **options: Unpack[InsertOptions]
    ) -> InsertOneResult:
        doc = self._check_document(document)
        opts = self._options("insert_one", options, INSERT_OPTIONS) if options else None
        async with self._operation("insert_one"):
            ids = await (self._insert([doc]) if opts is None else within(opts, self._insert([doc])))
        return InsertOneResult(ids[0])

    async def insert_many(
        self,
        documents: Iterable[Document],
        ordered: bool = True,
        **options: Unpack[InsertOptions],
    ) -> InsertManyResult:
        """Insert in order (an empty list is refused). A refused document raises
        ``BulkWriteError`` carrying what was written: ordered, the documents after it are not
        attempted; with ``ordered=False`` every other document is still inserted."""
        if isinstance(documents, (Mapping, str, bytes)) or not isinstance(documents, Iterable):
            raise InvalidQueryError("insert_many takes a list of documents", collection=self._name)
        if not isinstance(documents, Sequence):  # any iterable, as in PyMongo (a generator...)
            documents = list(documents)
        if not documents:  # the CRUD specification requires the refusal, as PyMongo does
            raise InvalidQueryError(
                "insert_many takes a non-empty list of documents", collection=self._name
            )
        docs = checked_documents(self, documents)
        opts = self._options("insert_many", options, INSERT_OPTIONS) if options else None
        async with self._operation("insert_many"):
            inserting = self._insert_all(docs, ordered=ordered)
            ids, failures = await (inserting if opts is None else within(opts, inserting))
        if failures:
            result = BulkWriteResult(inserted_count=len(ids))
            errors = [BulkWriteFailure(i, exc, documents[i]) for i, exc in failures]
            raise BulkWriteError.build(
                result, errors, store=self._store.name, collection=self._name
            )
        return InsertManyResult(ids)

    async def update_one(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        upsert: bool = False,
        *,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        sort: SortSpec | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult:
        opts = self._options("update_one", options, UPDATE_OPTIONS) if options else None
        call = self._update_call(
            "update_one", filter, update, upsert=upsert, array_filters=array_filters, sort=sort
        )
        if opts is not None:
            call = call._replace(query=replace(call.query, options=opts))
        async with self._operation("update_one", opts):
            return await self._run_update(call)

    async def update_many(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        upsert: bool = False,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult:
        opts = self._options("update_many", options, UPDATE_OPTIONS) if options else None
        call = self._update_call(
            "update_many", filter, update, upsert=upsert, array_filters=array_filters, multi=True
        )
        if opts is not None:
            call = call._replace(query=replace(call.query, options=opts))
        async with self._operation("update_many", opts):
            return await self._run_update(call)

    async def replace_one(
        self,
        filter: FilterDocument,
        replacement: Document,
        upsert: bool = False,
        *,
        sort: SortSpec | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult:
        opts = self._options("replace_one", options, UPDATE_OPTIONS) if options else None
        call = self._update_call("replace_one", filter, replacement, upsert=upsert, sort=sort)
        if opts is not None:
            call = call._replace(query=replace(call.query, options=opts))
        async with self._operation("replace_one", opts):
            return await self._run_update(call)

    async def delete_one(
        self, filter: FilterDocument, **options: Unpack[WriteOptions]
    ) -> DeleteResult:
        query = self._delete_query("delete_one", filter, options)
        async with self._operation("delete_one", query.options):
            return await self._delete(query, multi=False)

    async def delete_many(
        self, filter: FilterDocument, **options: Unpack[WriteOptions]
    ) -> DeleteResult:
        query = self._delete_query("delete_many", filter, options)
        async with self._operation("delete_many", query.options):
            return await self._delete(query, multi=True)

    async def find_one_and_update(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument | bool = ReturnDocument.BEFORE,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ReadOptions],
    ) -> Document | None:
        return await self._modify_first(
            "find_one_and_update",
            filter,
            lambda query: parse_update(
                update,
                array_filters=array_filters,
                method="find_one_and_update",
                query=query.filter.node,
            ),
            _raw(update),
            projection=projection,
            sort=sort,
            upsert=upsert,
            return_document=return_document,
            options=options,
        )

    async def find_one_and_replace(
        self,
        filter: FilterDocument,
        replacement: Document,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument | bool = ReturnDocument.BEFORE,
        **options: Unpack[ReadOptions],
    ) -> Document | None:
        return await self._modify_first(
            "find_one_and_replace",
            filter,
            lambda query: parse_replacement(replacement, method="find_one_and_replace"),
            replacement,
            projection=projection,
            sort=sort,
            upsert=upsert,
            return_document=return_document,
            options=options,
        )

    async def _modify_first(
        self,
        operation: str,
        filter: FilterDocument,
        parse: Callable[[FindQuery], Update],
        raw: Any,
        *,
        projection: ProjectionSpec | None,
        sort: SortSpec | None,
        upsert: bool,
        return_document: ReturnDocument | bool,
        options: Mapping[str, Any],
    ) -> Document | None:
        """The one body of ``find_one_and_update``/``_replace``: validate, then modify the
        first match in sort order inside the operation's wrapper."""
        opts = self._options(operation, options, READ_OPTIONS) if options else None
        query = FindQuery.build(
            self._need_filter(filter), projection=projection, sort=sort, limits=self._limits
        )
        if opts is not None:
            query = replace(query, filter=replace(query.filter, options=opts))
        parsed = parse(query)
        if not isinstance(upsert, bool):
            raise InvalidQueryError(f"{operation}: upsert must be True or False, got {upsert!r}")
        try:  # PyMongo's ReturnDocument values are the booleans
            which = ReturnDocument(return_document)
        except ValueError:
            raise InvalidQueryError(
                f"{operation}: return_document must be ReturnDocument.BEFORE or AFTER, got "
                f"{return_document!r}"
            ) from None
        async with self._operation(operation, opts):
            return await self._find_one_and_modify(
                query, parsed, raw, upsert=upsert, return_document=which
            )

    async def find_one_and_delete(
        self,
        filter: FilterDocument,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        **options: Unpack[ReadOptions],
    ) -> Document | None:
        opts = self._options("find_one_and_delete", options, READ_OPTIONS) if options else None
        query = FindQuery.build(
            self._need_filter(filter), projection=projection, sort=sort, limits=self._limits
        )
        if opts is not None:
            query = replace(query, filter=replace(query.filter, options=opts))
        async with self._operation("find_one_and_delete", opts):
            return await self._find_one_and_modify(
                query, None, None, upsert=False, return_document=ReturnDocument.BEFORE
            )

    async def bulk_write(
        self,
        operations: Sequence[WriteOperation],
        ordered: bool = True,
        **options: Unpack[BulkOptions],
    ) -> BulkWriteResult:
        """Run the operations (each atomic on its own; inside ``transaction()`` all
        together). Every operation is validated before the first write. A failed operation
        raises ``BulkWriteError`` with what was done: ordered, the ones after it are not
        attempted; with ``ordered=False`` every other operation still runs."""
        if not options:
            return await run_bulk(self, operations, ordered=ordered)
        opts = self._options("bulk_write", options, BULK_OPTIONS)
        if opts is None or opts.let is None or self._sends_options:
            return await within(opts, run_bulk(self, operations, ordered=ordered))
        with bind_variables(variables("bulk_write", opts.let)):  # for the engine's evaluation
            return await within(opts, run_bulk(self, operations, ordered=ordered))

    def _update_call(
        self,
        method: str,
        filter: FilterDocument,
        update: Any,
        *,
        upsert: bool,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        sort: SortSpec | None = None,
        multi: bool = False,
    ) -> UpdateCall:
        """Validate one update or replace request (nothing is sent)."""
        if type(filter) is not dict:
            filter = self._need_filter(filter)
        query = filter_query(filter, self._limits)
        if method in ("replace_one", "ReplaceOne"):
            parsed: Update = parse_replacement(update, method=method)
        else:
            parsed = parse_update(
                update, array_filters=array_filters, method=method, query=query.node
            )
        order = () if sort is None else parse_sort(sort)
        if upsert is not False and upsert is not True:
            raise InvalidQueryError(f"{method}: upsert must be True or False, got {upsert!r}")
        raw = update if type(update) is dict else _raw(update)
        # tuple.__new__: UpdateCall(...) without its generated __new__ (built for every call)
        return _new_tuple(UpdateCall, (query, parsed, raw, multi, upsert, order))

    def _delete_query(
        self, method: str, filter: FilterDocument, options: Mapping[str, Any]
    ) -> FilterQuery:
        """Validate one delete request (nothing is sent)."""
        opts = self._options(method, options, WRITE_OPTIONS) if options else None
        query = FilterQuery.build(self._need_filter(filter), limits=self._limits)
        return query if opts is None else replace(query, options=opts)

    def _run_update(self, call: UpdateCall) -> Awaitable[UpdateResult]:
        """The backend's coroutine for a validated request (returned, not awaited here: one
        coroutine less per call)."""
        if call.sort:
            return self._update_first_in_order(call)
        return self._update(call.query, call.update, call.raw, multi=call.multi, upsert=call.upsert)

    # -- reads ---------------------------------------------------------------------------

    async def find_one(
        self,
        filter: FilterDocument | Any = None,
        projection: ProjectionSpec | None = None,
        skip: int = 0,
        *,
        sort: SortSpec | None = None,
        **options: Unpack[FindOptions],
    ) -> Document | None:
        """The first match. As in PyMongo, a ``filter`` that is not a document is an ``_id``:
        ``find_one("u1")`` is ``find_one({"_id": "u1"})``."""
        if filter is not None and type(filter) is not dict and not isinstance(filter, Mapping):
            filter = {"_id": filter}
        query = find_query(filter, projection, sort, skip, 1, None, None, self._limits)
        opts = None
        if options:  # find's, as PyMongo's find_one passes them on
            query = self._with_find_options("find_one", query, options)
            opts = query.filter.options
        async with self._operation("find_one", opts):
            if skip:  # backends' fast paths (a get by _id) have no notion of skipping
                document = await BaseCollection._find_one(self, query)
            else:
                document = await self._find_one(query)
            report = reads.current_report()
            if report is not None:
                report.items_returned = 0 if document is None else 1
            return document

    def find(
        self,
        filter: FilterDocument | None = None,
        projection: ProjectionSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        *,
        sort: SortSpec | None = None,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        **options: Unpack[FindOptions],
    ) -> DocumentCursor:
        """Stream matching documents. Arguments are validated here, before iteration starts.
        As in PyMongo, a negative ``limit`` returns at most that many documents, and
        ``allow_disk_use`` reaches MongoDB (the other backends sort without a memory cap)."""
        opts, cursor = self._find_call_options(options) if options else _NO_FIND_OPTIONS
        if type(limit) is int and limit < 0:
            limit = -limit  # PyMongo: a limit that closes the cursor after one batch
        query = FindQuery.build(
            filter,
            projection=projection,
            sort=sort,
            skip=skip,
            limit=limit,
            batch_size=batch_size,
            allow_disk_use=allow_disk_use,
            limits=self._limits,
        )
        if opts is not None:
            query = replace(query, filter=replace(query.filter, options=opts))
        if cursor is not None:
            query = replace(query, cursor=cursor)
        return DocumentCursor(self._find_stream(query), query, self)

    async def count_documents(
        self,
        filter: FilterDocument | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        **options: Unpack[ReadOptions],
    ) -> int:
        """How many documents match, after skipping ``skip`` of them and counting at most
        ``limit`` (0: no limit), as PyMongo's ``count_documents``."""
        opts = self._options("count_documents", options, READ_OPTIONS) if options else None
        query = FilterQuery.build(filter, limits=self._limits)
        FindQuery.build(None, skip=skip, limit=limit)  # validates skip and limit
        if opts is not None:
            query = replace(query, options=opts)
        async with self._operation("count_documents", opts):
            count = await self._count(query)
        count = max(count - skip, 0)
        return min(count, limit) if limit else count

    async def estimated_document_count(self, **options: Unpack[TimedOptions]) -> int:
        """The number of documents in the collection. Exact on every backend here (DynamoDB's
        and Firestore's cheap estimates lag or are missing), so never below what was written."""
        method = "estimated_document_count"
        opts = self._options(method, options, TIMED_OPTIONS) if options else None
        async with self._operation(method, opts):
            counting = self._estimated_count()
            return await (counting if opts is None else within(opts, counting))

    async def distinct(
        self,
        key: str,
        filter: FilterDocument | None = None,
        **options: Unpack[ReadOptions],
    ) -> list[Any]:
        opts = self._options("distinct", options, DISTINCT_OPTIONS) if options else None
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise InvalidQueryError(
                f"distinct key must be a field path, got {key!r}", path=str(key)
            )
        query = FilterQuery.build(filter, limits=self._limits)
        if opts is not None:
            query = replace(query, options=opts)
        async with self._operation("distinct", opts):
            return await self._distinct(key, query)

    def aggregate(
        self,
        pipeline: Pipeline,
        *,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        batchSize: int | None = None,  # PyMongo's spelling
        allowDiskUse: bool | None = None,  # PyMongo's spelling
        **options: Unpack[ReadOptions],
    ) -> DocumentCursor:
        """Stream the pipeline's output. The pipeline is validated here, before iteration.
        ``batch_size``/``allow_disk_use`` (or PyMongo's ``batchSize``/``allowDiskUse``)
        reach MongoDB and change no result."""
        opts = self._options("aggregate", options, READ_OPTIONS) if options else None
        check_pipeline(pipeline, self._limits)
        parsed = parse_pipeline(pipeline)
        size = one_spelling("aggregate", ("batch_size", batch_size), ("batchSize", batchSize))
        disk = one_spelling(
            "aggregate", ("allow_disk_use", allow_disk_use), ("allowDiskUse", allowDiskUse)
        )
        check_server_hints(size, disk)
        if size or disk is not None or opts is not None:
            parsed = replace(parsed, batch_size=size or None, allow_disk_use=disk, options=opts)
        guard = self._stream("aggregate", opts)
        stages = self._open_hinted("aggregate", opts, lambda: self._aggregate(parsed))
        return DocumentCursor(guard.documents(stages))

    def _find_stream(self, query: FindQuery) -> DocumentStream:
        """``find``'s stream inside the store's wrapper, each fetch bounded; a cursor opens it
        again when its modifiers change the query before it is read."""
        options, cursor = query.filter.options, query.cursor
        if options is not None:  # a cursor's modifier may have set them
            self._honour("find", options)
        if cursor is not None:
            self._honour_cursor("find", cursor)
        guard = self._stream("find", options)
        if self._finds_in_batches:
            batches = self._open_hinted("find", options, lambda: self._find_batches(query), cursor)
            return guard.documents(batches, batches=True)
        stream = self._open_hinted("find", options, lambda: self._find(query), cursor)
        return guard.documents(stream)

    # -- validation helpers --------------------------------------------------------------

    def _check_document(self, document: Any) -> Document:
        """The document to store, checked in one pass (which also puts datetimes in their
        stored form); it may be the caller's own dict, which no backend may change."""
        if type(document) is not dict and not isinstance(document, Mapping):
            raise InvalidQueryError(
                f"A document must be a mapping, got {type(document).__name__}",
                collection=self._name,
            )
        try:
            stored = cast(Document, check_new_document(document))
            if "_id" in stored:
                identity = stored["_id"]
                if type(identity) is not str:  # the commonest id, always valid
                    check_id(identity)  # (an ObjectId is already its 24-hex string)
        except InvalidQueryError as exc:
            exc.collection = exc.collection or self._name
            raise
        return stored

    def _need_filter(self, filter: FilterDocument | None) -> FilterDocument:
        if type(filter) is dict:
            return filter
        if filter is None:
            return {}
        if not isinstance(filter, Mapping):
            raise InvalidQueryError(
                f"A filter must be a mapping, got {type(filter).__name__}", collection=self._name
            )
        return filter

    # -- engine-backed defaults' input ----------------------------------------------

    def _lookup_source(self, name: str) -> AsyncIterator[Document]:
        return self._store.collection(name)._find(FindQuery.build(None))


def _raw(update: Any) -> Any:
    """The user's update as the server receives it (a pipeline as a list)."""
    return list(update) if type(update) is not dict and isinstance(update, tuple) else update
