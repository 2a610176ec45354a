"""``MongoCollection``: validated requests passed to the server as they are (ids converted).

The base class has already parsed every filter, update, projection and pipeline; here the
user's raw documents go to MongoDB, which evaluates them itself. Nothing MongoDB does is redone
in Python. Inside ``store.transaction()`` every call carries the transaction's session.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from bson import ObjectId
from pymongo.errors import BulkWriteError

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.bulk import DeleteCall, UpdateCall
from lexigram_nosql.backends.command_options import current_call_options
from lexigram_nosql.backends.mongodb.errors import bulk_write_errors
from lexigram_nosql.backends.mongodb.find_options import cursor_kwargs, tails
from lexigram_nosql.backends.mongodb.ids import (
    document_from_server,
    filter_to_server,
    id_from_server,
    id_to_server,
    pipeline_to_server,
    update_to_server,
)
from lexigram_nosql.backends.object_ids import new_object_ids_bytes
from lexigram_nosql.contracts import (
    BulkWriteFailure,
    BulkWriteResult,
    DeleteResult,
    IndexInfo,
    ReturnDocument,
    UpdateResult,
    WriteOperation,
)
from lexigram_nosql.errors import NoSQLError
from lexigram_nosql.query.ast import (
    OperatorUpdate,
    ParsedPipeline,
    PipelineUpdate,
    ReplacementUpdate,
    Update,
)
from lexigram_nosql.query.ordering import sort_key
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.reads import current_report
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.mongodb.store import MongoDocumentStore

__all__ = ["MongoCollection"]


class MongoCollection(BaseCollection["MongoDocumentStore"]):
    """One MongoDB collection of a ``MongoDocumentStore``. PyMongo's per-command options
    (``comment``, ``hint``, ``collation``, ``maxTimeMS``) reach the server as PyMongo sends
    them: on the request (``FilterQuery.options``), else ``current_call_options()``."""

    _sends_options = True

    def __init__(self, store: MongoDocumentStore, name: str) -> None:
        super().__init__(store, name)
        self._collection: Any = _Unbound(store, name)
        """The driver's collection while the store is connected (the store binds it): a
        plain attribute, read on every call."""

    def _bind(self, database: Any) -> None:
        """Use ``database`` (None: the store is no longer connected)."""
        if database is None:
            self._collection = _Unbound(self._store, self._name)
        else:
            self._collection = database.get_collection(self._name)

    def _find_options(
        self, query: FindQuery, session: Any, max_time: str = "maxTimeMS"
    ) -> dict[str, Any]:
        """Only the options a find sets: the driver's defaults are the same, and every
        keyword passed is parsed again on each call. ``max_time``: the time bound's keyword
        (``find``'s ``max_time_ms``; ``maxTimeMS`` in ``find_one_and_*``)."""
        sent = query.filter.options
        options: dict[str, Any] = {} if sent is None else sent.driver_kwargs(max_time)
        if session is not None:
            options["session"] = session
        if query.projection is not None:
            options["projection"] = dict(query.projection.raw)
        if query.sort:
            options["sort"] = list(query.sort)
        if query.cursor is not None:  # PyMongo's cursor flags and modifiers, as given
            options.update(cursor_kwargs(query.cursor))
        return options

    # -- writes --------------------------------------------------------------------------

    async def _insert(self, documents: list[Document]) -> list[Any]:
        # Ids are made here so that the result lists them in input order whatever the
        # server does.
        sent, ids = _for_server(documents)
        session = self._store.current_transaction()
        call = current_call_options()
        if call is not None:  # a comment
            await self._collection.insert_many(
                sent, ordered=True, session=session, **call.driver_kwargs()
            )
        elif len(sent) == 1:
            insert = self._collection.insert_one
            await (insert(sent[0]) if session is None else insert(sent[0], session=session))
        else:
            await self._collection.insert_many(sent, ordered=True, session=session)
        return ids

    async def _write_bulk(
        self, operations: Sequence[WriteOperation], steps: list[Any], *, ordered: bool
    ) -> tuple[BulkWriteResult, list[BulkWriteFailure]]:
        """The whole bulk as one ``bulk_write`` of the driver (the server runs it in batches
        and reports each refused request); the engine's way where a request needs ``sort``
        and the server or client cannot take it."""
        requests = self._driver_requests(steps)
        if requests is None:
            return await super()._write_bulk(operations, steps, ordered=ordered)
        try:
            result = await self._collection.bulk_write(
                requests,
                ordered=ordered,
                session=self._store.current_transaction(),
                **_call_kwargs(),
            )
        except BulkWriteError as exc:
            errors = bulk_write_errors(exc)
            if not errors or any(e.request_index is None for e in errors):
                raise
            details = exc.details or {}
            done = BulkWriteResult(
                int(details.get("nInserted", 0)),
                int(details.get("nMatched", 0)),
                int(details.get("nModified", 0)),
                int(details.get("nRemoved", 0)),
                {u["index"]: id_from_server(u["_id"]) for u in details.get("upserted", [])},
            )
            failures = []
            for error in errors:
                index = cast(int, error.request_index)
                error.store, error.collection = self._store.name, self._name
                failures.append(BulkWriteFailure(index, error, operations[index]))
            return done, failures
        upserted = {index: id_from_server(value) for index, value in result.upserted_ids.items()}
        return (
            BulkWriteResult(
                result.inserted_count,
                result.matched_count,
                result.modified_count,
                result.deleted_count,
                upserted,
            ),
            [],
        )

    def _driver_requests(self, steps: list[Any]) -> list[Any] | None:
        """The driver's request objects for validated steps (None: one needs the engine)."""
        import pymongo

        requests: list[Any] = []
        for step in steps:
            if isinstance(step, DeleteCall):
                remove = pymongo.DeleteMany if step.multi else pymongo.DeleteOne
                requests.append(remove(filter_to_server(step.query.raw), **_hinted(step.query)))
            elif isinstance(step, UpdateCall):
                options: dict[str, Any] = {"upsert": step.upsert, **_hinted(step.query)}
                if step.sort:
                    if not self._takes_sorted_updates():
                        return None
                    options["sort"] = dict(step.sort)
                filter = filter_to_server(step.query.raw)
                document = _update_document(step.update, step.raw)
                if isinstance(step.update, ReplacementUpdate):
                    requests.append(pymongo.ReplaceOne(filter, document, **options))
                    continue
                if isinstance(step.update, OperatorUpdate) and step.update.raw_array_filters:
                    options["array_filters"] = list(step.update.raw_array_filters)
                kind = pymongo.UpdateMany if step.multi else pymongo.UpdateOne
                requests.append(kind(filter, document, **options))
            else:
                requests.append(pymongo.InsertOne(_for_server([step])[0][0]))
        return requests

    def _takes_sorted_updates(self) -> bool:
        server = self._store.server
        return (
            self._store.client_name == "pymongo"
            and server is not None
            and server.wire_version >= _SORTED_UPDATE_WIRE_VERSION
        )

    async def _insert_all(
        self, documents: list[Document], *, ordered: bool
    ) -> tuple[list[Any], list[tuple[int, NoSQLError]]]:
        """An unordered ``insert_many`` is one round trip: the server goes on past refused
        documents and reports each (inside a transaction, the first error ends it anyway)."""
        if ordered or len(documents) < 2 or self._store.current_transaction() is not None:
            return await super()._insert_all(documents, ordered=ordered)
        sent, ids = _for_server(documents)
        try:
            await self._collection.insert_many(sent, ordered=False, **_call_kwargs())
        except BulkWriteError as exc:
            errors = bulk_write_errors(exc)
            if not errors or any(e.request_index is None for e in errors):
                raise
            failed = {e.request_index for e in errors}
            for error in errors:
                error.store, error.collection = self._store.name, self._name
            inserted = [identity for i, identity in enumerate(ids) if i not in failed]
            return inserted, [(cast(int, e.request_index), e) for e in errors]
        return ids, []

    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Any,
        *,
        multi: bool,
        upsert: bool,
        sort: tuple[tuple[str, int], ...] = (),
    ) -> UpdateResult:
        """One ``update``/``replace`` command; ``sort`` (MongoDB 8.0) only through
        ``_update_first_in_order``."""
        collection = self._collection
        filter = filter_to_server(query.raw)
        document = _update_document(update, raw)
        if type(update) is ReplacementUpdate:
            method = collection.replace_one
        else:
            method = collection.update_many if multi else collection.update_one
        session = self._store.current_transaction()
        array_filters = update.raw_array_filters if type(update) is OperatorUpdate else ()
        sent = query.options
        if session is None and not array_filters and not sort and sent is None:
            result = await method(filter, document, upsert=upsert)  # the usual call
        else:
            options = _update_options(session, array_filters, sort)
            if sent is not None:
                options.update(sent.driver_kwargs())
            result = await method(filter, document, upsert=upsert, **options)
        return _update_result(result)

    async def _update_first_in_order(self, call: UpdateCall) -> UpdateResult:
        """MongoDB 8.0 takes ``sort`` on ``update`` itself (one round trip) through PyMongo's
        client; older servers and Motor get the engine's find-then-update."""
        if not self._takes_sorted_updates():
            return await super()._update_first_in_order(call)
        return await self._update(
            call.query, call.update, call.raw, multi=False, upsert=call.upsert, sort=call.sort
        )

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        collection = self._collection
        method = collection.delete_many if multi else collection.delete_one
        filter = filter_to_server(query.raw)
        session = self._store.current_transaction()
        if query.options is not None:
            result = await method(filter, session=session, **query.options.driver_kwargs())
        else:
            result = await (method(filter) if session is None else method(filter, session=session))
        deleted = result.deleted_count  # raises for an unacknowledged write, as PyMongo's
        return _DELETED.get(deleted) or DeleteResult(deleted)

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        collection = self._collection
        filter = filter_to_server(query.filter.raw)
        options = self._find_options(query, self._store.current_transaction())
        if update is None or raw is None:
            found = await collection.find_one_and_delete(filter, **options)
        else:
            document = _update_document(update, raw)
            if type(update) is ReplacementUpdate:
                method = collection.find_one_and_replace
            else:
                method = collection.find_one_and_update
                if type(update) is OperatorUpdate and update.raw_array_filters:
                    options["array_filters"] = list(update.raw_array_filters)
            found = await method(
                filter,
                document,
                upsert=upsert,
                return_document=return_document is ReturnDocument.AFTER,
                **options,
            )
        return None if found is None else document_from_server(found)

    # -- reads ---------------------------------------------------------------------------

    async def _batches(
        self,
        open_cursor: Callable[[], Awaitable[Any]],
        chunk: int | None = None,
        tailable: bool = False,
    ) -> AsyncGenerator[list[Document], None]:
        """The cursor's documents with their ids converted, ``chunk`` at a time; the cursor
        is always closed.

        A chunk is one ``to_list`` call instead of one ``__anext__`` coroutine per document,
        and the server's batch size (101 first, MongoDB's default, or the ``batch_size``
        asked), so a chunk is what the server already sent and the next batch is asked for
        when iterating would ask for it. The base class's stream around this translates
        driver errors and checks readiness. A ``tailable`` cursor, on which Motor refuses
        ``to_list``, is read as ``async for`` reads it, one document at a time."""
        report = current_report()
        if report is not None:
            report.note("native")  # the server runs the whole query
        cursor = await open_cursor()
        size = chunk or _FIRST_BATCH
        try:
            if tailable:
                async for document in cursor:
                    yield [document_from_server(document)]
                return
            while True:
                documents = await cursor.to_list(size)
                if not documents:
                    return
                yield [document_from_server(document) for document in documents]
        finally:
            with contextlib.suppress(Exception):
                await cursor.close()

    async def _documents(
        self,
        open_cursor: Callable[[], Awaitable[Any]],
        chunk: int | None = None,
        tailable: bool = False,
    ) -> AsyncIterator[Document]:
        batches = self._batches(open_cursor, chunk, tailable)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                for document in batch:
                    yield document

    async def _open_find(self, query: FindQuery) -> Any:
        options = self._find_options(query, self._store.current_transaction(), "max_time_ms")
        if query.skip:
            options["skip"] = query.skip
        if query.limit:
            options["limit"] = query.limit
        if query.batch_size:
            options["batch_size"] = query.batch_size
        if query.allow_disk_use is not None:
            options["allow_disk_use"] = query.allow_disk_use
        found = self._collection.find(filter_to_server(query.filter.raw), **options)
        cursor = query.cursor
        if cursor is not None and cursor.max_await_time_ms is not None:
            found = found.max_await_time_ms(cursor.max_await_time_ms)
        return found

    async def _open_aggregate(self, pipeline: ParsedPipeline) -> Any:
        stages = pipeline_to_server([stage.raw for stage in pipeline.stages])
        sent = pipeline.options
        options: dict[str, Any] = {} if sent is None else sent.driver_kwargs()
        if pipeline.batch_size is not None:
            options["batchSize"] = pipeline.batch_size
        if pipeline.allow_disk_use is not None:
            options["allowDiskUse"] = pipeline.allow_disk_use
        return await self._store._driver.aggregate(
            self._collection, stages, session=self._store.current_transaction(), **options
        )

    async def _explain(self, query: FindQuery) -> Document:
        """PyMongo's ``cursor.explain()``: the server's explain of the find, as it returns it."""
        async with self._operation("explain", query.filter.options):
            cursor = await self._open_find(query)
            return dict(await cursor.explain())

    def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        return self._documents(lambda: self._open_find(query), query.batch_size, tails(query))

    _finds_in_batches = True

    def _find_batches(self, query: FindQuery) -> AsyncIterator[list[Document]]:
        return self._batches(lambda: self._open_find(query), query.batch_size, tails(query))

    async def _find_one(self, query: FindQuery) -> Document | None:
        filter = filter_to_server(query.filter.raw)
        session = self._store.current_transaction()
        if (
            session is None
            and query.projection is None
            and not query.sort
            and not query.filter.options
            and query.cursor is None
        ):
            found = await self._collection.find_one(filter)  # by far the most usual
        else:
            options = self._find_options(query, session, "max_time_ms")
            found = await self._collection.find_one(filter, **options)
        return None if found is None else document_from_server(found)

    async def _estimated_count(self) -> int:
        session = self._store.current_transaction()
        if session is not None:  # the count command is not allowed in a transaction
            return await self._count(FilterQuery.build(None))
        count: int = await self._collection.estimated_document_count(**_call_kwargs())
        return count

    async def _count(self, query: FilterQuery) -> int:
        count: int = await self._collection.count_documents(
            filter_to_server(query.raw),
            session=self._store.current_transaction(),
            **_sent_kwargs(query),
        )
        return count

    async def _distinct(self, key: str, query: FilterQuery) -> list[Any]:
        values = await self._collection.distinct(
            key,
            filter_to_server(query.raw),
            session=self._store.current_transaction(),
            **_sent_kwargs(query),
        )
        if key == "_id":
            values = [id_from_server(v) for v in values]
        # MongoDB does not promise an order; every backend returns distinct values sorted.
        return sorted(values, key=sort_key)

    def _aggregate(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        return self._documents(lambda: self._open_aggregate(pipeline), pipeline.batch_size)

    # -- indexes -------------------------------------------------------------------------

    async def _create_index(self, spec: IndexSpec) -> str:
        options = spec.info.document()  # MongoDB's own option names
        keys = options.pop("key")
        if spec.partial_filter is not None:
            options["partialFilterExpression"] = filter_to_server(spec.partial_filter)
        name: str = await self._collection.create_index(
            keys,
            name=spec.name,
            session=self._store.current_transaction(),
            **options,
            **_call_kwargs(),
        )
        return name

    async def _list_indexes(self) -> list[IndexInfo]:
        cursor = await self._store._driver.list_indexes(
            self._collection, session=self._store.current_transaction(), **_call_kwargs()
        )
        indexes = []
        async for index in cursor:
            name = str(index["name"])
            expire = index.get("expireAfterSeconds")
            indexes.append(
                IndexInfo(
                    name=name,
                    keys=[(str(k), _direction(v)) for k, v in index["key"].items()],
                    unique=bool(index.get("unique")) or name == "_id_",
                    sparse=bool(index.get("sparse")),
                    expire_after_seconds=None if expire is None else int(expire),
                    partial_filter_expression=_partial_from_server(index),
                )
            )
        return indexes

    async def _drop_index(self, name: str) -> None:
        await self._collection.drop_index(
            name, session=self._store.current_transaction(), **_call_kwargs()
        )


def _partial_from_server(index: Mapping[str, Any]) -> dict[str, Any] | None:
    partial = index.get("partialFilterExpression")
    return None if partial is None else dict(partial)


_SORTED_UPDATE_WIRE_VERSION = 25

_FIRST_BATCH = 101
"""Documents in the server's first batch when no batch size is given (MongoDB's default)."""
"""MongoDB 8.0, the first server to take ``sort`` on ``update`` and ``replace``."""


def _update_document(update: Update, raw: Any) -> Any:
    """What the server receives: the pipeline as a list, documents with ids converted."""
    kind = type(update)
    if kind is PipelineUpdate:
        return list(raw)
    return update_to_server(raw, replacement=kind is ReplacementUpdate)


def _update_result(result: Any) -> UpdateResult:
    """Our result from the driver's, read off the server's reply as the driver's properties
    read it (without their acknowledgement check per property). An unacknowledged write has
    no reply (``raw_result`` None): its properties raise, as PyMongo's do."""
    raw = result.raw_result
    if raw is None:
        return UpdateResult(
            result.matched_count, result.modified_count, id_from_server(result.upserted_id)
        )
    upserted = raw.get("upserted")
    if upserted is None:
        counts = (raw.get("n", 0), raw.get("nModified"))
        return _UPDATED.get(counts) or UpdateResult(*counts)
    return UpdateResult(0, raw.get("nModified"), id_from_server(upserted))


# The results a single-document write gives most, built once: they are immutable, and
# building one is a good part of what a call costs here.
_UPDATED: Final = {(n, m): UpdateResult(n, m) for n in (0, 1) for m in (0, 1) if m <= n}
_DELETED: Final = {n: DeleteResult(n) for n in (0, 1)}


class _Unbound:
    """Stands for the driver's collection while the store is not connected: any use asks
    the store for its database, which raises ``StoreStateError``."""

    __slots__ = ("_name", "_store")

    def __init__(self, store: MongoDocumentStore, name: str) -> None:
        self._store = store
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._store.database.get_collection(self._name), attribute)


def _update_options(
    session: Any, array_filters: Sequence[Mapping[str, Any]], sort: tuple[tuple[str, int], ...]
) -> dict[str, Any]:
    """The options of an update that are set: the driver's defaults are the same, and
    a keyword the driver takes as ``**kwargs`` (Motor) costs a dict per call."""
    options: dict[str, Any] = {} if session is None else {"session": session}
    if array_filters:
        options["array_filters"] = list(array_filters)
    if sort:
        options["sort"] = dict(sort)
    return options


def _sent_kwargs(query: FilterQuery) -> dict[str, Any]:
    """The PyMongo options a request carries, as the driver's keywords."""
    return {} if query.options is None else query.options.driver_kwargs()


def _hinted(query: FilterQuery) -> dict[str, Any]:
    """A bulk request's hint and collation, as the driver's request models take them."""
    options = query.options
    if options is None:
        return {}
    given = {"hint": options.hint, "collation": options.collation}
    return {key: value for key, value in given.items() if value is not None}


def _call_kwargs() -> dict[str, Any]:
    """The PyMongo options of a call without a filter (``insert_one``, ``bulk_write``...)."""
    options = current_call_options()
    return {} if options is None else options.driver_kwargs()


def _direction(value: Any) -> Any:
    """1 or -1 for ordinary indexes; special kinds (``"text"``, ``"2dsphere"``) as named."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 1 if value >= 0 else -1
    return value


def _for_server(documents: list[Document]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Copies of validated documents for PyMongo (which writes ``_id`` into what it is
    given), each ``_id`` converted or made; and the ids as the caller sees them."""
    sent: list[dict[str, Any]] = []
    ids: list[Any] = []
    fresh = iter(new_object_ids_bytes(len(documents) - sum("_id" in d for d in documents)))
    for document in documents:
        if "_id" in document:
            identity = id_to_server(document["_id"])
            sent.append({**document, "_id": identity})
            ids.append(id_from_server(identity))
        else:
            made = next(fresh)
            sent.append({"_id": ObjectId(made), **document})
            ids.append(made.hex())
    return sent, ids
