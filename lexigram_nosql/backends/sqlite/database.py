"""Connections to one SQLite file, and the threads that use them off the event loop.

One writer connection on its own thread runs every write, each as its own ``BEGIN IMMEDIATE``
transaction (or inside the open ``store.transaction()``), so a write is one job on the
thread and one hop of the event loop, whatever number of statements it takes. Reads outside
a transaction use a pool of reader connections, each with its own thread (``worker.py``):
each read is one snapshot of the file (WAL mode), so a stream never sees a write made while
it is open, and never blocks writers.

Why not aiosqlite: it hops the event loop once per statement and per fetched batch, while an
operation here (read the candidates, run the engine, write the rows, keep the indexes in
step) runs as one function on the connection's thread; the standard library is all it needs.

Another process holding the write lock makes ``BEGIN IMMEDIATE`` wait up to
``busy_timeout_s``; it is then retried ``busy_retries`` times with backoff, and only then
does the write fail with ``ConcurrencyError``. A write never fails half-applied: its
transaction rolls back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from lexigram_nosql.backends.sqlite.schema import CatalogCache, ensure_schema
from lexigram_nosql.backends.sqlite.worker import Worker
from lexigram_nosql.config.sqlite import SQLiteSection
from lexigram_nosql.errors import ConcurrencyError

__all__ = ["Database", "is_busy"]

T = TypeVar("T")

_BUSY_MESSAGES: Final = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "another connection holds the lock"."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        message in str(exc) for message in _BUSY_MESSAGES
    )


class Database:
    """The file, its writer connection and thread, and a pool of readers."""

    def __init__(self, section: SQLiteSection, store_name: str) -> None:
        self._section = section
        self._store_name = store_name
        self._temporary: str | None = None
        self.path = section.path
        self.catalogs = CatalogCache()
        self._writer_thread = Worker("lexigram-sqlite-w")
        self._writer: sqlite3.Connection | None = None
        self._idle_readers: list[Reader] = []
        self._all_readers: list[Reader] = []
        self._readers_lock = threading.Lock()
        self._reader_slots = asyncio.Semaphore(section.max_readers)
        self.in_transaction = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        await self._on_writer(self._open)

    def _open(self) -> None:
        path = self._section.path
        if path == ":memory:" or path.startswith("file::memory:"):
            # Private and gone on disconnect, but a real file so readers see the writer's
            # commits through WAL exactly as with a named file.
            self._temporary = tempfile.mkdtemp(prefix="lexigram-sqlite-")
            path = os.path.join(self._temporary, "memory.db")
        elif self._section.create_directories:
            Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        connection = self._connect()
        try:
            # The writer keeps 16 MB of pages (SQLite's default is 2 MB, what readers keep):
            # index B-trees of a few hundred thousand entries stay in memory as it writes.
            connection.execute("PRAGMA cache_size = -16384")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch the file to WAL (got {mode})")
            self._retrying(lambda: ensure_schema(connection))
        except BaseException:
            connection.close()
            raise
        self._writer = connection

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            os.path.expanduser(self.path),
            timeout=self._section.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        connection.execute(f"PRAGMA synchronous = {self._section.synchronous.upper()}")
        connection.execute("PRAGMA foreign_keys = OFF")
        return connection

    async def close(self) -> None:
        try:
            if self._writer is not None:
                await self._on_writer(self._close_writer)
            with self._readers_lock:
                readers, self._all_readers, self._idle_readers = self._all_readers, [], []
            # Each closes on its own thread, after any job still running there; all are
            # closed when this returns.
            closed = [reader.worker.run(reader.connection.close) for reader in readers]
            for reader in readers:
                reader.worker.stop()
            await asyncio.gather(*closed, return_exceptions=True)
        finally:
            self._writer_thread.stop()
            if self._temporary is not None:
                shutil.rmtree(self._temporary, ignore_errors=True)
                self._temporary = None

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            writer.close()

    # -- running work --------------------------------------------------------------------

    async def _on_writer(self, function: Callable[[], T]) -> T:
        return await self._writer_thread.run(function)

    async def write(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function`` on the writer connection as one transaction (joining the store's
        open transaction instead, when there is one)."""
        if self.in_transaction:
            return await self._on_writer(lambda: self._savepoint(function))
        return await self._on_writer(lambda: self._transaction(function))

    async def read_in_transaction(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function`` on the writer connection, inside the open transaction."""
        return await self._on_writer(lambda: function(self._need_writer()))

    def _transaction(self, function: Callable[[sqlite3.Connection], T]) -> T:
        writer = self._need_writer()
        self._retrying(lambda: writer.execute("BEGIN IMMEDIATE"))
        try:
            result = function(writer)
        except BaseException:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            self.catalogs.invalidate()
            raise
        writer.execute("COMMIT")
        self.catalogs.forget_if_changed(writer)
        return result

    def _savepoint(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """One operation inside the open transaction: all of it, or none of it."""
        writer = self._need_writer()
        writer.execute("SAVEPOINT operation")
        try:
            result = function(writer)
        except BaseException:
            writer.execute("ROLLBACK TO operation")
            writer.execute("RELEASE operation")
            self.catalogs.invalidate()
            raise
        writer.execute("RELEASE operation")
        self.catalogs.forget_if_changed(writer)
        return result

    async def begin(self) -> None:
        writer = self._need_writer()
        try:
            await self._on_writer(lambda: self._retrying(lambda: writer.execute("BEGIN IMMEDIATE")))
        except BaseException:
            # Cancelled while the thread may still open it: close it right after, on the
            # same thread, so no later write finds the writer inside a stray transaction.
            self._writer_thread.submit(lambda: self._rollback_stray(writer))
            raise
        self.in_transaction = True

    def _rollback_stray(self, writer: sqlite3.Connection) -> None:
        if writer.in_transaction and not self.in_transaction:
            writer.execute("ROLLBACK")

    async def end(self, *, commit: bool) -> None:
        writer = self._need_writer()

        def finish() -> None:
            if writer.in_transaction:
                writer.execute("COMMIT" if commit else "ROLLBACK")
            if not commit:
                self.catalogs.invalidate()

        try:
            await self._on_writer(finish)
        finally:
            self.in_transaction = False

    def _retrying(self, statement: Callable[[], Any]) -> None:
        """Run a lock-taking statement; retry while another process holds the lock."""
        attempts = self._section.busy_retries + 1
        for attempt in range(attempts):
            try:
                statement()
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if attempt + 1 == attempts:
                    raise ConcurrencyError(
                        f"The SQLite file of store {self._store_name!r} stayed locked by "
                        f"another connection through {attempts} attempts of "
                        f"{self._section.busy_timeout_s:g}s; retry later",
                        store=self._store_name,
                    ) from exc
                time.sleep(min(0.01 * 2**attempt, 0.5))

    @property
    def writer_connection(self) -> sqlite3.Connection | None:
        return self._writer

    def _need_writer(self) -> sqlite3.Connection:
        if self._writer is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._writer

    # -- readers -------------------------------------------------------------------------

    async def reader(self) -> Reader:
        """A reader connection for one read; give it back with ``Reader.release``."""
        await self._reader_slots.acquire()
        try:
            with self._readers_lock:
                reader = self._idle_readers.pop() if self._idle_readers else None
            if reader is None:
                worker = Worker("lexigram-sqlite-r")
                try:
                    connection = await worker.run(self._connect)
                except BaseException:
                    worker.stop()
                    raise
                reader = Reader(self, connection, worker)
                with self._readers_lock:
                    self._all_readers.append(reader)
        except BaseException:
            self._reader_slots.release()
            raise
        reader.released, reader.fresh = False, True
        return reader

    def _give_back(self, reader: Reader) -> None:
        with self._readers_lock:
            if reader in self._all_readers:
                self._idle_readers.append(reader)
        self._reader_slots.release()

    def _discard(self, reader: Reader) -> None:
        with self._readers_lock:
            if reader in self._all_readers:
                self._all_readers.remove(reader)
        reader.close()


class Reader:
    """One reader connection and its thread, lent to one read at a time (a snapshot:
    ``BEGIN`` ... ``COMMIT``, or one statement)."""

    __slots__ = ("connection", "database", "fresh", "released", "worker")

    def __init__(self, database: Database, connection: sqlite3.Connection, worker: Worker) -> None:
        self.database = database
        self.connection = connection
        self.worker = worker
        self.released = False
        self.fresh = True

    def run(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run ``function(connection)`` on the reader's thread, after its earlier jobs. The
        first job of a lease first ends a read an abandoned job left open (its task was
        cancelled while it ran), so every lease reads a snapshot of its own."""
        connection = self.connection
        if self.fresh:
            self.fresh = False
            return self.worker.run(lambda: function(_end_read(connection)))
        return self.worker.run(lambda: function(connection))

    async def release(self) -> None:
        """Give the connection back, ending its read first when a job did not already."""
        if self.released:
            return
        self.released = True
        try:
            if self.connection.in_transaction:
                try:
                    await self.worker.run(lambda: _end_read(self.connection))
                except Exception:
                    self.database._discard(self)
        finally:
            self.database._give_back(self)

    def close(self) -> None:
        """Close the connection on its own thread, after any job still running there."""
        self.worker.submit(self.connection.close)
        self.worker.stop()


def _end_read(connection: sqlite3.Connection) -> sqlite3.Connection:
    if connection.in_transaction:
        connection.execute("COMMIT")
    return connection
