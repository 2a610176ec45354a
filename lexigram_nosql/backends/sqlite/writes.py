"""Writing documents and keeping every index table in step, inside the caller's transaction.

A duplicate is found by SQLite itself (the ``UNIQUE`` index of ``id`` or of a unique index
table), so no other connection or process can slip a duplicate in between a check and a
write. The failing statement is undone by SQLite; what this document had already written is
removed here, so a refused document leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from lexigram_nosql.backends.sqlite.codec import decode_document, encode_document, encode_key
from lexigram_nosql.backends.sqlite.schema import CollectionInfo, IndexInfoRow
from lexigram_nosql.errors import DuplicateKeyError
from lexigram_nosql.query.paths import MISSING, get_values

__all__ = ["MultikeyRegistry", "Writer"]


class MultikeyRegistry:
    """Which index tables hold an array (several keys for one document on one path): a range
    with two bounds cannot use them whole. Kept in the file, so every process knows; a
    ``True`` is remembered (an index never stops being multikey)."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def check(self, connection: sqlite3.Connection, table: str) -> bool:
        if table in self._known:
            return True
        row = connection.execute("SELECT 1 FROM lexigram_multikey WHERE tbl = ?", (table,))
        if row.fetchone() is None:
            return False
        with self._lock:
            self._known.add(table)
        return True

    def mark(self, connection: sqlite3.Connection, table: str) -> None:
        if table in self._known:
            return
        connection.execute("INSERT OR IGNORE INTO lexigram_multikey VALUES (?)", (table,))


class Writer:
    """Writes of one collection on one connection, inside an open transaction."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        info: CollectionInfo,
        store: str,
        multikey: MultikeyRegistry,
    ) -> None:
        self.connection = connection
        self.info = info
        self._store = store
        self._multikey = multikey
        self._insert_sql = f"INSERT INTO {info.table} (id, doc) VALUES (?, ?)"

    # -- documents -----------------------------------------------------------------------

    def insert_many(
        self,
        documents: Sequence[dict[str, Any]],
        *,
        atomic: bool = False,
        inserted: list[Any] | None = None,
    ) -> list[Any]:
        """Insert in order; stop at the first duplicate (raised), keeping the ones before it
        (their ids are in ``inserted``). With ``atomic`` the caller rolls back on error, so
        the failing document needs no clean-up."""
        execute = self.connection.execute
        indexes = list(self.info.indexes.values())
        ids: list[Any] = [] if inserted is None else inserted
        for document in documents:
            identifier = document["_id"]
            try:
                seq = execute(
                    self._insert_sql, (encode_key(identifier), encode_document(document))
                ).lastrowid
            except sqlite3.IntegrityError:
                raise self._duplicate("_id_", {"_id": identifier}) from None
            assert seq is not None
            for index in indexes:
                try:
                    self._add_entries(index, seq, document)
                except DuplicateKeyError:
                    if not atomic:
                        self._remove(seq)
                    raise
            ids.append(identifier)
        return ids

    def replace(self, seq: int, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Store ``new`` over ``old`` (same ``_id``); index entries change only where the
        indexed values did."""
        self.connection.execute(
            f"UPDATE {self.info.table} SET doc = ? WHERE seq = ?", (encode_document(new), seq)
        )
        for index in self.info.indexes.values():
            before = index.entries(old) or set()
            after = index.entries(new) or set()
            if before == after:
                continue
            if len(after) > 1:
                self._multikey.mark(self.connection, index.table)
            gone = before - after
            if gone:
                self.connection.executemany(
                    f"DELETE FROM {index.table} WHERE k = ? AND seq = ?",
                    [(key, seq) for key in gone],
                )
            self._insert_entries(index, seq, after - before, new)

    def delete(self, seqs: Sequence[int]) -> None:
        for seq in seqs:
            self._remove(seq)

    def _remove(self, seq: int) -> None:
        execute = self.connection.execute
        execute(f"DELETE FROM {self.info.table} WHERE seq = ?", (seq,))
        for index in self.info.indexes.values():
            execute(f"DELETE FROM {index.table} WHERE seq = ?", (seq,))

    # -- index entries -------------------------------------------------------------------

    def _add_entries(self, index: IndexInfoRow, seq: int, document: dict[str, Any]) -> None:
        entries = index.entries(document)
        if entries:
            if len(entries) > 1:
                self._multikey.mark(self.connection, index.table)
            self._insert_entries(index, seq, entries, document)

    def _insert_entries(
        self, index: IndexInfoRow, seq: int, keys: set[bytes], document: dict[str, Any]
    ) -> None:
        if not keys:
            return
        try:
            self.connection.executemany(
                f"INSERT INTO {index.table} (k, seq) VALUES (?, ?)", [(k, seq) for k in keys]
            )
        except sqlite3.IntegrityError:
            raise self._duplicate(index.name, _shown(index, document)) from None

    def build_index(self, index: IndexInfoRow) -> None:
        """Index every stored document (a duplicate refuses the whole index)."""
        rows = self.connection.execute(f"SELECT seq, doc FROM {self.info.table}").fetchall()
        for seq, text in rows:
            self._add_entries(index, seq, decode_document(text))

    def _duplicate(self, index: str, key: Any) -> DuplicateKeyError:
        return DuplicateKeyError(
            f"Duplicate key in collection {self.info.name!r} of store {self._store!r}: "
            f"index {index!r} already has a document with {key!r}.",
            index=index,
            key=key,
            store=self._store,
            collection=self.info.name,
        )


def _shown(index: IndexInfoRow, document: dict[str, Any]) -> dict[str, Any]:
    """The indexed values of ``document``, for the error message."""
    shown: dict[str, Any] = {}
    for path in index.paths:
        values = [v for v in get_values(document, path) if v is not MISSING]
        shown[path] = values[0] if len(values) == 1 else (values or None)
    return shown
