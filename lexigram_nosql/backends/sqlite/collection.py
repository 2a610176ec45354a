"""One collection of the SQLite store: reads stream from a snapshot, writes are transactions.

Every write runs as one function on the writer thread inside one SQLite transaction (its own
``BEGIN IMMEDIATE``, or the open ``store.transaction()``): find the candidates through the
plan, check each with the engine, write the document and keep every index table in step. A
unique index is a SQLite ``UNIQUE`` index, so two processes can never both write a duplicate.
Reads outside a transaction run on a reader connection: one snapshot per read, decoded and
checked on the reader's thread in batches, so the event loop only sees finished documents.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import BaseCollection, IndexSpec
from lexigram_nosql.backends.keys import check_id
from lexigram_nosql.backends.object_ids import new_object_id
from lexigram_nosql.backends.sqlite.codec import decode_document, encode_key
from lexigram_nosql.backends.sqlite.planner import Plan, plan_read
from lexigram_nosql.backends.sqlite.schema import (
    CollectionInfo,
    IndexInfoRow,
    create_collection,
    create_index_table,
    drop_index_table,
)
from lexigram_nosql.backends.sqlite.writes import Writer
from lexigram_nosql.contracts import DeleteResult, IndexInfo, ReturnDocument, UpdateResult
from lexigram_nosql.errors import DuplicateKeyError, InvalidQueryError, UpdateMismatchError
from lexigram_nosql.query.ast import FilterNode, MatchAll, ReplacementUpdate, Update
from lexigram_nosql.query.dates import utc_now
from lexigram_nosql.query.identity import same_stored
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.ordering import document_sort_key
from lexigram_nosql.query.pacing import Pacer, paced_sort
from lexigram_nosql.query.projection import apply_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.query.update import apply_update, upsert_seed
from lexigram_nosql.query.values import check_document, copy_value
from lexigram_nosql.reads import current_report
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.sqlite.store import SQLiteDocumentStore

__all__ = ["SQLiteCollection"]

_BATCH: Final = 256
"""Rows decoded per hop of the event loop while streaming."""

_ID_INDEX: Final = IndexInfo("_id_", [("_id", 1)], unique=True)

Row = tuple[int, Document]


def _always(document: Any) -> bool:
    return True


def _matcher(node: FilterNode) -> Callable[[Any], bool]:
    return _always if isinstance(node, MatchAll) else compile_filter(node)


class _Cursor:
    """An open read: the plan's rows, decoded and checked by the engine, in batches."""

    def __init__(self, plan: Plan, rows: sqlite3.Cursor, test: Callable[[Any], bool]) -> None:
        self.plan = plan
        self._rows = rows
        self._test = test
        self._seen: set[int] | None = set() if plan.dedupe else None
        self.done = False

    def close(self) -> None:
        self.done = True
        self._rows.close()

    def batch(self, size: int) -> list[Row]:
        out: list[Row] = []
        test, seen = self._test, self._seen
        while len(out) < size:
            rows = self._rows.fetchmany(size)
            if not rows:
                self.done = True
                self._rows.close()
                break
            for seq, text in rows:
                if seen is not None:
                    if seq in seen:
                        continue
                    seen.add(seq)
                document = decode_document(text)
                if test(document):
                    out.append((seq, document))
        return out


class SQLiteCollection(BaseCollection["SQLiteDocumentStore"]):
    """A collection stored as the tables the catalog names (see ``schema.py``)."""

    def __init__(self, store: SQLiteDocumentStore, name: str) -> None:
        super().__init__(store, name)
        self.last_plan: Plan | None = None
        """The plan of the latest read on this collection (tests, benchmarks, logs)."""

    # -- plumbing ------------------------------------------------------------------------

    def _info(self, connection: sqlite3.Connection) -> CollectionInfo | None:
        return self._store.database.catalogs.current(connection).collections.get(self._name)

    def _writer(self, connection: sqlite3.Connection, *, create: bool) -> Writer | None:
        info = self._info(connection)
        if info is None:
            if not create:
                return None
            info = create_collection(connection, self._name)
        return Writer(connection, info, self._store.name, self._store.multikey)

    def _plan(
        self, connection: sqlite3.Connection, info: CollectionInfo, node: FilterNode, sort: Any
    ) -> Plan:
        multikey = self._store.multikey

        def is_multikey(index: IndexInfoRow) -> bool:
            return multikey.check(connection, index.table)

        plan = self.last_plan = plan_read(info, node, sort, is_multikey)
        return plan

    def _read_info(self, connection: sqlite3.Connection) -> CollectionInfo | None:
        """The collection as a read sees it: from the cached catalog, except on the writer
        (inside a write or a transaction), which must know every index."""
        if connection is self._store.database.writer_connection:
            return self._info(connection)
        catalog = self._store.database.catalogs.cached(connection)
        return catalog.collections.get(self._name)

    def _open(
        self, connection: sqlite3.Connection, node: FilterNode, sort: Any, *, snapshot: bool
    ) -> _Cursor | None:
        if snapshot and not connection.in_transaction:
            connection.execute("BEGIN")
        try:
            return self._open_from(connection, self._read_info(connection), node, sort)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            # Another process dropped what the cached catalog names: read it again.
            self._store.database.catalogs.invalidate()
            return self._open_from(connection, self._info(connection), node, sort)

    def _open_from(
        self,
        connection: sqlite3.Connection,
        info: CollectionInfo | None,
        node: FilterNode,
        sort: Any,
    ) -> _Cursor | None:
        if info is None:
            return None
        plan = self._plan(connection, info, node, sort)
        test = _always if plan.exact else _matcher(node)
        return _Cursor(plan, connection.execute(plan.sql, plan.params), test)

    def _rows(
        self, connection: sqlite3.Connection, node: FilterNode, sort: Any, first: int = _BATCH
    ) -> Generator[Row, None, None]:
        """Every matching row, in the plan's order (``first``: how many the first batch
        decodes, so a caller wanting one row decodes one)."""
        cursor = self._open(connection, node, sort, snapshot=False)
        size = first
        try:
            while cursor is not None and not cursor.done:
                yield from cursor.batch(size)
                size = _BATCH
        finally:
            if cursor is not None:
                cursor.close()  # an unfinished statement would lock its tables

    def _targets(self, connection: sqlite3.Connection, node: FilterNode, multi: bool) -> list[Row]:
        """The rows a write changes: every match, or the first."""
        with contextlib.closing(self._rows(connection, node, (), _BATCH if multi else 1)) as rows:
            return list(rows) if multi else [row for row in [next(rows, None)] if row]

    def _first(self, connection: sqlite3.Connection, query: FindQuery) -> Row | None:
        """The first match in sort order: one row decoded when the plan reads in that order
        (or no order is asked), every match otherwise."""
        cursor = self._open(connection, query.filter.node, query.sort, snapshot=False)
        if cursor is None:
            return None
        try:
            if not query.sort or cursor.plan.sorted:
                rows = cursor.batch(1)
                return rows[0] if rows else None
            found: list[Row] = []
            while not cursor.done:
                found.extend(cursor.batch(_BATCH))
        finally:
            cursor.close()  # an unfinished statement would lock its tables
        if not found:
            return None
        key = document_sort_key(query.sort)
        return min(found, key=lambda row: key(row[1]))

    # -- reads ---------------------------------------------------------------------------

    async def _matching(
        self, node: FilterNode, sort: Any, batch: int
    ) -> AsyncGenerator[list[Row], None]:
        """Matching rows in the plan's order, a non-empty batch at a time: from a snapshot on
        a reader connection, or, inside a transaction, from the writer (read whole, so later
        writes cannot move it)."""
        database = self._store.database
        if database.in_transaction and self._store.current_transaction() is not None:
            rows = await database.read_in_transaction(lambda c: list(self._rows(c, node, sort)))
            for offset in range(0, len(rows), batch):
                yield rows[offset : offset + batch]
            return
        reader = await database.reader()
        cursor: _Cursor | None = None
        try:

            def start(connection: sqlite3.Connection) -> tuple[_Cursor | None, list[Row]]:
                cursor = self._open(connection, node, sort, snapshot=True)
                rows = [] if cursor is None else cursor.batch(batch)
                if cursor is None or cursor.done:
                    connection.execute("COMMIT")  # read whole: end it in this job
                return cursor, rows

            cursor, rows = await reader.run(start)
            report = current_report()
            if report is not None and cursor is not None:
                plan = cursor.plan
                report.note(
                    "scan" if plan.kind == "scan" else "native",
                    index=plan.indexes[0] if plan.indexes else None,
                )
            while True:
                if rows:
                    yield rows
                if cursor is None or cursor.done:
                    return
                rows = await reader.run(functools.partial(_next_batch, cursor, batch))
        finally:
            if cursor is not None and not cursor.done:  # abandoned: end its statement
                with contextlib.suppress(Exception):
                    await reader.run(functools.partial(_close, cursor))
            await reader.release()

    async def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        async with contextlib.aclosing(self._find_batches(query)) as batches:
            async for documents in batches:
                for document in documents:
                    yield document

    _finds_in_batches = True

    async def _find_batches(self, query: FindQuery) -> AsyncGenerator[list[Document], None]:
        """The matches a batch at a time (the reader thread's batches), after sort, skip
        and limit, projected."""
        projection = query.projection
        skip, remaining = query.skip, query.limit or -1
        batch = query.batch_size or _BATCH
        if query.limit and not query.skip:
            batch = min(batch, query.limit)
        matching = self._matching(query.filter.node, query.sort, batch)
        batches: AsyncIterator[list[Row]] = matching
        async with contextlib.aclosing(matching):
            if query.sort:
                first = await anext(batches, None)
                if first is None:
                    return
                plan = self.last_plan
                if plan is None or not plan.sorted:
                    documents = await self._sorted(first, batches, query)
                    yield [apply_projection(projection, document) for document in documents]
                    return
                batches = _prepend(first, batches)
            async for rows in batches:
                if skip:
                    if skip >= len(rows):
                        skip -= len(rows)
                        continue
                    rows, skip = rows[skip:], 0
                if 0 < remaining <= len(rows):
                    yield [
                        apply_projection(projection, document) for _, document in rows[:remaining]
                    ]
                    return
                remaining -= len(rows)
                yield [apply_projection(projection, document) for _, document in rows]

    @staticmethod
    async def _sorted(
        first: list[Row], batches: AsyncIterator[list[Row]], query: FindQuery
    ) -> list[Document]:
        """The matches sorted in Python, after skip and limit; with a limit, only the best
        ``skip + limit`` are ever kept (a stable bounded top-k)."""
        key = document_sort_key(query.sort)
        bound = query.skip + query.limit if query.limit else None
        kept = [document for _, document in first]
        async for rows in batches:
            kept.extend(document for _, document in rows)
            if bound is not None and len(kept) >= 2 * bound + 64:
                kept.sort(key=key)
                del kept[bound:]
        kept = await paced_sort(kept, key, Pacer())  # on the loop: share it
        return kept[query.skip : bound]

    async def _find_one(self, query: FindQuery) -> Document | None:
        """One job on one snapshot (a stream would take two hops to the reader thread)."""

        def run(connection: sqlite3.Connection) -> Document | None:
            found = self._first(connection, query)
            return None if found is None else apply_projection(query.projection, found[1])

        return await self._store.read(run, snapshot=False)

    async def _count(self, query: FilterQuery) -> int:
        """One job on one snapshot: ``COUNT(*)`` when SQL selects exactly the matches,
        otherwise the rows are checked and counted on the reader's thread."""
        node = query.node

        def run(connection: sqlite3.Connection) -> int:
            if isinstance(node, MatchAll):
                info = self._read_info(connection)
                if info is None:
                    return 0
                total: int = connection.execute(f"SELECT COUNT(*) FROM {info.table}").fetchone()[0]
                return total
            cursor = self._open(connection, node, (), snapshot=False)
            if cursor is None:
                return 0
            if cursor.plan.exact:
                cursor.close()
                plan = cursor.plan
                row = connection.execute(f"SELECT COUNT(*) FROM ({plan.sql})", plan.params)
                exact: int = row.fetchone()[0]
                return exact
            counted = 0
            try:
                while not cursor.done:
                    counted += len(cursor.batch(4 * _BATCH))
            finally:
                cursor.close()
            return counted

        return await self._store.read(run)

    # -- writes --------------------------------------------------------------------------

    async def _insert(self, documents: list[Document]) -> list[Any]:
        """Insert in order; like MongoDB's ordered inserts, a duplicate stops at the failing
        document, and the ones before it stay (inside a transaction, until it rolls back)."""
        # The ids were checked with the documents (BaseCollection._check_document).
        prepared = [d if "_id" in d else {"_id": new_object_id(), **d} for d in documents]

        def run(connection: sqlite3.Connection) -> tuple[list[Any], DuplicateKeyError | None]:
            writer = self._writer(connection, create=True)
            assert writer is not None
            ids: list[Any] = []
            try:
                writer.insert_many(prepared, inserted=ids)
            except DuplicateKeyError as exc:
                return ids, exc  # the documents before it are committed
            return ids, None

        ids, error = await self._store.write(run)
        if error is not None:
            error.request_index = len(ids)  # where insert_many's accounting resumes
            raise error
        return ids

    def _updated(self, update: Update, document: Document) -> Document:
        """The new version of a stored document, which must keep its ``_id``."""
        new = apply_update(update, document, now=utc_now())
        if "_id" not in new:
            return {"_id": document["_id"], **new}
        if encode_key(new["_id"]) != encode_key(document["_id"]):
            what = "A replacement" if isinstance(update, ReplacementUpdate) else "An update"
            raise UpdateMismatchError(
                f"{what} cannot change _id (from {document['_id']!r} to {new['_id']!r}) "
                f"in collection {self._name!r}",
                path="_id",
                collection=self._name,
            )
        return new

    def _upsert_document(self, query: FilterQuery, update: Update) -> Document:
        new = apply_update(update, upsert_seed(query.node), inserting=True, now=utc_now())
        if "_id" not in new:
            new = {"_id": new_object_id(), **new}
        elif next(iter(new)) != "_id":
            new = {"_id": new["_id"], **{k: v for k, v in new.items() if k != "_id"}}
        # The filter's equalities were not checked as stored values: check them now.
        check_id(new["_id"])
        checked: Document = check_document(new, where="the upserted document")
        return checked

    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult:
        """Update the first (or every) match, all or nothing: a document that would break a
        unique index leaves every document as it was."""

        def run(connection: sqlite3.Connection) -> UpdateResult:
            writer = self._writer(connection, create=upsert)
            matched = modified = 0
            if writer is not None:
                targets = self._targets(connection, query.node, multi)
                for seq, document in targets:
                    matched += 1
                    new = self._updated(update, document)
                    if not same_stored(new, document):
                        writer.replace(seq, document, new)
                        modified += 1
            if matched or not upsert:
                return UpdateResult(matched, modified, None)
            new = self._upsert_document(query, update)
            created = self._writer(connection, create=True)
            assert created is not None
            created.insert_many([new], atomic=True)
            return UpdateResult(0, 0, new["_id"])

        return await self._store.write(run)

    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult:
        def run(connection: sqlite3.Connection) -> DeleteResult:
            writer = self._writer(connection, create=False)
            if writer is None:
                return DeleteResult(0)
            targets = self._targets(connection, query.node, multi)
            writer.delete([seq for seq, _ in targets])
            return DeleteResult(len(targets))

        return await self._store.write(run)

    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        after = return_document is ReturnDocument.AFTER

        def run(connection: sqlite3.Connection) -> Document | None:
            writer = self._writer(connection, create=upsert)
            found = self._first(connection, query) if writer is not None else None
            if found is None:
                if update is None or not upsert:
                    return None
                new = self._upsert_document(query.filter, update)
                created = self._writer(connection, create=True)
                assert created is not None
                created.insert_many([new], atomic=True)
                return apply_projection(query.projection, new) if after else None
            assert writer is not None
            seq, document = found
            if update is None:
                writer.delete([seq])
                return apply_projection(query.projection, document)
            new = self._updated(update, document)
            if not same_stored(new, document):
                writer.replace(seq, document, new)
            return apply_projection(query.projection, new if after else document)

        result = await self._store.write(run)
        # The engine's result may share values with the caller's update: hand out a copy.
        return None if result is None else copy_value(result)

    # -- indexes -------------------------------------------------------------------------

    async def _create_index(self, spec: IndexSpec) -> str:
        if spec.keys == (("_id", 1),):
            return "_id_"  # it always exists
        if spec.name == "_id_":
            raise InvalidQueryError(
                f"Index name '_id_' is reserved for the _id index of {self._name!r}",
                collection=self._name,
            )

        def run(connection: sqlite3.Connection) -> str:
            writer = self._writer(connection, create=True)
            assert writer is not None
            existing = (index.spec for index in writer.info.indexes.values())
            if spec.exists_in(existing, collection=self._name):
                return spec.name
            index = create_index_table(connection, writer.info, spec)
            writer.build_index(index)
            return spec.name

        name = await self._store.write(run)
        if spec.expire_after_seconds is not None:
            self._store.start_sweeper()
        return name

    async def _list_indexes(self) -> list[IndexInfo]:
        def run(connection: sqlite3.Connection) -> list[IndexInfo]:
            info = self._info(connection)
            if info is None:
                return []  # no collection, no indexes (as MongoDB lists them)
            return [_ID_INDEX, *(index.spec.info for index in info.indexes.values())]

        return await self._store.read(run)

    async def _drop_index(self, name: str) -> None:
        if name == "_id_":
            raise InvalidQueryError(
                f"The _id index of collection {self._name!r} cannot be dropped",
                collection=self._name,
            )

        def run(connection: sqlite3.Connection) -> None:
            info = self._info(connection)
            if info is None or name not in info.indexes:
                raise InvalidQueryError(
                    f"Collection {self._name!r} of store {self._store.name!r} has no index "
                    f"named {name!r}",
                    collection=self._name,
                )
            drop_index_table(connection, info, name)

        await self._store.write(run)


def _close(cursor: _Cursor, connection: sqlite3.Connection) -> None:
    cursor.close()


def _next_batch(cursor: _Cursor, size: int, connection: sqlite3.Connection) -> list[Row]:
    rows = cursor.batch(size)
    if cursor.done and connection.in_transaction:
        connection.execute("COMMIT")
    return rows


async def _prepend(first: list[Row], rows: AsyncIterator[list[Row]]) -> AsyncIterator[list[Row]]:
    yield first
    async for batch in rows:
        yield batch
