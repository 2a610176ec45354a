"""SQLite's exceptions as ours: a table from ``sqlite3`` errors to the error hierarchy."""

from __future__ import annotations

import sqlite3

from lexigram_nosql.backends.sqlite.database import is_busy
from lexigram_nosql.errors import (
    ConcurrencyError,
    DocumentTooLargeError,
    NoSQLConnectionError,
    NoSQLError,
    StoreStateError,
    WriteError,
)

__all__ = ["map_sqlite_error"]


def map_sqlite_error(exc: BaseException, store: str) -> NoSQLError | None:
    """Our error for a ``sqlite3`` exception, or None when ``exc`` is not SQLite's."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc)
    if is_busy(exc):
        return ConcurrencyError(
            f"The SQLite file of store {store!r} is locked by another connection: {text}",
            store=store,
        )
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
        return StoreStateError(f"Store {store!r} is closed: {text}", store=store)
    if isinstance(exc, sqlite3.DataError) or "too big" in text:
        return DocumentTooLargeError(f"SQLite refused a value of store {store!r}: {text}")
    if isinstance(exc, sqlite3.IntegrityError):
        return WriteError(f"SQLite refused a write of store {store!r}: {text}", store=store)
    if isinstance(exc, sqlite3.OperationalError) and (
        "unable to open" in text or "disk i/o" in text.lower() or "readonly" in text
    ):
        return NoSQLConnectionError(
            f"Store {store!r} cannot use its SQLite file: {text}", store=store, driver="sqlite"
        )
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return NoSQLConnectionError(
            f"The file of store {store!r} is not a SQLite database: {text}",
            store=store,
            driver="sqlite",
        )
    return WriteError(f"SQLite failed for store {store!r}: {text}", store=store)
