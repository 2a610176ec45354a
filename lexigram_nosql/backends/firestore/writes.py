"""Writes of a ``FirestoreCollection``: inserts, updates, deletes, ``find_one_and_modify``
and the unique-index guards that go with them.

Module-level functions of the collection (``coll``), so the collection keeps its hooks and
read path while the write protocol lives in one place. Outside a transaction each document is
written atomically: guarded by the update time of the version read (or, for native
``$inc``/``$addToSet`` pinned to one ``_id``, by existence only) and re-read and retried when
another writer won; inside one, writes are buffered on the ``FirestoreTransaction``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.firestore.codec import (
    ORDER,
    decode_id,
    decode_snapshot,
    encode_body,
    encode_id,
    id_from_value,
    stored_id,
)
from lexigram_nosql.backends.firestore.guards import (
    add_guards,
    guard_changes,
    guard_in_transaction,
    held_guard_error,
    unique_specs,
)
from lexigram_nosql.backends.firestore.transaction import FirestoreTransaction
from lexigram_nosql.backends.firestore.updates import (
    FieldWrite,
    native_writes,
    replacement_writes,
)
from lexigram_nosql.backends.object_ids import new_object_id
from lexigram_nosql.backends.retry import LostRace, find_one_and_name, retry_lost_races
from lexigram_nosql.contracts import DeleteResult, ReturnDocument, UpdateResult
from lexigram_nosql.errors import DuplicateKeyError, WriteError
from lexigram_nosql.query.ast import Condition, FieldOp, FilterNode, Update
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.identity import same_stored
from lexigram_nosql.query.projection import apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.collection import FirestoreCollection, Match

__all__ = [
    "BATCH_LIMIT",
    "batches",
    "delete_matching",
    "find_one_and_modify",
    "insert_documents",
    "update_matching",
]

#: Firestore's limit on writes in one batch commit.
BATCH_LIMIT: Final = 500


def field_updates(writes: Sequence[FieldWrite]) -> dict[str, Any]:
    """The ``update()`` map of planned writes: dotted field paths, with Firestore's sentinels
    for delete, increment and array union so those need no read-modify-write."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.field_path import FieldPath

    updates: dict[str, Any] = {}
    for write in writes:
        path = FieldPath(*write.segments).to_api_repr()
        if write.kind == "set":
            updates[path] = write.value
        elif write.kind == "delete":
            updates[path] = firestore.DELETE_FIELD
        elif write.kind == "increment":
            updates[path] = firestore.Increment(write.value)
        else:
            updates[path] = firestore.ArrayUnion(write.value)
    return updates


def precondition(coll: FirestoreCollection, update_time: Any) -> Any:
    """Write only if the document is still the version read (else re-read and retry)."""
    return coll._client.write_option(last_update_time=update_time)


# -- writing -----------------------------------------------------------------------------


async def insert_documents(coll: FirestoreCollection, documents: list[Document]) -> list[Any]:
    prepared: list[tuple[str, Document, dict[str, Any]]] = []
    name = coll._name
    for document in documents:
        if "_id" not in document:
            document = {"_id": new_object_id(), **document}  # a string: reads back as itself
            doc_id = encode_id(document["_id"], collection=name)
        else:
            # The id checked as given (a Decimal128 reads back as a number), then a copy:
            # the caller's dict is never kept (a transaction keeps the document).
            doc_id = encode_id(document["_id"], collection=name)
            document = {**document, "_id": stored_id(document["_id"])}
        prepared.append((doc_id, document, encode_body(document, collection=name)))
    inserted = [document["_id"] for _, document, _ in prepared]
    handle = coll._transaction()
    if handle is not None:
        for position, (doc_id, document, body) in enumerate(prepared):
            with _at(position):
                await create_in_transaction(coll, handle, doc_id, document, body)
        return inserted
    uniques = await unique_specs(coll._store, coll._name)
    if uniques:
        for doc_id, document, body in prepared:  # one commit each, in order
            await create_guarded(coll, doc_id, document, body, uniques)
        return inserted
    if len(prepared) == 1:
        doc_id, _, body = prepared[0]
        await create(coll, doc_id, body)
        return inserted
    from google.api_core import exceptions as gx

    done = 0
    reference = coll._reference()
    for chunk in batches(prepared):
        batch = coll._client.batch()
        for doc_id, _, body in chunk:
            batch.create(reference.document(doc_id), body)
        try:
            await batch.commit()
        except (gx.AlreadyExists, gx.InvalidArgument):
            # A batch is all or nothing: insert this one in order, as MongoDB would,
            # so the documents before the duplicate are written and the error names it.
            for position, (doc_id, _, body) in enumerate(chunk, start=done):
                with _at(position):
                    await create(coll, doc_id, body)
        done += len(chunk)
    return inserted


async def create(coll: FirestoreCollection, doc_id: str, body: dict[str, Any]) -> None:
    from google.api_core import exceptions as gx

    try:
        await coll._document(doc_id).create(body)
    except gx.AlreadyExists as exc:
        raise duplicate_id_error(coll, doc_id) from exc


async def create_guarded(
    coll: FirestoreCollection,
    doc_id: str,
    document: Document,
    body: dict[str, Any],
    uniques: tuple[IndexSpec, ...],
) -> None:
    """Create the document and its guards in one atomic commit."""
    from google.api_core import exceptions as gx

    changes = guard_changes(coll._name, uniques, None, document, doc_id)

    async def attempt() -> None:
        batch = coll._client.batch()
        batch.create(coll._document(doc_id), body)
        add_guards(coll._client, batch, changes)
        try:
            await batch.commit()
        except gx.AlreadyExists as exc:
            if (await coll._document(doc_id).get()).exists:
                raise duplicate_id_error(coll, doc_id) from exc
            taken = await held_guard_error(coll._store, coll._name, changes, doc_id)
            if taken is not None:
                raise taken from exc
            raise LostRace from exc  # a guard held a moment ago is free now

    await retry_lost_races(coll._store, "insert", attempt, collection=coll._name)


def duplicate_id_error(coll: FirestoreCollection, doc_id: str) -> DuplicateKeyError:
    return DuplicateKeyError(
        f"Duplicate key: collection {coll._name!r} of store {coll._store.name!r} already "
        f"has a document with _id {decode_id(doc_id)!r}",
        index="_id_",
        key={"_id": decode_id(doc_id)},
        store=coll._store.name,
        collection=coll._name,
    )


async def create_in_transaction(
    coll: FirestoreCollection,
    handle: FirestoreTransaction,
    doc_id: str,
    document: Document,
    body: dict[str, Any],
) -> None:
    pending = handle.writes(coll._name)
    await handle.lock(coll._store, coll._name, [doc_id])
    if doc_id in pending:
        exists = pending[doc_id] is not None
    else:
        snapshot = await coll._document(doc_id).get(transaction=handle.transaction)
        exists = snapshot.exists
    if exists:
        raise duplicate_id_error(coll, doc_id)
    uniques = await unique_specs(coll._store, coll._name)
    if uniques:
        changes = guard_changes(coll._name, uniques, None, document, doc_id)
        await guard_in_transaction(coll._store, coll._name, handle, changes)
    kind = "set" if doc_id in pending else "create"
    handle.buffer(kind, coll._document(doc_id), body)
    pending[doc_id] = document


async def update_matching(
    coll: FirestoreCollection,
    query: FilterQuery,
    update: Update,
    *,
    multi: bool,
    upsert: bool,
) -> UpdateResult:
    handle = coll._transaction()

    async def attempt() -> UpdateResult:
        targets = await _targets(coll, query, multi=multi)
        if not targets:
            if not upsert:
                return UpdateResult(0, 0)
            try:
                new_id, _ = await upsert_document(coll, query.node, update)
            except DuplicateKeyError as exc:
                if handle is not None or exc.index != "_id_":
                    raise
                # A concurrent upsert won: update its document, unless the _id is taken by
                # one the filter does not match (MongoDB's duplicate key error).
                targets = await _targets(coll, query, multi=multi)
                if not targets:
                    raise
            else:
                return UpdateResult(0, 0, new_id)
        if handle is not None:
            modified = 0
            for match in targets:
                _, changed = await write_in_transaction(coll, handle, match, update)
                modified += changed
            return UpdateResult(len(targets), modified)
        if multi:
            matched, modified = await rewrite_many(coll, targets, update, query.node)
            return UpdateResult(matched, modified)
        outcome = await rewrite(coll, targets[0], update, query.node)
        if outcome is None:
            raise LostRace  # it stopped matching: update the next first match
        return UpdateResult(1, int(outcome[1] is not outcome[0]))

    operation = "update_many" if multi else "update_one"
    return await retry_lost_races(coll._store, operation, attempt, collection=coll._name)


async def _targets(coll: FirestoreCollection, query: FilterQuery, *, multi: bool) -> list[Match]:
    if multi:
        return [m async for m in coll._matches(query)]
    first = await coll._first(FindQuery(query))
    return [first] if first is not None else []


async def write_in_transaction(
    coll: FirestoreCollection, handle: FirestoreTransaction, match: Match, update: Update | None
) -> tuple[Document | None, bool]:
    """Buffer an update (or, with None, a delete) of one matched document."""
    uniques = await unique_specs(coll._store, coll._name)
    if update is None:
        if uniques:
            changes = guard_changes(coll._name, uniques, match.document, None, match.doc_id)
            await guard_in_transaction(coll._store, coll._name, handle, changes)
        handle.buffer("delete", coll._document(match.doc_id))
        handle.writes(coll._name)[match.doc_id] = None
        return None, True
    after = apply_update(update, match.document)
    if same_stored(after, match.document):
        return after, False
    body = encode_body(after, collection=coll._name)
    if uniques:
        changes = guard_changes(coll._name, uniques, match.document, after, match.doc_id)
        await guard_in_transaction(coll._store, coll._name, handle, changes)
    handle.buffer("set", coll._document(match.doc_id), body)
    handle.writes(coll._name)[match.doc_id] = after
    return after, True


async def rewrite(
    coll: FirestoreCollection,
    match: Match,
    update: Update,
    node: FilterNode,
    *,
    native: bool = True,
) -> tuple[Document, Document] | None:
    """Apply ``update`` to one document atomically: ``(before, after)`` (``after is
    before`` when nothing changed), or None when it stopped matching meanwhile."""

    async with coll._store.document_lock(coll._name, match.doc_id):
        return await _rewrite_locked(coll, match, update, node, native=native)


async def _rewrite_locked(
    coll: FirestoreCollection, match: Match, update: Update, node: FilterNode, *, native: bool
) -> tuple[Document, Document] | None:
    from google.api_core import exceptions as gx

    before, update_time = match.document, match.update_time
    reference = coll._document(match.doc_id)
    uniques = await unique_specs(coll._store, coll._name)

    async def attempt() -> tuple[Document, Document] | None:
        nonlocal before, update_time
        after = apply_update(update, before)
        if same_stored(after, before):
            return before, before
        body = encode_body(after, collection=coll._name)  # refuse what cannot be stored
        changes = guard_changes(coll._name, uniques, before, after, match.doc_id)
        writes = native_writes(update, before, after) if native else None
        if (
            writes is not None
            and not changes
            and _pins_id(node, match.doc_id)
            and not any(write.segments == (ORDER,) for write in writes)
        ):
            option = None  # an update requires the document to exist, nothing more
        else:
            # Moving guards, or writing the order whole, needs the version read to be the
            # stored one.
            if writes is None:
                writes = replacement_writes(before, after, body)
            option = precondition(coll, update_time)
        try:
            if changes:
                batch = coll._client.batch()
                batch.update(reference, field_updates(writes), option=option)
                add_guards(coll._client, batch, changes)
                await batch.commit()
            else:
                await reference.update(field_updates(writes), option=option)
            return before, after
        except gx.AlreadyExists as exc:
            taken = await held_guard_error(coll._store, coll._name, changes, match.doc_id)
            if taken is not None:
                raise taken from exc
            raise LostRace from exc  # a guard held a moment ago is free now
        except (gx.FailedPrecondition, gx.NotFound) as exc:
            snapshot = await reference.get()
            if not snapshot.exists:
                return None
            before = decode_snapshot(snapshot)
            update_time = snapshot.update_time
            if not matches(node, before):
                return None
            raise LostRace from exc

    return await retry_lost_races(
        coll._store, "update", attempt, collection=coll._name, key=decode_id(match.doc_id)
    )


async def rewrite_many(
    coll: FirestoreCollection, targets: list[Match], update: Update, node: FilterNode
) -> tuple[int, int]:
    """Batches of at most 500 guarded writes; a batch that lost a race is redone one
    document at a time."""
    from google.api_core import exceptions as gx

    matched = modified = 0
    if await unique_specs(coll._store, coll._name):
        for match in targets:  # each with its guards, in one commit
            outcome = await rewrite(coll, match, update, node)
            if outcome is not None:
                matched += 1
                modified += int(outcome[1] is not outcome[0])
        return matched, modified
    for chunk in batches(targets):
        batch = coll._client.batch()
        planned = 0
        for match in chunk:
            after = apply_update(update, match.document)
            if same_stored(after, match.document):
                continue
            body = encode_body(after, collection=coll._name)
            writes = native_writes(update, match.document, after)
            if writes is None:
                writes = replacement_writes(match.document, after, body)
            batch.update(
                coll._document(match.doc_id),
                field_updates(writes),
                option=precondition(coll, match.update_time),
            )
            planned += 1
        if not planned:
            matched += len(chunk)
            continue
        try:
            await batch.commit()
            matched += len(chunk)
            modified += planned
        except (gx.FailedPrecondition, gx.NotFound):
            for match in chunk:
                outcome = await rewrite(coll, match, update, node)
                if outcome is not None:
                    matched += 1
                    modified += int(outcome[1] is not outcome[0])
    return matched, modified


async def upsert_document(
    coll: FirestoreCollection, node: FilterNode, update: Update
) -> tuple[str, Document]:
    document = apply_update(update, upsert_seed(node), inserting=True)
    if "_id" not in document:
        document = {"_id": new_object_id(), **document}
    doc_id = encode_id(document["_id"], collection=coll._name)
    document = {**document, "_id": stored_id(document["_id"])}
    body = encode_body(document, collection=coll._name)
    handle = coll._transaction()
    uniques = await unique_specs(coll._store, coll._name)
    if handle is not None:
        await create_in_transaction(coll, handle, doc_id, document, body)
    elif uniques:
        await create_guarded(coll, doc_id, document, body, uniques)
    else:
        await create(coll, doc_id, body)
    return document["_id"], document


async def delete_matching(
    coll: FirestoreCollection, query: FilterQuery, *, multi: bool
) -> DeleteResult:
    handle = coll._transaction()

    async def attempt() -> DeleteResult:
        targets = await _targets(coll, query, multi=multi)
        if handle is not None:
            for match in targets:
                await write_in_transaction(coll, handle, match, None)
            return DeleteResult(len(targets))
        if multi:
            return DeleteResult(await remove_many(coll, targets, query.node))
        if not targets or await remove(coll, targets[0], query.node):
            return DeleteResult(len(targets))
        raise LostRace  # it stopped matching: delete the next first match

    operation = "delete_many" if multi else "delete_one"
    return await retry_lost_races(coll._store, operation, attempt, collection=coll._name)


async def remove(coll: FirestoreCollection, match: Match, node: FilterNode) -> bool:
    """Delete one document unless it changed so as not to match; whether it was."""
    from google.api_core import exceptions as gx

    reference = coll._document(match.doc_id)
    update_time, document = match.update_time, match.document
    uniques = await unique_specs(coll._store, coll._name)

    async def attempt() -> bool:
        nonlocal update_time, document
        option = precondition(coll, update_time)
        try:
            changes = guard_changes(coll._name, uniques, document, None, match.doc_id)
            if changes:
                batch = coll._client.batch()
                batch.delete(reference, option=option)
                add_guards(coll._client, batch, changes)
                await batch.commit()
            else:
                await reference.delete(option=option)
            return True
        except (gx.FailedPrecondition, gx.NotFound) as exc:
            snapshot = await reference.get()
            if not snapshot.exists:
                return False
            document = decode_snapshot(snapshot)
            if not matches(node, document):
                return False
            update_time = snapshot.update_time
            raise LostRace from exc

    async with coll._store.document_lock(coll._name, match.doc_id):
        return await retry_lost_races(
            coll._store, "delete", attempt, collection=coll._name, key=decode_id(match.doc_id)
        )


async def remove_many(coll: FirestoreCollection, targets: list[Match], node: FilterNode) -> int:
    from google.api_core import exceptions as gx

    deleted = 0
    if await unique_specs(coll._store, coll._name):
        for match in targets:  # each with its guards, in one commit
            deleted += await remove(coll, match, node)
        return deleted
    for chunk in batches(targets):
        batch = coll._client.batch()
        for match in chunk:
            batch.delete(coll._document(match.doc_id), option=precondition(coll, match.update_time))
        try:
            await batch.commit()
            deleted += len(chunk)
        except (gx.FailedPrecondition, gx.NotFound):
            for match in chunk:
                deleted += await remove(coll, match, node)
    return deleted


async def find_one_and_modify(
    coll: FirestoreCollection,
    query: FindQuery,
    update: Update | None,
    *,
    upsert: bool,
    return_document: ReturnDocument,
) -> Document | None:
    handle = coll._transaction()
    node = query.filter.node

    async def attempt() -> Document | None:
        target = await coll._first(query)
        if target is None:
            if update is None or not upsert:
                return None
            try:
                _, document = await upsert_document(coll, node, update)
            except DuplicateKeyError as exc:
                if handle is not None or exc.index != "_id_":
                    raise
                target = await coll._first(query)  # a concurrent upsert won: modify its
                if target is None:  # document, unless the _id is taken by one not matching
                    raise
            else:
                if return_document is ReturnDocument.AFTER:
                    return apply_projection(query.projection, document)
                return None
        if update is None:
            if handle is not None:
                await write_in_transaction(coll, handle, target, None)
            elif not await remove(coll, target, node):
                raise LostRace  # it stopped matching: take the next first match
            return apply_projection(query.projection, target.document)
        if handle is not None:
            written, _ = await write_in_transaction(coll, handle, target, update)
            outcome: tuple[Document, Document] | None = (target.document, written or {})
        else:
            # The after-image must be exact, so the write is guarded by the update time.
            outcome = await rewrite(coll, target, update, node, native=False)
        if outcome is None:
            raise LostRace  # it stopped matching: take the next first match
        chosen = outcome[1] if return_document is ReturnDocument.AFTER else outcome[0]
        return apply_projection(query.projection, chosen)

    operation = find_one_and_name(update)
    return await retry_lost_races(coll._store, operation, attempt, collection=coll._name)


# -- helpers -----------------------------------------------------------------------------


def _pins_id(node: FilterNode, doc_id: str) -> bool:
    """Whether the filter is exactly ``_id == doc_id`` (so the match cannot change)."""
    return (
        isinstance(node, Condition)
        and node.path == "_id"
        and node.op is FieldOp.EQ
        and id_from_value(node.operand) == doc_id
    )


@contextlib.contextmanager
def _at(position: int) -> Iterator[None]:
    """Mark a refusal with the position of the document in the batch being inserted."""
    try:
        yield
    except WriteError as exc:
        exc.request_index = position
        raise


def batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    """``items`` in chunks of at most ``BATCH_LIMIT`` (one batch commit each)."""
    return [items[i : i + BATCH_LIMIT] for i in range(0, len(items), BATCH_LIMIT)]
