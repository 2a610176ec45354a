"""Bulk writes above the backends: ``bulk_write`` and the error accounting of ``insert_many``.

Every request is validated before the first write (as PyMongo builds the whole batch before
sending it). A request the store refuses (a duplicate key, an update that does not fit the
stored document) becomes one ``BulkWriteFailure``: an ordered bulk stops there, an unordered
one goes on; either way ``BulkWriteError`` reports what was written. Errors that are not about
one request (connection, transaction) propagate as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from lexigram_nosql.contracts import (
    BulkWriteFailure,
    BulkWriteResult,
    DeleteMany,
    DeleteOne,
    InsertOne,
    ReplaceOne,
    UpdateMany,
    UpdateOne,
    WriteOperation,
)
from lexigram_nosql.errors import (
    BulkWriteError,
    DocumentTooLargeError,
    InvalidQueryError,
    NoSQLError,
    QueryError,
    WriteError,
)
from lexigram_nosql.query.ast import Update
from lexigram_nosql.query.requests import FilterQuery
from lexigram_nosql.query.values import is_plain_document
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.collection import BaseCollection

__all__ = ["DeleteCall", "UpdateCall", "checked_documents", "insert_batch", "run_bulk", "run_steps"]

_PER_REQUEST = (WriteError, QueryError)
"""Errors that belong to one request of a bulk; anything else stops the bulk as it is."""

_BEFORE_SENDING = (QueryError, DocumentTooLargeError)
"""Refusals a backend makes while encoding, before it sends anything."""


class UpdateCall(NamedTuple):
    """A validated update or replace request (a named tuple: built for every update call,
    and the cheapest immutable record to build)."""

    query: FilterQuery
    update: Update
    raw: Any
    multi: bool
    upsert: bool
    sort: tuple[tuple[str, int], ...] = ()


def checked_documents(collection: BaseCollection[Any], documents: Sequence[Any]) -> list[Document]:
    """``collection._check_document`` of each document of an ``insert_many``, in order. The
    commonest document, a dict without ``_id``, needs only the value check of its fields:
    thousands of them go straight to it."""
    checked: list[Document] = []
    try:
        for document in documents:
            if type(document) is dict and "_id" not in document and is_plain_document(document):
                checked.append(document)
            else:
                checked.append(collection._check_document(document))
    except InvalidQueryError as exc:
        exc.collection = exc.collection or collection.name
        raise
    return checked


async def insert_batch(
    collection: BaseCollection[Any], documents: list[Document], *, ordered: bool
) -> tuple[list[Any], list[tuple[int, NoSQLError]]]:
    """Insert ``documents`` (validated) in as few backend calls as the failures allow.

    Returns the ids inserted and the failures by position. A backend that writes part of a
    batch before refusing a document says where with ``WriteError.request_index``. A refusal
    made while encoding (``_BEFORE_SENDING``, no position) means nothing of the batch was
    sent: on the first batch the whole call is refused as it is (nothing was written); on a
    later one (unordered, after failures) the batch is retried one document at a time to find
    which ones fail."""
    ids: list[Any] = []
    failures: list[tuple[int, NoSQLError]] = []
    start = 0
    while start < len(documents):
        batch = documents[start:]
        try:
            async with collection._operation("insert_many"):  # nested: translates
                ids.extend(await collection._insert(batch))
            return ids, failures
        except _PER_REQUEST as exc:
            position = exc.request_index if isinstance(exc, WriteError) else None
            if position is None and isinstance(exc, _BEFORE_SENDING):
                if not ids and not failures:
                    raise  # refused before anything was sent: the whole call is refused
                if len(batch) > 1:
                    return await _one_by_one(collection, batch, start, ids, failures, ordered)
            position = position or 0
            ids.extend([_UNKNOWN] * position)
            failures.append((start + position, exc))
            if ordered:
                return ids, failures
            start += position + 1
    return ids, failures


class _Unknown:
    """An inserted document whose id the backend did not report (its batch failed later)."""

    def __repr__(self) -> str:
        return "<inserted>"


_UNKNOWN = _Unknown()


async def _one_by_one(
    collection: BaseCollection[Any],
    batch: list[Document],
    start: int,
    ids: list[Any],
    failures: list[tuple[int, NoSQLError]],
    ordered: bool,
) -> tuple[list[Any], list[tuple[int, NoSQLError]]]:
    for offset, document in enumerate(batch):
        try:
            async with collection._operation("insert_many"):
                ids.extend(await collection._insert([document]))
        except _PER_REQUEST as exc:
            failures.append((start + offset, exc))
            if ordered:
                break
    return ids, failures


# -- bulk_write --------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    inserted: int = 0
    matched: int = 0
    modified: int = 0
    deleted: int = 0
    upserted: dict[int, Any] = dataclasses.field(default_factory=dict)

    def result(self) -> BulkWriteResult:
        return BulkWriteResult(
            self.inserted, self.matched, self.modified, self.deleted, dict(self.upserted)
        )


_KNOWN = (InsertOne, UpdateOne, UpdateMany, ReplaceOne, DeleteOne, DeleteMany)
_PER_MODEL: Final = frozenset({"hint", "collation"})
"""The options PyMongo's request models take besides their filter and update."""


def _prepare(collection: BaseCollection[Any], index: int, op: Any) -> Any:
    """The validated form of one operation: a document, an ``UpdateCall`` or a delete."""
    if not isinstance(op, _KNOWN):
        raise InvalidQueryError(
            f"bulk_write operation {index} is a {type(op).__name__}, not one of "
            "InsertOne, UpdateOne, UpdateMany, ReplaceOne, DeleteOne, DeleteMany",
            collection=collection.name,
        )
    try:
        if op.namespace is not None:
            _refuse_namespace(collection, op.namespace)
        if isinstance(op, InsertOne):
            return collection._check_document(op.document)
        step = _validated(collection, op)
        if op.hint is None and op.collation is None:
            return step
        # Checked as the calls check them, and MongoDB receives them with the request.
        given = {"hint": op.hint, "collation": op.collation}
        options = collection._options(
            type(op).__name__, {k: v for k, v in given.items() if v is not None}, _PER_MODEL
        )
        query = dataclasses.replace(step.query, options=options)
        if isinstance(step, DeleteCall):
            return dataclasses.replace(step, query=query)
        return step._replace(query=query)
    except QueryError as exc:
        exc.message = f"bulk_write operation {index} ({type(op).__name__}): {exc.message}"
        exc.args = (exc.message,)
        raise


def _refuse_namespace(collection: BaseCollection[Any], namespace: Any) -> None:
    """PyMongo's ``namespace`` targets its client-level ``MongoClient.bulk_write``; a
    collection's ``bulk_write`` writes into its own collection, so the request is refused
    rather than written where the user did not name (PyMongo's collection ignores it)."""
    raise InvalidQueryError(
        f"namespace={namespace!r} is for MongoClient.bulk_write (a bulk across collections); "
        f"collection {collection.name!r}'s bulk_write writes only into itself: leave "
        "namespace out, or call bulk_write on the collection it names",
        operator="namespace",
        collection=collection.name,
    )


def _validated(collection: BaseCollection[Any], op: Any) -> Any:
    """A delete's, update's or replacement's validated form (``DeleteCall``/``UpdateCall``)."""
    if isinstance(op, (DeleteOne, DeleteMany)):
        query = FilterQuery.build(collection._need_filter(op.filter))
        return DeleteCall(query, multi=isinstance(op, DeleteMany))
    if isinstance(op, ReplaceOne):
        return collection._update_call(
            "ReplaceOne", op.filter, op.replacement, upsert=_upsert(op), sort=op.sort
        )
    one = isinstance(op, UpdateOne)
    return collection._update_call(
        "UpdateOne" if one else "UpdateMany",
        op.filter,
        op.update,
        upsert=_upsert(op),
        array_filters=op.array_filters,
        sort=op.sort if one else None,
        multi=not one,
    )


def _upsert(op: UpdateOne | UpdateMany | ReplaceOne) -> Any:
    """The model's ``upsert``, None (PyMongo's default) meaning False."""
    return False if op.upsert is None else op.upsert


async def run_bulk(
    collection: BaseCollection[Any], operations: Sequence[WriteOperation], *, ordered: bool
) -> BulkWriteResult:
    """Validate every operation, then run them (see the module docstring)."""
    if isinstance(operations, Mapping) or not isinstance(operations, Sequence):
        raise InvalidQueryError("bulk_write takes a list of operations", collection=collection.name)
    if not operations:  # the CRUD specification requires the refusal (PyMongo: "No operations")
        raise InvalidQueryError(
            "bulk_write takes a non-empty list of operations", collection=collection.name
        )
    steps = [_prepare(collection, index, op) for index, op in enumerate(operations)]
    async with collection._operation("bulk_write"):
        result, failures = await collection._write_bulk(operations, steps, ordered=ordered)
    if failures:
        raise BulkWriteError.build(
            result, failures, store=collection.store.name, collection=collection.name
        )
    return result


async def run_steps(
    collection: BaseCollection[Any],
    operations: Sequence[WriteOperation],
    steps: list[Any],
    *,
    ordered: bool,
) -> tuple[BulkWriteResult, list[BulkWriteFailure]]:
    """The engine's bulk: consecutive inserts as one ``_insert_all``, the other requests one
    by one (inside the caller's operation guard)."""
    tally = _Tally()
    failures: list[BulkWriteFailure] = []
    await _run_steps(collection, operations, steps, tally, failures, ordered)
    return tally.result(), failures


async def _run_steps(
    collection: BaseCollection[Any],
    operations: Sequence[WriteOperation],
    steps: list[Any],
    tally: _Tally,
    failures: list[BulkWriteFailure],
    ordered: bool,
) -> None:
    index = 0
    while index < len(steps):
        if isinstance(operations[index], InsertOne):
            end = index
            while end < len(steps) and isinstance(operations[end], InsertOne):
                end += 1
            ids, failed = await collection._insert_all(steps[index:end], ordered=ordered)
            tally.inserted += len(ids)
            failures.extend(
                BulkWriteFailure(index + i, exc, operations[index + i]) for i, exc in failed
            )
            index = end
        else:
            try:
                async with collection._operation("bulk_write"):  # nested: translates
                    await _run_one(collection, index, steps[index], tally)
            except _PER_REQUEST as exc:
                failures.append(BulkWriteFailure(index, exc, operations[index]))
            index += 1
        if failures and ordered:
            return


async def _run_one(collection: BaseCollection[Any], index: int, step: Any, tally: _Tally) -> None:
    options = step.query.options
    if options is not None and options.hint is not None and not collection._sends_options:
        await collection._check_hint(f"bulk_write operation {index}", options.hint)
    if isinstance(step, DeleteCall):
        tally.deleted += (await collection._delete(step.query, multi=step.multi)).deleted_count
        return
    result = await collection._run_update(step)
    tally.matched += result.matched_count
    tally.modified += result.modified_count
    if result.upserted_id is not None:
        tally.upserted[index] = result.upserted_id


@dataclass(frozen=True, slots=True)
class DeleteCall:
    """A validated delete request of a bulk."""

    query: FilterQuery
    multi: bool
