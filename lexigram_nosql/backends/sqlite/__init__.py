"""The embedded SQLite store (driver ``sqlite``): MongoDB semantics on one file that
survives restarts and crashes, shared safely by several processes."""

from lexigram_nosql.backends.sqlite.collection import SQLiteCollection
from lexigram_nosql.backends.sqlite.store import SQLiteDocumentStore

__all__ = ["SQLiteCollection", "SQLiteDocumentStore"]
