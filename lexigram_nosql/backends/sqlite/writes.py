"""Writing documents and keeping every index table in step, inside the caller's transaction.

A duplicate is found by SQLite itself (the ``UNIQUE`` index of ``id`` or of a unique index
table), so no other connection or process can slip a duplicate in between a check and a
write. The failing statement is undone by SQLite; what this document had already written is
removed here, so a refused document leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Final

from lexigram_nosql.backends.sqlite.codec import decode_document, encode_document, encode_key
from lexigram_nosql.backends.sqlite.schema import (
    CollectionInfo,
    IndexInfoRow,
    create_index_btrees,
)
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
        the failing document needs no clean-up.

        Several documents are written as one batch (one statement per table); when SQLite
        refuses the batch (a duplicate somewhere), it is undone and the documents are written
        one by one, which stops at the exact duplicate.
        """
        ids: list[Any] = [] if inserted is None else inserted
        if len(documents) > 1:
            self.connection.execute("SAVEPOINT batch")
            try:
                self._insert_batch(documents)
            except sqlite3.IntegrityError:
                self.connection.execute("ROLLBACK TO batch")
                self.connection.execute("RELEASE batch")
            else:
                self.connection.execute("RELEASE batch")
                ids.extend(document["_id"] for document in documents)
                return ids
        execute = self.connection.execute
        indexes = list(self.info.indexes.values())
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

    def _insert_batch(self, documents: Sequence[dict[str, Any]]) -> None:
        """Every document and index entry in one statement per table (the caller holds the
        write lock, so the next sequence numbers are this batch's)."""
        table = self.info.table
        last = self.connection.execute(f"SELECT MAX(seq) FROM {table}").fetchone()[0] or 0
        seqs = range(last + 1, last + 1 + len(documents))
        self.connection.executemany(
            f"INSERT INTO {table} (seq, id, doc) VALUES (?, ?, ?)",
            [
                (seq, encode_key(document["_id"]), encode_document(document))
                for seq, document in zip(seqs, documents, strict=True)
            ],
        )
        for index in self.info.indexes.values():
            rows: list[tuple[bytes, int]] = []
            multikey = False
            for seq, document in zip(seqs, documents, strict=True):
                entries = index.entries(document)
                if entries:
                    multikey = multikey or len(entries) > 1
                    rows.extend((key, seq) for key in entries)
            if multikey:
                self._multikey.mark(self.connection, index.table)
            self.connection.executemany(f"INSERT INTO {index.table} (k, seq) VALUES (?, ?)", rows)

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
        """Load the entries of every stored document into the new index table, then build
        its B-trees; a duplicate refuses the index, naming a document that has it."""
        rows: list[tuple[bytes, int]] = []
        multikey = False
        for seq, entries in stored_entries(self.connection, self.info.table, index):
            if entries:
                multikey = multikey or len(entries) > 1
                rows.extend((key, seq) for key in entries)
        if multikey:
            self._multikey.mark(self.connection, index.table)
        rows.sort()
        self.connection.executemany(f"INSERT INTO {index.table} (k, seq) VALUES (?, ?)", rows)
        try:
            create_index_btrees(self.connection, index)
        except sqlite3.IntegrityError:
            duplicate = self.connection.execute(
                f"SELECT MAX(seq) FROM {index.table} GROUP BY k HAVING COUNT(*) > 1 LIMIT 1"
            ).fetchone()
            document = self.connection.execute(
                f"SELECT doc FROM {self.info.table} WHERE seq = ?", (duplicate[0],)
            ).fetchone()
            raise self._duplicate(index.name, _shown(index, decode_document(document[0]))) from None

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


# -- the entries of stored documents (building an index) -----------------------------------


def stored_entries(
    connection: sqlite3.Connection, table: str, index: IndexInfoRow
) -> Iterator[tuple[int, set[bytes] | None]]:
    """Each stored document's ``seq`` and index entries. An index on one top-level field
    reads just that field through SQLite's JSON functions (``doc -> '$.field'`` is the
    field's own JSON text), instead of decoding every whole document in Python; tagged
    documents and those holding NaN (not JSON to SQLite) are decoded as usual."""
    field = _json_path_field(index)
    if field is not None:
        try:
            yield from _entries_by_json_path(connection, table, index, field)
            return
        except sqlite3.OperationalError:  # SQLite built without its JSON functions
            pass
    yield from decoded_entries(connection, table, index)


def decoded_entries(
    connection: sqlite3.Connection, table: str, index: IndexInfoRow
) -> Iterator[tuple[int, set[bytes] | None]]:
    """Each stored document decoded whole, then keyed: the general way."""
    for seq, text in connection.execute(f"SELECT seq, doc FROM {table}"):
        yield seq, index.entries(decode_document(text))


def _json_path_field(index: IndexInfoRow) -> str | None:
    """The field an index reads, when SQLite's JSON path can name it and nothing else of
    the document is needed (no partial filter)."""
    if not _JSON_ARROW or len(index.paths) != 1 or index.spec.partial_filter is not None:
        return None
    field = index.paths[0]
    return field if _PLAIN_NAME.fullmatch(field) else None


def _entries_by_json_path(
    connection: sqlite3.Connection, table: str, index: IndexInfoRow, field: str
) -> Iterator[tuple[int, set[bytes] | None]]:
    rows = connection.execute(
        f"SELECT seq, CASE WHEN json_valid(doc) THEN doc -> '$.{field}' END, "
        f"CASE WHEN json_valid(doc) THEN NULL ELSE doc END FROM {table}"
    )
    entries = index.entries
    missing = entries({})
    for seq, fragment, whole in rows:
        if whole is not None:
            yield seq, entries(decode_document(whole))
        elif fragment is None:
            yield seq, missing
        else:
            yield seq, entries({field: _json_value(fragment)})


def _json_value(fragment: str) -> Any:
    """What ``json.loads`` gives for one value's JSON text, without its call for the
    commonest values (a string without escapes, a number, a literal)."""
    first = fragment[0]
    if first == '"':
        if "\\" not in fragment:
            return fragment[1:-1]
    elif first == "-" or first.isdigit():
        try:
            return int(fragment)
        except ValueError:
            return float(fragment)
    elif fragment in _LITERALS:
        return _LITERALS[fragment]
    return _loads_value(fragment)


_JSON_ARROW: Final = sqlite3.sqlite_version_info >= (3, 38)  # the -> operator
_PLAIN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERALS: Final[dict[str, Any]] = {"null": None, "true": True, "false": False}
_loads_value = json.JSONDecoder().decode
