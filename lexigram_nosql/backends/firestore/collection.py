"""``FirestoreCollection``: CRUD on one Firestore collection, exact whatever the filter.

Reads run the planner's branches (``planner.py``) in parallel, merge them by document id and
re-check each document with the shared engine's ``matches``; sort is done here (a bounded
top-k when a limit is given, since Firestore's ``order_by`` drops documents missing the field
and orders types differently from MongoDB). Writes outside a transaction are atomic per
document: each is guarded by the update time of the version that was read (or, for native
``$inc``/``$addToSet`` on an ``_id`` filter, by existence only) and retried on conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.firestore.codec import (
    BACKEND,
    decode_document,
    decode_id,
    encode_body,
    encode_id,
    generate_id,
    id_from_value,
    stored_id,
)
from lexigram_nosql.backends.firestore.guards import (
    GUARD_COLLECTION,
    GuardChanges,
    delete_guards,
    guard_changes,
)
from lexigram_nosql.backends.firestore.merge import merge
from lexigram_nosql.backends.firestore.names import collection_path
from lexigram_nosql.backends.firestore.planner import (
    DOCUMENT_ID,
    Branch,
    QueryPlan,
    id_lookup,
    plan_filter,
)
from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore, FirestoreTransaction
from lexigram_nosql.backends.firestore.updates import (
    FieldWrite,
    native_writes,
    replacement_writes,
    same_value,
)
from lexigram_nosql.backends.unique import duplicate_error, find_duplicates
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import (
    ConcurrencyError,
    DuplicateKeyError,
    InvalidQueryError,
    UnsupportedQueryError,
    WriteError,
)
from lexigram_nosql.query.ast import Condition, FieldOp, FilterNode, MatchAll, Update
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.projection import apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.reads import current_report
from lexigram_nosql.types import Document

__all__ = ["FirestoreCollection"]

logger = logging.getLogger("lexigram_nosql")

#: Firestore's limit on writes in one batch commit.
BATCH_LIMIT: Final = 500
#: How often a write that lost a race with another writer is re-read and tried again.
WRITE_ATTEMPTS: Final = 10


@dataclass(frozen=True, slots=True)
class Match:
    """A matching document with the update time of the version read (None when it is a
    transaction's own pending write)."""

    doc_id: str
    update_time: Any
    document: Document


class FirestoreCollection(BaseCollection[FirestoreDocumentStore]):
    """One Firestore collection (or subcollection, for a path name); ``_id`` is the
    document id."""

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

    def _field_updates(self, writes: Sequence[FieldWrite]) -> dict[str, Any]:
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

    def _precondition(self, update_time: Any) -> Any:
        return self._client.write_option(last_update_time=update_time)

    # -- unique indexes (guards.py) --------------------------------------------------------

    async def _uniques(self) -> tuple[IndexSpec, ...]:
        specs = await self._store.loaded_indexes(self._name)
        return tuple(spec for spec in specs.values() if spec.unique)

    def _guard(self, guard: str) -> Any:
        return self._client.collection(GUARD_COLLECTION).document(guard)

    def _add_guards(self, batch: Any, changes: GuardChanges) -> None:
        for guard, body, _, _ in changes.creates:
            batch.create(self._guard(guard), body)
        for guard in changes.deletes:
            batch.delete(self._guard(guard))

    async def _taken(self, changes: GuardChanges, owner: str) -> DuplicateKeyError | None:
        """After a commit failed with AlreadyExists: the error for the first guard another
        document holds (None when none is held any more: the commit can be tried again)."""
        references = [self._guard(guard) for guard, _, _, _ in changes.creates]
        held = {
            snapshot.id
            async for snapshot in self._client.get_all(references)
            if snapshot.exists and (snapshot.to_dict() or {}).get("owner") != owner
        }
        for guard, _, index, key in changes.creates:
            if guard in held:
                return duplicate_error(index, key, store=self._store.name, collection=self._name)
        return None

    async def _guard_in_transaction(
        self, handle: FirestoreTransaction, changes: GuardChanges
    ) -> None:
        """Check each new value inside the transaction (its own writes, then the committed
        guards, read in the transaction), then buffer the guard writes for the commit."""
        pending = handle.writes(GUARD_COLLECTION)
        for guard, _, index, key in changes.creates:
            if guard in pending:
                taken = pending[guard] is not None
            else:
                snapshot = await self._guard(guard).get(transaction=handle.transaction)
                taken = snapshot.exists
            if taken:
                raise duplicate_error(index, key, store=self._store.name, collection=self._name)
        for guard in changes.deletes:
            handle.buffer("delete", self._guard(guard))
            pending[guard] = None
        for guard, body, _, _ in changes.creates:
            handle.buffer("set" if guard in pending else "create", self._guard(guard), body)
            pending[guard] = body

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
    def _key(snapshot: Any) -> str:
        """A read document's key: unique among what this reader returns."""
        return str(snapshot.id)

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
            if pending_document is None or (check and not matches(node, pending_document)):
                continue
            yield Match(doc_id, None, pending_document)

    async def _get_many(
        self, ids: list[str], transaction: Any
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        """A direct get (one id) or a batched get (several), in id order."""
        if not ids:
            return
        references = [self._document(doc_id) for doc_id in sorted(ids)]
        if len(references) == 1:
            snapshot = await references[0].get(transaction=transaction)
            snapshots = [snapshot]
        else:
            snapshots = [s async for s in self._client.get_all(references, transaction=transaction)]
            snapshots.sort(key=lambda s: s.id)
        for snapshot in snapshots:
            if snapshot.exists:
                yield (
                    snapshot.id,
                    snapshot.update_time,
                    decode_document(snapshot.id, snapshot.to_dict()),
                )

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

    async def _run_plan(
        self, plan: QueryPlan, transaction: Any, limit_hint: int | None
    ) -> AsyncGenerator[tuple[str, Any, Document], None]:
        if not plan.branches:
            return
        streams = [self._run_branch(b, transaction, limit_hint) for b in plan.branches]
        if len(streams) == 1:
            async with contextlib.aclosing(streams[0]) as only:
                async for item in only:
                    yield item
            return
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
            async with self._store.query_slots:
                async for snapshot in query.stream(transaction=transaction):
                    yielded = True
                    yield (
                        self._key(snapshot),
                        snapshot.update_time,
                        decode_document(snapshot.id, snapshot.to_dict()),
                    )
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
            broader = self._query(fallback)
            async for snapshot in broader.stream(transaction=transaction):
                yield (
                    self._key(snapshot),
                    snapshot.update_time,
                    decode_document(snapshot.id, snapshot.to_dict()),
                )

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
            snapshot = await self._document(doc_id).get()
            if not snapshot.exists:
                return None
            document = decode_document(snapshot.id, snapshot.to_dict())
            return apply_projection(query.projection, document)
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

    # -- writing -------------------------------------------------------------------------

    async def _insert(self, documents: list[Document]) -> list[Any]:
        prepared: list[tuple[str, Document, dict[str, Any]]] = []
        for document in documents:
            if "_id" not in document:
                document = {"_id": generate_id(), **document}
            doc_id = encode_id(document["_id"], collection=self._name)
            document = {**document, "_id": stored_id(document["_id"])}
            prepared.append((doc_id, document, encode_body(document, collection=self._name)))
        inserted = [document["_id"] for _, document, _ in prepared]
        handle = self._transaction()
        if handle is not None:
            for position, (doc_id, document, body) in enumerate(prepared):
                with _at(position):
                    await self._create_in_transaction(handle, doc_id, document, body)
            return inserted
        uniques = await self._uniques()
        if uniques:
            for doc_id, document, body in prepared:  # one commit each, in order
                await self._create_guarded(doc_id, document, body, uniques)
            return inserted
        if len(prepared) == 1:
            doc_id, _, body = prepared[0]
            await self._create(doc_id, body)
            return inserted
        from google.api_core import exceptions as gx

        done = 0
        for chunk in _batches(prepared):
            batch = self._client.batch()
            for doc_id, _, body in chunk:
                batch.create(self._document(doc_id), body)
            try:
                await batch.commit()
            except (gx.AlreadyExists, gx.InvalidArgument):
                # A batch is all or nothing: insert this one in order, as MongoDB would,
                # so the documents before the duplicate are written and the error names it.
                for position, (doc_id, _, body) in enumerate(chunk, start=done):
                    with _at(position):
                        await self._create(doc_id, body)
            done += len(chunk)
        return inserted

    async def _create(self, doc_id: str, body: dict[str, Any]) -> None:
        from google.api_core import exceptions as gx

        try:
            await self._document(doc_id).create(body)
        except gx.AlreadyExists as exc:
            raise self._duplicate(doc_id) from exc

    async def _create_guarded(
        self, doc_id: str, document: Document, body: dict[str, Any], uniques: tuple[IndexSpec, ...]
    ) -> None:
        """Create the document and its guards in one atomic commit."""
        from google.api_core import exceptions as gx

        changes = guard_changes(self._name, uniques, None, document, doc_id)
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                await _backoff(attempt)
            batch = self._client.batch()
            batch.create(self._document(doc_id), body)
            self._add_guards(batch, changes)
            try:
                await batch.commit()
                return
            except gx.AlreadyExists as exc:
                if (await self._document(doc_id).get()).exists:
                    raise self._duplicate(doc_id) from exc
                taken = await self._taken(changes, doc_id)
                if taken is not None:
                    raise taken from exc
        raise self._contended("insert")

    def _duplicate(self, doc_id: str) -> DuplicateKeyError:
        return DuplicateKeyError(
            f"Duplicate key: collection {self._name!r} of store {self._store.name!r} already "
            f"has a document with _id {decode_id(doc_id)!r}",
            index="_id_",
            key={"_id": decode_id(doc_id)},
            store=self._store.name,
            collection=self._name,
        )

    async def _create_in_transaction(
        self, handle: FirestoreTransaction, doc_id: str, document: Document, body: dict[str, Any]
    ) -> None:
        pending = handle.writes(self._name)
        await handle.lock(self._store, self._name, [doc_id])
        if doc_id in pending:
            exists = pending[doc_id] is not None
        else:
            snapshot = await self._document(doc_id).get(transaction=handle.transaction)
            exists = snapshot.exists
        if exists:
            raise self._duplicate(doc_id)
        uniques = await self._uniques()
        if uniques:
            changes = guard_changes(self._name, uniques, None, document, doc_id)
            await self._guard_in_transaction(handle, changes)
        kind = "set" if doc_id in pending else "create"
        handle.buffer(kind, self._document(doc_id), body)
        pending[doc_id] = document

    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult:
        handle = self._transaction()
        for _ in range(WRITE_ATTEMPTS):
            if multi:
                targets = [m async for m in self._matches(query)]
            else:
                first = await self._first(FindQuery(query))
                targets = [first] if first is not None else []
            if not targets:
                if not upsert:
                    return UpdateResult(0, 0)
                try:
                    new_id, _ = await self._upsert(query.node, update)
                except DuplicateKeyError as exc:
                    if handle is not None or exc.index != "_id_":
                        raise
                    continue  # a concurrent upsert won: now there is a match to update
                return UpdateResult(0, 0, new_id)
            if handle is not None:
                modified = 0
                for match in targets:
                    _, changed = await self._write_in_transaction(handle, match, update)
                    modified += changed
                return UpdateResult(len(targets), modified)
            if multi:
                matched, modified = await self._rewrite_many(targets, update, query.node)
                return UpdateResult(matched, modified)
            outcome = await self._rewrite(targets[0], update, query.node)
            if outcome is not None:
                return UpdateResult(1, int(outcome[1] is not outcome[0]))
        raise self._contended("update")

    async def _write_in_transaction(
        self, handle: FirestoreTransaction, match: Match, update: Update | None
    ) -> tuple[Document | None, bool]:
        """Buffer an update (or, with None, a delete) of one matched document."""
        uniques = await self._uniques()
        if update is None:
            if uniques:
                changes = guard_changes(self._name, uniques, match.document, None, match.doc_id)
                await self._guard_in_transaction(handle, changes)
            handle.buffer("delete", self._document(match.doc_id))
            handle.writes(self._name)[match.doc_id] = None
            return None, True
        after = apply_update(update, match.document)
        if same_value(after, match.document):
            return after, False
        body = encode_body(after, collection=self._name)
        if uniques:
            changes = guard_changes(self._name, uniques, match.document, after, match.doc_id)
            await self._guard_in_transaction(handle, changes)
        handle.buffer("set", self._document(match.doc_id), body)
        handle.writes(self._name)[match.doc_id] = after
        return after, True

    async def _rewrite(
        self, match: Match, update: Update, node: FilterNode, *, native: bool = True
    ) -> tuple[Document, Document] | None:
        """Apply ``update`` to one document atomically: ``(before, after)`` (``after is
        before`` when nothing changed), or None when it stopped matching meanwhile."""

        async with self._store.document_lock(self._name, match.doc_id):
            return await self._rewrite_locked(match, update, node, native=native)

    async def _rewrite_locked(
        self, match: Match, update: Update, node: FilterNode, *, native: bool
    ) -> tuple[Document, Document] | None:
        from google.api_core import exceptions as gx

        before, update_time = match.document, match.update_time
        reference = self._document(match.doc_id)
        uniques = await self._uniques()
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                await _backoff(attempt)
            after = apply_update(update, before)
            if same_value(after, before):
                return before, before
            encode_body(after, collection=self._name)  # refuse what cannot be stored
            changes = guard_changes(self._name, uniques, before, after, match.doc_id)
            writes = native_writes(update, before) if native else None
            if writes is not None and not changes and _pins_id(node, match.doc_id):
                option = None  # an update requires the document to exist, nothing more
            else:
                # Moving guards needs the values read to be the stored ones.
                writes = writes or replacement_writes(before, after)
                option = self._precondition(update_time)
            try:
                if changes:
                    batch = self._client.batch()
                    batch.update(reference, self._field_updates(writes), option=option)
                    self._add_guards(batch, changes)
                    await batch.commit()
                else:
                    await reference.update(self._field_updates(writes), option=option)
                return before, after
            except gx.AlreadyExists as exc:
                taken = await self._taken(changes, match.doc_id)
                if taken is not None:
                    raise taken from exc
                continue
            except (gx.FailedPrecondition, gx.NotFound):
                snapshot = await reference.get()
                if not snapshot.exists:
                    return None
                before = decode_document(snapshot.id, snapshot.to_dict())
                update_time = snapshot.update_time
                if not matches(node, before):
                    return None
        raise self._contended("update")

    async def _rewrite_many(
        self, targets: list[Match], update: Update, node: FilterNode
    ) -> tuple[int, int]:
        """Batches of at most 500 guarded writes; a batch that lost a race is redone one
        document at a time."""
        from google.api_core import exceptions as gx

        matched = modified = 0
        if await self._uniques():
            for match in targets:  # each with its guards, in one commit
                outcome = await self._rewrite(match, update, node)
                if outcome is not None:
                    matched += 1
                    modified += int(outcome[1] is not outcome[0])
            return matched, modified
        for chunk in _batches(targets):
            batch = self._client.batch()
            planned = 0
            for match in chunk:
                after = apply_update(update, match.document)
                if same_value(after, match.document):
                    continue
                encode_body(after, collection=self._name)
                writes = native_writes(update, match.document) or replacement_writes(
                    match.document, after
                )
                batch.update(
                    self._document(match.doc_id),
                    self._field_updates(writes),
                    option=self._precondition(match.update_time),
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
                    outcome = await self._rewrite(match, update, node)
                    if outcome is not None:
                        matched += 1
                        modified += int(outcome[1] is not outcome[0])
        return matched, modified

    async def _upsert(self, node: FilterNode, update: Update) -> tuple[str, Document]:
        document = apply_update(update, upsert_seed(node), inserting=True)
        if "_id" not in document:
            document = {"_id": generate_id(), **document}
        doc_id = encode_id(document["_id"], collection=self._name)
        document = {**document, "_id": stored_id(document["_id"])}
        body = encode_body(document, collection=self._name)
        handle = self._transaction()
        uniques = await self._uniques()
        if handle is not None:
            await self._create_in_transaction(handle, doc_id, document, body)
        elif uniques:
            await self._create_guarded(doc_id, document, body, uniques)
        else:
            await self._create(doc_id, body)
        return document["_id"], document

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        handle = self._transaction()
        for _ in range(WRITE_ATTEMPTS):
            if multi:
                targets = [m async for m in self._matches(query)]
            else:
                first = await self._first(FindQuery(query))
                targets = [first] if first is not None else []
            if handle is not None:
                for match in targets:
                    await self._write_in_transaction(handle, match, None)
                return DeleteResult(len(targets))
            if multi:
                return DeleteResult(await self._remove_many(targets, query.node))
            if not targets or await self._remove(targets[0], query.node):
                return DeleteResult(len(targets))
        raise self._contended("delete")

    async def _remove(self, match: Match, node: FilterNode) -> bool:
        """Delete one document unless it changed so as not to match; whether it was."""
        from google.api_core import exceptions as gx

        reference = self._document(match.doc_id)
        update_time, document = match.update_time, match.document
        uniques = await self._uniques()
        async with self._store.document_lock(self._name, match.doc_id):
            for attempt in range(WRITE_ATTEMPTS):
                if attempt:
                    await _backoff(attempt)
                option = self._precondition(update_time)
                try:
                    changes = guard_changes(self._name, uniques, document, None, match.doc_id)
                    if changes:
                        batch = self._client.batch()
                        batch.delete(reference, option=option)
                        self._add_guards(batch, changes)
                        await batch.commit()
                    else:
                        await reference.delete(option=option)
                    return True
                except (gx.FailedPrecondition, gx.NotFound):
                    snapshot = await reference.get()
                    if not snapshot.exists:
                        return False
                    document = decode_document(snapshot.id, snapshot.to_dict())
                    if not matches(node, document):
                        return False
                    update_time = snapshot.update_time
        raise self._contended("delete")

    async def _remove_many(self, targets: list[Match], node: FilterNode) -> int:
        from google.api_core import exceptions as gx

        deleted = 0
        if await self._uniques():
            for match in targets:  # each with its guards, in one commit
                deleted += await self._remove(match, node)
            return deleted
        for chunk in _batches(targets):
            batch = self._client.batch()
            for match in chunk:
                batch.delete(
                    self._document(match.doc_id), option=self._precondition(match.update_time)
                )
            try:
                await batch.commit()
                deleted += len(chunk)
            except (gx.FailedPrecondition, gx.NotFound):
                for match in chunk:
                    deleted += await self._remove(match, node)
        return deleted

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        handle = self._transaction()
        node = query.filter.node
        for _ in range(WRITE_ATTEMPTS):
            target = await self._first(query)
            if target is None:
                if update is None or not upsert:
                    return None
                try:
                    _, document = await self._upsert(node, update)
                except DuplicateKeyError as exc:
                    if handle is not None or exc.index != "_id_":
                        raise
                    continue
                if return_document is ReturnDocument.AFTER:
                    return apply_projection(query.projection, document)
                return None
            if update is None:
                if handle is not None:
                    await self._write_in_transaction(handle, target, None)
                elif not await self._remove(target, node):
                    continue
                return apply_projection(query.projection, target.document)
            if handle is not None:
                written, _ = await self._write_in_transaction(handle, target, update)
                outcome: tuple[Document, Document] | None = (target.document, written or {})
            else:
                # The after-image must be exact, so the write is guarded by the update time.
                outcome = await self._rewrite(target, update, node, native=False)
            if outcome is None:
                continue
            chosen = outcome[1] if return_document is ReturnDocument.AFTER else outcome[0]
            return apply_projection(query.projection, chosen)
        raise self._contended("find_one_and_modify")

    def _contended(self, operation: str) -> ConcurrencyError:
        return ConcurrencyError(
            f"{operation} on collection {self._name!r} of store {self._store.name!r} kept "
            f"losing to concurrent writers ({WRITE_ATTEMPTS} attempts); try again",
            store=self._store.name,
            collection=self._name,
        )

    # -- indexes -------------------------------------------------------------------------

    async def _create_index(self, spec: IndexSpec) -> str:
        if spec.expire_after_seconds is not None:
            raise UnsupportedQueryError(
                f"Firestore expires documents through a TTL policy on a timestamp field, set "
                f"with gcloud (`gcloud firestore fields ttls update`), not through index "
                f"{spec.name!r} on collection {self._name!r}",
                backend=BACKEND,
                operator="create_index",
                collection=self._name,
            )
        recorded = await self._store.loaded_indexes(self._name)
        existing = recorded.get(spec.name)
        if existing is not None and existing.keys != spec.keys:
            raise InvalidQueryError(
                f"Index {spec.name!r} on collection {self._name!r} already exists with other "
                f"keys {list(existing.keys)!r}",
                operator="create_index",
                collection=self._name,
            )
        if existing == spec:
            return spec.name
        if spec.unique:
            await self._build_guards(spec)
        recorded[spec.name] = spec
        await self._store.save_indexes(self._name)
        if len(spec.keys) > 1:
            logger.info(
                "Recorded composite index %s on %s.%s; Firestore needs it deployed "
                "(firestore.indexes.json or gcloud) before queries that use it",
                spec.name,
                self._store.name,
                self._name,
            )
        return spec.name

    async def _build_guards(self, spec: IndexSpec) -> None:
        """The guards of every stored document, or ``DuplicateKeyError`` naming the values
        several documents share, with nothing written."""
        documents = [
            (snapshot.id, decode_document(snapshot.id, snapshot.to_dict()))
            async for snapshot in self._reference().stream()
        ]
        duplicates = find_duplicates(spec, documents)
        if duplicates:
            raise duplicate_error(
                spec.name,
                duplicates[0],
                store=self._store.name,
                collection=self._name,
                building=True,
            )
        guards = [
            (guard, body)
            for doc_id, document in documents
            for guard, body, _, _ in guard_changes(
                self._name, (spec,), None, document, doc_id
            ).creates
        ]
        for chunk in _batches(guards):
            batch = self._client.batch()
            for guard, body in chunk:
                batch.set(self._guard(guard), body)
            await batch.commit()

    async def _list_indexes(self) -> list[IndexInfo]:
        infos = [IndexInfo("_id_", [("_id", 1)], unique=True)]
        for spec in (await self._store.loaded_indexes(self._name)).values():
            infos.append(IndexInfo(spec.name, list(spec.keys), spec.unique, spec.sparse))
        return infos

    async def _drop_index(self, name: str) -> None:
        if name == "_id_":
            raise InvalidQueryError(
                f"The _id_ index of collection {self._name!r} cannot be dropped",
                operator="drop_index",
                collection=self._name,
            )
        dropped = (await self._store.loaded_indexes(self._name)).pop(name, None)
        if dropped is None:
            raise InvalidQueryError(
                f"Collection {self._name!r} of store {self._store.name!r} has no index {name!r}",
                operator="drop_index",
                collection=self._name,
            )
        await self._store.save_indexes(self._name)
        if dropped.unique:
            await delete_guards(self._store, self._name, name)


# -- helpers -----------------------------------------------------------------------------


def _only_id(node: FilterNode) -> bool:
    return (
        isinstance(node, Condition) and node.path == "_id" and node.op in (FieldOp.EQ, FieldOp.IN)
    )


def _pins_id(node: FilterNode, doc_id: str) -> bool:
    """Whether the filter is exactly ``_id == doc_id`` (so the match cannot change)."""
    return (
        isinstance(node, Condition)
        and node.path == "_id"
        and node.op is FieldOp.EQ
        and id_from_value(node.operand) == doc_id
    )


async def _backoff(attempt: int) -> None:
    """A short jittered pause before retrying a write that lost a race."""
    await asyncio.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.25)))


@contextlib.contextmanager
def _at(position: int) -> Iterator[None]:
    """Mark a refusal with the position of the document in the batch being inserted."""
    try:
        yield
    except WriteError as exc:
        exc.request_index = position
        raise


def _batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + BATCH_LIMIT] for i in range(0, len(items), BATCH_LIMIT)]
