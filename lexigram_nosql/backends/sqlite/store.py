"""The embedded SQLite store (driver ``sqlite``): one file, WAL, shared by processes.

Durability: the file is in WAL mode and every acknowledged write is a committed transaction,
so it survives a crash or ``kill -9`` of the process with ``synchronous = NORMAL`` (the
default); ``sqlite.synchronous: full`` also survives a power loss or an OS crash, at the cost
of an fsync per commit.

Transactions: ``store.transaction()`` is one SQLite transaction (``BEGIN IMMEDIATE``) on the
writer connection. While it is open, this store's writes from other tasks wait for it to end
and its reads outside the block see the last committed state; operations inside the block
(in the same task, or tasks it starts) join it. A transaction must not wait for a task that
started outside it and writes to the same store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from lexigram_nosql.backends.base import BaseDocumentStore
from lexigram_nosql.backends.sqlite.collection import SQLiteCollection
from lexigram_nosql.backends.sqlite.database import Database
from lexigram_nosql.backends.sqlite.errors import map_sqlite_error
from lexigram_nosql.backends.sqlite.planner import key_range
from lexigram_nosql.backends.sqlite.schema import drop_collection
from lexigram_nosql.backends.sqlite.writes import MultikeyRegistry, Writer
from lexigram_nosql.config.sqlite import SQLiteStoreSettings
from lexigram_nosql.contracts import Capabilities
from lexigram_nosql.errors import NoSQLError, TransactionError
from lexigram_nosql.query.ast import Condition, FieldOp

__all__ = ["SQLiteDocumentStore", "SQLiteTransaction"]

logger = logging.getLogger("lexigram_nosql")

T = TypeVar("T")

PUSHDOWN: Final = frozenset({"$eq", "$gt", "$gte", "$lt", "$lte", "$in", "$and", "$or"})
"""Operators answered through SQLite indexes (``_id`` and indexed paths); the engine checks
every row the SQL returns, and evaluates everything else exactly."""


class SQLiteTransaction:
    """An open ``store.transaction()``: one SQLite transaction on the writer connection."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True


class SQLiteDocumentStore(BaseDocumentStore[SQLiteStoreSettings]):
    """A document store in one SQLite file (see the module docstring)."""

    driver_name = "sqlite"

    def __init__(self, settings: SQLiteStoreSettings) -> None:
        super().__init__(settings)
        self._database: Database | None = None
        self.multikey = MultikeyRegistry()
        self._write_lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(driver="sqlite", pushdown=PUSHDOWN, refused=frozenset())

    @property
    def database(self) -> Database:
        if self._database is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._database

    @property
    def path(self) -> str:
        """The file this store uses (for ``:memory:``, its private temporary file)."""
        return self.database.path

    # -- lifecycle -----------------------------------------------------------------------

    async def _connect(self) -> None:
        database = Database(self._settings.sqlite, self.name)
        self._database = database
        await database.open()
        has_ttl = await self.read(
            lambda c: c.execute(
                "SELECT 1 FROM lexigram_indexes WHERE spec LIKE '%\"expire_after_seconds\": %' "
                "AND spec NOT LIKE '%\"expire_after_seconds\": null%'"
            ).fetchone()
        )
        if has_ttl:
            self.start_sweeper()

    async def _close(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(BaseException):
                await sweeper
        database, self._database = self._database, None
        if database is not None:
            await database.close()

    async def _ping(self) -> dict[str, Any]:
        def ping(connection: sqlite3.Connection) -> dict[str, Any]:
            connection.execute("SELECT 1").fetchone()
            collections = connection.execute("SELECT COUNT(*) FROM lexigram_collections")
            return {
                "sqlite_version": sqlite3.sqlite_version,
                "journal_mode": connection.execute("PRAGMA journal_mode").fetchone()[0],
                "collections": collections.fetchone()[0],
            }

        details = await self.read(ping)
        details["synchronous"] = self._settings.sqlite.synchronous
        details["transaction_open"] = self.database.in_transaction
        return details

    def map_exception(self, exc: BaseException) -> NoSQLError | None:
        return map_sqlite_error(exc, self.name)

    # -- reads outside the collection ----------------------------------------------------

    async def read(
        self, function: Callable[[sqlite3.Connection], T], *, snapshot: bool = True
    ) -> T:
        """Run ``function`` on one snapshot: the writer inside this task's transaction, a
        reader connection otherwise. ``snapshot=False`` is for a function whose reading is
        one statement (which is a snapshot by itself)."""
        database = self.database
        if database.in_transaction and self.current_transaction() is not None:
            return await database.read_in_transaction(function)
        reader = await database.reader()
        try:

            def one_snapshot(connection: sqlite3.Connection) -> T:
                if not snapshot:
                    return function(connection)
                connection.execute("BEGIN")
                try:
                    return function(connection)
                finally:  # ended in the same job: no second hop to the thread
                    connection.execute("COMMIT")

            return await reader.run(one_snapshot)
        finally:
            await reader.release()

    async def write(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function`` as one write: inside this task's transaction, or as its own
        transaction once no other task's transaction is open."""
        transaction: SQLiteTransaction | None = self.current_transaction()
        if transaction is not None:
            if not transaction.active:
                raise TransactionError(
                    f"The transaction this task joined on store {self.name!r} has already "
                    "ended; run the operation inside the `async with store.transaction():` "
                    "block, or after it outside any transaction.",
                    store=self.name,
                )
            return await self.database.write(function)
        async with self._write_lock:
            return await self.database.write(function)

    # -- collections ---------------------------------------------------------------------

    def _make_collection(self, name: str) -> SQLiteCollection:
        return SQLiteCollection(self, name)

    async def _list_collections(self) -> list[str]:
        return await self.read(
            lambda c: [row[0] for row in c.execute("SELECT name FROM lexigram_collections")]
        )

    async def _drop_collection(self, name: str) -> None:
        def run(connection: sqlite3.Connection) -> None:
            info = self.database.catalogs.current(connection).collections.get(name)
            if info is not None:
                drop_collection(connection, info)

        await self.write(run)

    # -- transactions --------------------------------------------------------------------

    async def _begin_transaction(self) -> SQLiteTransaction:
        await self._write_lock.acquire()
        try:
            await self.database.begin()
        except BaseException:
            self._write_lock.release()
            raise
        return SQLiteTransaction()

    async def _commit_transaction(self, handle: Any) -> None:
        await self._end(handle, commit=True)

    async def _abort_transaction(self, handle: Any) -> None:
        await self._end(handle, commit=False)

    async def _end(self, transaction: SQLiteTransaction, *, commit: bool) -> None:
        transaction.active = False
        try:
            await self.database.end(commit=commit)
        finally:
            self._write_lock.release()

    # -- TTL -----------------------------------------------------------------------------

    def start_sweeper(self) -> None:
        """Delete expired documents every ``ttl_sweep_interval_s`` (MongoDB's TTL monitor)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_forever(), name=f"lexigram-sqlite-ttl-{self.name}"
            )

    async def _sweep_forever(self) -> None:
        interval = self._settings.sqlite.ttl_sweep_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_expired()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next sweep tries again
                logger.warning("TTL sweep of store %s failed: %s", self.name, self.redact(str(exc)))

    async def sweep_expired(self) -> int:
        """Delete now every document a TTL index has expired; return how many. MongoDB's
        rule: single-field indexes, dates only, an array expires with its earliest date."""
        now = datetime.now(UTC)

        def run(connection: sqlite3.Connection) -> int:
            deleted = 0
            catalog = self.database.catalogs.current(connection)
            for info in catalog.collections.values():
                for index in info.indexes.values():
                    seconds = index.spec.expire_after_seconds
                    if seconds is None or len(index.paths) != 1:
                        continue
                    path, direction = index.spec.keys[0]
                    expired = Condition(path, FieldOp.LT, now - timedelta(seconds=seconds))
                    bounds = key_range(b"", [expired], direction, two_sided=True)
                    seqs = [
                        row[0]
                        for row in connection.execute(
                            f"SELECT DISTINCT seq FROM {index.table} WHERE k >= ? AND k < ?",
                            bounds,
                        )
                    ]
                    Writer(connection, info, self.name, self.multikey).delete(seqs)
                    deleted += len(seqs)
            return deleted

        async with self.operation("sweep_expired"):
            return await self.write(run)
