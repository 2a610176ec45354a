"""Settings of the embedded SQLite store (the standard library's ``sqlite3``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel

__all__ = ["SQLiteSection", "SQLiteStoreSettings"]


class SQLiteSection(StrictModel):
    """The ``sqlite:`` section, in SQLite's own words."""

    #: The database file. A relative path resolves against the working directory (as
    #: ``sqlite3.connect`` does); ``:memory:`` is a private database removed on disconnect.
    path: str = Field(default="data/lexigram.db", min_length=1)
    #: ``normal`` (the default) keeps every acknowledged write through a crash or ``kill -9``
    #: of the process; ``full`` also through a power loss or OS crash (one fsync per commit).
    synchronous: Literal["normal", "full", "extra"] = "normal"
    #: How long one statement waits for another process's write lock before it is retried.
    busy_timeout_s: float = Field(default=5.0, gt=0)
    #: How often a write that found the file locked is retried (with backoff) before it
    #: fails with ConcurrencyError.
    busy_retries: int = Field(default=5, ge=0, le=100)
    #: How often the TTL sweeper deletes expired documents (MongoDB's TTL monitor: 60 s).
    ttl_sweep_interval_s: float = Field(default=60.0, gt=0)
    #: Create the file's parent directory when it does not exist.
    create_directories: bool = True
    #: Read connections kept for concurrent streams (each stream reads one snapshot).
    max_readers: int = Field(default=8, ge=1, le=64)


class SQLiteStoreSettings(StoreSettingsBase):
    """A store in one SQLite file, shared safely by several processes."""

    driver: Literal["sqlite"]
    sqlite: SQLiteSection = SQLiteSection()

    def address(self) -> str:
        return f"sqlite://{self.sqlite.path}"
